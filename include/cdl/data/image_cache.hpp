// In-memory cache of decoded images under a byte budget: each image is read from disk once per
// run as long as the budget allows; beyond it images are read again when needed.
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <mutex>
#include <unordered_map>

namespace cdl::data {

/// Thread-safe map image index -> tensor with a byte budget. No eviction: once full, new images
/// are simply not kept (random access gains nothing from LRU, and this keeps reads predictable).
class ImageCache {
 public:
  /// A cache holding at most `budget_bytes` of tensor data (0 disables caching).
  explicit ImageCache(int64_t budget_bytes = 0) : budget_(budget_bytes) {}

  /// The cached tensor of `key`, or an undefined tensor.
  torch::Tensor get(int64_t key) const;
  /// Keeps `image` under `key` if the budget allows; returns true when kept.
  bool put(int64_t key, const torch::Tensor& image);
  /// Bytes held.
  int64_t bytes() const;
  /// The budget in bytes.
  int64_t budget() const { return budget_; }
  /// Number of lookups that found their image.
  int64_t hits() const;
  /// Number of lookups that did not find their image.
  int64_t misses() const;

 private:
  mutable std::mutex mutex_;
  int64_t budget_ = 0;
  int64_t bytes_ = 0;
  mutable int64_t hits_ = 0;
  mutable int64_t misses_ = 0;
  std::unordered_map<int64_t, torch::Tensor> images_;
};

}  // namespace cdl::data

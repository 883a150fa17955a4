// Implementation of ImageCache.
#include "cdl/data/image_cache.hpp"

#include <string>

namespace cdl::data {

torch::Tensor ImageCache::get(int64_t key) const {
  std::lock_guard<std::mutex> lock(mutex_);
  const auto it = images_.find(key);
  if (it == images_.end()) {
    ++misses_;
    return {};
  }
  ++hits_;
  return it->second;
}

bool ImageCache::put(int64_t key, const torch::Tensor& image) {
  const int64_t size = static_cast<int64_t>(image.numel() * image.element_size());
  std::lock_guard<std::mutex> lock(mutex_);
  if (images_.count(key) > 0) return true;
  if (bytes_ + size > budget_) return false;
  images_.emplace(key, image);
  bytes_ += size;
  return true;
}

int64_t ImageCache::bytes() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return bytes_;
}

int64_t ImageCache::hits() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return hits_;
}

int64_t ImageCache::misses() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return misses_;
}

}  // namespace cdl::data

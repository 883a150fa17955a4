// A bounded, ordered thread pool: workers decode items ahead of the consumer, at most
// `max_in_flight` at a time, and the consumer receives the results in input order.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "caps2h5/gzip_codec.hpp"
#include "caps2h5/volume.hpp"

namespace cdl::data_tools {

/// One image as it travels from a decoder to the writer.
struct EncodedImage {
  int64_t index = -1;  ///< position in the output
  Shape4 shape{0, 0, 0, 0};
  Bytes chunk;                ///< encoded chunk (see encode_chunk), or empty when `floats` is used
  std::vector<float> floats;  ///< the chunk itself when stored as plain float32 (no copy)
  std::string error;          ///< non-empty when decoding failed (message names the file)

  /// Start of the chunk bytes as stored in the file.
  const void* data() const {
    return chunk.empty() ? static_cast<const void*>(floats.data()) : chunk.data();
  }
  /// Size of the chunk in bytes.
  size_t size() const { return chunk.empty() ? floats.size() * sizeof(float) : chunk.size(); }
};

/// Runs `task(index)` for each index on `threads` workers, keeping at most `max_in_flight`
/// results not yet consumed; next() returns them in the order of `indices`.
class OrderedPipeline {
 public:
  using Task = std::function<EncodedImage(int64_t)>;

  /// Starts the workers at once.
  OrderedPipeline(std::vector<int64_t> indices, Task task, int threads, int max_in_flight);
  /// Stops and joins the workers (pending results are dropped).
  ~OrderedPipeline();
  OrderedPipeline(const OrderedPipeline&) = delete;
  OrderedPipeline& operator=(const OrderedPipeline&) = delete;

  /// The next result in input order (blocks until it is ready). Task exceptions come back as
  /// EncodedImage::error.
  EncodedImage next();

 private:
  void work();

  std::vector<int64_t> indices_;
  Task task_;
  size_t max_in_flight_;
  size_t next_to_take_ = 0;
  size_t consumed_ = 0;
  bool stop_ = false;
  std::map<size_t, EncodedImage> ready_;
  std::mutex mutex_;
  std::condition_variable changed_;
  std::vector<std::thread> workers_;
};

}  // namespace cdl::data_tools

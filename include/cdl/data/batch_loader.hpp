// BatchLoader: turns this rank's list of sample indices into batches, prefetched by one I/O
// thread through a bounded queue, and measures how long the consumer waits for data.
#pragma once

#include <torch/torch.h>

#include <condition_variable>
#include <cstdint>
#include <exception>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "cdl/data/caps_dataset.hpp"

namespace cdl::data {

/// A batch of samples.
struct Batch {
  torch::Tensor inputs;            ///< float32 [B, C, ...]
  torch::Tensor labels;            ///< int64 [B] | float32 [B, 1] | inputs (reconstruction)
  std::vector<SampleMeta> meta;    ///< one per sample, in batch order
  std::shared_ptr<void> transfer;  ///< a BatchStager's in-flight copy (e.g. a CUDA event), or null
  /// Number of samples B.
  int64_t size() const { return static_cast<int64_t>(meta.size()); }
};

/// Changes one sample's input (its dataset index given), e.g. a training augmentation.
using SampleTransform = std::function<torch::Tensor(const torch::Tensor& input, int64_t index)>;

/// Builds the batch of `indices` synchronously (stack of CapsDataset::get, each input through
/// `transform` when given: reconstruction targets are then the transformed inputs). Throws what
/// get throws. With `pinned`, the inputs are assembled directly in page-locked memory (needs
/// CUDA).
Batch make_batch(const CapsDataset& dataset, const std::vector<int64_t>& indices,
                 bool pinned = false, const SampleTransform& transform = {});

/// Moves finished batches towards the device that consumes them, ahead of use: stage() runs on
/// the loader's I/O thread right after a batch is built (e.g. an asynchronous copy to a GPU on a
/// side stream), ready() on the consumer's thread before the batch is handed out (e.g. makes the
/// consumer's stream wait for that copy). Implementations live where the device is known (train).
class BatchStager {
 public:
  virtual ~BatchStager() = default;
  /// True when batches should be built in page-locked (pinned) host memory.
  virtual bool wants_pinned_memory() const = 0;
  /// I/O thread: starts moving `batch`; may replace its tensors and set `batch.transfer`.
  virtual void stage(Batch& batch) = 0;
  /// Consumer thread: returns once `batch` may be used by the consumer's work.
  virtual void ready(Batch& batch) = 0;
};

/// Options of a BatchLoader.
struct LoaderOptions {
  int64_t batch_size = 1;               ///< samples per batch (the last batch may be smaller)
  int64_t prefetch_batches = 2;         ///< batches built ahead of use; 0 = no thread (synchronous)
  std::shared_ptr<BatchStager> stager;  ///< moves batches to the device ahead of use (optional)
  SampleTransform transform;            ///< applied to each sample on the I/O thread (optional)
  /// I/O threads building batches side by side (ClinicaDL's loader workers, --n_proc): thread
  /// t builds batches t, t + threads, ... At least 1; unused in synchronous mode.
  int64_t io_threads = 1;
};

/// Iterates once over `indices` in order, `batch_size` samples per batch. With prefetch_batches
/// > 0, `io_threads` I/O threads build the next batches ahead, at most max(prefetch_batches,
/// io_threads) of them beyond the one the consumer waits for, which next() hands out in order:
/// the batches (and so a training) do not depend on the number of threads. An exception thrown
/// while building a batch is rethrown by next() in the consumer. The destructor stops and joins
/// the threads (never hangs, even while the consumer unwinds an exception). Not thread-safe: one
/// consumer thread calls next().
class BatchLoader {
 public:
  /// Starts prefetching immediately (the dataset is shared, so it lives as long as the loader).
  BatchLoader(std::shared_ptr<const CapsDataset> dataset, std::vector<int64_t> indices,
              LoaderOptions options);
  /// Iterates once over the given batches (each non-empty, sizes may differ); batch_size of
  /// `options` is not used.
  BatchLoader(std::shared_ptr<const CapsDataset> dataset, std::vector<std::vector<int64_t>> batches,
              LoaderOptions options);
  ~BatchLoader();
  BatchLoader(const BatchLoader&) = delete;
  BatchLoader& operator=(const BatchLoader&) = delete;

  /// Fills `batch` with the next batch and returns true, or returns false at the end.
  /// Rethrows (once) an exception raised by the I/O thread.
  bool next(Batch& batch);
  /// Number of batches this loader yields (ceil(indices / batch_size) for a list of indices).
  int64_t num_batches() const;
  /// Seconds the consumer spent blocked in next() waiting for data (the I/O stall).
  double wait_seconds() const { return wait_seconds_; }
  /// Seconds spent building batches (reading, cutting, normalising, augmenting), summed over
  /// the I/O threads.
  double load_seconds() const;

 private:
  void produce(int64_t first);
  Batch build(int64_t batch_index) const;

  std::shared_ptr<const CapsDataset> dataset_;
  std::vector<std::vector<int64_t>> batches_;
  LoaderOptions options_;
  int64_t next_ = 0;  // the next batch next() hands out
  double wait_seconds_ = 0.0;

  mutable std::mutex mutex_;
  std::condition_variable cv_;
  std::map<int64_t, Batch> built_;  // finished batches not yet handed out, by index
  bool stop_ = false;
  bool failed_ = false;       // a batch could not be built: none is handed out from it on
  int64_t failed_at_ = 0;     // the first such batch
  std::exception_ptr error_;  // its exception, until next() rethrows it
  double load_seconds_ = 0.0;
  std::vector<std::thread> threads_;
};

}  // namespace cdl::data

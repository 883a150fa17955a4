// Implementation of BatchLoader and make_batch.
#include "cdl/data/batch_loader.hpp"

#include <chrono>

#include "cdl/core/error.hpp"

namespace cdl::data {
namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

}  // namespace

Batch make_batch(const CapsDataset& dataset, const std::vector<int64_t>& indices, bool pinned,
                 const SampleTransform& transform) {
  CDL_CHECK(!indices.empty(), "empty batch");
  std::vector<int64_t> shape = dataset.input_shape_of(indices.front());
  shape.insert(shape.begin(), static_cast<int64_t>(indices.size()));
  Batch batch;
  batch.inputs = torch::empty(shape, torch::TensorOptions(torch::kFloat).pinned_memory(pinned));
  std::vector<torch::Tensor> labels;
  for (size_t i = 0; i < indices.size(); ++i) {
    if (dataset.input_shape_of(indices[i]) != dataset.input_shape_of(indices.front())) {
      CDL_THROW(ConfigError, "samples ", indices.front(), " and ", indices[i], " have different ",
                "shapes and cannot share a batch (cropped ROIs of different sizes)",
                "\nhint: use --multi_network or uncropped_roi in roi mode");
    }
    Sample sample = dataset.get_into(indices[i], batch.inputs[static_cast<int64_t>(i)]);
    if (transform) sample.input.copy_(transform(sample.input, indices[i]));
    if (sample.label.defined()) labels.push_back(std::move(sample.label));
    batch.meta.push_back(std::move(sample.meta));
  }
  if (dataset.task() == Task::kReconstruction) {
    batch.labels = batch.inputs;
  } else {
    batch.labels = torch::stack(labels);
    if (dataset.task() == Task::kRegression) batch.labels = batch.labels.reshape({-1, 1});
  }
  return batch;
}

namespace {

/// `indices` cut into batches of `batch_size` (the last one may be smaller).
std::vector<std::vector<int64_t>> cut_into_batches(const std::vector<int64_t>& indices,
                                                   int64_t batch_size) {
  if (batch_size < 1) {
    CDL_THROW(ConfigError, "batch_size ", batch_size, "; expected a positive integer");
  }
  std::vector<std::vector<int64_t>> batches;
  for (size_t begin = 0; begin < indices.size(); begin += static_cast<size_t>(batch_size)) {
    const size_t end = std::min(indices.size(), begin + static_cast<size_t>(batch_size));
    batches.emplace_back(indices.begin() + begin, indices.begin() + end);
  }
  return batches;
}

}  // namespace

BatchLoader::BatchLoader(std::shared_ptr<const CapsDataset> dataset, std::vector<int64_t> indices,
                         LoaderOptions options)
    : BatchLoader(std::move(dataset), cut_into_batches(indices, options.batch_size), options) {}

BatchLoader::BatchLoader(std::shared_ptr<const CapsDataset> dataset,
                         std::vector<std::vector<int64_t>> batches, LoaderOptions options)
    : dataset_(std::move(dataset)), batches_(std::move(batches)), options_(options) {
  for (const auto& batch : batches_) {
    CDL_CHECK(!batch.empty(), "BatchLoader was given an empty batch");
  }
  CDL_CHECK(options_.io_threads >= 1, "BatchLoader needs at least one I/O thread");
  if (options_.prefetch_batches <= 0) return;
  const int64_t threads = std::min(options_.io_threads, num_batches());
  for (int64_t t = 0; t < threads; ++t) threads_.emplace_back([this, t] { produce(t); });
}

BatchLoader::~BatchLoader() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_ = true;
  }
  cv_.notify_all();
  for (auto& thread : threads_) thread.join();
}

int64_t BatchLoader::num_batches() const {
  return static_cast<int64_t>(batches_.size());
}

double BatchLoader::load_seconds() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return load_seconds_;
}

Batch BatchLoader::build(int64_t batch_index) const {
  const bool pinned = options_.stager && options_.stager->wants_pinned_memory();
  Batch batch =
      make_batch(*dataset_, batches_[static_cast<size_t>(batch_index)], pinned, options_.transform);
  if (options_.stager) options_.stager->stage(batch);
  return batch;
}

void BatchLoader::produce(int64_t first) {
  const int64_t stride = std::min(options_.io_threads, num_batches());
  const int64_t ahead = std::max(options_.prefetch_batches, stride);
  for (int64_t b = first; b < num_batches(); b += stride) {
    {
      // Batch b waits until it is among the `ahead` batches after the one handed out next
      // (that one's thread never waits, so the consumer always gets it).
      std::unique_lock<std::mutex> lock(mutex_);
      const auto beyond_failure = [&] { return failed_ && b > failed_at_; };
      cv_.wait(lock, [&] { return stop_ || beyond_failure() || b <= next_ + ahead; });
      if (stop_ || beyond_failure()) return;
    }
    const auto start = Clock::now();
    Batch batch;
    try {
      batch = build(b);
    } catch (...) {
      std::lock_guard<std::mutex> lock(mutex_);
      if (!failed_ || b < failed_at_) {  // the first failing batch's error is the one rethrown
        error_ = std::current_exception();
        failed_at_ = b;
      }
      failed_ = true;
      cv_.notify_all();
      return;
    }
    std::lock_guard<std::mutex> lock(mutex_);
    load_seconds_ += seconds_since(start);
    built_.emplace(b, std::move(batch));
    cv_.notify_all();
  }
}

bool BatchLoader::next(Batch& batch) {
  const auto start = Clock::now();
  if (next_ >= num_batches()) return false;
  if (threads_.empty()) {  // synchronous mode
    batch = build(next_++);
    if (options_.stager) options_.stager->ready(batch);
    const double elapsed = seconds_since(start);
    wait_seconds_ += elapsed;
    load_seconds_ += elapsed;
    return true;
  }
  std::unique_lock<std::mutex> lock(mutex_);
  const auto failed_here = [&] { return failed_ && next_ >= failed_at_; };
  cv_.wait(lock, [&] { return built_.count(next_) > 0 || failed_here(); });
  wait_seconds_ += seconds_since(start);
  if (built_.count(next_) == 0) {  // the batches before the failing one, its error once, the end
    if (error_) std::rethrow_exception(std::exchange(error_, nullptr));
    return false;
  }
  const auto found = built_.find(next_);
  batch = std::move(found->second);
  built_.erase(found);
  ++next_;
  cv_.notify_all();
  lock.unlock();
  if (options_.stager) options_.stager->ready(batch);
  return true;
}

}  // namespace cdl::data

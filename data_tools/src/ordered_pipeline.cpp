// Ordered bounded pipeline.
#include "caps2h5/ordered_pipeline.hpp"

#include <algorithm>

namespace cdl::data_tools {

OrderedPipeline::OrderedPipeline(std::vector<int64_t> indices, Task task, int threads,
                                 int max_in_flight)
    : indices_(std::move(indices)),
      task_(std::move(task)),
      max_in_flight_(size_t(std::max(1, max_in_flight))) {
  const int n = std::max(1, std::min<int>(threads, static_cast<int>(indices_.size())));
  for (int t = 0; t < n && !indices_.empty(); ++t) workers_.emplace_back([this] { work(); });
}

OrderedPipeline::~OrderedPipeline() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_ = true;
  }
  changed_.notify_all();
  for (auto& w : workers_) w.join();
}

void OrderedPipeline::work() {
  while (true) {
    size_t position = 0;
    {
      std::unique_lock<std::mutex> lock(mutex_);
      changed_.wait(lock, [this] {
        return stop_ || next_to_take_ >= indices_.size() ||
               next_to_take_ < consumed_ + max_in_flight_;
      });
      if (stop_ || next_to_take_ >= indices_.size()) return;
      position = next_to_take_++;
    }
    EncodedImage result;
    try {
      result = task_(indices_[position]);
    } catch (const std::exception& e) {
      result.error = e.what();
    }
    result.index = indices_[position];
    {
      std::lock_guard<std::mutex> lock(mutex_);
      ready_[position] = std::move(result);
    }
    changed_.notify_all();
  }
}

EncodedImage OrderedPipeline::next() {
  std::unique_lock<std::mutex> lock(mutex_);
  changed_.wait(lock, [this] { return ready_.count(consumed_) > 0; });
  auto node = ready_.extract(consumed_);
  ++consumed_;
  lock.unlock();
  changed_.notify_all();
  return std::move(node.mapped());
}

}  // namespace cdl::data_tools

// Implementation of the background all-reduce thread.
#include "cdl/comm/background_reducer.hpp"

#include <chrono>
#include <condition_variable>
#include <deque>
#include <exception>
#include <mutex>
#include <thread>
#include <utility>

#include "cdl/core/error.hpp"

namespace cdl::comm {

struct BackgroundReducer::State {
  std::mutex mutex;
  std::condition_variable work_queued;    // a task was queued, or stopping
  std::condition_variable work_finished;  // in_flight went down
  std::deque<std::pair<torch::Tensor, ReduceOp>> queue;
  int64_t in_flight = 0;  // queued + running
  bool stopping = false;
  std::exception_ptr error;
  double busy_seconds = 0.0;
  std::thread thread;
};

BackgroundReducer::BackgroundReducer(Communicator& comm) : state_(std::make_shared<State>()) {
  CDL_CHECK(comm.reduces_in_background(), "BackgroundReducer: the ", backend_name(comm.backend()),
            " communicator cannot reduce on a second thread");
  state_->thread = std::thread(&BackgroundReducer::run, state_, std::ref(comm));
}

BackgroundReducer::~BackgroundReducer() {
  bool idle = false;
  {
    std::lock_guard<std::mutex> lock(state_->mutex);
    idle = state_->in_flight == 0;
    state_->stopping = true;
  }
  state_->work_queued.notify_one();
  if (idle) {
    state_->thread.join();
  } else {
    state_->thread.detach();  // blocked in a collective the peers may never reach
  }
}

void BackgroundReducer::run(const std::shared_ptr<State>& state, Communicator& comm) {
  std::unique_lock<std::mutex> lock(state->mutex);
  while (true) {
    state->work_queued.wait(lock, [&] { return state->stopping || !state->queue.empty(); });
    if (state->queue.empty()) return;  // stopping with nothing left
    auto [tensor, op] = std::move(state->queue.front());
    state->queue.pop_front();
    const bool skip = static_cast<bool>(state->error);
    lock.unlock();
    const auto start = std::chrono::steady_clock::now();
    std::exception_ptr error;
    if (!skip) {
      try {
        comm.all_reduce(tensor, op);
      } catch (...) {
        error = std::current_exception();
      }
    }
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    tensor = torch::Tensor();  // the submitter owns the data again
    lock.lock();
    state->busy_seconds += seconds;
    if (error && !state->error) state->error = error;
    --state->in_flight;
    state->work_finished.notify_all();
  }
}

void BackgroundReducer::submit(const torch::Tensor& tensor, ReduceOp op) {
  CDL_CHECK(op != ReduceOp::kAvg, "BackgroundReducer: kAvg is not supported (sum, then divide)");
  {
    std::lock_guard<std::mutex> lock(state_->mutex);
    state_->queue.emplace_back(tensor, op);
    ++state_->in_flight;
  }
  state_->work_queued.notify_one();
}

void BackgroundReducer::wait() {
  std::unique_lock<std::mutex> lock(state_->mutex);
  state_->work_finished.wait(lock, [&] { return state_->in_flight == 0; });
  if (state_->error) std::rethrow_exception(std::exchange(state_->error, nullptr));
}

int64_t BackgroundReducer::pending() const {
  std::lock_guard<std::mutex> lock(state_->mutex);
  return state_->in_flight;
}

double BackgroundReducer::busy_seconds() const {
  std::lock_guard<std::mutex> lock(state_->mutex);
  return state_->busy_seconds;
}

}  // namespace cdl::comm

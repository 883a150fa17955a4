// Implementation of the in-process thread group: every collective deposits each rank's tensor
// in a shared slot, waits for all ranks (a generation barrier), combines in rank order, and
// waits again before the slots are reused.
#include "thread_group.hpp"

#include <torch/torch.h>

#include <exception>
#include <stdexcept>
#include <thread>

namespace cdl::testing {
namespace {

/// State shared by the ranks of one group.
struct Shared {
  explicit Shared(int n) : size(n), slots(n) {}
  const int size;
  std::mutex mutex;
  std::condition_variable changed;
  int arrived = 0;
  long generation = 0;
  std::vector<torch::Tensor> slots;

  void barrier() {
    std::unique_lock<std::mutex> lock(mutex);
    const long mine = generation;
    if (++arrived == size) {
      arrived = 0;
      ++generation;
      changed.notify_all();
      return;
    }
    changed.wait(lock, [&] { return generation != mine; });
  }
};

class ThreadCommunicator final : public comm::Communicator {
 public:
  ThreadCommunicator(std::shared_ptr<Shared> shared, int rank)
      : shared_(std::move(shared)), rank_(rank) {}
  comm::Backend backend() const override { return comm::Backend::kMpi; }
  int rank() const override { return rank_; }
  int size() const override { return shared_->size; }

  void all_reduce(torch::Tensor& tensor, comm::ReduceOp op) override {
    deposit(tensor.clone());
    torch::Tensor result = shared_->slots[0].clone();
    for (int r = 1; r < size(); ++r) {
      const auto& other = shared_->slots[r];
      if (op == comm::ReduceOp::kMax)
        result = torch::maximum(result, other);
      else if (op == comm::ReduceOp::kMin)
        result = torch::minimum(result, other);
      else
        result += other;
    }
    if (op == comm::ReduceOp::kAvg) result /= size();
    shared_->barrier();  // every rank has read the slots
    tensor.copy_(result);
  }

  void broadcast(torch::Tensor& tensor, int root) override {
    deposit(rank_ == root ? tensor.clone() : torch::Tensor());
    if (rank_ != root) tensor.copy_(shared_->slots[root]);
    shared_->barrier();
  }

  torch::Tensor gather_rows(const torch::Tensor& local, int root) override {
    deposit(local.clone());
    torch::Tensor result;
    if (rank_ == root) result = torch::cat(shared_->slots, 0);
    shared_->barrier();
    return result;
  }

  void barrier() override { shared_->barrier(); }

  std::unique_ptr<comm::Communicator> split(int, int) override {
    throw std::logic_error("ThreadCommunicator::split is not implemented for tests");
  }

 private:
  /// Puts this rank's tensor in its slot and waits until every rank has done the same.
  void deposit(torch::Tensor tensor) {
    {
      std::lock_guard<std::mutex> lock(shared_->mutex);
      shared_->slots[rank_] = std::move(tensor);
    }
    shared_->barrier();
  }

  std::shared_ptr<Shared> shared_;
  int rank_;
};

}  // namespace

void run_thread_group(int ranks, const std::function<void(comm::Communicator&)>& body) {
  auto shared = std::make_shared<Shared>(ranks);
  std::vector<std::exception_ptr> errors(ranks);
  std::vector<std::thread> threads;
  for (int r = 0; r < ranks; ++r) {
    threads.emplace_back([&, r] {
      ThreadCommunicator comm(shared, r);
      try {
        body(comm);
      } catch (...) {
        errors[r] = std::current_exception();
      }
    });
  }
  for (auto& thread : threads) thread.join();
  for (auto& error : errors) {
    if (error) std::rethrow_exception(error);
  }
}

}  // namespace cdl::testing

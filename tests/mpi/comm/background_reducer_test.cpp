// The background all-reduce thread against analytic sums, at 1, 2 and 3 ranks: reductions run in
// submission order while this thread goes on, errors come back at wait().
#include "cdl/comm/background_reducer.hpp"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include "cdl/comm/mpi_communicator.hpp"
#include "cdl/core/error.hpp"
#include "mpi_test_support.hpp"

namespace cdl::comm {
namespace {

TEST(BackgroundReducerTest, TheTestProgramProvidesThreadMultiple) {
  MpiCommunicator comm(MPI_COMM_WORLD);
  EXPECT_TRUE(comm.reduces_in_background());
}

TEST(BackgroundReducerTest, QueuedReductionsGiveTheSumsOfAllRanks) {
  MpiCommunicator comm(MPI_COMM_WORLD);
  const int rank = comm.rank(), size = comm.size();
  BackgroundReducer reducer(comm);
  std::vector<torch::Tensor> tensors;
  for (int i = 0; i < 4; ++i) {  // tensor i holds (rank + 1) * (i + 1), with 1000 * 4^i values
    tensors.push_back(torch::full({1000 << (2 * i)}, (rank + 1.0) * (i + 1), torch::kFloat32));
    reducer.submit(tensors.back(), ReduceOp::kSum);
  }
  auto maximum = torch::full({3}, static_cast<int64_t>(rank), torch::kInt64);
  reducer.submit(maximum, ReduceOp::kMax);
  reducer.wait();
  EXPECT_EQ(reducer.pending(), 0);
  const double ranks_sum = size * (size + 1) / 2.0;
  for (int i = 0; i < 4; ++i) {
    EXPECT_TRUE(torch::equal(tensors[i], torch::full_like(tensors[i], ranks_sum * (i + 1)))) << i;
  }
  EXPECT_TRUE(torch::equal(maximum, torch::full({3}, static_cast<int64_t>(size - 1))));
  EXPECT_GT(reducer.busy_seconds(), 0.0);
}

TEST(BackgroundReducerTest, AnErrorComesBackAtWaitAndTheReducerStaysUsable) {
  MpiCommunicator comm(MPI_COMM_WORLD);
  BackgroundReducer reducer(comm);
  auto strided = torch::ones({4, 4}).t();  // not contiguous: refused before any MPI call
  auto skipped = torch::ones({2});
  reducer.submit(strided, ReduceOp::kSum);
  reducer.submit(skipped, ReduceOp::kSum);  // after the error: skipped alike on every rank
  EXPECT_THROW(reducer.wait(), CommError);
  EXPECT_TRUE(torch::equal(skipped, torch::ones({2})));
  auto after = torch::ones({2});
  reducer.submit(after, ReduceOp::kSum);
  reducer.wait();
  EXPECT_TRUE(torch::equal(after, torch::full({2}, static_cast<float>(comm.size()))));
}

TEST(BackgroundReducerTest, AverageIsRefusedAtSubmit) {
  MpiCommunicator comm(MPI_COMM_WORLD);
  BackgroundReducer reducer(comm);
  auto t = torch::ones({2});
  EXPECT_THROW(reducer.submit(t, ReduceOp::kAvg), Error);
}

}  // namespace
}  // namespace cdl::comm

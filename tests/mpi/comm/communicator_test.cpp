// Collectives of the MPI communicator against analytically known results, at 1, 2 and 3 ranks.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "cdl/comm/mpi_communicator.hpp"
#include "cdl/core/error.hpp"
#include "mpi_test_support.hpp"

namespace cdl::comm {
namespace {

class CommunicatorTest : public ::testing::Test {
 protected:
  MpiCommunicator comm_{MPI_COMM_WORLD};
  int rank_ = cdl::testing::world_rank();
  int size_ = cdl::testing::world_size();
};

TEST_F(CommunicatorTest, RankAndSizeMatchWorld) {
  EXPECT_EQ(comm_.rank(), rank_);
  EXPECT_EQ(comm_.size(), size_);
  EXPECT_EQ(comm_.is_main(), rank_ == 0);
}

TEST_F(CommunicatorTest, AllReduceSumOfRankPlusOneIsTriangularNumber) {
  auto t = torch::full({5}, static_cast<double>(rank_ + 1), torch::kFloat64);
  comm_.all_reduce(t, ReduceOp::kSum);
  const double expected = size_ * (size_ + 1) / 2.0;
  EXPECT_TRUE(torch::equal(t, torch::full({5}, expected, torch::kFloat64)));
}

TEST_F(CommunicatorTest, AllReduceAverageMaxMin) {
  auto avg = torch::tensor({static_cast<float>(rank_), 2.0f * rank_});
  comm_.all_reduce(avg, ReduceOp::kAvg);
  const float mean_rank = (size_ - 1) / 2.0f;
  EXPECT_FLOAT_EQ(avg[0].item<float>(), mean_rank);
  EXPECT_FLOAT_EQ(avg[1].item<float>(), 2.0f * mean_rank);

  auto max = torch::tensor({static_cast<int64_t>(1) << rank_}, torch::kInt64);
  comm_.all_reduce(max, ReduceOp::kMax);
  EXPECT_EQ(max.item<int64_t>(), static_cast<int64_t>(1) << (size_ - 1));

  auto min = torch::tensor({rank_ + 10}, torch::kInt32);
  comm_.all_reduce(min, ReduceOp::kMin);
  EXPECT_EQ(min.item<int>(), 10);
}

TEST_F(CommunicatorTest, AverageOfIntegerTensorIsRefused) {
  auto t = torch::zeros({2}, torch::kInt64);
  EXPECT_THROW(comm_.all_reduce(t, ReduceOp::kAvg), CommError);
}

// MPI_Allgather and the default (an all-reduce of a zero-filled buffer) give every rank's values
// in rank order, bit for bit (-0.0 and tiny values included).
TEST_F(CommunicatorTest, AllGatherPutsEveryRanksValuesInRankOrder) {
  const auto local = torch::tensor({static_cast<float>(rank_) + 0.5f, -1e-30f, -0.0f});
  auto expected = torch::empty({3 * size_});
  for (int r = 0; r < size_; ++r) {
    expected.narrow(0, 3 * r, 3).copy_(torch::tensor({r + 0.5f, -1e-30f, -0.0f}));
  }
  auto gathered = torch::full({3 * size_}, 7.0f);
  comm_.all_gather(local, gathered);
  EXPECT_TRUE(torch::equal(gathered, expected)) << gathered;
  auto through_default = torch::full({3 * size_}, 7.0f);
  comm_.Communicator::all_gather(local, through_default);
  EXPECT_TRUE(torch::allclose(through_default, expected, 0, 0)) << through_default;
  auto in_place = torch::full({3 * size_}, 7.0f);
  in_place.narrow(0, 3 * rank_, 3).copy_(local);
  comm_.all_gather(in_place.narrow(0, 3 * rank_, 3), in_place);  // MPI_IN_PLACE
  EXPECT_TRUE(torch::equal(in_place, expected)) << in_place;
  auto wrong = torch::empty({3 * size_ + 1});
  EXPECT_THROW(comm_.all_gather(local, wrong), InternalError);
}

// Reduce-scatter in place: this rank's block holds the sum (or mean) over the ranks of its
// block, the others are zero; MPI_Reduce_scatter_block and the default (all_reduce) agree.
TEST_F(CommunicatorTest, ReduceScatterLeavesEachRankItsReducedBlock) {
  const int64_t n = 4;
  const auto values = [&] {
    return torch::arange(n * size_, torch::kFloat64) * (rank_ + 1) + 0.25;
  };
  auto expected = torch::zeros({n * size_}, torch::kFloat64);
  const double ranks_sum = size_ * (size_ + 1) / 2.0;  // sum of (r + 1)
  expected.narrow(0, rank_ * n, n)
      .copy_(torch::arange(rank_ * n, rank_ * n + n, torch::kFloat64) * ranks_sum + 0.25 * size_);
  auto summed = values();
  comm_.reduce_scatter(summed, ReduceOp::kSum);
  EXPECT_TRUE(torch::allclose(summed, expected, 0, 1e-12)) << summed;
  auto averaged = values();
  comm_.reduce_scatter(averaged, ReduceOp::kAvg);
  EXPECT_TRUE(torch::allclose(averaged, expected / size_, 0, 1e-12)) << averaged;
  auto through_default = values();
  comm_.Communicator::reduce_scatter(through_default, ReduceOp::kSum);
  EXPECT_TRUE(torch::allclose(through_default, expected, 0, 1e-12)) << through_default;
  auto uneven = torch::zeros({n * size_ + 1}, torch::kFloat64);
  if (size_ > 1) EXPECT_THROW(comm_.reduce_scatter(uneven, ReduceOp::kSum), InternalError);
}

TEST_F(CommunicatorTest, BroadcastFromLastRank) {
  const int root = size_ - 1;
  auto t = rank_ == root ? torch::arange(6, torch::kFloat32) : torch::zeros({6});
  comm_.broadcast(t, root);
  EXPECT_TRUE(torch::equal(t, torch::arange(6, torch::kFloat32)));
}

TEST_F(CommunicatorTest, GatherRowsWithUnevenCountsKeepsRankOrder) {
  // Rank r contributes r rows (rank 0 none) of [r, r]: every sample exactly once, in rank order.
  auto local = torch::full({rank_, 2}, static_cast<double>(rank_), torch::kFloat64);
  auto gathered = comm_.gather_rows(local, 0);
  if (rank_ != 0) {
    EXPECT_FALSE(gathered.defined());
    return;
  }
  const int64_t expected_rows = static_cast<int64_t>(size_) * (size_ - 1) / 2;
  ASSERT_EQ(gathered.size(0), expected_rows);
  ASSERT_EQ(gathered.size(1), 2);
  int64_t row = 0;
  for (int r = 1; r < size_; ++r) {
    for (int i = 0; i < r; ++i, ++row) EXPECT_EQ(gathered[row][0].item<double>(), r);
  }
}

TEST_F(CommunicatorTest, BroadcastStringAndAgreement) {
  std::string text = rank_ == 0 ? "stop: patience reached" : "";
  comm_.broadcast_string(text, 0);
  EXPECT_EQ(text, "stop: patience reached");
  EXPECT_TRUE(comm_.all_of(true));
  EXPECT_EQ(comm_.all_of(rank_ != size_ - 1), false);
  EXPECT_EQ(comm_.any_of(rank_ == size_ - 1), true);
  EXPECT_FALSE(comm_.any_of(false));
}

TEST_F(CommunicatorTest, JobTokenIsSharedByEveryRank) {
  const auto token = comm_.job_token();
  ASSERT_FALSE(token.empty());
  std::string first = token;
  comm_.broadcast_string(first, 0);
  EXPECT_EQ(token, first);
  EXPECT_NE(comm_.job_token(), token);  // another call (another run): another name
}

TEST_F(CommunicatorTest, FirstProblemReachesEveryRank) {
  EXPECT_EQ(comm_.first_problem(""), "");
  // Every rank past the first has a problem: the lowest one's message wins, on every rank.
  const std::string mine = rank_ == 0 ? "" : "rank " + std::to_string(rank_) + " has no space";
  EXPECT_EQ(comm_.first_problem(mine), size_ == 1 ? "" : "rank 1 has no space");
  EXPECT_EQ(comm_.first_problem(rank_ == size_ - 1 ? "last" : ""), "last");
}

TEST_F(CommunicatorTest, SplitIntoEvenAndOddRanks) {
  auto sub = comm_.split(rank_ % 2, rank_);
  EXPECT_EQ(sub->rank(), rank_ / 2);
  const int evens = (size_ + 1) / 2;
  EXPECT_EQ(sub->size(), rank_ % 2 == 0 ? evens : size_ - evens);
  auto t = torch::ones({1});
  sub->all_reduce(t, ReduceOp::kSum);
  EXPECT_EQ(t.item<float>(), sub->size());
}

}  // namespace
}  // namespace cdl::comm

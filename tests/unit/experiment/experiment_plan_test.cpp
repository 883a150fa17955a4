// Tests of ExperimentPlan: units, rank groups and the data-parallel width of the virtual batch.
#include "cdl/experiment/experiment_plan.hpp"

#include <gtest/gtest.h>

#include "cdl/core/error.hpp"

namespace cdl::experiment {
namespace {

ExperimentOptions multi_network(int64_t networks, int world) {
  ExperimentOptions o;
  o.splits = {0};
  o.networks = networks;
  o.multi_network = true;
  o.world_size = world;
  return o;
}

/// Group sizes of a plan, in group order.
std::vector<size_t> group_sizes(const ExperimentPlan& plan) {
  std::vector<size_t> sizes;
  for (int g = 0; g < plan.group_count(); ++g) sizes.push_back(plan.ranks_of_group(g).size());
  return sizes;
}

TEST(ExperimentPlanTest, SequentialSplitsRunOnOneGroupOfAllRanks) {
  ExperimentOptions o;
  o.splits = {0, 1, 2};
  o.world_size = 4;
  const ExperimentPlan plan(o);
  EXPECT_EQ(plan.group_count(), 1);
  EXPECT_EQ(plan.ranks_of_group(0), (std::vector<int>{0, 1, 2, 3}));
  ASSERT_EQ(plan.units_of_group(0).size(), 3u);
  EXPECT_EQ(plan.units_of_group(0)[2].split, 2);
  EXPECT_EQ(plan.units_of_group(0)[2].network, -1);
  EXPECT_EQ(plan.data_parallel_width(), 4);
}

TEST(ExperimentPlanTest, FewerRanksThanNetworksTrainSeveralEach) {
  const ExperimentPlan plan(multi_network(4, 3));
  EXPECT_EQ(plan.group_count(), 3);
  EXPECT_EQ(group_sizes(plan), (std::vector<size_t>{1, 1, 1}));
  const auto first = plan.units_of_group(0);
  ASSERT_EQ(first.size(), 2u);
  EXPECT_EQ(first[0].network, 0);
  EXPECT_EQ(first[1].network, 3);
  EXPECT_EQ(plan.units_of_group(2).front().network, 2);
  EXPECT_EQ(plan.data_parallel_width(), 1);
}

TEST(ExperimentPlanTest, MoreRanksThanNetworksMakeGroupsOfSeveralRanks) {
  const ExperimentPlan plan(multi_network(4, 5));  // 5 ranks, 4 networks: groups of 2, 1, 1, 1
  EXPECT_EQ(group_sizes(plan), (std::vector<size_t>{2, 1, 1, 1}));
  EXPECT_EQ(plan.ranks_of_group(0), (std::vector<int>{0, 1}));
  EXPECT_EQ(plan.group_of_rank(2), 1);
  EXPECT_EQ(plan.group_of_rank(4), 3);
  for (int g = 0; g < 4; ++g) EXPECT_EQ(plan.units_of_group(g).size(), 1u);
  const ExperimentPlan even(multi_network(2, 8));
  EXPECT_EQ(group_sizes(even), (std::vector<size_t>{4, 4}));
  EXPECT_EQ(even.group_of_rank(3), 0);
  EXPECT_EQ(even.group_of_rank(4), 1);
}

TEST(ExperimentPlanTest, SplitParallelKeepsTheWorldsVirtualBatch) {
  ExperimentOptions o;
  o.splits = {0, 1};
  o.split_parallel = true;
  o.world_size = 3;
  const ExperimentPlan plan(o);
  EXPECT_EQ(group_sizes(plan), (std::vector<size_t>{2, 1}));
  EXPECT_EQ(plan.units_of_group(1).front().split, 1);
  EXPECT_EQ(plan.data_parallel_width(), 3) << "a split trains as it would on all ranks";
  const auto lines = plan.describe();
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(lines[0], "group 0: ranks 0-1 trains split-0");
  EXPECT_EQ(lines[1], "group 1: rank 2 trains split-1");
}

TEST(ExperimentPlanTest, EveryRankBelongsToExactlyOneGroupAndEveryUnitToOne) {
  for (int world = 1; world <= 9; ++world) {
    for (int64_t networks : {2, 4, 8}) {
      ExperimentOptions o = multi_network(networks, world);
      o.splits = {0, 1};
      const ExperimentPlan plan(o);
      size_t ranks = 0, units = 0;
      for (int g = 0; g < plan.group_count(); ++g) {
        for (const int r : plan.ranks_of_group(g)) EXPECT_EQ(plan.group_of_rank(r), g);
        ranks += plan.ranks_of_group(g).size();
        units += plan.units_of_group(g).size();
        EXPECT_FALSE(plan.units_of_group(g).empty());
      }
      EXPECT_EQ(ranks, static_cast<size_t>(world));
      EXPECT_EQ(units, static_cast<size_t>(2 * networks));
    }
  }
}

TEST(ExperimentPlanTest, InvalidPlansAreConfigErrors) {
  ExperimentOptions o;
  EXPECT_THROW(ExperimentPlan{o}, ConfigError);  // no split
  o.splits = {0};
  o.networks = 3;  // several networks without multi_network
  EXPECT_THROW(ExperimentPlan{o}, ConfigError);
}

}  // namespace
}  // namespace cdl::experiment

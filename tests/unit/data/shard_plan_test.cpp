// Tests of ShardPlan: virtual batches independent of the rank count, balanced and home-preferring
// shares of each update, reshuffles, evaluation coverage and the weighted sampler.
#include "cdl/data/shard_plan.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <numeric>
#include <set>

#include "cdl/core/error.hpp"

namespace cdl::data {
namespace {

ShardPlanOptions opts(int rank, int world, int64_t batch, uint64_t seed = 7,
                      int64_t accumulation = 1) {
  ShardPlanOptions o;
  o.rank = rank;
  o.world_size = world;
  o.batch_size = batch;
  o.seed = seed;
  o.accumulation_steps = accumulation;
  return o;
}

/// Every micro-batch of every update of `epoch` over all ranks, keyed by (update, micro id).
std::map<std::pair<size_t, int64_t>, std::vector<int64_t>> all_micro_batches(int64_t images,
                                                                             int64_t parts,
                                                                             ShardPlanOptions o,
                                                                             int64_t epoch) {
  std::map<std::pair<size_t, int64_t>, std::vector<int64_t>> result;
  for (int r = 0; r < o.world_size; ++r) {
    o.rank = r;
    const auto updates = ShardPlan(images, parts, o).train_updates(epoch);
    for (size_t u = 0; u < updates.size(); ++u) {
      for (size_t j = 0; j < updates[u].micro_batches.size(); ++j) {
        const auto key = std::make_pair(u, updates[u].micro_batch_ids[j]);
        EXPECT_EQ(result.count(key), 0u) << "micro-batch run twice";
        result[key] = updates[u].micro_batches[j];
      }
    }
  }
  return result;
}

TEST(ShardPlanTest, VirtualBatchesDoNotDependOnTheRankCount) {
  // 10 images x 2 parts, micro-batches of 2, virtual batch 12: updates of 12 and 8 samples.
  const auto reference = all_micro_batches(10, 2, opts(0, 1, 2, 7, 6), 3);
  ASSERT_EQ(reference.size(), 10u);
  for (auto [world, accumulation] : {std::pair{2, 3}, {3, 2}, {6, 1}}) {
    EXPECT_EQ(all_micro_batches(10, 2, opts(0, world, 2, 7, accumulation), 3), reference)
        << world << " ranks x accumulation " << accumulation;
  }
  // The same virtual batch spread over fewer ranks (a rank group): width 6 on 4 ranks.
  auto group = opts(0, 4, 2, 7, 1);
  group.data_parallel_width = 6;
  EXPECT_EQ(all_micro_batches(10, 2, group, 3), reference);
}

TEST(ShardPlanTest, EveryRankHasTheSameUpdatesAndABalancedShareOfEach) {
  for (int world : {1, 2, 3, 4, 7}) {
    std::multiset<int64_t> seen;
    std::vector<int64_t> update_counts;
    for (int r = 0; r < world; ++r) {
      const ShardPlan plan(10, 2, opts(r, world, 3, 7, 2));
      const auto updates = plan.train_updates(0);
      EXPECT_EQ(static_cast<int64_t>(updates.size()), plan.updates_per_epoch());
      for (const auto& update : updates) {
        const int64_t micro = (update.virtual_batch_samples + 2) / 3;  // ceil(samples / 3)
        const auto mine = static_cast<int64_t>(update.micro_batches.size());
        EXPECT_TRUE(mine == micro / world || mine == micro / world + 1) << "world " << world;
        for (const auto& m : update.micro_batches) seen.insert(m.begin(), m.end());
      }
    }
    EXPECT_EQ(seen.size(), 20u) << "nothing padded or repeated, world " << world;
    EXPECT_EQ(std::set<int64_t>(seen.begin(), seen.end()).size(), 20u);
  }
  const ShardPlan plan(10, 2, opts(0, 1, 3, 7, 2));  // V = 6: updates of 6, 6, 6, 2 samples
  EXPECT_EQ(plan.updates_per_epoch(), 4);
  EXPECT_EQ(plan.last_micro_batch(0), 1);
  EXPECT_EQ(plan.last_micro_batch(2), 5);
  EXPECT_EQ(plan.last_micro_batch(3), 6);  // ceil(20 / 3) = 7 micro-batches in all
}

TEST(ShardPlanTest, RanksMostlyTrainOnTheSamplesTheyEvaluate) {
  // 40 single-sample micro-batches per epoch, 8 per update, on 2 ranks.
  int64_t home = 0, total = 0;
  for (int r = 0; r < 2; ++r) {
    const ShardPlan plan(40, 1, opts(r, 2, 1, 3, 4));
    for (const auto& update : plan.train_updates(1)) {
      for (const auto& m : update.micro_batches) {
        home += plan.home_rank(m.front()) == r ? 1 : 0;
        ++total;
      }
    }
    EXPECT_EQ(plan.home_rank(plan.eval_offset(r)), r);
  }
  EXPECT_EQ(total, 40);
  EXPECT_GE(home, 30) << "home preference (half would be chance)";
}

TEST(ShardPlanTest, ReshuffleIsDeterministicAndChangesWithEpochAndSeed) {
  const ShardPlan plan(10, 2, opts(1, 3, 2));
  const ShardPlan again(10, 2, opts(1, 3, 2));
  EXPECT_EQ(plan.epoch_sequence(4), again.epoch_sequence(4));
  EXPECT_NE(plan.epoch_sequence(4), plan.epoch_sequence(5));
  const ShardPlan other_seed(10, 2, opts(1, 3, 2, 8));
  EXPECT_NE(plan.epoch_sequence(4), other_seed.epoch_sequence(4));
  auto sorted = plan.epoch_sequence(3);
  std::sort(sorted.begin(), sorted.end());
  for (int64_t i = 0; i < 20; ++i) EXPECT_EQ(sorted[i], i);
  EXPECT_EQ(plan.epoch_sequence(2), ShardPlan(10, 2, opts(0, 1, 5)).epoch_sequence(2))
      << "the sequence depends on (seed, epoch) only";
}

TEST(ShardPlanTest, EvaluationCoversEverySampleOnceInReconstructibleOrder) {
  for (int world : {1, 2, 3, 5, 25}) {
    std::vector<int64_t> gathered;
    int64_t max_batches = 0;
    for (int r = 0; r < world; ++r) {
      const ShardPlan plan(10, 2, opts(r, world, 3));
      const auto indices = plan.eval_indices();
      EXPECT_EQ(static_cast<int64_t>(indices.size()), plan.eval_count(r));
      if (!indices.empty()) {
        EXPECT_EQ(indices.front(), plan.eval_offset(r));
      }
      gathered.insert(gathered.end(), indices.begin(), indices.end());
      max_batches = std::max(max_batches, plan.eval_batches());
      EXPECT_EQ(plan.max_eval_batches(), ShardPlan(10, 2, opts(0, world, 3)).eval_batches());
    }
    std::vector<int64_t> expected(20);
    std::iota(expected.begin(), expected.end(), 0);
    EXPECT_EQ(gathered, expected) << "world " << world;
    const auto counts = ShardPlan(10, 2, opts(0, world, 3)).eval_counts();
    EXPECT_LE(*std::max_element(counts.begin(), counts.end()) -
                  *std::min_element(counts.begin(), counts.end()),
              1);
  }
}

TEST(ShardPlanTest, MoreRanksThanMicroBatchesLeavesSomeRanksIdle) {
  int64_t trained = 0;
  for (int r = 0; r < 5; ++r) {
    const auto updates = ShardPlan(3, 1, opts(r, 5, 2)).train_updates(0);
    ASSERT_EQ(updates.size(), 1u);
    EXPECT_EQ(updates[0].virtual_batch_samples, 3);
    for (const auto& m : updates[0].micro_batches) trained += static_cast<int64_t>(m.size());
  }
  EXPECT_EQ(trained, 3);
}

TEST(ShardPlanTest, WeightedSamplerFavoursTheRareClass) {
  std::vector<int64_t> classes(100, 0);
  for (int i = 0; i < 10; ++i) classes[i] = 1;
  const auto weights = class_balance_weights(classes);
  EXPECT_DOUBLE_EQ(weights[0], 0.1);
  EXPECT_DOUBLE_EQ(weights[50], 1.0 / 90);
  ShardPlanOptions o = opts(0, 3, 8);
  o.sampler = SamplerKind::kWeighted;
  int64_t rare = 0, total = 0;
  for (int r = 0; r < 3; ++r) {
    o.rank = r;
    const ShardPlan plan(100, 1, o, weights);
    EXPECT_EQ(plan.epoch_sequence(1), ShardPlan(100, 1, o, weights).epoch_sequence(1));
    for (const auto& update : plan.train_updates(1)) {
      for (const auto& m : update.micro_batches) {
        for (int64_t i : m) rare += classes[i];
        total += static_cast<int64_t>(m.size());
      }
    }
  }
  EXPECT_EQ(total, 100);       // N draws per epoch, whatever the rank count
  EXPECT_GT(rare, total / 4);  // ~50 % expected, 10 % without weights
  EXPECT_LT(rare, 3 * total / 4);
  o.rank = 0;
  EXPECT_THROW(ShardPlan(100, 1, o), ConfigError);  // weights required
}

TEST(ShardPlanTest, RegressionBinsAreCountedCorrectly) {
  const auto w = regression_bin_weights({0, 1, 2, 3, 4, 10, 10, 9.99f}, 5);
  // bins of width 2: [0,2) -> 2 values, [2,4) -> 2, [4,6) -> 1, [8,10] -> 3.
  EXPECT_DOUBLE_EQ(w[0], 0.5);
  EXPECT_DOUBLE_EQ(w[2], 0.5);
  EXPECT_DOUBLE_EQ(w[4], 1.0);
  EXPECT_DOUBLE_EQ(w[5], 1.0 / 3);
  EXPECT_DOUBLE_EQ(regression_bin_weights({3, 3})[0], 0.5);
}

TEST(ShardPlanTest, InvalidArgumentsAreConfigErrors) {
  EXPECT_THROW(ShardPlan(0, 1, opts(0, 1, 1)), ConfigError);
  EXPECT_THROW(ShardPlan(3, 1, opts(3, 3, 1)), ConfigError);
  EXPECT_THROW(ShardPlan(3, 1, opts(0, 1, 0)), ConfigError);
  EXPECT_THROW(ShardPlan(3, 1, opts(0, 1, 1, 7, 0)), ConfigError);
  EXPECT_THROW(parse_choice_or_throw<SamplerKind>("uniform", "--sampler"), ConfigError);
  EXPECT_EQ(parse_choice<SamplerKind>("weighted"), SamplerKind::kWeighted);
  EXPECT_EQ(choice_name(SamplerKind::kRandom), "random");
  EXPECT_EQ(choice_list<SamplerKind>(), "random or weighted");
}

}  // namespace
}  // namespace cdl::data

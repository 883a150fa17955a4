// Tests of ShardPlan: equal batch counts, epoch reshuffles, stratification, evaluation coverage,
// the 1-rank relation and the weighted sampler.
#include "cdl/data/shard_plan.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <set>

#include "cdl/core/error.hpp"

namespace cdl::data {
namespace {

ShardPlanOptions opts(int rank, int world, int64_t batch, uint64_t seed = 7) {
  ShardPlanOptions o;
  o.rank = rank;
  o.world_size = world;
  o.batch_size = batch;
  o.seed = seed;
  return o;
}

/// 10 images x 2 parts; image classes 0,0,0,0,0,0,0,1,1,1 (uneven: 14 vs 6 samples).
std::vector<int64_t> strata() {
  return {0, 0, 0, 0, 0, 0, 0, 1, 1, 1};
}

TEST(ShardPlanTest, EveryRankGetsTheSameNumberOfBatchesWithUnevenCounts) {
  for (int world : {1, 2, 3, 4, 7}) {
    std::set<int64_t> seen;
    for (int r = 0; r < world; ++r) {
      const ShardPlan plan(10, 2, opts(r, world, 3), strata());
      const auto indices = plan.train_indices(0);
      EXPECT_EQ(static_cast<int64_t>(indices.size()), (20 + world - 1) / world);
      EXPECT_EQ(plan.train_batches_per_rank(), ((20 + world - 1) / world + 2) / 3);
      seen.insert(indices.begin(), indices.end());
    }
    EXPECT_EQ(seen.size(), 20u) << "every sample is trained on, world " << world;
  }
}

TEST(ShardPlanTest, ReshuffleIsDeterministicAndChangesWithEpochAndSeed) {
  const ShardPlan plan(10, 2, opts(1, 3, 2), strata());
  const ShardPlan again(10, 2, opts(1, 3, 2), strata());
  EXPECT_EQ(plan.train_indices(4), again.train_indices(4));
  EXPECT_NE(plan.train_indices(4), plan.train_indices(5));
  const ShardPlan other_seed(10, 2, opts(1, 3, 2, 8), strata());
  EXPECT_NE(plan.train_indices(4), other_seed.train_indices(4));
  const auto perm = plan.epoch_permutation(3);
  std::vector<int64_t> sorted = perm;
  std::sort(sorted.begin(), sorted.end());
  for (int64_t i = 0; i < 20; ++i) EXPECT_EQ(sorted[i], i);
}

TEST(ShardPlanTest, StratifiedShardsHoldEachClassWithinOneSample) {
  const int world = 3;
  const ShardPlan plan(10, 2, opts(0, world, 4), strata());
  for (int64_t epoch = 0; epoch < 5; ++epoch) {
    const auto shards = plan.train_shards(epoch);
    std::vector<std::map<int64_t, int64_t>> counts(world);
    for (int r = 0; r < world; ++r) {
      // Count only the rank's own samples, not the wrap-around padding (the last sample if any).
      const size_t own = 20 / world + (r < 20 % world ? 1 : 0);
      for (size_t k = 0; k < own; ++k) ++counts[r][strata()[shards[r][k] / 2]];
    }
    for (int64_t c : {0, 1}) {
      int64_t lo = 100, hi = 0;
      for (int r = 0; r < world; ++r) {
        lo = std::min(lo, counts[r][c]);
        hi = std::max(hi, counts[r][c]);
      }
      EXPECT_LE(hi - lo, 1) << "class " << c << " epoch " << epoch;
    }
  }
}

TEST(ShardPlanTest, RanksAreSubsequencesOfTheOneRankSequence) {
  const ShardPlan one(9, 1, opts(0, 1, 4));
  const auto sequence = one.train_indices(2);
  EXPECT_EQ(sequence, one.epoch_permutation(2));
  const ShardPlan two(9, 1, opts(0, 2, 2));
  const auto shards = two.train_shards(2);
  // Without strata: rank r's k-th sample is P[k*W + r], so the k-th micro-batches of the ranks
  // hold the samples of the k-th batch of a 1-rank run with batch 2*W.
  for (size_t k = 0; k < 4; ++k) {
    EXPECT_EQ(shards[0][k], sequence[2 * k]);
    EXPECT_EQ(shards[1][k], sequence[2 * k + 1]);
  }
  EXPECT_EQ(shards[1][4], shards[1][0]);  // padded by wrap-around from its own shard
}

TEST(ShardPlanTest, FixedShardsKeepTheAssignmentAndChangeTheOrder) {
  ShardPlanOptions o = opts(0, 3, 2);
  o.fixed_shards = true;
  const ShardPlan plan(12, 1, o);
  auto a = plan.train_indices(0), b = plan.train_indices(1);
  EXPECT_NE(a, b);
  std::sort(a.begin(), a.end());
  std::sort(b.begin(), b.end());
  EXPECT_EQ(a, b);
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

TEST(ShardPlanTest, MoreRanksThanSamplesStillGivesEqualCounts) {
  for (int r = 0; r < 5; ++r) {
    const ShardPlan plan(3, 1, opts(r, 5, 2));
    EXPECT_EQ(plan.train_indices(0).size(), 1u);
  }
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
    const ShardPlan plan(100, 1, o, {}, weights);
    const auto indices = plan.train_indices(1);
    EXPECT_EQ(indices.size(), 34u);
    EXPECT_EQ(indices, ShardPlan(100, 1, o, {}, weights).train_indices(1));
    for (int64_t i : indices) rare += classes[i];
    total += static_cast<int64_t>(indices.size());
  }
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
  EXPECT_THROW(parse_sampler("uniform"), ConfigError);
  EXPECT_EQ(parse_sampler("weighted"), SamplerKind::kWeighted);
}

}  // namespace
}  // namespace cdl::data

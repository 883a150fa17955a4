// Implementation of ShardPlan and of the weighted-sampler weights.
#include "cdl/data/shard_plan.hpp"

#include <algorithm>
#include <map>
#include <numeric>

#include "cdl/core/error.hpp"

namespace cdl::data {
namespace {

/// SplitMix64: tiny, fully specified generator (identical on every compiler and platform,
/// unlike std::shuffle / std::uniform_int_distribution).
class SplitMix64 {
 public:
  explicit SplitMix64(uint64_t seed) : state_(seed) {}
  uint64_t next() {
    uint64_t z = (state_ += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
  }
  /// Uniform integer in [0, n) without modulo bias.
  uint64_t below(uint64_t n) {
    const uint64_t threshold = (0 - n) % n;
    while (true) {
      const uint64_t r = next();
      if (r >= threshold) return r % n;
    }
  }
  /// Uniform double in [0, 1).
  double uniform() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }

 private:
  uint64_t state_;
};

/// Generator for (seed, epoch, stream): every rank builds the same one.
SplitMix64 make_rng(uint64_t seed, int64_t epoch, uint64_t stream) {
  SplitMix64 base(seed);
  const uint64_t a = base.next();
  return SplitMix64(a ^ (static_cast<uint64_t>(epoch) * 0xD1B54A32D192ED03ULL) ^
                    (stream * 0x8CB92BA72F3D8DD7ULL));
}

constexpr uint64_t kPermutationStream = 1;
constexpr uint64_t kWeightedStream = 2;

}  // namespace

SamplerKind parse_sampler(const std::string& text) {
  if (text == "random") return SamplerKind::kRandom;
  if (text == "weighted") return SamplerKind::kWeighted;
  CDL_THROW(ConfigError, "unknown sampler '", text, "'; expected random or weighted");
}

ShardPlan::ShardPlan(int64_t num_images, int64_t parts_per_image, ShardPlanOptions options,
                     std::vector<int64_t> image_strata, std::vector<double> image_weights)
    : num_images_(num_images),
      parts_(parts_per_image),
      options_(options),
      strata_(std::move(image_strata)),
      weights_(std::move(image_weights)) {
  if (num_images_ <= 0 || parts_ <= 0) {
    CDL_THROW(
        ConfigError, "the set has ", num_images_, " images x ", parts_,
        " parts; expected at least one sample\nhint: check the diagnoses filter and the TSVs");
  }
  if (options_.world_size < 1 || options_.rank < 0 || options_.rank >= options_.world_size) {
    CDL_THROW(ConfigError, "rank ", options_.rank, " of world size ", options_.world_size,
              "; expected 0 <= rank < world_size");
  }
  if (options_.batch_size < 1) {
    CDL_THROW(ConfigError, "batch_size ", options_.batch_size, "; expected a positive integer");
  }
  CDL_CHECK(strata_.empty() || static_cast<int64_t>(strata_.size()) == num_images_, strata_.size(),
            " strata for ", num_images_, " images");
  if (options_.sampler == SamplerKind::kWeighted) {
    const bool ok =
        static_cast<int64_t>(weights_.size()) == num_images_ &&
        std::all_of(weights_.begin(), weights_.end(), [](double w) { return w >= 0; }) &&
        std::accumulate(weights_.begin(), weights_.end(), 0.0) > 0;
    if (!ok) {
      CDL_THROW(ConfigError, "the weighted sampler needs one non-negative weight per image (",
                num_images_, " images, ", weights_.size(), " weights given, positive total)");
    }
  }
}

int64_t ShardPlan::train_samples_per_rank() const {
  const int64_t w = options_.world_size;
  return (num_samples() + w - 1) / w;
}

int64_t ShardPlan::train_batches_per_rank() const {
  return (train_samples_per_rank() + options_.batch_size - 1) / options_.batch_size;
}

std::vector<int64_t> ShardPlan::epoch_permutation(int64_t epoch) const {
  std::vector<int64_t> perm(static_cast<size_t>(num_samples()));
  std::iota(perm.begin(), perm.end(), 0);
  if (!options_.shuffle) return perm;
  SplitMix64 rng = make_rng(options_.seed, epoch, kPermutationStream);
  for (size_t i = perm.size(); i > 1; --i) {  // Fisher-Yates
    std::swap(perm[i - 1], perm[rng.below(i)]);
  }
  return perm;
}

std::vector<std::vector<int64_t>> ShardPlan::deal(const std::vector<int64_t>& perm) const {
  std::vector<int64_t> order = perm;
  if (!strata_.empty()) {
    std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) {
      return strata_[a / parts_] < strata_[b / parts_];
    });
  }
  const int w = options_.world_size;
  std::vector<std::vector<int64_t>> shards(static_cast<size_t>(w));
  for (size_t j = 0; j < order.size(); ++j) shards[j % w].push_back(order[j]);
  return shards;
}

void ShardPlan::pad(std::vector<std::vector<int64_t>>& shards,
                    const std::vector<int64_t>& perm) const {
  const size_t target = static_cast<size_t>(train_samples_per_rank());
  for (size_t r = 0; r < shards.size(); ++r) {
    auto& shard = shards[r];
    const size_t own = shard.size();
    for (size_t k = 0; shard.size() < target; ++k) {
      shard.push_back(own > 0 ? shard[k % own] : perm[(r + k) % perm.size()]);
    }
  }
}

std::vector<std::vector<int64_t>> ShardPlan::train_shards(int64_t epoch) const {
  if (options_.sampler == SamplerKind::kWeighted) return weighted_shards(epoch);
  const std::vector<int64_t> perm = epoch_permutation(epoch);
  auto shards = deal(options_.fixed_shards ? epoch_permutation(0) : perm);
  std::vector<int64_t> position(perm.size());
  for (size_t j = 0; j < perm.size(); ++j) position[perm[j]] = static_cast<int64_t>(j);
  for (auto& shard : shards) {
    std::sort(shard.begin(), shard.end(),
              [&](int64_t a, int64_t b) { return position[a] < position[b]; });
  }
  pad(shards, perm);
  return shards;
}

std::vector<std::vector<int64_t>> ShardPlan::weighted_shards(int64_t epoch) const {
  std::vector<double> cumulative(static_cast<size_t>(num_samples()));
  double total = 0;
  for (int64_t i = 0; i < num_samples(); ++i) {
    total += weights_[i / parts_];
    cumulative[i] = total;
  }
  SplitMix64 rng = make_rng(options_.seed, epoch, kWeightedStream);
  const int w = options_.world_size;
  std::vector<std::vector<int64_t>> shards(static_cast<size_t>(w));
  const int64_t draws = train_samples_per_rank() * w;
  for (int64_t j = 0; j < draws; ++j) {
    const double u = rng.uniform() * total;
    auto it = std::upper_bound(cumulative.begin(), cumulative.end(), u);
    if (it == cumulative.end()) --it;
    shards[j % w].push_back(static_cast<int64_t>(it - cumulative.begin()));
  }
  return shards;
}

std::vector<int64_t> ShardPlan::train_indices(int64_t epoch) const {
  return train_shards(epoch)[options_.rank];
}

int64_t ShardPlan::eval_count(int rank) const {
  const int64_t w = options_.world_size;
  return num_samples() / w + (rank < num_samples() % w ? 1 : 0);
}

int64_t ShardPlan::eval_offset(int rank) const {
  const int64_t w = options_.world_size;
  return rank * (num_samples() / w) + std::min<int64_t>(rank, num_samples() % w);
}

std::vector<int64_t> ShardPlan::eval_counts() const {
  std::vector<int64_t> counts;
  for (int r = 0; r < options_.world_size; ++r) counts.push_back(eval_count(r));
  return counts;
}

std::vector<int64_t> ShardPlan::eval_indices() const {
  std::vector<int64_t> indices(static_cast<size_t>(eval_count(options_.rank)));
  std::iota(indices.begin(), indices.end(), eval_offset(options_.rank));
  return indices;
}

int64_t ShardPlan::eval_batches() const {
  return (eval_count(options_.rank) + options_.batch_size - 1) / options_.batch_size;
}

int64_t ShardPlan::max_eval_batches() const {
  return (eval_count(0) + options_.batch_size - 1) / options_.batch_size;
}

std::vector<double> class_balance_weights(const std::vector<int64_t>& class_codes) {
  std::map<int64_t, int64_t> counts;
  for (int64_t c : class_codes) ++counts[c];
  std::vector<double> weights;
  for (int64_t c : class_codes) weights.push_back(1.0 / static_cast<double>(counts[c]));
  return weights;
}

std::vector<double> regression_bin_weights(const std::vector<float>& values, int n_bins) {
  if (values.empty()) return {};
  const auto [lo_it, hi_it] = std::minmax_element(values.begin(), values.end());
  const double lo = *lo_it, step = (static_cast<double>(*hi_it) - lo) / n_bins;
  std::vector<int> bins;
  std::vector<int64_t> counts(static_cast<size_t>(n_bins), 0);
  for (float v : values) {
    int bin = 0;
    for (int i = 1; i < n_bins; ++i) {
      if (step > 0 && v >= lo + i * step) bin = i;
    }
    bins.push_back(bin);
    ++counts[bin];
  }
  std::vector<double> weights;
  for (int bin : bins) weights.push_back(1.0 / static_cast<double>(counts[bin]));
  return weights;
}

}  // namespace cdl::data

// Implementation of ShardPlan and of the weighted-sampler weights.
#include "cdl/data/shard_plan.hpp"

#include <algorithm>
#include <map>
#include <numeric>

#include "cdl/core/error.hpp"
#include "cdl/core/random.hpp"

namespace cdl::data {
namespace {

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

ShardPlan::ShardPlan(int64_t num_images, int64_t parts_per_image, ShardPlanOptions options,
                     std::vector<double> image_weights)
    : num_images_(num_images),
      parts_(parts_per_image),
      options_(options),
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
  if (options_.batch_size < 1 || options_.accumulation_steps < 1 ||
      options_.data_parallel_width < 0) {
    CDL_THROW(ConfigError, "batch_size ", options_.batch_size, ", accumulation_steps ",
              options_.accumulation_steps, ", data-parallel width ", options_.data_parallel_width,
              "; expected positive integers");
  }
  if (options_.data_parallel_width == 0) options_.data_parallel_width = options_.world_size;
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

int64_t ShardPlan::virtual_batch_size() const {
  return options_.batch_size * options_.accumulation_steps * options_.data_parallel_width;
}

int64_t ShardPlan::updates_per_epoch() const {
  return (num_samples() + virtual_batch_size() - 1) / virtual_batch_size();
}

int64_t ShardPlan::last_micro_batch(int64_t update) const {
  const int64_t v = virtual_batch_size(), b = options_.batch_size;
  const int64_t samples = std::min(num_samples(), (update + 1) * v) - update * v;
  return update * (v / b) + (samples + b - 1) / b - 1;
}

std::vector<int64_t> ShardPlan::epoch_sequence(int64_t epoch) const {
  std::vector<int64_t> sequence(static_cast<size_t>(num_samples()));
  if (options_.sampler == SamplerKind::kWeighted) {
    std::vector<double> cumulative(sequence.size());
    double total = 0;
    for (int64_t i = 0; i < num_samples(); ++i) {
      total += weights_[i / parts_];
      cumulative[i] = total;
    }
    SplitMix64 rng = make_rng(options_.seed, epoch, kWeightedStream);
    for (auto& sample : sequence) {
      auto it = std::upper_bound(cumulative.begin(), cumulative.end(), rng.uniform() * total);
      if (it == cumulative.end()) --it;
      sample = static_cast<int64_t>(it - cumulative.begin());
    }
    return sequence;
  }
  std::iota(sequence.begin(), sequence.end(), 0);
  if (!options_.shuffle) return sequence;
  SplitMix64 rng = make_rng(options_.seed, epoch, kPermutationStream);
  for (size_t i = sequence.size(); i > 1; --i) {  // Fisher-Yates
    std::swap(sequence[i - 1], sequence[rng.below(i)]);
  }
  return sequence;
}

int ShardPlan::home_rank(int64_t sample) const {
  const int64_t w = options_.world_size, n = num_samples();
  const int64_t base = n / w, extra = n % w;
  // The first `extra` ranks hold base + 1 samples each, the others base.
  if (sample < extra * (base + 1)) return static_cast<int>(sample / (base + 1));
  return static_cast<int>(extra + (sample - extra * (base + 1)) / std::max<int64_t>(1, base));
}

/// The rank that runs each micro-batch of one virtual batch: rank r runs floor or ceil(K / W) of
/// the K micro-batches (the first K mod W ranks one more); a micro-batch goes to the home rank of
/// its first sample while that rank has room, the rest fill the remaining room in rank order.
std::vector<int> ShardPlan::owners(const std::vector<std::vector<int64_t>>& micro_batches) const {
  const int w = options_.world_size;
  const int64_t k = static_cast<int64_t>(micro_batches.size());
  std::vector<int64_t> room(static_cast<size_t>(w));
  for (int r = 0; r < w; ++r) room[r] = k / w + (r < k % w ? 1 : 0);
  std::vector<int> owner(static_cast<size_t>(k), -1);
  for (int64_t j = 0; j < k; ++j) {
    const int home = home_rank(micro_batches[j].front());
    if (room[home] > 0) {
      owner[j] = home;
      --room[home];
    }
  }
  int next = 0;
  for (int64_t j = 0; j < k; ++j) {
    if (owner[j] >= 0) continue;
    while (room[next] == 0) ++next;
    owner[j] = next;
    --room[next];
  }
  return owner;
}

std::vector<PlannedUpdate> ShardPlan::train_updates_of(int rank, int64_t epoch) const {
  const auto sequence = epoch_sequence(epoch);
  const int64_t n = num_samples(), v = virtual_batch_size(), b = options_.batch_size;
  std::vector<PlannedUpdate> updates;
  int64_t micro_id = 0;
  for (int64_t start = 0; start < n; start += v) {
    const int64_t end = std::min(n, start + v);
    std::vector<std::vector<int64_t>> micro_batches;
    for (int64_t m = start; m < end; m += b) {
      micro_batches.emplace_back(sequence.begin() + m, sequence.begin() + std::min(end, m + b));
    }
    const auto owner = owners(micro_batches);
    PlannedUpdate update;
    update.virtual_batch_samples = end - start;
    update.first_micro_batch_id = micro_id;
    update.micro_batch_count = static_cast<int64_t>(micro_batches.size());
    for (size_t j = 0; j < micro_batches.size(); ++j) {
      if (owner[j] != rank) continue;
      update.micro_batches.push_back(std::move(micro_batches[j]));
      update.micro_batch_ids.push_back(micro_id + static_cast<int64_t>(j));
    }
    micro_id += static_cast<int64_t>(micro_batches.size());
    updates.push_back(std::move(update));
  }
  return updates;
}

std::vector<PlannedUpdate> ShardPlan::train_updates(int64_t epoch) const {
  return train_updates_of(options_.rank, epoch);
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

// ShardPlan: which samples (image x part) each rank trains on in each update of each epoch, and
// evaluates, as pure arithmetic on (seed, epoch, rank, world_size), so every rank computes the same
// plan without MPI, and the virtual batches do not depend on the number of ranks.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "cdl/core/choice.hpp"

namespace cdl::data {

/// ClinicaDL's `sampler` option.
enum class SamplerKind { kRandom, kWeighted };

/// The names of --sampler (core/choice.hpp).
constexpr std::array<ChoiceName<SamplerKind>, 2> choice_names(SamplerKind) {
  return {{{SamplerKind::kRandom, "random"}, {SamplerKind::kWeighted, "weighted"}}};
}

/// Options of a ShardPlan.
struct ShardPlanOptions {
  int rank = 0;            ///< this rank among the ranks that train the set, 0 <= rank < world_size
  int world_size = 1;      ///< ranks that train the set together (a rank group or the world)
  uint64_t seed = 0;       ///< with the epoch, seeds every permutation and draw
  int64_t batch_size = 1;  ///< micro-batch size b
  int64_t accumulation_steps = 1;   ///< A
  int64_t data_parallel_width = 0;  ///< D in the virtual batch b x A x D; 0 means world_size
  SamplerKind sampler = SamplerKind::kRandom;
  bool shuffle = true;  ///< false: training order is the sample order (debugging)
};

/// One weight update of an epoch, seen from one rank.
struct PlannedUpdate {
  /// This rank's micro-batches of the update, in the order it runs them (may be empty: the rank
  /// then only joins the gradient reduction).
  std::vector<std::vector<int64_t>> micro_batches;
  /// Position of each of those micro-batches in the epoch (0-based over all ranks): seeds the
  /// random streams (dropout) of the micro-batch whatever rank runs it.
  std::vector<int64_t> micro_batch_ids;
  /// Samples of the whole update over all ranks (the mean of the applied gradient is over them).
  int64_t virtual_batch_samples = 0;
  /// Position in the epoch of the update's first micro-batch, and the update's micro-batch count
  /// (all ranks together).
  int64_t first_micro_batch_id = 0;
  int64_t micro_batch_count = 0;
};

/// The sampling plan of one set (train or validation) for one rank.
///
/// Sample index = image_index * parts_per_image + part (ClinicaDL's dataset index).
///
/// Training: the epoch sequence S_e of N samples is a function of (seed, epoch) only: a
/// permutation of all samples (sampler "random"), or N draws with replacement proportional to the
/// sample weights (sampler "weighted", ClinicaDL 4.12). S_e is cut into virtual batches of
/// V = batch_size x accumulation_steps x D samples (D = data_parallel_width; the last one may be
/// shorter), each cut into micro-batches of batch_size consecutive samples (the last one may be
/// shorter). Up to here nothing depends on the number of ranks: the micro-batches, hence the
/// BatchNorm statistics and the mean gradient of every update, are those of a 1-rank run with
/// accumulation A x D. The micro-batches of each virtual batch are then shared by the ranks:
/// every rank gets floor or ceil(K / world_size) of the K micro-batches (the first K mod W ranks
/// one more), and each micro-batch goes preferably to the "home" rank of its first sample, the
/// rank whose evaluation block (below) holds it, so a rank mostly reads the images it evaluates
/// and caches. Every rank has the same number of updates per epoch, ceil(N / V); a rank may hold
/// no micro-batch in a short last update. Nothing is padded or repeated.
///
/// Evaluation (`eval_indices()`): contiguous blocks in sample order, the first N mod W ranks one
/// sample more; every sample exactly once; concatenating the ranks' results in rank order gives
/// sample order 0..N-1 (gathered order is reconstructible from eval_counts()).
class ShardPlan {
 public:
  /// `image_weights`: one positive weight per image (required for the weighted sampler, ignored
  /// otherwise). Throws ConfigError for an empty set, a bad rank, world_size, batch_size or
  /// accumulation, or missing weights.
  ShardPlan(int64_t num_images, int64_t parts_per_image, ShardPlanOptions options,
            std::vector<double> image_weights = {});

  /// Total number of samples N = num_images * parts_per_image.
  int64_t num_samples() const { return num_images_ * parts_; }
  /// The options.
  const ShardPlanOptions& options() const { return options_; }

  /// Samples per virtual batch V = batch_size x accumulation_steps x data_parallel_width.
  int64_t virtual_batch_size() const;
  /// Weight updates per epoch, ceil(N / V), identical on all ranks.
  int64_t updates_per_epoch() const;
  /// Position in the epoch (over all ranks) of the last micro-batch of update `update`; full
  /// updates hold accumulation_steps x data_parallel_width micro-batches. This is the
  /// "iteration" of training.tsv, the micro-batch index of a 1-rank run.
  int64_t last_micro_batch(int64_t update) const;
  /// The epoch sequence S_e (identity when shuffle is off and the sampler is "random").
  std::vector<int64_t> epoch_sequence(int64_t epoch) const;
  /// This rank's updates of `epoch` (length updates_per_epoch()).
  std::vector<PlannedUpdate> train_updates(int64_t epoch) const;
  /// The updates of `epoch` as rank `rank` sees them (for tests and tools).
  std::vector<PlannedUpdate> train_updates_of(int rank, int64_t epoch) const;
  /// The rank whose evaluation block holds `sample` (the rank that prefers to train on it).
  int home_rank(int64_t sample) const;

  /// This rank's evaluation samples: a contiguous block in sample order.
  std::vector<int64_t> eval_indices() const;
  /// Number of evaluation samples of `rank`.
  int64_t eval_count(int rank) const;
  /// First evaluation sample of `rank` (its offset in the gathered order).
  int64_t eval_offset(int rank) const;
  /// Evaluation sample counts of all ranks (for a gather with counts).
  std::vector<int64_t> eval_counts() const;
  /// Evaluation micro-batches of this rank (may be one fewer than on other ranks).
  int64_t eval_batches() const;
  /// Largest evaluation micro-batch count over all ranks.
  int64_t max_eval_batches() const;

 private:
  std::vector<int> owners(const std::vector<std::vector<int64_t>>& micro_batches) const;

  int64_t num_images_;
  int64_t parts_;
  ShardPlanOptions options_;
  std::vector<double> weights_;
};

/// Weighted-sampler weights per image for classification: 1 / (number of images of its class).
std::vector<double> class_balance_weights(const std::vector<int64_t>& class_codes);

/// Weighted-sampler weights per image for regression: `n_bins` equal-width bins between min and
/// max (bin = largest i with value >= min + i*(max-min)/n_bins), weight 1 / count of its bin.
/// Counts the bins correctly (ClinicaDL's version puts every sample in bin 0 and divides by 0).
std::vector<double> regression_bin_weights(const std::vector<float>& values, int n_bins = 5);

}  // namespace cdl::data

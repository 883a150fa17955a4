// ShardPlan: which samples (image x part) each rank trains on in each epoch and evaluates, as pure
// arithmetic on (seed, epoch, rank, world_size), so every rank computes the same plan without MPI.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace cdl::data {

/// ClinicaDL's `sampler` option.
enum class SamplerKind { kRandom, kWeighted };

/// Parses "random" | "weighted"; throws ConfigError otherwise.
SamplerKind parse_sampler(const std::string& text);

/// Options of a ShardPlan.
struct ShardPlanOptions {
  int rank = 0;            ///< this rank, 0 <= rank < world_size
  int world_size = 1;      ///< number of ranks sharing the set
  uint64_t seed = 0;       ///< with the epoch, seeds every permutation and draw
  int64_t batch_size = 1;  ///< micro-batch size (per rank)
  SamplerKind sampler = SamplerKind::kRandom;
  bool shuffle = true;        ///< false: training order is the sample order (debugging)
  bool fixed_shards = false;  ///< true: the rank -> samples assignment of epoch 0 is kept and
                              ///< only the order changes per epoch (each rank then reads and
                              ///< caches only its own images); false: reassigned every epoch
};

/// The sampling plan of one set (train or validation) for one rank.
///
/// Sample index = image_index * parts_per_image + part (ClinicaDL's dataset index).
///
/// Training (`train_indices(epoch)`), sampler "random": a permutation P_e of all samples is drawn
/// from (seed, epoch). With strata (class codes per image), samples are grouped by stratum in
/// P_e order and dealt round-robin to the ranks, so each rank holds every class within +/-1
/// sample of any other rank; without strata, P_e itself is dealt round-robin (sample P_e[j] goes
/// to rank j mod W, as PyTorch's DistributedSampler does). Each rank visits its samples in P_e
/// order. Ranks holding floor(N/W) samples are padded with their own first sample (wrap-around),
/// so every rank has exactly ceil(N/W) samples and ceil(ceil(N/W)/batch_size) micro-batches.
/// Relation to one rank: with world_size 1 the sequence is P_e; each rank's sequence is a
/// subsequence of P_e. Without strata, rank r's k-th sample is P_e[k*W + r], so the k-th
/// micro-batches of all ranks together hold exactly the samples of the k-th batch of a 1-rank run
/// with batch_size*W (same seed): 1-rank and W-rank runs see the same virtual batches.
///
/// Sampler "weighted" (ClinicaDL 4.12): ceil(N/W)*W draws with replacement, probability
/// proportional to the sample weights, from (seed, epoch); draw j goes to rank j mod W (so with
/// one rank the first N draws are the 1-rank sequence). Weights come from class_balance_weights
/// or regression_bin_weights; strata are ignored.
///
/// Evaluation (`eval_indices()`): contiguous blocks in sample order, the first N mod W ranks one
/// sample more; every sample exactly once; concatenating the ranks' results in rank order gives
/// sample order 0..N-1 (gathered order is reconstructible from eval_counts()).
class ShardPlan {
 public:
  /// `image_strata`: one class code per image (empty = no stratification); `image_weights`: one
  /// positive weight per image (required for the weighted sampler, ignored otherwise).
  /// Throws ConfigError for an empty set, a bad rank/world_size/batch_size or missing weights.
  ShardPlan(int64_t num_images, int64_t parts_per_image, ShardPlanOptions options,
            std::vector<int64_t> image_strata = {}, std::vector<double> image_weights = {});

  /// Total number of samples N = num_images * parts_per_image.
  int64_t num_samples() const { return num_images_ * parts_; }
  /// The options.
  const ShardPlanOptions& options() const { return options_; }

  /// Samples per rank per training epoch: ceil(N / world_size), identical on all ranks.
  int64_t train_samples_per_rank() const;
  /// Micro-batches per rank per training epoch, identical on all ranks (last one may be partial,
  /// with the same size on every rank).
  int64_t train_batches_per_rank() const;
  /// This rank's training sequence for `epoch` (length train_samples_per_rank()).
  std::vector<int64_t> train_indices(int64_t epoch) const;
  /// The training sequences of every rank for `epoch` (element r = rank r's sequence).
  std::vector<std::vector<int64_t>> train_shards(int64_t epoch) const;
  /// The global permutation P_e of the "random" sampler (identity when shuffle is off).
  std::vector<int64_t> epoch_permutation(int64_t epoch) const;

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
  std::vector<std::vector<int64_t>> deal(const std::vector<int64_t>& perm) const;
  std::vector<std::vector<int64_t>> weighted_shards(int64_t epoch) const;
  void pad(std::vector<std::vector<int64_t>>& shards, const std::vector<int64_t>& perm) const;

  int64_t num_images_;
  int64_t parts_;
  ShardPlanOptions options_;
  std::vector<int64_t> strata_;
  std::vector<double> weights_;
};

/// Weighted-sampler weights per image for classification: 1 / (number of images of its class).
std::vector<double> class_balance_weights(const std::vector<int64_t>& class_codes);

/// Weighted-sampler weights per image for regression: `n_bins` equal-width bins between min and
/// max (bin = largest i with value >= min + i*(max-min)/n_bins), weight 1 / count of its bin.
/// Counts the bins correctly (ClinicaDL's version puts every sample in bin 0 and divides by 0).
std::vector<double> regression_bin_weights(const std::vector<float>& values, int n_bins = 5);

}  // namespace cdl::data

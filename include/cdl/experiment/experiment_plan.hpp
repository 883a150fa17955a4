// ExperimentPlan: the units of work of one training job, (split, network) pairs, and the rank
// groups that run them, as pure arithmetic on the options and the number of ranks, so that every
// rank computes the same plan without MPI.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace cdl::experiment {

/// G groups of consecutive ranks out of a job's ranks, of sizes floor or ceil(ranks / G): the
/// first (ranks mod G) groups hold one rank more.
class RankGroups {
 public:
  /// Throws ConfigError unless 1 <= groups <= world_size.
  RankGroups(int world_size, int groups);
  /// Number of groups.
  int count() const { return groups_; }
  /// The group of rank `rank`.
  int group_of_rank(int rank) const;
  /// The ranks of `group`, in increasing order.
  std::vector<int> ranks_of_group(int group) const;

 private:
  int world_size_;
  int groups_;
};

/// One unit of work: one network of one split, trained data parallel by one rank group.
struct WorkUnit {
  int split = 0;
  int network = -1;  ///< part index in multi-network mode, -1 for the single network
};

/// What an experiment consists of.
struct ExperimentOptions {
  std::vector<int64_t> splits;  ///< splits to train, in order
  int64_t networks = 1;         ///< networks per split: parts per image with multi_network, else 1
  bool multi_network = false;   ///< one network per part
  bool split_parallel = false;  ///< splits side by side on rank groups instead of one by one
  int world_size = 1;           ///< ranks of the job
};

/// The plan. Units are ordered split by split, networks in increasing order within a split.
///
/// Groups: without --multi_network and --split_parallel there is one group (every rank) that runs
/// the units one after another. Otherwise there are G = min(ranks, units) groups of consecutive
/// ranks, sizes floor or ceil(ranks / G) (the first ranks mod G groups one rank more), and unit u
/// goes to group u mod G; a group runs its units in order. So with fewer ranks than units each
/// rank trains several networks one after another; with more ranks than units some groups hold
/// one rank more than others.
///
/// Virtual batch: every unit trains with batch_size x accumulation_steps x D samples per weight
/// update whatever its group's size (data/shard_plan.hpp). D is the number of ranks of the job
/// for single-network runs (so --split_parallel changes nothing to a split's results), and 1 in
/// multi-network mode (a network's results do not depend on the number of ranks: its
/// batch_size x accumulation_steps samples per update are shared by the ranks of its group).
class ExperimentPlan {
 public:
  /// Throws ConfigError for an empty split list, networks < 1, networks > 1 without
  /// multi_network, or world_size < 1.
  explicit ExperimentPlan(ExperimentOptions options);

  /// Every unit, in order.
  const std::vector<WorkUnit>& units() const { return units_; }
  /// Number of rank groups.
  int group_count() const { return groups_.count(); }
  /// The group of world rank `rank`.
  int group_of_rank(int rank) const { return groups_.group_of_rank(rank); }
  /// The world ranks of `group`, in increasing order.
  std::vector<int> ranks_of_group(int group) const { return groups_.ranks_of_group(group); }
  /// The group that runs unit number `unit` (index into units()).
  int group_of_unit(size_t unit) const;
  /// The units of `group`, in the order it runs them.
  std::vector<WorkUnit> units_of_group(int group) const;
  /// D of the virtual batch (see the class comment).
  int64_t data_parallel_width() const;
  /// One line per group for the log: its ranks and its units.
  std::vector<std::string> describe() const;

 private:
  ExperimentOptions options_;
  std::vector<WorkUnit> units_;
  RankGroups groups_{1, 1};
};

}  // namespace cdl::experiment

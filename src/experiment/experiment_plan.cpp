// Implementation of the experiment planner.
#include "cdl/experiment/experiment_plan.hpp"

#include <algorithm>
#include <sstream>

#include "cdl/core/error.hpp"

namespace cdl::experiment {

ExperimentPlan::ExperimentPlan(ExperimentOptions options) : options_(std::move(options)) {
  if (options_.splits.empty() || options_.networks < 1 || options_.world_size < 1 ||
      (options_.networks > 1 && !options_.multi_network)) {
    CDL_THROW(ConfigError, "experiment of ", options_.splits.size(), " split(s) x ",
              options_.networks, " network(s) on ", options_.world_size,
              " rank(s); expected at least one split, one network (several only with "
              "--multi_network) and one rank");
  }
  for (const auto split : options_.splits) {
    for (int64_t n = 0; n < options_.networks; ++n) {
      units_.push_back(
          {static_cast<int>(split), options_.multi_network ? static_cast<int>(n) : -1});
    }
  }
  const bool grouped = options_.multi_network || options_.split_parallel;
  groups_ = RankGroups(
      options_.world_size,
      grouped ? static_cast<int>(std::min<size_t>(options_.world_size, units_.size())) : 1);
}

RankGroups::RankGroups(int world_size, int groups) : world_size_(world_size), groups_(groups) {
  if (groups < 1 || groups > world_size) {
    CDL_THROW(ConfigError, groups, " rank group(s) of ", world_size,
              " rank(s); expected 1 to the number of ranks");
  }
}

int RankGroups::group_of_rank(int rank) const {
  const int base = world_size_ / groups_, extra = world_size_ % groups_;
  // The first `extra` groups hold base + 1 ranks each, the others base.
  if (rank < extra * (base + 1)) return rank / (base + 1);
  return extra + (rank - extra * (base + 1)) / base;
}

std::vector<int> RankGroups::ranks_of_group(int group) const {
  std::vector<int> ranks;
  for (int r = 0; r < world_size_; ++r) {
    if (group_of_rank(r) == group) ranks.push_back(r);
  }
  return ranks;
}

int ExperimentPlan::group_of_unit(size_t unit) const {
  return static_cast<int>(unit % static_cast<size_t>(groups_.count()));
}

std::vector<WorkUnit> ExperimentPlan::units_of_group(int group) const {
  std::vector<WorkUnit> units;
  for (size_t u = 0; u < units_.size(); ++u) {
    if (group_of_unit(u) == group) units.push_back(units_[u]);
  }
  return units;
}

int64_t ExperimentPlan::data_parallel_width() const {
  return options_.multi_network ? 1 : options_.world_size;
}

std::vector<std::string> ExperimentPlan::describe() const {
  std::vector<std::string> lines;
  for (int g = 0; g < groups_.count(); ++g) {
    const auto ranks = ranks_of_group(g);
    std::ostringstream line;
    line << "group " << g << ": rank" << (ranks.size() > 1 ? "s " : " ") << ranks.front();
    if (ranks.size() > 1) line << "-" << ranks.back();
    line << " trains";
    for (const auto& unit : units_of_group(g)) {
      line << " split-" << unit.split;
      if (unit.network >= 0) line << "/network-" << unit.network;
    }
    lines.push_back(line.str());
  }
  return lines;
}

}  // namespace cdl::experiment

// UnitScheduler: which unit of a job (a unit of an ExperimentPlan, a run of a random search) a
// rank group trains next. Static: unit u goes to group
// u mod G (ExperimentPlan). Dynamic (the default): group g starts with unit g, then takes the
// lowest unit nobody has taken yet each time it finishes one, so a unit that trains longer (a
// network that never stops early) does not hold back the units queued behind it. A group's main
// rank takes a unit by creating its claim file atomically (O_CREAT | O_EXCL, which every
// cluster file system honours) in a folder of the job inside the MAPS; the group learns the
// unit from its main rank. A unit's results do not depend on the group that trains it
// (ExperimentPlan: the virtual batch ignores the group's size).
#pragma once

#include <cstdint>
#include <string>

#include "cdl/comm/communicator.hpp"

namespace cdl::experiment {

class UnitScheduler {
 public:
  /// The schedule of `group` among `groups` over `units` units: dynamic through claim files in
  /// `claims_dir` (a folder of this job only, the same on every rank), else static.
  UnitScheduler(int64_t units, int groups, int group, bool dynamic, std::string claims_dir);

  /// Collective over the group (`group_control`): the index of the unit this group trains next
  /// (0 to units - 1), or -1 when every unit is taken.
  int64_t next(comm::Communicator& group_control);

  /// The claim folder of a job in `maps_root`, named after `token` (drawn by the job).
  static std::string claims_folder(const std::string& maps_root, const std::string& token);
  /// Main rank of the world, before any group claims: removes the claim folders that earlier
  /// (killed) jobs left in `maps_root`.
  static void remove_stale_claims(const std::string& maps_root);

 private:
  int64_t next_on_main();
  bool claim(int64_t unit) const;

  int64_t units_;
  int groups_;
  int group_;
  bool dynamic_;
  std::string claims_dir_;
  int64_t taken_ = 0;   // units this group has taken
  int64_t cursor_ = 0;  // dynamic: the lowest unit this group may still claim
};

}  // namespace cdl::experiment

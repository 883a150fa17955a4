// Implementation of the resume plan.
#include "cdl/experiment/resume_plan.hpp"

#include <filesystem>
#include <sstream>
#include <string>

#include "cdl/core/logging.hpp"

namespace cdl::experiment {
namespace fs = std::filesystem;

SplitStatus split_status(const maps::MapsLayout& layout, int split, bool multi_network) {
  if (fs::is_regular_file(layout.training_state(split))) return SplitStatus::kStopped;
  if (multi_network && fs::is_directory(layout.tmp_dir(split))) return SplitStatus::kStopped;
  if (fs::exists(layout.tmp_dir(split)) || !fs::is_directory(layout.split_dir(split))) {
    return SplitStatus::kAbsent;  // stopped before its first state, or never started
  }
  for (const auto& entry : fs::directory_iterator(layout.split_dir(split))) {
    if (entry.is_directory() && maps::MapsLayout::is_best_model_dir(entry.path().filename())) {
      return SplitStatus::kFinished;
    }
  }
  return SplitStatus::kAbsent;
}

std::vector<SplitRun> plan_resume(const config::TrainConfig& c, comm::Communicator& control) {
  std::string encoded;
  if (control.is_main()) {
    const maps::MapsLayout layout(c.maps_dir);
    std::ostringstream out;
    for (const auto split : requested_splits(c)) {
      const auto status = split_status(layout, static_cast<int>(split), c.multi_network);
      if (status == SplitStatus::kFinished) {
        log::info("split ", split, " has finished: kept as it is");
        continue;
      }
      log::info("split ", split,
                status == SplitStatus::kStopped ? ": continues from its training state"
                                                : ": has no training state, trains from scratch");
      out << split << (status == SplitStatus::kStopped ? " 1 " : " 0 ");
    }
    encoded = out.str();
  }
  control.broadcast_string(encoded, 0);
  std::istringstream in(encoded);
  std::vector<SplitRun> plan;
  SplitRun run;
  int resume = 0;
  while (in >> run.split >> resume) {
    run.resume = resume == 1;
    plan.push_back(run);
  }
  return plan;
}

}  // namespace cdl::experiment

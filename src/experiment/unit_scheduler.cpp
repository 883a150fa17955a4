// Implementation of the unit scheduler: static arithmetic, or claim files created exclusively.
#include "cdl/experiment/unit_scheduler.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include <torch/torch.h>

#include "cdl/core/atomic_file.hpp"
#include "cdl/core/error.hpp"
#include "cdl/core/file_tree.hpp"

namespace cdl::experiment {
namespace {

namespace fs = std::filesystem;
constexpr const char* kClaimsPrefix = ".clinicadl-hpc.claims-";

}  // namespace

UnitScheduler::UnitScheduler(int64_t units, int groups, int group, bool dynamic,
                             std::string claims_dir)
    : units_(units),
      groups_(groups),
      group_(group),
      dynamic_(dynamic),
      claims_dir_(std::move(claims_dir)) {
  cursor_ = groups;  // units below G are every group's first
}

std::string UnitScheduler::claims_folder(const std::string& maps_root, const std::string& token) {
  return maps_root + "/" + kClaimsPrefix + token;
}

void UnitScheduler::remove_stale_claims(const std::string& maps_root) {
  std::error_code ignored;
  for (const auto& entry : fs::directory_iterator(maps_root, ignored)) {
    if (entry.path().filename().string().rfind(kClaimsPrefix, 0) == 0) remove_tree(entry.path());
  }
}

bool UnitScheduler::claim(int64_t unit) const {
  const std::string path = claims_dir_ + "/unit-" + std::to_string(unit);
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd >= 0) {
    ::close(fd);
    return true;
  }
  if (errno == EEXIST) return false;
  CDL_THROW(DataError, "cannot create the claim file ", path,
            " of the unit scheduler: ", std::strerror(errno),
            "\nhint: the MAPS folder must be writable (or use "
            "--unit_scheduling static)");
}

int64_t UnitScheduler::next_on_main() {
  const int64_t units = units_;
  if (!dynamic_) {  // unit u to group u mod G, in order
    const int64_t unit = group_ + taken_ * groups_;
    return unit < units ? unit : -1;
  }
  if (taken_ == 0) return group_ < units ? group_ : -1;
  // After the first unit, so after a new MAPS took its final name (ExperimentContext::on_start).
  if (cursor_ < units) ensure_directory(claims_dir_);
  for (; cursor_ < units; ++cursor_) {
    if (claim(cursor_)) return cursor_++;
  }
  return -1;
}

int64_t UnitScheduler::next(comm::Communicator& group_control) {
  auto unit = torch::zeros({1}, torch::kInt64);
  if (group_control.is_main()) unit[0] = next_on_main();
  group_control.broadcast(unit, 0);
  ++taken_;
  return unit.item<int64_t>();
}

}  // namespace cdl::experiment

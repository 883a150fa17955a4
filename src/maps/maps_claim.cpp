// Implementation of the MAPS claim: an exclusive lock file holding "host pid".
#include "cdl/maps/maps_claim.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "cdl/core/atomic_file.hpp"
#include "cdl/core/error.hpp"
#include "cdl/core/file_tree.hpp"
#include "cdl/core/node_memory.hpp"

namespace cdl::maps {
namespace {

namespace fs = std::filesystem;

/// Creates `path` exclusively with "host pid"; false when it already exists.
bool create_lock(const std::string& path) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL, 0644);
  if (fd < 0) {
    if (errno == EEXIST) return false;
    CDL_THROW(DataError, "cannot create the lock file '", path, "': ", std::strerror(errno),
              "; expected a writable MAPS folder");
  }
  const std::string owner =
      host_name() + " " + std::to_string(static_cast<long>(::getpid())) + "\n";
  const bool written =
      ::write(fd, owner.data(), owner.size()) == static_cast<ssize_t>(owner.size());
  ::close(fd);
  if (!written) CDL_THROW(DataError, "cannot write the lock file '", path, "' (disk full?)");
  return true;
}

/// True when process `pid` has ended but was not reaped yet (a zombie: its parent, e.g. mpirun,
/// was killed, and a container's init may never reap it). Linux's /proc; false elsewhere.
bool is_zombie(long pid) {
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string text;
  if (!std::getline(stat, text)) return false;
  const auto name_end = text.rfind(')');  // the command name may hold spaces and parentheses
  return name_end != std::string::npos && name_end + 2 < text.size() && text[name_end + 2] == 'Z';
}

/// True when the lock names a process of this host that no longer runs.
bool is_stale(const std::string& host, long pid) {
  if (host != host_name() || pid <= 0) return false;
  if (::kill(static_cast<pid_t>(pid), 0) != 0) return errno == ESRCH;
  return is_zombie(pid);
}

void clear_except(const std::string& root, const std::string& keep) {
  for (const auto& entry : fs::directory_iterator(root)) {
    if (entry.path().filename() != keep) remove_tree(entry.path());
  }
}

}  // namespace

MapsClaim::MapsClaim(const std::string& root, bool clear_existing)
    : lock_((fs::path(root) / kMapsLockName).string()) {
  ensure_directory(root);
  if (!create_lock(lock_)) {
    std::string host;
    long pid = 0;
    std::ifstream(lock_) >> host >> pid;
    if (!is_stale(host, pid) || !fs::remove(lock_) || !create_lock(lock_)) {
      CDL_THROW(ConfigError, "MAPS_DIR '", root, "' is being written by another job (", host,
                ", process ", pid, "; lock file ", lock_,
                "); nothing was changed.\n  hint: wait for "
                "that job, or choose another MAPS_DIR; if no job uses this MAPS any more, delete "
                "the lock file");
    }
  }
  if (clear_existing) clear_except(root, kMapsLockName);
}

void MapsClaim::moved_to(const std::string& new_root) {
  lock_ = (fs::path(new_root) / kMapsLockName).string();
}

MapsClaim::~MapsClaim() {
  std::error_code ignored;
  fs::remove(lock_, ignored);
}

}  // namespace cdl::maps

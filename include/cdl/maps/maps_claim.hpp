// MapsClaim: one job at a time writes a MAPS folder. The main rank claims the folder before it
// writes anything, by creating a lock file with O_CREAT | O_EXCL (atomic, also on NFS v3+ and
// Lustre); a second job started on the same MAPS finds the lock and stops before touching it.
#pragma once

#include <string>

namespace cdl::maps {

/// Name of the lock file inside a MAPS folder while a job writes it.
inline constexpr const char* kMapsLockName = ".clinicadl-hpc.lock";

/// Holds the claim on a MAPS folder for the lifetime of the object (main rank only).
class MapsClaim {
 public:
  /// Creates `root` if needed and claims it. A lock left by a job that no longer runs (same host,
  /// process gone) is taken over; a lock held by a live job, or by a job on another host, throws
  /// ConfigError naming the holder and the lock file. With `clear_existing`, everything in `root`
  /// but the lock is deleted once the claim is held (--overwrite of a checked MAPS).
  MapsClaim(const std::string& root, bool clear_existing);
  /// Releases the claim (removes the lock file).
  ~MapsClaim();
  MapsClaim(const MapsClaim&) = delete;
  MapsClaim& operator=(const MapsClaim&) = delete;

  /// Path of the lock file.
  const std::string& lock_path() const { return lock_; }
  /// The claimed folder was renamed to `new_root` (with the lock file inside): follow it.
  void moved_to(const std::string& new_root);

 private:
  std::string lock_;
};

}  // namespace cdl::maps

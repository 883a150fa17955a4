// The one process-wide lock that serialises every HDF5 call of clinicadl-hpc.
// Stock HDF5 builds are not thread-safe; the I/O threads of the loaders share files through it.
#pragma once

#include <mutex>

namespace cdl::h5 {

/// The global HDF5 mutex (recursive, so a locked helper may call another locked helper).
/// Hold it around every H5* call: `std::lock_guard<std::recursive_mutex>
/// lock(h5::global_mutex());`.
std::recursive_mutex& global_mutex();

/// Holds global_mutex() for its lifetime and silences HDF5's automatic error-stack printing on the
/// calling thread (thread-safe HDF5 builds keep that setting per thread); the data layer reports
/// HDF5 failures through its own DataError messages.
class Lock {
 public:
  Lock();
  Lock(const Lock&) = delete;
  Lock& operator=(const Lock&) = delete;

 private:
  std::lock_guard<std::recursive_mutex> lock_;
};

}  // namespace cdl::h5

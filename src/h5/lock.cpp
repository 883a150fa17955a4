// Definition of the global HDF5 mutex.
#include "cdl/h5/lock.hpp"

#include <hdf5.h>

namespace cdl::h5 {

std::recursive_mutex& global_mutex() {
  static std::recursive_mutex mutex;
  return mutex;
}

Lock::Lock() : lock_(global_mutex()) {
  thread_local bool silenced = false;
  if (!silenced) {
    H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
    silenced = true;
  }
}

}  // namespace cdl::h5

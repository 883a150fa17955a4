// Definition of the global HDF5 mutex.
#include "cdl/data/h5_lock.hpp"

#include <hdf5.h>

namespace cdl::data {

std::recursive_mutex& hdf5_mutex() {
  static std::recursive_mutex mutex;
  return mutex;
}

H5Lock::H5Lock() : lock_(hdf5_mutex()) {
  thread_local bool silenced = false;
  if (!silenced) {
    H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
    silenced = true;
  }
}

}  // namespace cdl::data

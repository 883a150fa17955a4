// caps2h5: CAPS -> HDF5 converter, synthetic CAPS generator, split tools. main only delegates.
#include <hdf5.h>
#include <malloc.h>

#include "caps2h5/cli.hpp"

int main(int argc, char** argv) {
  // HDF5 closes every file still open at exit; a file whose flush failed (disk full) makes that
  // shutdown crash. Our handles are closed by RAII on every path, so the library's own exit hook
  // is not needed, and a failed write ends with its error message and status, not SIGSEGV.
  H5dont_atexit();
  // Image buffers are tens of MB: keep freed ones in one heap for reuse instead of unmapping
  // them (every fresh mmap costs page faults and kernel zeroing on the next image).
  mallopt(M_ARENA_MAX, 1);
  mallopt(M_MMAP_MAX, 0);
  mallopt(M_TRIM_THRESHOLD, 1 << 30);
  return cdl::data_tools::run_cli(argc, argv);
}

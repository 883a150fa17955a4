// caps2h5: CAPS -> HDF5 converter, synthetic CAPS generator, split tools. main only delegates.
#include <malloc.h>

#include "caps2h5/cli.hpp"

int main(int argc, char** argv) {
  // Image buffers are tens of MB: keep freed ones in one heap for reuse instead of unmapping
  // them (every fresh mmap costs page faults and kernel zeroing on the next image).
  mallopt(M_ARENA_MAX, 1);
  mallopt(M_MMAP_MAX, 0);
  mallopt(M_TRIM_THRESHOLD, 1 << 30);
  return cdl::data_tools::run_cli(argc, argv);
}

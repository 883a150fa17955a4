// Test helper: writes a NIfTI-2 image whose header announces 2^22 x 2^22 x 2^22 voxels (a count
// that wraps around 64 bits) over 8 bytes of data, or, given DIM0, whose dim[0] (the number of
// dimensions, 1 to 7) is DIM0. Usage: make_bad_nifti OUT.nii.gz [DIM0]
#include <cstdio>
#include <cstring>
#include <iostream>
#include <string>
#include <vector>

#include "caps2h5/gzip_codec.hpp"
#include "caps2h5/nifti_io.hpp"

int main(int argc, char** argv) {
  if (argc != 2 && argc != 3) {
    std::cerr << "usage: make_bad_nifti OUT.nii.gz [DIM0]\n";
    return 2;
  }
  using namespace cdl::data_tools;
  const std::string plain = std::string(argv[1]) + ".plain.nii";
  NiftiSpec spec;
  spec.dims = {2, 1, 1, 1};
  spec.version = 2;
  const float voxels[2] = {1.0f, 2.0f};
  write_nifti(plain, spec, voxels);
  Bytes raw = read_file_bytes(plain);
  const auto set_dim = [&raw](int d, int64_t value) {  // NIfTI-2: int64 dim[8] at byte 16
    std::memcpy(raw.data() + 16 + 8 * d, &value, sizeof value);
  };
  if (argc == 3) {
    set_dim(0, std::stoll(argv[2]));
  } else {
    for (int d = 1; d <= 3; ++d) set_dim(d, int64_t(1) << 22);
  }
  const Bytes gz = gzip_compress(raw.data(), raw.size(), 6);
  write_file_bytes(argv[1], gz.data(), gz.size());
  std::remove(plain.c_str());
  return 0;
}

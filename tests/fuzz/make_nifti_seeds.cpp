// Writes the NIfTI seed corpus of fuzz_nifti with the project's own writer: NIfTI-1 and NIfTI-2,
// 3D and 4D, plain and gzipped, integer with scaling and float. Usage: make_nifti_seeds DIR
#include <nifti2_io.h>

#include <cstdint>
#include <iostream>
#include <string>
#include <vector>

#include "caps2h5/nifti_io.hpp"

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: make_nifti_seeds DIR\n";
    return 2;
  }
  const std::string dir = argv[1];
  const std::vector<int16_t> values(4 * 5 * 3 * 2, 7);
  for (const int version : {1, 2}) {
    for (const int64_t channels : {int64_t(1), int64_t(2)}) {
      for (const char* suffix : {".nii", ".nii.gz"}) {
        cdl::data_tools::NiftiSpec spec;
        spec.dims = {4, 5, 3, channels};
        spec.datatype = DT_INT16;
        spec.version = version;
        spec.scl_slope = 0.5f;
        spec.gzip_level = 1;
        const std::string name = "v" + std::to_string(version) + "_c" + std::to_string(channels);
        cdl::data_tools::write_nifti(dir + "/" + name + suffix, spec, values.data());
      }
    }
  }
  return 0;
}

// Fuzz target: any bytes as a (possibly gzipped) NIfTI-1/2 file. A malformed file must end in
// cdl::Error, never in a crash, an out-of-bounds access or undefined behaviour.
#include <cstddef>
#include <cstdint>

#include "caps2h5/nifti_io.hpp"
#include "cdl/core/error.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const cdl::data_tools::Bytes bytes(data, data + size);
  try {
    const auto volume = cdl::data_tools::decode_nifti(bytes, "fuzz.nii");
    (void)volume;
  } catch (const cdl::Error&) {
  }
  return 0;
}

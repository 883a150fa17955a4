// NIfTI-1/NIfTI-2 single-file images (.nii, .nii.gz): headers are interpreted by nifticlib from
// memory, .gz is inflated by libdeflate, and voxels are converted to float32 C order here.
#pragma once

#include <array>
#include <cstdint>
#include <string>

#include "caps2h5/gzip_codec.hpp"
#include "caps2h5/volume.hpp"

namespace cdl::data_tools {

/// Reads a .nii or .nii.gz file into a float32 Volume (scl_slope/scl_inter applied when the slope
/// is finite and non-zero; channels = product of dims 4..7). Throws DataError naming the file.
Volume read_nifti(const std::string& path);

/// Decodes a NIfTI file already in memory (gzip or not); `name` appears in error messages.
Volume decode_nifti(const Bytes& file_bytes, const std::string& name);

/// What write_nifti writes: dims (X, Y, Z, T), a NIfTI datatype code (DT_*), scaling, version.
struct NiftiSpec {
  std::array<int64_t, 4> dims{1, 1, 1, 1};
  int datatype = 16;  // DT_FLOAT32
  float scl_slope = 0.0f;
  float scl_inter = 0.0f;
  int version = 1;  // 1 (NIfTI-1) or 2 (NIfTI-2)
  int gzip_level = 6;
};

/// Writes a single-file NIfTI image; `fortran_data` holds the raw voxels in NIfTI storage order
/// (i fastest) and in `spec.datatype`. A path ending in ".gz" is gzip-compressed.
void write_nifti(const std::string& path, const NiftiSpec& spec, const void* fortran_data);

/// Writes a float32 Volume (C order, C = 1) as NIfTI-1 with 1 mm voxels.
void write_nifti_volume(const std::string& path, const Volume& volume, int gzip_level = 6);

/// Writes a uint8 mask given in C order [X][Y][Z] as NIfTI-1.
void write_nifti_mask(const std::string& path, const std::array<int64_t, 3>& dims,
                      const std::vector<uint8_t>& c_order_mask);

}  // namespace cdl::data_tools

// ClinicaDL's extracted image tensors (torch.save(tensor) files, *.pt) through LibTorch.
#pragma once

#include <string>

#include "caps2h5/volume.hpp"

namespace cdl::data_tools {

/// Reads a `torch.save(tensor)` file holding a 3D (XxYxZ) or 4D (CxXxYxZ) real tensor into a
/// float32 Volume; throws DataError naming the file otherwise.
Volume read_pt_tensor(const std::string& path);

/// Writes a Volume as `torch.save(tensor)` (float32, shape CxXxYxZ), as ClinicaDL's prepare-data.
void write_pt_tensor(const std::string& path, const Volume& volume);

}  // namespace cdl::data_tools

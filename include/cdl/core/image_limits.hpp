// Bounds of one image, checked before anything is allocated for it: a corrupt or hostile file
// must not make a process ask for terabytes or overflow a size computation.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace cdl {

/// Throws DataError naming `path` and the shape when one image [C, D, H, W] (or [C, ...]) of
/// `shape` is absurd (over 4096 channels or 65536 voxels a side) or would take over a quarter of
/// this node's memory as float32.
void check_image_shape(const std::string& path, const std::vector<int64_t>& shape);

}  // namespace cdl

// Implementation of the image shape bounds.
#include "cdl/core/image_limits.hpp"

#include "cdl/core/error.hpp"
#include "cdl/core/node_memory.hpp"

namespace cdl {

void check_image_shape(const std::string& path, const std::vector<int64_t>& shape) {
  // Bounds of any brain image (and of what one node can hold), checked before anything is
  // allocated: a corrupt or hostile file must not make a rank ask for terabytes.
  constexpr int64_t kMaxChannels = 4096, kMaxLength = 65536;
  int64_t voxels = 1;
  bool sane = !shape.empty() && shape[0] >= 1 && shape[0] <= kMaxChannels;
  for (size_t d = 1; d < shape.size(); ++d) {
    sane = sane && shape[d] >= 1 && shape[d] <= kMaxLength &&
           !__builtin_mul_overflow(voxels, shape[d], &voxels);
  }
  const int64_t memory = node_memory_bytes();
  const int64_t channel_bytes = voxels * 4;
  if (sane && channel_bytes <= memory / 4 / shape[0]) return;
  std::string text;
  for (const int64_t d : shape) text += (text.empty() ? "" : "x") + std::to_string(d);
  CDL_THROW(DataError, "HDF5 file '", path, "' declares images of shape ", text, " (C x D x H x W)",
            sane ? ", " + std::to_string(shape[0] * channel_bytes / 1000000000) +
                       " GB each as float32, over a quarter of this node's " +
                       std::to_string(memory / 1000000000) + " GB of memory"
                 : ", outside the sane range (1 to 4096 channels, 1 to 65536 voxels a side)",
            "; is the file corrupt?", "\nhint: regenerate it with `caps2h5 convert`");
}

}  // namespace cdl

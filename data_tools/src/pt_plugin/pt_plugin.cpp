// LibTorch side of the .pt reader, built as a module that caps2h5 loads only when a .pt file is
// read: linking LibTorch into caps2h5 itself would add ~1 s of start-up to every command. Reading
// goes through the engine's one torch.save reader (formats/pytorch_checkpoint.hpp, its sources
// compiled into this module), with its checks: record CRC-32s, bounded tensors, no code run.
#include <torch/torch.h>

#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "cdl/core/atomic_file.hpp"
#include "cdl/core/error.hpp"
#include "cdl/formats/pytorch_checkpoint.hpp"

/// Reads a torch.save(tensor) file: shape (C, X, Y, Z) and float32 values; false + message on
/// error.
extern "C" bool cdl_pt_read(const char* path, int64_t* shape, std::vector<float>* values,
                            std::string* error) {
  try {
    torch::Tensor t = cdl::formats::read_tensor_file(path);
    if (t.dim() != 3 && t.dim() != 4) {
      *error = "holds a tensor of " + std::to_string(t.dim()) +
               " dimensions, expected 3 (XxYxZ) or 4 (CxXxYxZ)";
      return false;
    }
    if (t.dim() == 3) t = t.unsqueeze(0);
    t = t.to(torch::kFloat32).contiguous();
    for (int d = 0; d < 4; ++d) shape[d] = t.size(d);
    values->resize(static_cast<size_t>(t.numel()));
    std::memcpy(values->data(), t.data_ptr<float>(), values->size() * sizeof(float));
    return true;
  } catch (const std::exception& e) {
    *error = std::string(e.what()).substr(0, 500);
    return false;
  }
}

/// Writes float32 values of shape (C, X, Y, Z) as torch.save does (atomically).
extern "C" bool cdl_pt_write(const char* path, const int64_t* shape, const float* values,
                             std::string* error) {
  try {
    const torch::Tensor t =
        torch::from_blob(const_cast<float*>(values), {shape[0], shape[1], shape[2], shape[3]},
                         torch::kFloat32)
            .clone();
    const std::vector<char> bytes = torch::pickle_save(t);
    cdl::write_bytes_atomically(path, bytes.data(), bytes.size());
    return true;
  } catch (const std::exception& e) {
    *error = e.what();
    return false;
  }
}

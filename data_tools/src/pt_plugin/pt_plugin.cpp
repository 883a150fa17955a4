// LibTorch side of the .pt reader, built as a module that caps2h5 loads only when a .pt file is
// read: linking LibTorch into caps2h5 itself would add ~1 s of start-up to every command.
#include <torch/torch.h>

#include <cstdint>
#include <cstring>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

/// Reads a torch.save(tensor) file: shape (C, X, Y, Z) and float32 values; false + message on
/// error.
extern "C" bool cdl_pt_read(const char* path, int64_t* shape, std::vector<float>* values,
                            std::string* error) {
  try {
    std::ifstream in(path, std::ios::binary);
    if (!in) {
      *error = "cannot open";
      return false;
    }
    const std::vector<char> bytes((std::istreambuf_iterator<char>(in)),
                                  std::istreambuf_iterator<char>());
    const torch::IValue value = torch::pickle_load(bytes);
    if (!value.isTensor()) {
      *error = std::string("holds a ") + value.tagKind() +
               ", expected a tensor saved with torch.save(tensor)";
      return false;
    }
    torch::Tensor t = value.toTensor();
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
    *error = std::string("torch::pickle_load failed: ") + std::string(e.what()).substr(0, 300);
    return false;
  }
}

/// Writes float32 values of shape (C, X, Y, Z) as torch.save(tensor) does.
extern "C" bool cdl_pt_write(const char* path, const int64_t* shape, const float* values,
                             std::string* error) {
  try {
    const torch::Tensor t =
        torch::from_blob(const_cast<float*>(values), {shape[0], shape[1], shape[2], shape[3]},
                         torch::kFloat32)
            .clone();
    const std::vector<char> bytes = torch::pickle_save(t);
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    if (!out) *error = "cannot write";
    return static_cast<bool>(out);
  } catch (const std::exception& e) {
    *error = e.what();
    return false;
  }
}

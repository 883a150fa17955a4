// PadMaxPool: ClinicaDL's adaptive max pooling that zero-pads the low side of every spatial axis
// so that no voxel is dropped, optionally returning the argmax indices and the pad (2D and 3D).
#pragma once

#include <torch/nn/cloneable.h>
#include <torch/nn/module.h>
#include <torch/nn/pimpl.h>

#include <vector>

namespace cdl::model {

/// Output of PadMaxPool::forward_with_indices.
struct PoolResult {
  torch::Tensor output;
  torch::Tensor indices;     ///< flat argmax per (n, c) plane of the padded input
  std::vector<int64_t> pad;  ///< "last axis first": (p_W, 0, p_H, 0[, p_D, 0])
};

/// Max pooling (kernel k, stride s) after zero-padding each spatial axis of length n by
/// p = (s - n mod s) mod s at its beginning. With k = s = 2 every length n becomes ceil(n/2).
class PadMaxPoolImpl : public torch::nn::Cloneable<PadMaxPoolImpl> {
 public:
  /// `dimension` is 2 or 3 (number of spatial axes).
  PadMaxPoolImpl(int dimension, int64_t kernel_size, int64_t stride);

  /// Pooled output only.
  torch::Tensor forward(torch::Tensor input);
  /// Pooled output, indices and pad (used by autoencoder encoders).
  PoolResult forward_with_indices(torch::Tensor input);
  /// The pad this layer applies to `input`, in the order of PoolResult::pad.
  std::vector<int64_t> padding_for(const torch::Tensor& input) const;

  /// Whether an autoencoder walks this layer in "indices and pad" mode.
  bool returns_indices() const { return return_indices_; }
  void set_return_indices(bool value) { return_indices_ = value; }

  int dimension() const { return dimension_; }
  int64_t kernel_size() const { return kernel_size_; }
  int64_t stride() const { return stride_; }

  void reset() override {}
  void pretty_print(std::ostream& stream) const override;

 private:
  int dimension_;
  int64_t kernel_size_;
  int64_t stride_;
  bool return_indices_ = false;
};
TORCH_MODULE(PadMaxPool);

}  // namespace cdl::model

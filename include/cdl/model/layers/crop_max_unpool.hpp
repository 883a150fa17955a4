// CropMaxUnpool: the inverse of PadMaxPool for autoencoder decoders. Un-pools with the stored
// indices to the padded size, then crops the pad from the low side of every spatial axis.
#pragma once

#include <torch/nn/cloneable.h>
#include <torch/nn/module.h>
#include <torch/nn/pimpl.h>

#include <vector>

namespace cdl::model {

/// Max-unpooling (kernel k, stride s) followed by cropping of PadMaxPool's pad (2D and 3D).
class CropMaxUnpoolImpl : public torch::nn::Cloneable<CropMaxUnpoolImpl> {
 public:
  /// `dimension` is 2 or 3 (number of spatial axes).
  CropMaxUnpoolImpl(int dimension, int64_t kernel_size, int64_t stride);

  /// Un-pools `input` with `indices` to size (n - 1) * s + k per axis, then removes `pad`
  /// (PadMaxPool's "last axis first" tuple) at the beginning of each axis.
  torch::Tensor forward(torch::Tensor input, torch::Tensor indices,
                        const std::vector<int64_t>& pad);

  int dimension() const { return dimension_; }
  void reset() override {}
  void pretty_print(std::ostream& stream) const override;

 private:
  int dimension_;
  int64_t kernel_size_;
  int64_t stride_;
};
TORCH_MODULE(CropMaxUnpool);

}  // namespace cdl::model

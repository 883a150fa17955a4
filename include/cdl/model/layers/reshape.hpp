// Reshape: view each sample of a batch as a given shape (inverse of Flatten in decoders).
#pragma once

#include <torch/nn/cloneable.h>
#include <torch/nn/module.h>
#include <torch/nn/pimpl.h>

#include <vector>

namespace cdl::model {

/// Views a batch [N, ...] as [N, shape...].
class ReshapeImpl : public torch::nn::Cloneable<ReshapeImpl> {
 public:
  explicit ReshapeImpl(std::vector<int64_t> shape);
  torch::Tensor forward(torch::Tensor input);
  void reset() override {}
  void pretty_print(std::ostream& stream) const override;

 private:
  std::vector<int64_t> shape_;
};
TORCH_MODULE(Reshape);

}  // namespace cdl::model

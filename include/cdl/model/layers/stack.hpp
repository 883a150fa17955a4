// Stack: a Sequential with a plain Tensor -> Tensor forward, so it can be nested inside another
// Sequential (LibTorch's Sequential has a templated forward that AnyModule cannot hold).
#pragma once

#include <torch/nn/modules/container/sequential.h>

namespace cdl::model {

/// A nestable Sequential; its children are named "0", "1", ... like PyTorch's nn.Sequential.
class StackImpl : public torch::nn::SequentialImpl {
 public:
  using SequentialImpl::SequentialImpl;
  /// Runs the children in order.
  torch::Tensor forward(torch::Tensor input) { return SequentialImpl::forward(input); }
};
TORCH_MODULE(Stack);

}  // namespace cdl::model

// Implementation of Reshape.
#include "cdl/model/layers/reshape.hpp"

#include <torch/torch.h>

#include "cdl/core/input_size.hpp"

namespace cdl::model {

ReshapeImpl::ReshapeImpl(std::vector<int64_t> shape) : shape_(std::move(shape)) {}

torch::Tensor ReshapeImpl::forward(torch::Tensor input) {
  std::vector<int64_t> shape{input.size(0)};
  shape.insert(shape.end(), shape_.begin(), shape_.end());
  return input.reshape(shape);
}

void ReshapeImpl::pretty_print(std::ostream& stream) const {
  stream << "Reshape(" << format_shape(shape_) << ")";
}

}  // namespace cdl::model

// Implementation of CropMaxUnpool.
#include "cdl/model/layers/crop_max_unpool.hpp"

#include <torch/torch.h>

#include "cdl/core/error.hpp"

namespace cdl::model {

CropMaxUnpoolImpl::CropMaxUnpoolImpl(int dimension, int64_t kernel_size, int64_t stride)
    : dimension_(dimension), kernel_size_(kernel_size), stride_(stride) {
  CDL_CHECK(dimension == 2 || dimension == 3, "CropMaxUnpool dimension must be 2 or 3");
}

torch::Tensor CropMaxUnpoolImpl::forward(torch::Tensor input, torch::Tensor indices,
                                         const std::vector<int64_t>& pad) {
  std::vector<int64_t> output_size;
  for (int64_t axis = input.dim() - dimension_; axis < input.dim(); ++axis) {
    output_size.push_back((input.size(axis) - 1) * stride_ + kernel_size_);
  }
  auto output = dimension_ == 3 ? torch::max_unpool3d(input, indices, output_size,
                                                      {stride_, stride_, stride_}, {0, 0, 0})
                                : torch::max_unpool2d(input, indices, output_size);
  // pad is "last axis first": entry 2*i is the low-side pad of spatial axis (last - i).
  for (int i = 0; i < dimension_ && static_cast<size_t>(2 * i) < pad.size(); ++i) {
    const int64_t axis = output.dim() - 1 - i;
    output = output.narrow(axis, pad[2 * i], output.size(axis) - pad[2 * i]);
  }
  return output;
}

void CropMaxUnpoolImpl::pretty_print(std::ostream& stream) const {
  stream << "CropMaxUnpool" << dimension_ << "d(kernel_size=" << kernel_size_
         << ", stride=" << stride_ << ")";
}

}  // namespace cdl::model

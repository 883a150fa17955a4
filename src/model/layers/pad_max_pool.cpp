// Implementation of PadMaxPool.
#include "cdl/model/layers/pad_max_pool.hpp"

#include <torch/torch.h>

#include "cdl/core/error.hpp"

namespace cdl::model {

PadMaxPoolImpl::PadMaxPoolImpl(int dimension, int64_t kernel_size, int64_t stride)
    : dimension_(dimension), kernel_size_(kernel_size), stride_(stride) {
  CDL_CHECK(dimension == 2 || dimension == 3, "PadMaxPool dimension must be 2 or 3");
}

std::vector<int64_t> PadMaxPoolImpl::padding_for(const torch::Tensor& input) const {
  std::vector<int64_t> pad;
  // Last spatial axis first, as torch::constant_pad_nd expects.
  for (int64_t axis = input.dim() - 1; axis >= input.dim() - dimension_; --axis) {
    const int64_t remainder = input.size(axis) % stride_;
    pad.push_back(remainder == 0 ? 0 : stride_ - remainder);
    pad.push_back(0);
  }
  return pad;
}

PoolResult PadMaxPoolImpl::forward_with_indices(torch::Tensor input) {
  auto pad = padding_for(input);
  auto padded = torch::constant_pad_nd(input, pad, 0.0);
  PoolResult result;
  std::tie(result.output, result.indices) =
      dimension_ == 3 ? torch::max_pool3d_with_indices(padded, kernel_size_, stride_)
                      : torch::max_pool2d_with_indices(padded, kernel_size_, stride_);
  result.pad = std::move(pad);
  return result;
}

torch::Tensor PadMaxPoolImpl::forward(torch::Tensor input) {
  auto padded = torch::constant_pad_nd(input, padding_for(input), 0.0);
  return dimension_ == 3 ? torch::max_pool3d(padded, kernel_size_, stride_)
                         : torch::max_pool2d(padded, kernel_size_, stride_);
}

void PadMaxPoolImpl::pretty_print(std::ostream& stream) const {
  stream << "PadMaxPool" << dimension_ << "d(kernel_size=" << kernel_size_ << ", stride=" << stride_
         << ")";
}

}  // namespace cdl::model

// Implementation of the fused, chunked Conv-BatchNorm-ReLU-PadMaxPool block.
#include "cdl/model/layers/fused_conv_block.hpp"

#include <torch/autograd.h>
#include <torch/nn/modules/activation.h>
#include <torch/torch.h>

#include <algorithm>
#include <array>
#include <tuple>
#include <utility>
#include <vector>

#include "cdl/core/error.hpp"
#include "cdl/model/layers/window_max_pool.hpp"
#include "cdl/model/mixed_precision.hpp"

namespace cdl::model {
namespace {

using torch::Tensor;
using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

/// What the operation needs besides its differentiable inputs.
struct BlockSettings {
  int dimension = 3;
  std::vector<int64_t> conv_stride, conv_padding, conv_dilation;
  int64_t conv_groups = 1;
  std::vector<int64_t> pool_kernel;  // also the pooling stride
  double eps = 1e-5, momentum = 0.1;
  Tensor running_mean, running_var, batches_tracked;
  int64_t chunk_samples = 0;
  int64_t max_piece_bytes = 0;  // convolution output per piece; 0: no limit
  /// The dtype the convolutions compute in (bfloat16 under CPU autocast for large inputs); their
  /// outputs, the statistics and the gradients' sums stay in the parameters' dtype.
  torch::ScalarType compute_dtype = torch::kFloat;
};

template <size_t D, typename ConvImpl>
bool read_conv(torch::nn::Module* module, BlockSettings& settings, Tensor& weight, Tensor& bias) {
  auto* conv = dynamic_cast<ConvImpl*>(module);
  if (conv == nullptr || conv->options.transposed()) return false;
  const auto& o = conv->options;
  // LibTorch 1.13 has its own variant (c10::get_if); 2.x uses std::variant (std::get_if).
#if TORCH_VERSION_MAJOR >= 2
  const auto* padding = std::get_if<torch::ExpandingArray<D>>(&o.padding());
  const bool zero_padded = std::get_if<torch::enumtype::kZeros>(&o.padding_mode()) != nullptr;
#else
  const auto* padding = c10::get_if<torch::ExpandingArray<D>>(&o.padding());
  const bool zero_padded = c10::get_if<torch::enumtype::kZeros>(&o.padding_mode()) != nullptr;
#endif
  if (padding == nullptr || !zero_padded) return false;
  const auto to_vector = [](const torch::ExpandingArray<D>& a) {
    return std::vector<int64_t>(a->begin(), a->end());
  };
  settings.dimension = static_cast<int>(D);
  settings.conv_stride = to_vector(o.stride());
  settings.conv_padding = to_vector(*padding);
  settings.conv_dilation = to_vector(o.dilation());
  settings.conv_groups = o.groups();
  weight = conv->weight;
  bias = conv->bias;
  return true;
}

template <typename BatchNormImpl>
bool read_batch_norm(torch::nn::Module* module, BlockSettings& settings, Tensor& gamma,
                     Tensor& beta) {
  auto* norm = dynamic_cast<BatchNormImpl*>(module);
  if (norm == nullptr || !norm->options.affine() || !norm->options.track_running_stats() ||
      !norm->options.momentum().has_value()) {
    return false;
  }
  settings.eps = norm->options.eps();
  settings.momentum = *norm->options.momentum();
  settings.running_mean = norm->running_mean;
  settings.running_var = norm->running_var;
  settings.batches_tracked = norm->num_batches_tracked;
  gamma = norm->weight;
  beta = norm->bias;
  return true;
}

struct BlockTensors {
  Tensor weight, bias, gamma, beta;
};

/// Reads the layers of `block` (dimension 2 or 3, matching conv and BatchNorm).
bool read_block(const ConvBlockLayers& block, BlockSettings& settings, BlockTensors& tensors) {
  const bool conv_ok =
      read_conv<3, torch::nn::Conv3dImpl>(block.conv, settings, tensors.weight, tensors.bias) ||
      read_conv<2, torch::nn::Conv2dImpl>(block.conv, settings, tensors.weight, tensors.bias);
  if (!conv_ok || block.pool == nullptr || block.pool->dimension() != settings.dimension ||
      block.pool->kernel_size() != 2 || block.pool->stride() != 2) {
    return false;
  }
  const bool norm_ok = settings.dimension == 3
                           ? read_batch_norm<torch::nn::BatchNorm3dImpl>(
                                 block.batch_norm, settings, tensors.gamma, tensors.beta)
                           : read_batch_norm<torch::nn::BatchNorm2dImpl>(
                                 block.batch_norm, settings, tensors.gamma, tensors.beta);
  settings.pool_kernel.assign(settings.dimension, block.pool->kernel_size());
  return norm_ok;
}

/// [1, C, 1, ...]: a per-channel vector shaped to broadcast over [N, C, spatial...].
Tensor per_channel(const Tensor& values, int dimension) {
  std::vector<int64_t> shape(dimension + 2, 1);
  shape[1] = values.numel();
  return values.view(shape);
}

/// The axes a BatchNorm statistic reduces: batch and spatial.
std::vector<int64_t> statistic_axes(int dimension) {
  std::vector<int64_t> axes{0};
  for (int axis = 2; axis < dimension + 2; ++axis) axes.push_back(axis);
  return axes;
}

/// The convolution output's spatial sizes for input `x`.
std::vector<int64_t> conv_output_sizes(const Tensor& x, const Tensor& weight,
                                       const BlockSettings& s) {
  std::vector<int64_t> sizes;
  for (int axis = 0; axis < s.dimension; ++axis) {
    const int64_t extent = s.conv_dilation[axis] * (weight.size(axis + 2) - 1) + 1;
    sizes.push_back((x.size(axis + 2) + 2 * s.conv_padding[axis] - extent) / s.conv_stride[axis] +
                    1);
  }
  return sizes;
}

/// PadMaxPool's low-side zero padding (kernel = stride = 2: one voxel on each odd axis) as max
/// pooling's own padding: the same windows, since the far side's pad is never reached. The padded
/// value (-inf instead of 0) never matters: maxima are taken before the ReLU, and relu >= 0.
std::vector<int64_t> pool_padding(const std::vector<int64_t>& y_sizes, const BlockSettings& s) {
  std::vector<int64_t> padding;
  for (int axis = 0; axis < s.dimension; ++axis) {
    const int64_t remainder = y_sizes[axis] % s.pool_kernel[axis];
    padding.push_back(remainder == 0 ? 0 : s.pool_kernel[axis] - remainder);
  }
  return padding;
}

/// A piece of the block's work: samples [begin, end) and, along the last spatial axis, the
/// pooled rows [row_begin, row_end) (a slab; "rows" are indices along that axis).
struct Piece {
  int64_t begin = 0, end = 0;
  int64_t row_begin = 0, row_end = 0;  // pooled rows
  bool all_rows = true;
};

/// How the block's input, convolution output and pooled output line up along the last spatial
/// axis, and how the work is cut into pieces. Slabs cut the last axis because LibTorch hands a
/// one-sample convolution to oneDNN only when N * C * D * H exceeds 20480 (see practical_chunk):
/// thin slabs along D would fall back to its native kernel, several times slower.
class PiecePlan {
 public:
  PiecePlan(const Tensor& x, const Tensor& weight, const BlockSettings& s)
      : s_(s),
        axis_(s.dimension - 1),
        y_sizes_(conv_output_sizes(x, weight, s)),
        pool_padding_(pool_padding(y_sizes_, s)) {
    input_rows_ = x.size(axis_ + 2);
    kernel_ = weight.size(axis_ + 2);
    const int64_t k = s.pool_kernel[axis_];
    pooled_rows_ = (y_sizes_[axis_] + 2 * pool_padding_[axis_] - k) / k + 1;
    const int64_t chunk = s.chunk_samples <= 0 ? std::max<int64_t>(x.size(0), 1) : s.chunk_samples;
    int64_t row_bytes = weight.size(0) * weight.element_size();  // one output row of one sample
    for (int axis = 0; axis < axis_; ++axis) row_bytes *= y_sizes_[axis];
    // Slabs need a stride and dilation of 1 along their axis (halos of kernel - 1 rows).
    int64_t rows = pooled_rows_;
    if (s.max_piece_bytes > 0 && s.conv_stride[axis_] == 1 && s.conv_dilation[axis_] == 1) {
      const int64_t per_pooled_row = std::min(x.size(0), chunk) * k * row_bytes;
      rows = std::clamp<int64_t>(s.max_piece_bytes / std::max<int64_t>(per_pooled_row, 1), 1,
                                 pooled_rows_);
    }
    for (int64_t begin = 0; begin < x.size(0); begin += chunk) {
      for (int64_t row = 0; row < pooled_rows_; row += rows) {
        pieces_.push_back({begin, std::min(x.size(0), begin + chunk), row,
                           std::min(pooled_rows_, row + rows), rows == pooled_rows_});
      }
    }
  }

  const std::vector<Piece>& pieces() const { return pieces_; }
  int64_t pooled_rows() const { return pooled_rows_; }

  /// The input of `piece` and the convolution padding to use with it: the samples' slice, and for
  /// a slab its input rows (with zero rows where the convolution's padding would be), padded
  /// then in the other axes only. `first_input_row` and `pad_before` place it in x along axis().
  struct PieceInput {
    Tensor x;
    std::vector<int64_t> conv_padding;
    int64_t first_input_row = 0, input_rows = 0, pad_before = 0;
  };
  PieceInput input(const Tensor& x, const Piece& piece) const {
    PieceInput in{x.slice(0, piece.begin, piece.end), s_.conv_padding, 0, input_rows_, 0};
    if (piece.all_rows) return in;
    const int64_t lo = y_row_begin(piece) - s_.conv_padding[axis_];
    const int64_t hi = y_row_end(piece) - s_.conv_padding[axis_] + kernel_ - 1;
    in.first_input_row = std::max<int64_t>(0, lo);
    in.input_rows = std::min(input_rows_, hi) - in.first_input_row;
    in.pad_before = in.first_input_row - lo;
    const int64_t pad_after = hi - std::min(input_rows_, hi);
    in.x = in.x.slice(axis_ + 2, in.first_input_row, in.first_input_row + in.input_rows);
    if (in.pad_before > 0 || pad_after > 0) {
      std::vector<int64_t> pad(2 * static_cast<size_t>(s_.dimension), 0);  // last axis first
      pad[0] = in.pad_before;
      pad[1] = pad_after;
      in.x = at::constant_pad_nd(in.x, pad);
    }
    in.conv_padding[axis_] = 0;
    return in;
  }

  /// Max pooling of `y`, the convolution output of `piece`, and the int32 argmax indices (when
  /// `with_indices`).
  std::tuple<Tensor, Tensor> pool(const Tensor& y, const Piece& piece,
                                  bool with_indices = true) const {
    auto padding = pool_padding_;
    if (piece.row_begin > 0) padding[axis_] = 0;  // the slab starts on a window boundary
    return window_max_pool(y, padding, with_indices);
  }

  /// The tensor dimension that slabs cut (the last).
  int64_t dim() const { return axis_ + 2; }

 private:
  int64_t y_row_begin(const Piece& p) const {
    return std::max<int64_t>(0, s_.pool_kernel[axis_] * p.row_begin - pool_padding_[axis_]);
  }
  int64_t y_row_end(const Piece& p) const {
    return std::min(y_sizes_[axis_], s_.pool_kernel[axis_] * p.row_end - pool_padding_[axis_]);
  }

  const BlockSettings& s_;
  int axis_;  // spatial index of the slabbed axis
  std::vector<int64_t> y_sizes_, pool_padding_;
  int64_t input_rows_ = 0, kernel_ = 0, pooled_rows_ = 0;
  std::vector<Piece> pieces_;
};

/// The convolution output of a piece's input (contiguous, in the weight's dtype), computed in
/// s.compute_dtype.
Tensor convolve(const PiecePlan::PieceInput& in, const Tensor& weight, const Tensor& bias,
                const BlockSettings& s) {
  const auto dtype = s.compute_dtype;
  return at::convolution(in.x.to(dtype), weight.to(dtype), bias.defined() ? bias.to(dtype) : bias,
                         s.conv_stride, in.conv_padding, s.conv_dilation, /*transposed=*/false,
                         std::vector<int64_t>(s.dimension, 0), s.conv_groups)
      .to(weight.scalar_type())
      .contiguous();
}

/// `part` (the pooled output of `piece`) copied into its place in `whole`, which is allocated on
/// the first call; returns `part` itself when the piece is the whole batch.
void place_piece(Tensor& whole, const Tensor& part, const Piece& piece, int64_t samples,
                 const PiecePlan& plan) {
  if (piece.begin == 0 && piece.end == samples && piece.all_rows) {
    whole = part;
    return;
  }
  if (!whole.defined()) {
    auto shape = part.sizes().vec();
    shape[0] = samples;
    shape[plan.dim()] = plan.pooled_rows();
    whole = torch::empty(shape, part.options());
  }
  whole.slice(0, piece.begin, piece.end)
      .slice(plan.dim(), piece.row_begin, piece.row_end)
      .copy_(part);
}

/// sign(gamma) as +1/-1 per channel (+1 for gamma = 0).
Tensor channel_signs(const Tensor& gamma) {
  return torch::where(gamma >= 0, torch::ones_like(gamma), -torch::ones_like(gamma));
}

/// A piece's per-channel statistics: mean and biased variance in float64, and `shift` (the mean
/// in the piece's dtype) that centred it.
struct PieceStatistics {
  Tensor mean, variance, shift;  // [C]
  int64_t count = 0;             // values per channel
};

/// The statistics of `y` [n, C, spatial...], leaving y centred (y - shift). Two vectorized passes
/// along contiguous memory, each reducing all spatial axes but the first in float (rows of a few
/// thousand values) and summing those partials in float64: the values, then the squared 2-norms
/// of the centred rows. Several times faster than var_mean, whose Welford loop is not vectorized
/// along a row, and as accurate: relative error ~2e-7 even for a mean 1000 times the standard
/// deviation, where E[y^2] - E[y]^2 in float would be off by a few percent.
PieceStatistics centre_and_measure(Tensor& y, int dimension) {
  PieceStatistics p;
  p.count = y.numel() / y.size(1);
  const std::vector<int64_t> last{3}, outer{0, 2};
  const auto count = static_cast<double>(p.count);
  p.mean = y.flatten(3).sum(last, false, torch::kFloat).to(torch::kFloat64).sum(outer) / count;
  p.shift = p.mean.to(y.scalar_type());
  y.sub_(per_channel(p.shift, dimension));
  const auto squares = at::linalg_vector_norm(y.flatten(3), 2, last, false, torch::kFloat)
                           .to(torch::kFloat64)
                           .square_()
                           .sum(outer);
  const auto residual = p.mean - p.shift.to(torch::kFloat64);  // the shift's rounding
  p.variance = (squares / count - residual * residual).clamp_min_(0.0);
  return p;
}

/// Per-piece statistics combined (Chan et al.): the batch mean and biased variance in float64.
struct BatchStatistics {
  Tensor mean, variance;  // float64 [C]
  int64_t count = 0;      // values per channel
  void add(const PieceStatistics& piece) {
    if (count == 0) {
      mean = piece.mean, variance = piece.variance, count = piece.count;
      return;
    }
    const double total = static_cast<double>(count + piece.count);
    auto delta = piece.mean - mean;
    auto new_mean = mean + delta * (piece.count / total);
    variance = (variance * count + piece.variance * piece.count +
                delta * delta * (count * piece.count / total)) /
               total;
    mean = new_mean;
    count += piece.count;
  }
};

/// The running statistics update of BatchNorm in training mode.
void update_running_statistics(const BlockSettings& s, const BatchStatistics& stats) {
  torch::NoGradGuard no_grad;
  const double m = s.momentum;
  const double unbias = static_cast<double>(stats.count) / static_cast<double>(stats.count - 1);
  s.running_mean.mul_(1 - m).add_(stats.mean.to(s.running_mean.scalar_type()), m);
  s.running_var.mul_(1 - m).add_((stats.variance * unbias).to(s.running_var.scalar_type()), m);
  s.batches_tracked.add_(1);
}

/// relu(|scale| * pooled + shift): the block's output from the pooled sign(scale) * y.
Tensor rectified_output(const Tensor& pooled, const Tensor& scale, const Tensor& shift, int dim) {
  return (pooled * per_channel(scale.abs(), dim)).add_(per_channel(shift, dim)).relu_();
}

/// The gradients of a piece's convolution given `grad_y` (float): input, weight and bias, as
/// `needed`. They compute in s.compute_dtype, except the weight's and bias's of a convolution with
/// too few input channels for a fast bfloat16 weight gradient (mixed_precision.hpp), in float32.
std::tuple<Tensor, Tensor, Tensor> convolution_gradients(const Tensor& grad_y,
                                                         const PiecePlan::PieceInput& in,
                                                         const Tensor& weight, const Tensor& bias,
                                                         const BlockSettings& s, bool need_x,
                                                         bool need_w, bool need_b) {
  const auto backward = [&](torch::ScalarType dtype, std::array<bool, 3> mask) {
    return at::convolution_backward(
        grad_y.to(dtype), in.x.to(dtype), weight.to(dtype),
        bias.defined() ? c10::optional<at::IntArrayRef>(bias.sizes()) : c10::nullopt, s.conv_stride,
        in.conv_padding, s.conv_dilation, false, std::vector<int64_t>(s.dimension, 0),
        s.conv_groups, mask);
  };
  const auto float_type = weight.scalar_type();
  if (s.compute_dtype == float_type || bf16_weight_gradient_pays(weight) || (!need_w && !need_b)) {
    return backward(s.compute_dtype, {need_x, need_w, need_b});
  }
  auto [unused_x, gw, gb] = backward(float_type, {false, need_w, need_b});
  Tensor gx = need_x ? std::get<0>(backward(s.compute_dtype, {true, false, false})) : Tensor();
  return {gx, gw, gb};
}

/// Autograd operation of a training-mode block. Inputs: x, conv weight, conv bias (may be
/// undefined), BatchNorm weight and bias, settings.
class FusedConvBlockFunction : public torch::autograd::Function<FusedConvBlockFunction> {
 public:
  static Tensor forward(AutogradContext* ctx, const Tensor& x, const Tensor& weight,
                        const Tensor& bias, const Tensor& gamma, const Tensor& beta,
                        const BlockSettings& s) {
    const int dim = s.dimension;
    const auto sign = per_channel(channel_signs(gamma), dim);
    BatchStatistics stats;
    Tensor pooled_all;   // the pooled sign * y of every sample, filled piece by piece
    Tensor indices_all;  // where each maximum is in its piece (int32: half the memory of int64)
    const PiecePlan plan(x, weight, s);
    for (const auto& piece : plan.pieces()) {
      auto y = convolve(plan.input(x, piece), weight, bias, s);
      const auto piece_statistics = centre_and_measure(y, dim);
      stats.add(piece_statistics);
      // The maxima of sign * (y - shift), plus sign * shift: the pooled sign * y (the windows'
      // maxima stay where they were).
      auto [pooled, indices] = plan.pool(y.mul_(sign), piece);
      pooled.add_(sign * per_channel(piece_statistics.shift, dim));
      place_piece(pooled_all, pooled, piece, x.size(0), plan);
      place_piece(indices_all, indices, piece, x.size(0), plan);
    }
    CDL_CHECK(stats.count > 1, "BatchNorm in training mode needs more than one value per channel");
    update_running_statistics(s, stats);
    auto invstd = (stats.variance + s.eps).rsqrt().to(gamma.scalar_type());
    auto mean = stats.mean.to(gamma.scalar_type());
    auto scale = gamma * invstd;
    auto shift = beta - mean * scale;
    ctx->save_for_backward({x, weight, bias, gamma, beta, pooled_all, mean, invstd, indices_all});
    ctx->saved_data["conv_stride"] = s.conv_stride;
    ctx->saved_data["conv_padding"] = s.conv_padding;
    ctx->saved_data["conv_dilation"] = s.conv_dilation;
    ctx->saved_data["conv_groups"] = s.conv_groups;
    ctx->saved_data["pool_kernel"] = s.pool_kernel;
    ctx->saved_data["dimension"] = static_cast<int64_t>(dim);
    ctx->saved_data["chunk_samples"] = s.chunk_samples;
    ctx->saved_data["max_piece_bytes"] = s.max_piece_bytes;
    ctx->saved_data["count"] = stats.count;
    ctx->saved_data["compute_dtype"] = static_cast<int64_t>(s.compute_dtype);
    return rectified_output(pooled_all, scale, shift, dim);
  }

  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    const auto saved = ctx->get_saved_variables();
    const Tensor &x = saved[0], &weight = saved[1], &bias = saved[2], &gamma = saved[3];
    const Tensor &beta = saved[4], &pooled = saved[5], &mean = saved[6], &invstd = saved[7];
    const Tensor& indices_all = saved[8];
    const BlockSettings s = settings_from(ctx);
    const int dim = s.dimension;
    const auto count = static_cast<double>(ctx->saved_data["count"].toInt());
    const auto grad_out = grads[0].contiguous();
    const auto axes = statistic_axes(dim);

    // Pooled quantities: the ReLU's gradient at the window maxima and the BatchNorm sums. At most
    // one pooled-size temporary lives beside grad_z (kept small: it bounds the peak memory).
    const auto scale = gamma * invstd;
    const auto sign = channel_signs(gamma);
    auto grad_z = grad_out * (rectified_output(pooled, scale, beta - mean * scale, dim) > 0);
    auto grad_beta = grad_z.sum(axes);
    // sum(grad_z * x_hat) with x_hat = (sign * pooled - mean) * invstd, without forming x_hat.
    auto grad_gamma = invstd * (sign * (grad_z * pooled).sum(axes) - mean * grad_beta);

    // dL/dy = scale * scatter(grad_z) + a + b * y per channel.
    auto a = scale * (mean * invstd * grad_gamma - grad_beta) / count;
    auto b = -scale * invstd * grad_gamma / count;
    auto scattered = grad_z.mul_(per_channel(scale, dim));
    const bool need_x = ctx->needs_input_grad(0), need_w = ctx->needs_input_grad(1);
    const bool need_b = bias.defined() && ctx->needs_input_grad(2);
    Tensor grad_x = need_x ? torch::zeros_like(x) : Tensor();  // slabs' input rows overlap
    Tensor grad_w = torch::zeros_like(weight);
    Tensor grad_bias = bias.defined() ? torch::zeros_like(bias) : Tensor();
    const PiecePlan plan(x, weight, s);
    for (const auto& piece : plan.pieces()) {
      const auto in = plan.input(x, piece);
      auto indices = indices_all.slice(0, piece.begin, piece.end)
                         .slice(plan.dim(), piece.row_begin, piece.row_end)
                         .to(torch::kInt64)
                         .contiguous();  // scatter_add_ takes int64
      // The recomputed y itself (not sign * y): the pooling indices come from the forward pass.
      auto grad_y =
          convolve(in, weight, bias, s).mul_(per_channel(b, dim)).add_(per_channel(a, dim));
      auto pooled_grad = scattered.slice(0, piece.begin, piece.end)
                             .slice(plan.dim(), piece.row_begin, piece.row_end)
                             .contiguous();
      grad_y.flatten(2).scatter_add_(2, indices.flatten(2), pooled_grad.flatten(2));
      auto [gx, gw, gb] =
          convolution_gradients(grad_y, in, weight, bias, s, need_x, need_w, need_b);
      if (need_x) {
        grad_x.slice(0, piece.begin, piece.end)
            .slice(plan.dim(), in.first_input_row, in.first_input_row + in.input_rows)
            .add_(gx.slice(plan.dim(), in.pad_before, in.pad_before + in.input_rows));
      }
      if (need_w) grad_w.add_(gw);
      if (need_b) grad_bias.add_(gb);
    }
    return {
        grad_x,  need_w ? grad_w : Tensor(), need_b ? grad_bias : Tensor(), grad_gamma, grad_beta,
        Tensor()};
  }

 private:
  static BlockSettings settings_from(AutogradContext* ctx) {
    BlockSettings s;
    s.conv_stride = ctx->saved_data["conv_stride"].toIntVector();
    s.conv_padding = ctx->saved_data["conv_padding"].toIntVector();
    s.conv_dilation = ctx->saved_data["conv_dilation"].toIntVector();
    s.conv_groups = ctx->saved_data["conv_groups"].toInt();
    s.pool_kernel = ctx->saved_data["pool_kernel"].toIntVector();
    s.dimension = static_cast<int>(ctx->saved_data["dimension"].toInt());
    s.chunk_samples = ctx->saved_data["chunk_samples"].toInt();
    s.max_piece_bytes = ctx->saved_data["max_piece_bytes"].toInt();
    s.compute_dtype = static_cast<torch::ScalarType>(ctx->saved_data["compute_dtype"].toInt());
    return s;
  }
};

/// LibTorch hands a one-sample 3x3 convolution to oneDNN only when its input has more than 20480
/// values in (C, D, H) (ConvParams::use_mkldnn, 1.13 and 2.x); below, its native kernel is 3 to 8
/// times slower (bench/conv_block_bench on 1@96x112x96). One-sample chunks of small inputs
/// (patches) are therefore made two-sample chunks.
int64_t practical_chunk(const Tensor& x, int64_t chunk) {
  if (chunk != 1 || x.dim() < 4) return chunk;
  const int64_t per_sample = x.size(1) * x.size(2) * x.size(3);
  return per_sample > 20480 ? 1 : 2;
}

/// Evaluation mode: the running statistics, no autograd graph, chunk by chunk.
Tensor inference_block(const Tensor& x, const BlockTensors& t, const BlockSettings& s) {
  const int dim = s.dimension;
  auto invstd = (s.running_var + s.eps).rsqrt();
  auto scale = t.gamma * invstd;
  auto shift = t.beta - s.running_mean * scale;
  const auto sign = per_channel(channel_signs(t.gamma), dim);
  Tensor output;
  const PiecePlan plan(x, t.weight, s);
  for (const auto& piece : plan.pieces()) {
    auto y = convolve(plan.input(x, piece), t.weight, t.bias, s).mul_(sign);
    place_piece(output,
                rectified_output(std::get<0>(plan.pool(y, piece, false)), scale, shift, dim), piece,
                x.size(0), plan);
  }
  return output;
}

/// The block as its four layers (evaluation with gradients, e.g. for attribution maps).
Tensor separate_layers(const Tensor& x, const ConvBlockLayers& block, int dimension) {
  Tensor y;
  if (dimension == 3) {
    y = dynamic_cast<torch::nn::BatchNorm3dImpl&>(*block.batch_norm)
            .forward(dynamic_cast<torch::nn::Conv3dImpl&>(*block.conv).forward(x));
  } else {
    y = dynamic_cast<torch::nn::BatchNorm2dImpl&>(*block.batch_norm)
            .forward(dynamic_cast<torch::nn::Conv2dImpl&>(*block.conv).forward(x));
  }
  return block.pool->forward(torch::relu(y));
}

}  // namespace

bool match_conv_block(const torch::nn::Sequential& trunk, size_t i, ConvBlockLayers& block) {
  if (i + 3 >= trunk->size()) return false;
  ConvBlockLayers found{trunk->ptr(i).get(), trunk->ptr(i + 1).get(),
                        dynamic_cast<PadMaxPoolImpl*>(trunk->ptr(i + 3).get())};
  auto* relu = dynamic_cast<torch::nn::ReLUImpl*>(trunk->ptr(i + 2).get());
  BlockSettings settings;
  BlockTensors tensors;
  if (relu == nullptr || !read_block(found, settings, tensors)) return false;
  block = found;
  return true;
}

Tensor fused_conv_block(const Tensor& input, const ConvBlockLayers& block, int64_t chunk_samples,
                        int64_t max_piece_bytes) {
  BlockSettings settings;
  BlockTensors t;
  CDL_CHECK(read_block(block, settings, t),
            "fused_conv_block: not a Conv-BatchNorm-ReLU-pool block");
  settings.chunk_samples = practical_chunk(input, chunk_samples);
  settings.max_piece_bytes = max_piece_bytes;
  // Under CPU autocast the convolutions compute in bfloat16 where the rule of
  // mixed_precision.hpp allows it, in float32 elsewhere; the block casts itself (autocast off).
  const bool cpu_autocast = input.device().is_cpu() && autocast_enabled(c10::DeviceType::CPU);
  const bool in_bf16 = computes_in_bf16_on_cpu(input);
  const auto x = cpu_autocast && !in_bf16 ? input.to(torch::kFloat) : input;
  settings.compute_dtype = in_bf16 ? autocast_dtype(c10::DeviceType::CPU) : t.weight.scalar_type();
  if (!block.batch_norm->is_training() && torch::GradMode::is_enabled()) {
    if (!cpu_autocast || in_bf16) return separate_layers(x, block, settings.dimension);
    const CpuAutocastOff float32;
    return separate_layers(x, block, settings.dimension);
  }
  const CpuAutocastOff cast_by_the_block;
  if (!block.batch_norm->is_training()) return inference_block(x, t, settings);
  return FusedConvBlockFunction::apply(x, t.weight, t.bias, t.gamma, t.beta, settings);
}

}  // namespace cdl::model

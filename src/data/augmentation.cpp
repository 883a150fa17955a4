// Implementation of the augmentations: the draws of ClinicaDL's parameters from one sample's
// random source, and the transforms (their TorchIO counterparts are those of TorchIO 0.18, the
// version ClinicaDL 1.6 installs).
#include "cdl/data/augmentation.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <complex>
#include <optional>

#include "cdl/core/error.hpp"
#include "cdl/core/random.hpp"

namespace cdl::data {
namespace {

constexpr double kPi = 3.14159265358979323846;

const std::vector<std::pair<Augmentation, const char*>>& names() {
  static const std::vector<std::pair<Augmentation, const char*>> table{
      {Augmentation::kNoise, "Noise"},           {Augmentation::kErasing, "Erasing"},
      {Augmentation::kCropPad, "CropPad"},       {Augmentation::kSmoothing, "Smoothing"},
      {Augmentation::kMotion, "Motion"},         {Augmentation::kGhosting, "Ghosting"},
      {Augmentation::kSpike, "Spike"},           {Augmentation::kBiasField, "BiasField"},
      {Augmentation::kRandomBlur, "RandomBlur"}, {Augmentation::kRandomSwap, "RandomSwap"}};
  return table;
}

// TorchIO edits the centred k-space of an image (fftshift of fftn) and keeps the real part of
// its inverse, so only the Hermitian part of the edited spectrum counts: Re(ifftn(S)) =
// ifftn((S(k) + conj(S(-k))) / 2). The spectrum of a real image is Hermitian, which lets every
// edit here be written on a half spectrum (rfft: the transformed axis keeps n / 2 + 1
// frequencies) and inverted by irfft, without the shifted copies. And where an edit depends on
// the frequency along one axis only (Ghosting's planes, Motion's segments), the transforms
// along the other axes cancel: the edit is made on that axis's 1D transforms alone.

/// The half spectrum of a real 3D channel (float32 in, complex64 out; last axis W / 2 + 1).
torch::Tensor half_spectrum(const torch::Tensor& channel) {
  return torch::fft::rfftn(channel.to(torch::kFloat));
}

/// The 1D half spectra of a real channel along `axis` (that axis keeps n / 2 + 1 frequencies).
torch::Tensor half_spectra_along(const torch::Tensor& channel, int64_t axis) {
  return torch::fft::rfft(channel.to(torch::kFloat), c10::nullopt, axis);
}

/// The real channel of 1D Hermitian half spectra along `axis`, of `length` voxels there.
torch::Tensor image_along(const torch::Tensor& half, int64_t axis, int64_t length) {
  return torch::fft::irfft(half, length, axis).to(torch::kFloat).contiguous();
}

/// Where frequency index f (FFT order) of an axis of `length` sits in the centred spectrum.
int64_t centred_index(int64_t f, int64_t length) {
  return (f + length / 2) % length;
}

/// The FFT-order index of the frequency opposite to f.
int64_t opposite(int64_t f, int64_t length) {
  return (length - f) % length;
}

/// A frequency of a 3D spectrum: its FFT-order index along D, H and W.
using Frequency = std::array<int64_t, 3>;

/// The full spectrum of a real 3D image seen through its half (rfftn): S(k) is stored for k_W
/// <= W / 2 and is conj(S(-k)) beyond.
class HalfSpectrum {
 public:
  HalfSpectrum(torch::Tensor half, c10::IntArrayRef sizes)
      : half_(std::move(half)), sizes_{sizes[0], sizes[1], sizes[2]} {}

  /// S(k).
  std::complex<double> at(const Frequency& k) const {
    const auto values = half_.accessor<c10::complex<float>, 3>();
    if (k[2] < half_.size(2)) {
      const auto v = values[k[0]][k[1]][k[2]];
      return {v.real(), v.imag()};
    }
    const Frequency m = mirror(k);
    const auto v = values[m[0]][m[1]][m[2]];
    return {v.real(), -v.imag()};
  }

  /// -k.
  Frequency mirror(const Frequency& k) const {
    return {opposite(k[0], sizes_[0]), opposite(k[1], sizes_[1]), opposite(k[2], sizes_[2])};
  }

  /// NumPy's max of the full spectrum (the largest real part, then the largest imaginary part)
  /// after `added` values were added at their frequencies. Each addition hides at most one
  /// stored element's pair member, so the largest of the others is among the top
  /// added.size() + 1 stored elements by real part.
  std::complex<double> largest(
      const std::vector<std::pair<Frequency, std::complex<double>>>& added) const {
    std::optional<std::complex<double>> best;
    const auto consider = [&](std::complex<double> v) {
      if (!best || v.real() > best->real() || (v.real() == best->real() && v.imag() > best->imag()))
        best = v;
    };
    const auto edited = [&](const Frequency& k) {
      return std::any_of(added.begin(), added.end(),
                         [&](const auto& edit) { return edit.first == k; });
    };
    const torch::Tensor real = torch::real(half_).flatten();
    const int64_t count = std::min<int64_t>(real.numel(), static_cast<int64_t>(added.size()) + 1);
    const torch::Tensor top = std::get<1>(torch::topk(real, count));
    const int64_t width = half_.size(2), rows = half_.size(1);
    for (int64_t i = 0; i < count; ++i) {
      const int64_t flat = top[i].item<int64_t>();
      const Frequency k{flat / (rows * width), (flat / width) % rows, flat % width};
      for (const Frequency& member : {k, mirror(k)}) {
        if (!edited(member)) consider(at(member));
      }
    }
    for (const auto& [k, value] : added) consider(at(k) + value);
    return *best;
  }

 private:
  torch::Tensor half_;
  std::array<int64_t, 3> sizes_;
};

/// Adds to a contiguous float [D, H, W] image the inverse transform of `value` at frequency k
/// alone: Re(value exp(2 pi i sum_a k_a n_a / N_a)) / N, a plane wave written directly.
void add_plane_wave(torch::Tensor& image, const Frequency& k, std::complex<double> value) {
  const int64_t depth = image.size(0), height = image.size(1), width = image.size(2);
  std::array<std::vector<std::complex<double>>, 3> waves;
  for (int a = 0; a < 3; ++a) {
    const int64_t length = image.size(a);
    for (int64_t n = 0; n < length; ++n) {
      const double turn = static_cast<double>((k[a] * n) % length) / static_cast<double>(length);
      waves[a].push_back(std::polar(1.0, 2 * kPi * turn));
    }
  }
  const std::complex<double> scaled = value / static_cast<double>(depth * height * width);
  // Re(phase x wave) = Re(phase) cos - Im(phase) sin along a row, in float: a vectorised loop.
  std::vector<float> cosines, sines;
  for (const auto& wave : waves[2]) {
    cosines.push_back(static_cast<float>(wave.real()));
    sines.push_back(static_cast<float>(wave.imag()));
  }
  float* values = image.data_ptr<float>();
  for (int64_t d = 0; d < depth; ++d) {
    for (int64_t h = 0; h < height; ++h) {
      const std::complex<double> phase = scaled * waves[0][d] * waves[1][h];
      const auto re = static_cast<float>(phase.real()), im = static_cast<float>(phase.imag());
      float* row = values + (d * height + h) * width;
      for (int64_t w = 0; w < width; ++w) row[w] += re * cosines[w] - im * sines[w];
    }
  }
}

/// Applies `per_channel` to every channel of a [C, D, H, W] sample.
template <typename Function>
torch::Tensor for_each_channel(const torch::Tensor& x, Function per_channel) {
  CDL_CHECK(x.dim() == 4, "a 3D transform needs a [C, D, H, W] sample, got ", x.dim(), " axes");
  if (x.size(0) == 1) return per_channel(x[0]).unsqueeze(0);  // no copy into a stack
  std::vector<torch::Tensor> channels;
  for (int64_t c = 0; c < x.size(0); ++c) channels.push_back(per_channel(x[c]));
  return torch::stack(channels);
}

/// SciPy's Gaussian kernel of `sigma` truncated at 4 sigmas (radius round(4 sigma)), normalised.
std::vector<float> gaussian_weights(double sigma, int64_t radius) {
  std::vector<double> weights;
  double sum = 0;
  for (int64_t k = -radius; k <= radius; ++k) {
    weights.push_back(std::exp(-0.5 * static_cast<double>(k * k) / (sigma * sigma)));
    sum += weights.back();
  }
  std::vector<float> normalised;
  for (const double w : weights) normalised.push_back(static_cast<float>(w / sum));
  return normalised;
}

/// The index read at each padded position p - radius, p in [0, length + 2 radius), under
/// SciPy's "reflect" boundary (mirrored with the edge repeated, for any radius).
std::vector<int64_t> reflected_indices(int64_t length, int64_t radius) {
  std::vector<int64_t> source;
  for (int64_t p = -radius; p < length + radius; ++p) {
    int64_t m = p % (2 * length);
    if (m < 0) m += 2 * length;
    source.push_back(m < length ? m : 2 * length - m - 1);
  }
  return source;
}

/// SciPy's 1D Gaussian along an axis of `length` (truncate 4): its weights and, for each padded
/// position p - radius, the index read there. Empty when the axis is left as it is: sigma 0, a
/// radius of 0, an axis of length 1 (every tap reads the same voxel) or 0 (nothing to mirror).
struct AxisKernel {
  std::vector<float> weights;
  std::vector<int64_t> source;
  bool empty() const { return weights.empty(); }
};

AxisKernel axis_kernel(double sigma, int64_t length) {
  const auto radius = static_cast<int64_t>(4.0 * sigma + 0.5);
  if (sigma <= 0 || radius == 0 || length <= 1) return {};
  return {gaussian_weights(sigma, radius), reflected_indices(length, radius)};
}

/// Output line i of a contiguous [length, inner] block (inner > 1): the weighted sum of the
/// 2 radius + 1 input lines around it. Plain loops over contiguous rows, which the compiler
/// vectorises: several times faster than the same sum as tensor operations.
void convolve_line(const float* block, float* row, int64_t i, int64_t inner,
                   const AxisKernel& kernel) {
  const float* first = block + kernel.source[i] * inner;
  for (int64_t j = 0; j < inner; ++j) row[j] = kernel.weights[0] * first[j];
  for (size_t k = 1; k < kernel.weights.size(); ++k) {
    const float w = kernel.weights[k];
    const float* read = block + kernel.source[i + k] * inner;
    for (int64_t j = 0; j < inner; ++j) row[j] += w * read[j];
  }
}

/// One axis of the separable Gaussian on a contiguous float tensor seen as [outer, length,
/// inner]: every output line is a weighted sum of input lines (inner > 1), or of a mirrored
/// copy of its own line (inner = 1).
void convolve_axis(const float* in, float* out, int64_t outer, int64_t length, int64_t inner,
                   const AxisKernel& kernel) {
  std::vector<float> line(inner == 1 ? kernel.source.size() : 0);
  for (int64_t o = 0; o < outer; ++o) {
    const float* block = in + o * length * inner;
    float* target = out + o * length * inner;
    if (inner > 1) {
      for (int64_t i = 0; i < length; ++i)
        convolve_line(block, target + i * inner, i, inner, kernel);
      continue;
    }
    for (size_t p = 0; p < kernel.source.size(); ++p) line[p] = block[kernel.source[p]];
    for (int64_t i = 0; i < length; ++i) target[i] = kernel.weights[0] * line[i];
    for (size_t k = 1; k < kernel.weights.size(); ++k) {
      const float w = kernel.weights[k];
      for (int64_t i = 0; i < length; ++i) target[i] += w * line[i + k];
    }
  }
}

/// SciPy's 1D Gaussian along `axis` (truncate 4, "reflect" boundary) of a contiguous float
/// tensor (x itself when the axis is left as it is).
torch::Tensor gaussian_along(const torch::Tensor& x, int64_t axis, double sigma) {
  const AxisKernel kernel = axis_kernel(sigma, x.size(axis));
  if (kernel.empty()) return x;
  int64_t outer = 1, inner = 1;
  for (int64_t a = 0; a < axis; ++a) outer *= x.size(a);
  for (int64_t a = axis + 1; a < x.dim(); ++a) inner *= x.size(a);
  torch::Tensor out = torch::empty_like(x);
  convolve_axis(x.data_ptr<float>(), out.data_ptr<float>(), outer, x.size(axis), inner, kernel);
  return out;
}

/// The separable Gaussian of one contiguous [depth, height, width] volume, one output plane at
/// a time: its depth taps summed into a plane buffer, then the height and width taps while that
/// plane is in cache. One pass over the volume's memory instead of one per axis.
void gaussian_volume(const float* in, float* out, const std::array<int64_t, 3>& sizes,
                     const std::array<AxisKernel, 3>& kernels) {
  const int64_t height = sizes[1], width = sizes[2], plane = height * width;
  std::vector<float> along_depth(plane), along_height(plane);
  for (int64_t d = 0; d < sizes[0]; ++d) {
    const float* current = in + d * plane;
    if (!kernels[0].empty()) {
      convolve_line(in, along_depth.data(), d, plane, kernels[0]);
      current = along_depth.data();
    }
    if (!kernels[1].empty()) {
      convolve_axis(current, along_height.data(), 1, height, width, kernels[1]);
      current = along_height.data();
    }
    float* target = out + d * plane;
    if (kernels[2].empty()) {
      std::copy(current, current + plane, target);
    } else {
      convolve_axis(current, target, height, width, 1, kernels[2]);
    }
  }
}

/// A row-major 3x3 matrix.
using Matrix3 = std::array<double, 9>;

Matrix3 product(const Matrix3& l, const Matrix3& r) {
  Matrix3 p{};
  for (int i = 0; i < 3; ++i) {
    for (int j = 0; j < 3; ++j) {
      for (int k = 0; k < 3; ++k) p[3 * i + j] += l[3 * i + k] * r[3 * k + j];
    }
  }
  return p;
}

/// ITK's Euler3D rotation (angles about x, y, z; z then x then y applied: Rz Rx Ry).
Matrix3 euler_matrix(double ax, double ay, double az) {
  const double cx = std::cos(ax), sx = std::sin(ax), cy = std::cos(ay), sy = std::sin(ay),
               cz = std::cos(az), sz = std::sin(az);
  const Matrix3 rx{1, 0, 0, 0, cx, -sx, 0, sx, cx};
  const Matrix3 ry{cy, 0, sy, 0, 1, 0, -sy, 0, cy};
  const Matrix3 rz{cz, -sz, 0, sz, cz, 0, 0, 0, 1};
  return product(product(rz, rx), ry);
}

/// The run [first, end) of w in [0, width) where start[a] + w step[a] lies in [0, last[a]) for
/// every axis a, narrowed by one voxel at each end against rounding (empty: first >= end).
std::pair<int64_t, int64_t> interior_run(const std::array<double, 3>& start,
                                         const std::array<double, 3>& step,
                                         const std::array<double, 3>& last, int64_t width) {
  double low = 0, high = static_cast<double>(width);
  for (int a = 0; a < 3; ++a) {
    if (step[a] == 0) {
      if (!(start[a] >= 0 && start[a] < last[a])) return {0, 0};
      continue;
    }
    const double at_zero = -start[a] / step[a], at_last = (last[a] - start[a]) / step[a];
    low = std::max(low, std::min(at_zero, at_last));
    high = std::min(high, std::max(at_zero, at_last));
  }
  if (!(low < high)) return {0, 0};
  const auto first = std::min<int64_t>(width, static_cast<int64_t>(std::ceil(low)) + 1);
  const auto end = std::min<int64_t>(width, static_cast<int64_t>(std::floor(high)) - 1);
  return {first, end};
}

/// torchvision's RandomErasing with its defaults (p 0.5, area 2-33 %, aspect ratio 0.3-3.3,
/// log-uniform, value 0) on the last two axes.
torch::Tensor random_erasing(const torch::Tensor& x, SampleRandom& random) {
  if (random.uniform(0, 1) >= 0.5) return x;
  const int64_t height = x.size(-2), width = x.size(-1);
  const double area = static_cast<double>(height * width);
  for (int attempt = 0; attempt < 10; ++attempt) {
    const double target = area * random.uniform(0.02, 0.33);
    const double aspect = std::exp(random.uniform(std::log(0.3), std::log(3.3)));
    const auto h = static_cast<int64_t>(std::nearbyint(std::sqrt(target * aspect)));
    const auto w = static_cast<int64_t>(std::nearbyint(std::sqrt(target / aspect)));
    if (!(h < height && w < width)) continue;
    const int64_t top = random.integer(0, height - h), left = random.integer(0, width - w);
    return erase_box(x, top, left, h, w);
  }
  return x;
}

/// TorchIO's RandomMotion(degrees (2, 4), translation (2, 4), 2 transforms).
torch::Tensor random_motion(const torch::Tensor& x, SampleRandom& random) {
  constexpr int kTransforms = 2;
  auto degrees = torch::empty({kTransforms, 3}, torch::kDouble);
  auto translations = torch::empty({kTransforms, 3}, torch::kDouble);
  for (int t = 0; t < kTransforms; ++t) {
    for (int a = 0; a < 3; ++a) degrees[t][a] = random.uniform(2, 4);
  }
  for (int t = 0; t < kTransforms; ++t) {
    for (int a = 0; a < 3; ++a) translations[t][a] = random.uniform(2, 4);
  }
  const double step = 1.0 / (kTransforms + 1);
  std::vector<double> times;
  for (int t = 1; t <= kTransforms; ++t)
    times.push_back(t * step + random.uniform(-0.3 * step, 0.3 * step));
  return motion(x, degrees, translations, times);
}

/// TorchIO's RandomSwap(patch 15, 100 iterations): corners drawn in [0, length - 15) per axis,
/// a second cube never inside the first.
torch::Tensor random_swap(const torch::Tensor& x, SampleRandom& random) {
  constexpr int64_t kPatch = 15, kIterations = 100;
  for (int64_t a = 1; a <= 3; ++a) {
    if (x.size(a) < kPatch) {
      CDL_THROW(DataError, "--data_augmentation RandomSwap swaps cubes of ", kPatch,
                " voxels but the samples are ", x.size(1), "x", x.size(2), "x", x.size(3));
    }
  }
  const auto corner = [&] {
    std::vector<int64_t> c;
    for (int64_t a = 1; a <= 3; ++a) {
      const int64_t room = x.size(a) - kPatch;
      c.push_back(room == 0 ? 0 : random.integer(0, room - 1));
    }
    return c;
  };
  auto corners = torch::empty({kIterations, 6}, torch::kLong);
  for (int64_t i = 0; i < kIterations; ++i) {
    const auto first = corner();
    std::vector<int64_t> second;
    do {
      second = corner();
    } while (second[0] >= first[0] && second[1] >= first[1] && second[2] >= first[2] &&
             second[0] <= first[0] && second[1] <= first[1] && second[2] <= first[2]);
    for (int a = 0; a < 3; ++a) {
      corners[i][a] = first[a];
      corners[i][3 + a] = second[a];
    }
  }
  return swap_patches(x, kPatch, corners);
}

}  // namespace

torch::Tensor augment(const torch::Tensor& sample, const std::vector<Augmentation>& augmentations,
                      SampleRandom& random) {
  torch::Tensor x = sample;
  const int64_t spatial = x.dim() - 1;
  for (const Augmentation augmentation : augmentations) {
    switch (augmentation) {
      case Augmentation::kNoise: {
        const double sigma = random.uniform(0, 0.1);
        x = add_noise(x, sigma, random.bits());
        break;
      }
      case Augmentation::kErasing:
        x = random_erasing(x, random);
        break;
      case Augmentation::kCropPad: {
        std::vector<int64_t> shifts(static_cast<size_t>(spatial));
        for (int64_t a = spatial - 1; a >= 0; --a)
          shifts[a] = random.integer(-10, 9);  // last first
        x = crop_pad(x, shifts);
        break;
      }
      case Augmentation::kSmoothing:
        x = gaussian_filter(x, std::vector<double>(x.dim(), random.uniform(0, 1)));
        break;
      case Augmentation::kMotion:
        x = random_motion(x, random);
        break;
      case Augmentation::kGhosting: {
        const int64_t ghosts = random.integer(4, 10);
        const int axis = static_cast<int>(random.integer(0, 2));
        x = ghosting(x, ghosts, axis, random.uniform(0.5, 1));
        break;
      }
      case Augmentation::kSpike: {
        auto position = torch::empty({1, 3}, torch::kDouble);
        for (int a = 0; a < 3; ++a) position[0][a] = random.uniform(0, 1);
        x = spike(x, position, random.uniform(1, 3));
        break;
      }
      case Augmentation::kBiasField: {
        std::vector<double> coefficients(20);
        for (auto& c : coefficients) c = random.uniform(-0.5, 0.5);
        x = bias_field(x, coefficients, 3);
        break;
      }
      case Augmentation::kRandomBlur: {
        std::vector<double> sigmas{0.0};
        for (int a = 0; a < 3; ++a) sigmas.push_back(random.uniform(0, 2));
        x = gaussian_filter(x, sigmas);
        break;
      }
      case Augmentation::kRandomSwap:
        x = random_swap(x, random);
        break;
    }
  }
  return x;
}

std::vector<Augmentation> parse_augmentations(const std::vector<std::string>& requested) {
  std::vector<Augmentation> augmentations;
  for (const auto& name : requested) {
    if (name == "None") continue;
    const auto found = std::find_if(names().begin(), names().end(),
                                    [&](const auto& entry) { return name == entry.second; });
    if (found == names().end()) {
      std::string known;
      for (const auto& entry : names())
        known += std::string(known.empty() ? "" : ", ") + entry.second;
      CDL_THROW(ConfigError, "--data_augmentation '", name, "' is unknown; expected some of ",
                known, " (or None)");
    }
    augmentations.push_back(found->first);
  }
  return augmentations;
}

const char* augmentation_name(Augmentation augmentation) {
  for (const auto& [value, name] : names()) {
    if (value == augmentation) return name;
  }
  return "?";
}

bool needs_3d(Augmentation augmentation) {
  return augmentation != Augmentation::kNoise && augmentation != Augmentation::kErasing &&
         augmentation != Augmentation::kCropPad && augmentation != Augmentation::kSmoothing;
}

SampleRandom::SampleRandom(uint64_t seed, int64_t epoch, int64_t sample)
    : engine_(mix_bits(seed ^ mix_bits(static_cast<uint64_t>(epoch) ^
                                       mix_bits(static_cast<uint64_t>(sample))))) {}

double SampleRandom::uniform(double low, double high) {
  const double unit = static_cast<double>(engine_() >> 11) * (1.0 / 9007199254740992.0);
  return low + unit * (high - low);
}

int64_t SampleRandom::integer(int64_t low, int64_t high) {
  const auto span = static_cast<uint64_t>(high - low) + 1;
  return low + static_cast<int64_t>(engine_() % span);
}

uint64_t SampleRandom::bits() {
  return engine_();
}

// --- the deterministic transforms -------------------------------------------------------------

torch::Tensor add_noise(const torch::Tensor& x, double sigma, uint64_t seed) {
  const torch::Tensor input = x.to(torch::kFloat).contiguous();
  torch::Tensor out = torch::empty_like(input);
  SplitMix64 bits(seed);
  float* values = out.data_ptr<float>();
  const float* image = input.data_ptr<float>();
  const auto count = static_cast<size_t>(out.numel());
  fill_standard_normal(bits, values, count);
  const auto scale = static_cast<float>(sigma);
  for (size_t i = 0; i < count; ++i) values[i] = image[i] + scale * values[i];
  return out;
}

torch::Tensor erase_box(const torch::Tensor& x, int64_t top, int64_t left, int64_t height,
                        int64_t width) {
  torch::Tensor out = x.clone();
  out.narrow(-2, top, height).narrow(-1, left, width).zero_();
  return out;
}

torch::Tensor crop_pad(const torch::Tensor& x, const std::vector<int64_t>& shifts) {
  torch::Tensor out = torch::zeros_like(x);
  torch::Tensor target = out, source = x;  // the overlap, narrowed axis by axis, copied once
  const int64_t first = x.dim() - static_cast<int64_t>(shifts.size());
  for (size_t a = 0; a < shifts.size(); ++a) {
    const int64_t axis = first + static_cast<int64_t>(a), shift = shifts[a];
    const int64_t length = x.size(axis);
    const int64_t begin = std::max<int64_t>(0, -shift), end = std::min(length, length - shift);
    if (end <= begin) return out;  // shifted out entirely: all zeros
    target = target.narrow(axis, begin, end - begin);
    source = source.narrow(axis, begin + shift, end - begin);
  }
  target.copy_(source);
  return out;
}

torch::Tensor gaussian_filter(const torch::Tensor& x, const std::vector<double>& sigmas) {
  CDL_CHECK(static_cast<int64_t>(sigmas.size()) == x.dim(), "one sigma per axis");
  torch::Tensor out = x.to(torch::kFloat).contiguous();
  const int64_t leading = std::max<int64_t>(0, x.dim() - 3);
  for (int64_t a = 0; a < (x.dim() < 3 ? x.dim() : leading); ++a)
    out = gaussian_along(out, a, sigmas[a]);
  if (x.dim() < 3) return out;
  // The last three axes volume by volume, in one pass each.
  const std::array<int64_t, 3> sizes{x.size(leading), x.size(leading + 1), x.size(leading + 2)};
  std::array<AxisKernel, 3> kernels;
  for (int a = 0; a < 3; ++a) kernels[a] = axis_kernel(sigmas[leading + a], sizes[a]);
  const int64_t volume = sizes[0] * sizes[1] * sizes[2];
  if (volume == 0 || (kernels[0].empty() && kernels[1].empty() && kernels[2].empty())) return out;
  torch::Tensor filtered = torch::empty_like(out);
  for (int64_t v = 0; v * volume < out.numel(); ++v) {
    gaussian_volume(out.data_ptr<float>() + v * volume, filtered.data_ptr<float>() + v * volume,
                    sizes, kernels);
  }
  return filtered;
}

torch::Tensor bias_field(const torch::Tensor& x, const std::vector<double>& coefficients,
                         int order) {
  CDL_CHECK(x.dim() == 4, "a bias field needs a [C, D, H, W] sample");
  const int64_t depth = x.size(1), height = x.size(2), width = x.size(3);
  // Coordinates centred and scaled to [-1, 1] along each axis.
  const auto coordinates = [](int64_t length) {
    const double half = static_cast<double>(length - 1) / 2.0;
    std::vector<double> c;
    for (int64_t i = 0; i < length; ++i) {
      c.push_back(half > 0 ? (static_cast<double>(i) - half) / half : 0.0);
    }
    return c;
  };
  const auto xs = coordinates(depth), ys = coordinates(height), zs = coordinates(width);
  // lines[j](z) = sum_k c_ijk Z^k, planes[i](y, z) = sum_j Y^j lines[j](z); then the field is
  // sum_i X^i planes[i], summed by Horner's rule over the volume.
  std::vector<std::vector<double>> planes(static_cast<size_t>(order) + 1,
                                          std::vector<double>(height * width, 0.0));
  size_t term = 0;
  for (int i = 0; i <= order; ++i) {
    for (int j = 0; j <= order - i; ++j) {
      std::vector<double> line(width, 0.0);
      for (int k = 0; k <= order - i - j; ++k) {
        CDL_CHECK(term < coefficients.size(), "too few bias field coefficients");
        const double c = coefficients[term++];
        for (int64_t w = 0; w < width; ++w) line[w] += c * std::pow(zs[w], k);
      }
      for (int64_t h = 0; h < height; ++h) {
        const double yj = std::pow(ys[h], j);
        for (int64_t w = 0; w < width; ++w) planes[i][h * width + w] += yj * line[w];
      }
    }
  }
  torch::Tensor field = torch::empty({depth, height, width}, torch::kFloat);
  float* values = field.data_ptr<float>();
  for (int64_t d = 0; d < depth; ++d) {
    for (int64_t p = 0; p < height * width; ++p) {
      double sum = planes[order][p];
      for (int i = order - 1; i >= 0; --i) sum = sum * xs[d] + planes[i][p];
      values[d * height * width + p] = static_cast<float>(sum);
    }
  }
  return x.to(torch::kFloat) * field.exp_();
}

torch::Tensor spike(const torch::Tensor& x, const torch::Tensor& positions, double intensity) {
  return for_each_channel(x, [&](const torch::Tensor& channel) {
    const torch::Tensor image = channel.to(torch::kFloat).contiguous();
    const HalfSpectrum spectrum(half_spectrum(image), image.sizes());
    // TorchIO adds, spike after spike, the spectrum's largest element (after the spikes before
    // it) times the intensity at the spike's centred position.
    std::vector<std::pair<Frequency, std::complex<double>>> added;
    for (int64_t s = 0; s < positions.size(0); ++s) {
      Frequency k{};
      for (int a = 0; a < 3; ++a) {
        const int64_t length = image.size(a);
        const auto centred = static_cast<int64_t>(
            std::floor(positions[s][a].item<double>() * static_cast<double>(length)));
        k[a] = ((centred - length / 2) % length + length) % length;
      }
      const std::complex<double> artifact = intensity * spectrum.largest(added);
      const auto same = std::find_if(added.begin(), added.end(),
                                     [&](const auto& edit) { return edit.first == k; });
      if (same == added.end()) {
        added.emplace_back(k, artifact);
      } else {
        same->second += artifact;
      }
    }
    torch::Tensor out = image.clone();
    for (const auto& [k, value] : added) add_plane_wave(out, k, value);
    return out;
  });
}

torch::Tensor ghosting(const torch::Tensor& x, int64_t num_ghosts, int axis, double intensity) {
  return for_each_channel(x, [&](const torch::Tensor& channel) {
    if (num_ghosts == 0 || intensity == 0) return channel;
    const int64_t length = channel.size(axis), middle = length / 2;
    // The centred plane c is scaled by 1 - intensity when c is a multiple of num_ghosts other
    // than the middle; a frequency takes the mean of its own and its opposite's factor.
    const auto factor = [&](int64_t f) {
      const int64_t c = centred_index(f, length);
      return c % num_ghosts == 0 && c != middle ? 1.0 - intensity : 1.0;
    };
    torch::Tensor half = half_spectra_along(channel, axis);
    const int64_t stored = half.size(axis);
    std::vector<float> scale;
    for (int64_t f = 0; f < stored; ++f)
      scale.push_back(static_cast<float>(0.5 * (factor(f) + factor(opposite(f, length)))));
    std::vector<int64_t> shape{1, 1, 1};
    shape[axis] = stored;
    half.mul_(torch::tensor(scale).view(shape));
    return image_along(half, axis, length);
  });
}

torch::Tensor motion(const torch::Tensor& x, const torch::Tensor& degrees,
                     const torch::Tensor& translations, const std::vector<double>& times) {
  // TorchIO gives a tensor the identity RAS affine, which SimpleITK sees in LPS: physical point
  // = F x index with F = diag(-1, -1, 1). Its motion transforms keep rotation and translation
  // but lose their centre (TorchIO 0.18 rebuilds them from matrix and translation), so the
  // source index of output index q is F R F q + F t.
  constexpr std::array<double, 3> kFlip{-1, -1, 1};
  return for_each_channel(x, [&](const torch::Tensor& channel) {
    const torch::Tensor image = channel.to(torch::kFloat).contiguous();
    const float outside = image.min().item<float>();
    std::vector<torch::Tensor> spectra{half_spectra_along(image, 2)};
    for (int64_t t = 0; t < degrees.size(0); ++t) {
      const Matrix3 r = euler_matrix(degrees[t][0].item<double>() * kPi / 180.0,
                                     degrees[t][1].item<double>() * kPi / 180.0,
                                     degrees[t][2].item<double>() * kPi / 180.0);
      Matrix3 a{};
      std::array<double, 3> b{};
      for (int i = 0; i < 3; ++i) {
        for (int j = 0; j < 3; ++j) a[3 * i + j] = kFlip[i] * r[3 * i + j] * kFlip[j];
        b[i] = kFlip[i] * translations[t][i].item<double>();
      }
      spectra.push_back(half_spectra_along(resample_linear(image, a, b, outside), 2));
    }
    // The original image fills the segment at the centre of k-space.
    size_t centre = spectra.size() - 1;
    for (size_t t = 0; t < times.size(); ++t) {
      if (times[t] > 0.5) {
        centre = t;
        break;
      }
    }
    std::swap(spectra[0], spectra[centre]);
    // Segment s covers the centred columns [floor(W times[s - 1]), floor(W times[s])) of the
    // last axis; which spectrum each centred column takes:
    const int64_t width = image.size(2);
    std::vector<size_t> segment_of(static_cast<size_t>(width), spectra.size() - 1);
    int64_t begin = 0;
    for (size_t s = 0; s < times.size(); ++s) {
      const auto end =
          static_cast<int64_t>(static_cast<float>(width) * static_cast<float>(times[s]));
      for (int64_t c = begin; c < std::min(end, width); ++c) segment_of[c] = s;
      begin = std::max(begin, end);
    }
    // Frequency f of the last axis takes the mean of the spectra of its own column and of its
    // opposite's (the Hermitian part of the composed spectrum), on the rows' 1D spectra.
    torch::Tensor half = torch::empty_like(spectra[0]);
    const int64_t stored = half.size(2), rows = half.numel() / stored;
    auto* out = half.data_ptr<c10::complex<float>>();
    std::vector<const c10::complex<float>*> in;
    for (const auto& spectrum : spectra) in.push_back(spectrum.data_ptr<c10::complex<float>>());
    std::vector<size_t> own, other;
    for (int64_t f = 0; f < stored; ++f) {
      own.push_back(segment_of[centred_index(f, width)]);
      other.push_back(segment_of[centred_index(opposite(f, width), width)]);
    }
    for (int64_t row = 0; row < rows; ++row) {
      for (int64_t f = 0; f < stored; ++f) {
        const int64_t i = row * stored + f;
        out[i] = (in[own[f]][i] + in[other[f]][i]) * c10::complex<float>(0.5f, 0.f);
      }
    }
    return image_along(half, 2, width);
  });
}

torch::Tensor resample_linear(const torch::Tensor& channel, const std::array<double, 9>& a,
                              const std::array<double, 3>& b, float outside) {
  const int64_t depth = channel.size(0), height = channel.size(1), width = channel.size(2);
  const std::array<double, 3> last{static_cast<double>(depth - 1), static_cast<double>(height - 1),
                                   static_cast<double>(width - 1)};
  const int64_t plane = height * width;
  torch::Tensor out = torch::empty_like(channel);
  const float* in = channel.data_ptr<float>();
  float* target = out.data_ptr<float>();
  // The lower grid index along an axis, the step to the upper one (0 on the last index) and
  // the weight of the upper one, for a source coordinate known to be inside.
  struct Axis {
    int64_t low, step;
    float t;
  };
  const auto along = [](double s, double end, int64_t stride) {
    const double clamped = std::clamp(s, 0.0, end);
    const auto low = static_cast<int64_t>(clamped);
    return Axis{low * stride, static_cast<double>(low) < end ? stride : 0,
                static_cast<float>(clamped - static_cast<double>(low))};
  };
  const auto lerp = [](float u, float v, float f) { return u + f * (v - u); };
  for (int64_t d = 0; d < depth; ++d) {
    for (int64_t h = 0; h < height; ++h) {
      // Along a row only w changes: s = row_start + w x (A's last column).
      std::array<double, 3> row_start{};
      for (int axis = 0; axis < 3; ++axis) {
        row_start[axis] = a[3 * axis] * static_cast<double>(d) +
                          a[3 * axis + 1] * static_cast<double>(h) + b[axis];
      }
      float* row = target + d * plane + h * width;
      const auto voxel = [&](int64_t w) {  // any voxel: outside, clamped or inside
        const auto q = static_cast<double>(w);
        const double sd = row_start[0] + a[2] * q, sh = row_start[1] + a[5] * q,
                     sw = row_start[2] + a[8] * q;
        if (!(sd >= -0.5 && sd < last[0] + 0.5 && sh >= -0.5 && sh < last[1] + 0.5 && sw >= -0.5 &&
              sw < last[2] + 0.5)) {
          return outside;
        }
        const Axis z = along(sd, last[0], plane), y = along(sh, last[1], width),
                   x = along(sw, last[2], 1);
        const float* corner = in + z.low + y.low + x.low;
        const auto pair = [&](int64_t offset) {
          return lerp(corner[offset], corner[offset + x.step], x.t);
        };
        return lerp(lerp(pair(0), pair(y.step), y.t),
                    lerp(pair(z.step), pair(z.step + y.step), y.t), z.t);
      };
      // Where every source coordinate lies in [0, last) (all but a few voxels of a row under
      // small motions), the eight neighbours exist: no test, no clamp.
      const auto [first, end] = interior_run(row_start, {a[2], a[5], a[8]}, last, width);
      for (int64_t w = 0; w < first; ++w) row[w] = voxel(w);
      for (int64_t w = first; w < end; ++w) {
        const auto q = static_cast<double>(w);
        const double sd = row_start[0] + a[2] * q, sh = row_start[1] + a[5] * q,
                     sw = row_start[2] + a[8] * q;
        const auto id = static_cast<int64_t>(sd), ih = static_cast<int64_t>(sh),
                   iw = static_cast<int64_t>(sw);
        const auto tz = static_cast<float>(sd - static_cast<double>(id)),
                   ty = static_cast<float>(sh - static_cast<double>(ih)),
                   tx = static_cast<float>(sw - static_cast<double>(iw));
        const float* c = in + id * plane + ih * width + iw;
        const float* n = c + plane;
        row[w] = lerp(lerp(lerp(c[0], c[1], tx), lerp(c[width], c[width + 1], tx), ty),
                      lerp(lerp(n[0], n[1], tx), lerp(n[width], n[width + 1], tx), ty), tz);
      }
      for (int64_t w = std::max(first, end); w < width; ++w) row[w] = voxel(w);
    }
  }
  return out;
}

torch::Tensor swap_patches(const torch::Tensor& x, int64_t patch, const torch::Tensor& corners) {
  CDL_CHECK(x.dim() >= 3, "Swap needs [..., D, H, W] samples");
  torch::Tensor out = x.to(torch::kFloat).contiguous().clone();
  const int64_t height = x.size(-2), width = x.size(-1);
  const int64_t volume = x.size(-3) * height * width;
  const auto corner_list = corners.to(torch::kLong).contiguous();
  const int64_t* c = corner_list.data_ptr<int64_t>();
  for (int64_t pair = 0; pair < corner_list.size(0); ++pair) {
    const int64_t* first = c + 6 * pair;
    const int64_t* second = first + 3;
    bool overlap = true;
    for (int a = 0; a < 3; ++a) {
      const int64_t length = x.size(x.dim() - 3 + a);
      CDL_CHECK(first[a] >= 0 && second[a] >= 0 && first[a] + patch <= length &&
                    second[a] + patch <= length,
                "Swap cube outside the sample");
      overlap = overlap && std::abs(first[a] - second[a]) < patch;
    }
    if (overlap) {
      // TorchIO copies the first cube onto the second through a view of the same memory, then
      // the second's old voxels onto the first: the same tensor copies give the same voxels.
      const auto cube = [&](const int64_t* at) {
        return out.narrow(-3, at[0], patch).narrow(-2, at[1], patch).narrow(-1, at[2], patch);
      };
      const auto second_before = cube(second).clone();
      cube(second).copy_(cube(first));
      cube(first).copy_(second_before);
      continue;
    }
    // Apart, the two cubes simply exchange their voxels, row by row.
    for (int64_t v = 0; v * volume < out.numel(); ++v) {
      float* data = out.data_ptr<float>() + v * volume;
      for (int64_t i = 0; i < patch; ++i) {
        for (int64_t j = 0; j < patch; ++j) {
          float* one = data + ((first[0] + i) * height + first[1] + j) * width + first[2];
          float* other = data + ((second[0] + i) * height + second[1] + j) * width + second[2];
          std::swap_ranges(one, one + patch, other);
        }
      }
    }
  }
  return out;
}

}  // namespace cdl::data

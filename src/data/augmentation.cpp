// Implementation of the augmentations: the draws of ClinicaDL's parameters from one sample's
// random source, and the transforms (their TorchIO counterparts are those of TorchIO 0.18, the
// version ClinicaDL 1.6 installs).
#include "cdl/data/augmentation.hpp"

#include <algorithm>
#include <cmath>

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

/// The centred k-space of a 3D channel, and back to its real part.
torch::Tensor centred_spectrum(const torch::Tensor& channel) {
  return torch::fft::fftshift(torch::fft::fftn(channel));
}
torch::Tensor image_of(const torch::Tensor& spectrum) {
  return torch::real(torch::fft::ifftn(torch::fft::ifftshift(spectrum))).to(torch::kFloat);
}

/// Applies `per_channel` to every channel of a [C, D, H, W] sample.
template <typename Function>
torch::Tensor for_each_channel(const torch::Tensor& x, Function per_channel) {
  CDL_CHECK(x.dim() == 4, "a 3D transform needs a [C, D, H, W] sample, got ", x.dim(), " axes");
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

/// One axis of the separable Gaussian on a contiguous float tensor seen as [outer, length,
/// inner]: every output line is a weighted sum of 2 radius + 1 input lines (inner > 1), or of a
/// mirrored copy of its own line (inner = 1). Plain loops over contiguous memory, which the
/// compiler vectorises: several times faster than the same sum as tensor operations.
void convolve_axis(const float* in, float* out, int64_t outer, int64_t length, int64_t inner,
                   const std::vector<float>& weights, const std::vector<int64_t>& source) {
  const auto taps = static_cast<int64_t>(weights.size());
  std::vector<float> line(inner == 1 ? source.size() : 0);
  for (int64_t o = 0; o < outer; ++o) {
    const float* block = in + o * length * inner;
    float* target = out + o * length * inner;
    if (inner == 1) {
      for (size_t p = 0; p < source.size(); ++p) line[p] = block[source[p]];
      for (int64_t i = 0; i < length; ++i) target[i] = weights[0] * line[i];
      for (int64_t k = 1; k < taps; ++k) {
        const float w = weights[k];
        for (int64_t i = 0; i < length; ++i) target[i] += w * line[i + k];
      }
      continue;
    }
    for (int64_t i = 0; i < length; ++i) {
      float* row = target + i * inner;
      const float* first = block + source[i] * inner;
      for (int64_t j = 0; j < inner; ++j) row[j] = weights[0] * first[j];
      for (int64_t k = 1; k < taps; ++k) {
        const float w = weights[k];
        const float* read = block + source[i + k] * inner;
        for (int64_t j = 0; j < inner; ++j) row[j] += w * read[j];
      }
    }
  }
}

/// SciPy's 1D Gaussian along `axis` (truncate 4, "reflect" boundary) of a contiguous float
/// tensor. An axis of length 1 is left as it is (every tap reads the same voxel), and so is an
/// empty one (nothing to mirror).
torch::Tensor gaussian_along(const torch::Tensor& x, int64_t axis, double sigma) {
  const auto radius = static_cast<int64_t>(4.0 * sigma + 0.5);
  const int64_t length = x.size(axis);
  if (sigma <= 0 || radius == 0 || length <= 1) return x;
  int64_t outer = 1, inner = 1;
  for (int64_t a = 0; a < axis; ++a) outer *= x.size(a);
  for (int64_t a = axis + 1; a < x.dim(); ++a) inner *= x.size(a);
  torch::Tensor out = torch::empty_like(x);
  convolve_axis(x.data_ptr<float>(), out.data_ptr<float>(), outer, length, inner,
                gaussian_weights(sigma, radius), reflected_indices(length, radius));
  return out;
}

/// ITK's Euler3D rotation (angles about x, y, z; z then x then y applied: Rz Rx Ry).
torch::Tensor euler_matrix(double ax, double ay, double az) {
  const double cx = std::cos(ax), sx = std::sin(ax), cy = std::cos(ay), sy = std::sin(ay),
               cz = std::cos(az), sz = std::sin(az);
  const auto rx =
      torch::tensor({1.0, 0.0, 0.0, 0.0, cx, -sx, 0.0, sx, cx}, torch::kDouble).view({3, 3});
  const auto ry =
      torch::tensor({cy, 0.0, sy, 0.0, 1.0, 0.0, -sy, 0.0, cy}, torch::kDouble).view({3, 3});
  const auto rz =
      torch::tensor({cz, -sz, 0.0, sz, cz, 0.0, 0.0, 0.0, 1.0}, torch::kDouble).view({3, 3});
  return rz.matmul(rx).matmul(ry);
}

/// One channel [D, H, W] resampled at source index = A q + b (trilinear, edge voxels repeated
/// within half a voxel of the grid, `outside` beyond: ITK's linear resampling).
torch::Tensor resample(const torch::Tensor& channel, const torch::Tensor& a, const torch::Tensor& b,
                       double outside) {
  const auto sizes = channel.sizes().vec();
  std::vector<torch::Tensor> index;  // q along D, H, W, broadcastable to [D, H, W]
  for (int axis = 0; axis < 3; ++axis) {
    std::vector<int64_t> shape{1, 1, 1};
    shape[axis] = sizes[axis];
    index.push_back(torch::arange(sizes[axis], torch::kFloat).view(shape));
  }
  auto inside = torch::ones({sizes[0], sizes[1], sizes[2]}, torch::kBool);
  std::vector<torch::Tensor> normalised;
  for (int axis = 0; axis < 3; ++axis) {
    const auto s = index[0] * a[axis][0].item<float>() + index[1] * a[axis][1].item<float>() +
                   index[2] * a[axis][2].item<float>() + b[axis].item<float>();
    const double length = static_cast<double>(sizes[axis]);
    inside = inside & (s >= -0.5) & (s < length - 0.5);
    normalised.push_back(length > 1 ? s * (2.0 / (length - 1)) - 1.0 : torch::zeros_like(s));
  }
  // grid_sample wants (x, y, z) = (W, H, D).
  const auto sample_grid =
      torch::stack({normalised[2], normalised[1], normalised[0]}, -1).unsqueeze(0);
  namespace F = torch::nn::functional;
  const auto values = F::grid_sample(channel.unsqueeze(0).unsqueeze(0), sample_grid,
                                     F::GridSampleFuncOptions()
                                         .mode(torch::kBilinear)
                                         .padding_mode(torch::kBorder)
                                         .align_corners(true))
                          .squeeze(0)
                          .squeeze(0);
  return torch::where(inside, values, torch::full_like(values, outside));
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
  for (size_t a = 0; a < sigmas.size(); ++a)
    out = gaussian_along(out, static_cast<int64_t>(a), sigmas[a]);
  return out;
}

torch::Tensor bias_field(const torch::Tensor& x, const std::vector<double>& coefficients,
                         int order) {
  CDL_CHECK(x.dim() == 4, "a bias field needs a [C, D, H, W] sample");
  std::vector<torch::Tensor> axes;
  for (int a = 0; a < 3; ++a) {
    const int64_t length = x.size(a + 1);
    const double half = static_cast<double>(length - 1) / 2.0;
    auto coordinate = torch::arange(length, torch::kDouble) - half;
    if (half > 0) coordinate = coordinate / half;
    std::vector<int64_t> shape{1, 1, 1};
    shape[a] = length;
    axes.push_back(coordinate.view(shape));
  }
  // Summed axis by axis: sum_i X^i (sum_j Y^j (sum_k c_ijk Z^k)), so that only the outer sum
  // runs over the whole volume.
  torch::Tensor field = torch::zeros({x.size(1), x.size(2), x.size(3)}, torch::kDouble);
  size_t term = 0;
  for (int i = 0; i <= order; ++i) {
    torch::Tensor plane = torch::zeros({1, x.size(2), x.size(3)}, torch::kDouble);
    for (int j = 0; j <= order - i; ++j) {
      torch::Tensor line = torch::zeros({1, 1, x.size(3)}, torch::kDouble);
      for (int k = 0; k <= order - i - j; ++k) {
        CDL_CHECK(term < coefficients.size(), "too few bias field coefficients");
        line = line + coefficients[term++] * axes[2].pow(k);
      }
      plane = plane + axes[1].pow(j) * line;
    }
    field.add_(axes[0].pow(i) * plane);
  }
  return x * torch::exp(field).to(torch::kFloat);
}

torch::Tensor spike(const torch::Tensor& x, const torch::Tensor& positions, double intensity) {
  return for_each_channel(x, [&](const torch::Tensor& channel) {
    auto spectrum = centred_spectrum(channel);
    const auto flat = spectrum.flatten();
    // NumPy's max of a complex array: the element of largest real part.
    const auto artifact = flat[torch::argmax(torch::real(flat)).item<int64_t>()] * intensity;
    for (int64_t s = 0; s < positions.size(0); ++s) {
      std::vector<int64_t> index;
      for (int a = 0; a < 3; ++a) {
        index.push_back(static_cast<int64_t>(
            std::floor(positions[s][a].item<double>() * static_cast<double>(spectrum.size(a)))));
      }
      auto voxel = spectrum[index[0]][index[1]][index[2]];
      voxel.add_(artifact);
    }
    return image_of(spectrum);
  });
}

torch::Tensor ghosting(const torch::Tensor& x, int64_t num_ghosts, int axis, double intensity) {
  return for_each_channel(x, [&](const torch::Tensor& channel) {
    if (num_ghosts == 0 || intensity == 0) return channel;
    auto spectrum = centred_spectrum(channel);
    const int64_t middle = spectrum.size(axis) / 2;
    const auto kept = spectrum.select(axis, middle).clone();
    spectrum.slice(axis, 0, spectrum.size(axis), num_ghosts).mul_(1.0 - intensity);
    spectrum.select(axis, middle).copy_(kept);
    return image_of(spectrum);
  });
}

torch::Tensor motion(const torch::Tensor& x, const torch::Tensor& degrees,
                     const torch::Tensor& translations, const std::vector<double>& times) {
  // TorchIO gives a tensor the identity RAS affine, which SimpleITK sees in LPS: physical point
  // = F x index with F = diag(-1, -1, 1). Its motion transforms keep rotation and translation
  // but lose their centre (TorchIO 0.18 rebuilds them from matrix and translation), so the
  // source index of output index q is F R F q + F t.
  const auto flip = torch::diag(torch::tensor({-1.0, -1.0, 1.0}, torch::kDouble));
  return for_each_channel(x, [&](const torch::Tensor& channel) {
    const double outside = channel.min().item<double>();
    std::vector<torch::Tensor> spectra{centred_spectrum(channel)};
    for (int64_t t = 0; t < degrees.size(0); ++t) {
      const auto r = euler_matrix(degrees[t][0].item<double>() * kPi / 180.0,
                                  degrees[t][1].item<double>() * kPi / 180.0,
                                  degrees[t][2].item<double>() * kPi / 180.0);
      const auto a = flip.matmul(r).matmul(flip);
      const auto b = flip.matmul(translations[t].to(torch::kDouble));
      spectra.push_back(centred_spectrum(resample(channel, a, b, outside)));
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
    const int64_t width = spectra[0].size(2);
    auto result = torch::empty_like(spectra[0]);
    int64_t begin = 0;
    for (size_t s = 0; s < spectra.size(); ++s) {
      const int64_t end =
          s < times.size()
              ? static_cast<int64_t>(static_cast<float>(width) * static_cast<float>(times[s]))
              : width;
      if (end > begin) result.slice(2, begin, end).copy_(spectra[s].slice(2, begin, end));
      begin = std::max(begin, end);
    }
    return image_of(result);
  });
}

torch::Tensor swap_patches(const torch::Tensor& x, int64_t patch, const torch::Tensor& corners) {
  torch::Tensor out = x.clone();
  const auto cube = [&](int64_t d, int64_t h, int64_t w) {
    return out.narrow(-3, d, patch).narrow(-2, h, patch).narrow(-1, w, patch);
  };
  for (int64_t i = 0; i < corners.size(0); ++i) {
    const auto c = corners[i];
    auto first = cube(c[0].item<int64_t>(), c[1].item<int64_t>(), c[2].item<int64_t>());
    auto second = cube(c[3].item<int64_t>(), c[4].item<int64_t>(), c[5].item<int64_t>());
    const auto second_before = second.clone();
    second.copy_(first);
    first.copy_(second_before);
  }
  return out;
}

}  // namespace cdl::data

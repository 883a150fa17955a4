// Implementation of the augmentations: the draws of ClinicaDL's parameters from one sample's
// random source, and the transforms (their TorchIO counterparts are those of TorchIO 0.18, the
// version ClinicaDL 1.6 installs).
#include "cdl/data/augmentation.hpp"

#include <algorithm>
#include <array>
#include <cmath>

#include "cdl/core/error.hpp"
#include "cdl/core/random.hpp"
#include "cdl/data/kspace_artifacts.hpp"
#include "cdl/data/volume_filters.hpp"

namespace cdl::data {
namespace {

const std::vector<std::pair<Augmentation, const char*>>& names() {
  static const std::vector<std::pair<Augmentation, const char*>> table{
      {Augmentation::kNoise, "Noise"},           {Augmentation::kErasing, "Erasing"},
      {Augmentation::kCropPad, "CropPad"},       {Augmentation::kSmoothing, "Smoothing"},
      {Augmentation::kMotion, "Motion"},         {Augmentation::kGhosting, "Ghosting"},
      {Augmentation::kSpike, "Spike"},           {Augmentation::kBiasField, "BiasField"},
      {Augmentation::kRandomBlur, "RandomBlur"}, {Augmentation::kRandomSwap, "RandomSwap"}};
  return table;
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

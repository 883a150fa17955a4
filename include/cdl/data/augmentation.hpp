// ClinicaDL's data augmentations (reference 4.13, `--data_augmentation`): Noise, Erasing,
// CropPad and Smoothing (ClinicaDL's own), Motion, Ghosting, Spike, BiasField, RandomBlur and
// RandomSwap (TorchIO's, with ClinicaDL's parameters). They run on training samples only, after
// NaN removal and MinMax, on the loader's I/O thread, in the order the user gave. Each sample's
// random draws come from (seed, epoch, sample index) alone, so an augmented training does not
// depend on the number of ranks, nor on which rank reads which sample.
//
// Every augmentation is a random draw of parameters followed by a deterministic transform; the
// transforms are public so that tests compare them with known answers, SciPy and TorchIO: the
// simple ones here, the filters in volume_filters.hpp, TorchIO's k-space artifacts in
// kspace_artifacts.hpp.
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <random>
#include <string>
#include <vector>

namespace cdl::data {

enum class Augmentation {
  kNoise,
  kErasing,
  kCropPad,
  kSmoothing,
  kMotion,
  kGhosting,
  kSpike,
  kBiasField,
  kRandomBlur,
  kRandomSwap
};

/// The augmentations named by `names` (ClinicaDL's spellings; "None" names none), in order.
/// Throws ConfigError naming an unknown name and listing the known ones.
std::vector<Augmentation> parse_augmentations(const std::vector<std::string>& names);

/// ClinicaDL's name of `augmentation`.
const char* augmentation_name(Augmentation augmentation);

/// True for TorchIO's transforms, which need 3D samples [C, D, H, W].
bool needs_3d(Augmentation augmentation);

/// The random source of one sample's augmentations: seeded by (seed, epoch, sample index) only.
class SampleRandom {
 public:
  SampleRandom(uint64_t seed, int64_t epoch, int64_t sample);
  /// Uniform in [low, high).
  double uniform(double low, double high);
  /// Uniform integer in [low, high] (both included).
  int64_t integer(int64_t low, int64_t high);
  /// The next 64 random bits (the seed of per-voxel noise).
  uint64_t bits();

 private:
  std::mt19937_64 engine_;
};

/// Applies `augmentations` in order to `sample` ([C, H, W] or [C, D, H, W], float32) and returns
/// the augmented sample (same shape).
torch::Tensor augment(const torch::Tensor& sample, const std::vector<Augmentation>& augmentations,
                      SampleRandom& random);

// --- the deterministic transforms -------------------------------------------------------------

/// x + sigma * N(0, 1), the normal draws from SplitMix64(seed) (fill_standard_normal), float32.
torch::Tensor add_noise(const torch::Tensor& x, double sigma, uint64_t seed);

/// x with the box [top, top + height) x [left, left + width) of its last two axes set to 0, in
/// every leading plane (torchvision's RandomErasing on the tensor).
torch::Tensor erase_box(const torch::Tensor& x, int64_t top, int64_t left, int64_t height,
                        int64_t width);

/// x translated: out[..., i, ...] = x[..., i + shift, ...] along each spatial axis (`shifts`
/// in axis order, one per spatial axis), zeros where that falls outside.
torch::Tensor crop_pad(const torch::Tensor& x, const std::vector<int64_t>& shifts);

/// TorchIO's bias field of polynomial `order` on [C, D, H, W]: x * exp(sum of coefficient x
/// X^i Y^j Z^k, i + j + k <= order), coordinates centred and scaled to [-1, 1] per axis, the
/// coefficients in the order of i, then j, then k ascending ((order+1)(order+2)(order+3)/6).
torch::Tensor bias_field(const torch::Tensor& x, const std::vector<double>& coefficients,
                         int order);

/// TorchIO's Swap: for each pair of corners (rows of `corners`: [n, 6], first then second
/// corner, D H W), the cubes of edge `patch` there exchange their voxels, one pair after the
/// other (the first cube copied onto the second, then the second's old voxels onto the first).
torch::Tensor swap_patches(const torch::Tensor& x, int64_t patch, const torch::Tensor& corners);

}  // namespace cdl::data

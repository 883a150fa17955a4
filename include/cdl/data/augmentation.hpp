// ClinicaDL's data augmentations (reference 4.13, `--data_augmentation`): Noise, Erasing,
// CropPad and Smoothing (ClinicaDL's own), Motion, Ghosting, Spike, BiasField, RandomBlur and
// RandomSwap (TorchIO's, with ClinicaDL's parameters). They run on training samples only, after
// NaN removal and MinMax, on the loader's I/O thread, in the order the user gave. Each sample's
// random draws come from (seed, epoch, sample index) alone, so an augmented training does not
// depend on the number of ranks, nor on which rank reads which sample.
//
// Every augmentation is a random draw of parameters followed by a deterministic transform; the
// transforms are public so that tests compare them with known answers, SciPy and TorchIO.
#pragma once

#include <torch/torch.h>

#include <array>
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

/// SciPy's gaussian_filter: a separable Gaussian of standard deviation `sigmas[a]` along each
/// axis a of x (0: that axis untouched), truncated at 4 sigmas, with SciPy's "reflect"
/// boundary (the edge voxel repeated: d c b a | a b c d | d c b a).
torch::Tensor gaussian_filter(const torch::Tensor& x, const std::vector<double>& sigmas);

/// TorchIO's bias field of polynomial `order` on [C, D, H, W]: x * exp(sum of coefficient x
/// X^i Y^j Z^k, i + j + k <= order), coordinates centred and scaled to [-1, 1] per axis, the
/// coefficients in the order of i, then j, then k ascending ((order+1)(order+2)(order+3)/6).
torch::Tensor bias_field(const torch::Tensor& x, const std::vector<double>& coefficients,
                         int order);

/// TorchIO's Spike: in the centred k-space of each channel, each position (fractions of the
/// shape, [n, 3]) gains the largest magnitude of the spectrum times `intensity`.
torch::Tensor spike(const torch::Tensor& x, const torch::Tensor& positions, double intensity);

/// TorchIO's Ghosting (0.18, ClinicaDL's): in the centred k-space of each channel, every
/// `num_ghosts`-th plane along spatial `axis` (0: D, 1: H, 2: W) is scaled by 1 - intensity,
/// except the central plane (length / 2), which is kept.
torch::Tensor ghosting(const torch::Tensor& x, int64_t num_ghosts, int axis, double intensity);

/// TorchIO's Motion (0.18, ClinicaDL's): the images of each channel under rigid transforms
/// (`degrees` and `translations`, [n, 3], about and along SimpleITK's axes of a tensor with
/// TorchIO's identity affine, through the centre; trilinear, the channel's minimum outside) fill
/// its centred k-space in segments along the last axis cut at floor(times x W), the original
/// image taking the segment at the centre of k-space (`times`: n values in (0, 1), increasing).
torch::Tensor motion(const torch::Tensor& x, const torch::Tensor& degrees,
                     const torch::Tensor& translations, const std::vector<double>& times);

/// One channel [D, H, W] (contiguous float32) resampled at source index s = A q + b of each
/// output index q (A row-major 3x3): trilinear, the index clamped to the grid within half a
/// voxel of it, `outside` beyond (ITK's linear resampling of an image with its border voxels
/// repeated, which Motion applies).
torch::Tensor resample_linear(const torch::Tensor& channel, const std::array<double, 9>& a,
                              const std::array<double, 3>& b, float outside);

/// TorchIO's Swap: for each pair of corners (rows of `corners`: [n, 6], first then second
/// corner, D H W), the cubes of edge `patch` there exchange their voxels, one pair after the
/// other (the first cube copied onto the second, then the second's old voxels onto the first).
torch::Tensor swap_patches(const torch::Tensor& x, int64_t patch, const torch::Tensor& corners);

}  // namespace cdl::data

// TorchIO's k-space artifacts (0.18, ClinicaDL's): Spike, Ghosting and Motion, with TorchIO's
// results (its centred fftn edited, the real part of the inverse kept) computed on half spectra.
#pragma once

#include <torch/torch.h>

#include <vector>

namespace cdl::data {

/// TorchIO's Spike: in the centred k-space of each channel, each position in turn (fractions of
/// the shape, [n, 3]) gains the spectrum's largest element (NumPy's max: the largest real part;
/// the spikes before it included) times `intensity`.
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

}  // namespace cdl::data

// Implementation of TorchIO's k-space artifacts (Spike, Ghosting, Motion) on half spectra.
#include "cdl/data/kspace_artifacts.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <complex>
#include <optional>
#include <utility>
#include <vector>

#include "cdl/core/error.hpp"
#include "cdl/data/volume_filters.hpp"

namespace cdl::data {
namespace {

constexpr double kPi = 3.14159265358979323846;

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
      : half_(half.contiguous()), sizes_{sizes[0], sizes[1], sizes[2]} {}

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
    const int64_t width = half_.size(2), rows = half_.size(1);
    for (const int64_t flat : largest_real_parts(added.size() + 1)) {
      const Frequency k{flat / (rows * width), (flat / width) % rows, flat % width};
      for (const Frequency& member : {k, mirror(k)}) {
        if (!edited(member)) consider(at(member));
      }
    }
    for (const auto& [k, value] : added) consider(at(k) + value);
    return *best;
  }

 private:
  /// The flat indices of the `count` stored elements with the largest real parts, largest
  /// first: one pass over the half spectrum.
  std::vector<int64_t> largest_real_parts(size_t count) const {
    const auto* values = half_.data_ptr<c10::complex<float>>();
    const int64_t total = half_.numel();
    count = std::min(count, static_cast<size_t>(total));
    std::vector<int64_t> top;  // sorted by decreasing real part
    if (count == 0) return top;
    for (int64_t i = 0; i < total; ++i) {
      const float real = values[i].real();
      if (top.size() == count && !(real > values[top.back()].real())) continue;
      if (top.size() == count) top.pop_back();
      auto at = top.end();
      while (at != top.begin() && values[*(at - 1)].real() < real) --at;
      top.insert(at, i);
    }
    return top;
  }

  torch::Tensor half_;  // contiguous
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

}  // namespace

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
    // Each frequency's weights over the images sum to one, so the result is the original image
    // plus the weighted spectra of the moved images' differences from it: the original's own
    // spectrum is never needed (a zero spectrum stands for its difference).
    std::vector<torch::Tensor> spectra{torch::Tensor()};
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
      spectra.push_back(half_spectra_along(resample_linear(image, a, b, outside).sub_(image), 2));
    }
    if (spectra.size() == 1) return image.clone();  // no motion
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
    torch::Tensor half = torch::empty_like(spectra[centre == 0 ? 1 : 0]);  // a moved one's
    const int64_t stored = half.size(2), rows = half.numel() / stored;
    auto* out = half.data_ptr<c10::complex<float>>();
    const std::vector<c10::complex<float>> zeros(static_cast<size_t>(stored));
    std::vector<const c10::complex<float>*> in;  // per image; none for the original
    for (const auto& spectrum : spectra)
      in.push_back(spectrum.defined() ? spectrum.data_ptr<c10::complex<float>>() : nullptr);
    std::vector<size_t> own, other;
    for (int64_t f = 0; f < stored; ++f) {
      own.push_back(segment_of[centred_index(f, width)]);
      other.push_back(segment_of[centred_index(opposite(f, width), width)]);
    }
    std::vector<const c10::complex<float>*> row_of(in.size());  // each image's current row
    for (int64_t row = 0; row < rows; ++row) {
      const int64_t offset = row * stored;
      for (size_t image = 0; image < in.size(); ++image)
        row_of[image] = in[image] ? in[image] + offset : zeros.data();
      for (int64_t f = 0; f < stored; ++f) {
        out[offset + f] =
            (row_of[own[f]][f] + row_of[other[f]][f]) * c10::complex<float>(0.5f, 0.f);
      }
    }
    return image_along(half, 2, width).add_(image);
  });
}

}  // namespace cdl::data

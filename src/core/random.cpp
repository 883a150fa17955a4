// The ziggurat of the standard normal (Marsaglia and Tsang, "The Ziggurat Method for Generating
// Random Variables", 2000), 256 layers of equal area under f(x) = exp(-x^2 / 2) on x >= 0: the
// base layer (a rectangle up to R plus the tail beyond it) and 255 rectangles stacked above it.
// A draw picks a layer and a point along its width; inside the next layer's width it is under
// the curve for sure (the fast path), otherwise it is tested against f or, in the base layer,
// drawn from the tail.
#include "cdl/core/random.hpp"

#include <array>
#include <cmath>

namespace cdl {
namespace {

constexpr int kLayers = 256;
constexpr double kTailStart = 3.6541528853610088;  // R: where the tail begins
constexpr double kLayerArea = 4.92867323399e-3;    // V: the area of every layer

double density(double x) {
  return std::exp(-0.5 * x * x);
}

/// x[i]: the width of layer i (x[0] = V / f(R) for the base layer, x[1] = R, decreasing to
/// x[256] = 0); f_at[i] = f(x[i]).
struct Ziggurat {
  std::array<double, kLayers + 1> x{};
  std::array<double, kLayers + 1> f_at{};
  Ziggurat() {
    x[0] = kLayerArea / density(kTailStart);
    x[1] = kTailStart;
    for (int i = 1; i < kLayers - 1; ++i) {
      x[i + 1] = std::sqrt(-2.0 * std::log(kLayerArea / x[i] + density(x[i])));
    }
    x[kLayers] = 0.0;
    for (int i = 0; i <= kLayers; ++i) f_at[i] = density(x[i]);
  }
};

const Ziggurat& ziggurat() {
  static const Ziggurat table;
  return table;
}

/// A uniform double in (0, 1] (never 0: its logarithm is taken).
double open_uniform(SplitMix64& bits) {
  return (static_cast<double>(bits.next() >> 11) + 1.0) * 0x1.0p-53;
}

/// A draw from the normal tail beyond R (Marsaglia 1964), positive.
double tail_draw(SplitMix64& bits) {
  double a = 0, b = 0;
  do {
    a = -std::log(open_uniform(bits)) / kTailStart;
    b = -std::log(open_uniform(bits));
  } while (2.0 * b <= a * a);
  return kTailStart + a;
}

double draw(SplitMix64& bits, const Ziggurat& table);

/// The rare end of a draw whose point fell outside the next layer's width: the tail (base
/// layer), or the test against the curve in the wedge, or, rejected there, a new draw. Kept out
/// of line so that the fast path stays a few instructions inside the caller's loop.
double finish_draw(SplitMix64& bits, const Ziggurat& table, int layer, double z, double sign) {
  if (layer == 0) return sign * tail_draw(bits);
  const double height =
      table.f_at[layer] + bits.uniform() * (table.f_at[layer + 1] - table.f_at[layer]);
  if (height < density(z)) return sign * z;
  return draw(bits, table);
}

inline double draw(SplitMix64& bits, const Ziggurat& table) {
  const uint64_t r = bits.next();
  const int layer = static_cast<int>(r & 0xFF);
  // The sign as a factor, not a branch: a random bit mispredicts half the time.
  const double sign = 1.0 - 2.0 * static_cast<double>((r >> 8) & 1);
  const double along = static_cast<double>(r >> 11) * 0x1.0p-53;  // [0, 1)
  const double z = along * table.x[layer];
  if (z < table.x[layer + 1]) return sign * z;
  return finish_draw(bits, table, layer, z, sign);
}

/// The layer widths in single precision, for the fast path of float draws.
struct FloatWidths {
  std::array<float, kLayers + 1> x{};
  explicit FloatWidths(const Ziggurat& table) {
    for (int i = 0; i <= kLayers; ++i) x[i] = static_cast<float>(table.x[i]);
  }
};

/// A draw from 32 random bits (layer: 8 bits, sign: 1, position along the layer: 23, the
/// precision of a float), the rare rest from `bits` in double precision.
inline float draw_from_32_bits(uint32_t r, SplitMix64& bits, const Ziggurat& table,
                               const FloatWidths& widths) {
  const int layer = static_cast<int>(r & 0xFF);
  const float sign = 1.0f - 2.0f * static_cast<float>((r >> 8) & 1);
  const float along = static_cast<float>(r >> 9) * 0x1.0p-23f;  // [0, 1)
  const float z = along * widths.x[layer];
  if (z < widths.x[layer + 1]) return sign * z;
  return static_cast<float>(
      finish_draw(bits, table, layer, static_cast<double>(along) * table.x[layer], sign));
}

}  // namespace

void fill_standard_normal(SplitMix64& bits, float* values, size_t count) {
  const Ziggurat& table = ziggurat();
  static const FloatWidths widths(table);
  size_t i = 0;
  for (; i + 1 < count; i += 2) {
    const uint64_t r = bits.next();
    values[i] = draw_from_32_bits(static_cast<uint32_t>(r), bits, table, widths);
    values[i + 1] = draw_from_32_bits(static_cast<uint32_t>(r >> 32), bits, table, widths);
  }
  if (i < count)
    values[i] = draw_from_32_bits(static_cast<uint32_t>(bits.next()), bits, table, widths);
}

double standard_normal(SplitMix64& bits) {
  return draw(bits, ziggurat());
}

}  // namespace cdl

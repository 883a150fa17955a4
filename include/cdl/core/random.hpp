// SplitMix64: the engine's one portable random source. Fully specified (the same numbers on
// every compiler, platform and library version, unlike std::uniform_int_distribution or
// std::shuffle), so that shuffles, dropout seeds, augmentations and random-search samples are
// reproducible from a seed alone.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace cdl {

/// SplitMix64's output function applied to x + golden gamma: a well-mixed 64-bit value from any
/// input (used to derive independent seeds from (seed, epoch, index) tuples).
inline uint64_t mix_bits(uint64_t x) {
  x += 0x9E3779B97F4A7C15ULL;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
  return x ^ (x >> 31);
}

/// FNV-1a of `text`: a stable 64-bit fingerprint of a name (a random-search key, a host name).
inline uint64_t text_hash(std::string_view text) {
  uint64_t hash = 0xCBF29CE484222325ULL;
  for (const unsigned char c : text) hash = (hash ^ c) * 0x100000001B3ULL;
  return hash;
}

/// The SplitMix64 generator (Steele, Lea and Flood 2014).
class SplitMix64 {
 public:
  explicit SplitMix64(uint64_t seed) : state_(seed) {}
  /// The next 64 random bits.
  uint64_t next() {
    const uint64_t value = mix_bits(state_);
    state_ += 0x9E3779B97F4A7C15ULL;
    return value;
  }
  /// Uniform integer in [0, n) without modulo bias; n > 0.
  uint64_t below(uint64_t n) {
    const uint64_t threshold = (0 - n) % n;
    while (true) {
      const uint64_t r = next();
      if (r >= threshold) return r % n;
    }
  }
  /// Uniform double in [0, 1).
  double uniform() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }

 private:
  uint64_t state_;
};

/// Fills `values[0, count)` with independent standard normal draws (mean 0, variance 1) from
/// `bits`: Marsaglia and Tsang's ziggurat (2000) over 256 layers, in single precision: each
/// 64-bit draw gives two values (32 bits each: layer, sign and 23 bits of position, a float's
/// precision) for all but about 1 % of them, which finish in double precision. Fully specified
/// like SplitMix64 itself (no library distribution), and about four times faster than
/// LibTorch's CPU randn, which matters on the I/O thread that adds noise to every augmented
/// voxel.
void fill_standard_normal(SplitMix64& bits, float* values, size_t count);

/// One standard normal draw from `bits` in double precision (the same ziggurat, one 64-bit draw
/// per value but for about 1 %).
double standard_normal(SplitMix64& bits);

}  // namespace cdl

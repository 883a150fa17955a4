// Progress bar (only on a terminal) and the one-line summary of a conversion.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace cdl::data_tools {

/// Draws "[#####.....] 12/40 images" on stderr when it is a TTY and `enabled`.
class Progress {
 public:
  /// Starts the clock.
  Progress(int64_t total, bool enabled);
  /// Records `done` images and `bytes` converted so far.
  void update(int64_t done, double bytes);
  /// Clears the bar and returns the summary line ("N images, G GB, S s, R MB/s").
  std::string finish();
  /// Seconds since construction.
  double seconds() const;

 private:
  int64_t total_;
  bool draw_;
  int64_t done_ = 0;
  double bytes_ = 0.0;
  std::chrono::steady_clock::time_point start_;
};

}  // namespace cdl::data_tools

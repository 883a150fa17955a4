// The progress of a conversion: a core ProgressLine on a terminal, and its one-line summary.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "cdl/core/progress.hpp"

namespace cdl::data_tools {

/// Draws "converting: 12/40 images, 85.0 MB/s" on stderr when it is a TTY and `enabled`.
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
  std::unique_ptr<ProgressLine> line_;
  int64_t done_ = 0;
  double bytes_ = 0.0;
  std::chrono::steady_clock::time_point start_;
};

}  // namespace cdl::data_tools

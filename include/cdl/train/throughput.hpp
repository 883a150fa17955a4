// Throughput: what a split's training reports about its speed, counted epoch by epoch: samples
// per second over all epochs and without the run's first (warm-up: cuDNN autotuning, the image
// cache filling), and the share of training time spent waiting for data.
#pragma once

#include <cstdint>

namespace cdl::train {

/// Training speed of one run of a split (a resumed run counts from its own first epoch).
class Throughput {
 public:
  /// Records one epoch: `samples` trained (all ranks), `seconds` of training, `wait_seconds`
  /// of it spent waiting for batches.
  void add_epoch(int64_t samples, double seconds, double wait_seconds);

  /// Samples per second over every recorded epoch (0 before any).
  double samples_per_second() const;
  /// The same without the run's first epoch; equal to samples_per_second() with one epoch only.
  double steady_samples_per_second() const;
  /// Share of training time spent waiting for data.
  double data_wait_fraction() const;
  /// Seconds of training over every recorded epoch.
  double seconds() const { return seconds_; }

 private:
  int64_t epochs_ = 0;
  int64_t samples_ = 0;
  double seconds_ = 0.0;
  double wait_seconds_ = 0.0;
  int64_t first_samples_ = 0;
  double first_seconds_ = 0.0;
};

}  // namespace cdl::train

// ProgressLine: the one progress display of the engine and caps2h5, a line for terminals ("epoch 3:
// 120/400 batches, 41.2 samples/s"; "converting: 12/40 images, 85.0 MB/s"), redrawn in place at
// most every `interval` seconds, and cleared when done. The trainer shows one on rank 0 and the
// converter on its main rank when standard error is a terminal (design section 7); in logs and
// batch jobs nothing is printed.
#pragma once

#include <chrono>
#include <cstdint>
#include <ostream>
#include <string>

namespace cdl {

/// What a progress line counts, and the unit of the rate it shows.
struct ProgressUnits {
  std::string steps = "batches";   ///< "3/40 batches"
  std::string rate = "samples/s";  ///< ", 41.2 samples/s": update's `amount` per second
};

/// Progress of `total` steps, drawn on `out` (null: disabled).
class ProgressLine {
 public:
  using Clock = std::chrono::steady_clock;

  ProgressLine(std::ostream* out, std::string label, int64_t total, double interval_seconds = 1.0,
               ProgressUnits units = {});
  ~ProgressLine();
  ProgressLine(const ProgressLine&) = delete;
  ProgressLine& operator=(const ProgressLine&) = delete;

  /// Records that `done` steps are finished, having processed `amount` (samples, megabytes: what
  /// the rate counts) since the start; redraws when the last drawing is older than the interval.
  /// `now` is for tests.
  void update(int64_t done, double amount, Clock::time_point now = Clock::now());
  /// Erases the line (the caller's own log line follows). Called by the destructor.
  void finish();

 private:
  std::ostream* out_;
  std::string label_;
  int64_t total_;
  std::chrono::duration<double> interval_;
  ProgressUnits units_;
  Clock::time_point start_ = Clock::now();
  Clock::time_point last_draw_{};
  size_t drawn_width_ = 0;
};

}  // namespace cdl

// PhaseProfiler (--profiler): where each rank's time goes during the first epochs of a training,
// phase by phase (data wait, forward, backward, gradient reduction, optimizer, evaluation,
// checkpoints). Written as a Chrome trace (JSON "traceEvents": chrome://tracing, Perfetto and
// TensorBoard's trace viewer open it), one process per rank, and summarised in the log.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include <torch/types.h>

#include "cdl/comm/communicator.hpp"

namespace cdl::train {

/// The phases of a training step and epoch.
enum class Phase {
  kDataWait,
  kForward,
  kBackward,
  kReduction,
  kOptimizer,
  kEvaluation,
  kCheckpoint
};

/// The name of `phase` in traces and tables ("data wait", "forward" ...).
const char* phase_name(Phase phase);

class PhaseProfiler {
 public:
  using Clock = std::chrono::steady_clock;

  /// Records while `enabled` and not stopped. `synchronize` (optional) waits for the device at
  /// the end of each phase, so that asynchronous GPU work lands in the phase that queued it.
  explicit PhaseProfiler(bool enabled, std::function<void()> synchronize = {});

  /// True while phases are recorded.
  bool recording() const { return recording_; }

  /// Measures one phase from its construction to its destruction (nothing when not recording).
  class Scope {
   public:
    Scope(PhaseProfiler* profiler, Phase phase);
    ~Scope();
    Scope(const Scope&) = delete;
    Scope& operator=(const Scope&) = delete;

   private:
    PhaseProfiler* profiler_;
    Phase phase_;
    Clock::time_point start_;
  };

  /// Records one phase that started `start_us` microseconds after the profiler was made.
  void record(Phase phase, double start_us, double duration_us);

  /// Ends the recording (the events so far are kept).
  void stop() { recording_ = false; }

  /// This rank's events: float64 [n, 3] rows of (phase, start us, duration us).
  torch::Tensor events() const;

  /// Collective over `ranks`: gathers every rank's events on the main rank, which writes the
  /// Chrome trace to `path` (process = rank, `title` in its metadata) and returns the summary
  /// table (per phase: seconds summed over ranks, share, calls, ms per call, the slowest rank);
  /// other ranks return "".
  std::string write(comm::Communicator& ranks, const std::string& path,
                    const std::string& title) const;

 private:
  bool recording_;
  std::function<void()> synchronize_;
  Clock::time_point origin_ = Clock::now();
  std::vector<double> rows_;  // phase, start, duration, ...
};

}  // namespace cdl::train

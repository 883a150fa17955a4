// Implementation of the phase profiler: scoped timings, the gather of every rank's events, the
// Chrome trace and the summary table.
#include "cdl/train/phase_profiler.hpp"

#include <torch/torch.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <map>
#include <nlohmann/json.hpp>

#include "cdl/core/atomic_file.hpp"

namespace cdl::train {
namespace {

constexpr int kPhases = 7;
constexpr size_t kMaxEvents = 200000;  // per rank: a few MB of trace at most

/// Per phase, over all ranks: seconds, calls, and each rank's seconds.
struct PhaseTotals {
  double seconds = 0;
  int64_t calls = 0;
  std::map<int, double> per_rank;
};

std::string summary_table(const std::array<PhaseTotals, kPhases>& totals, int ranks) {
  double all = 0;
  for (const auto& t : totals) all += t.seconds;
  std::string table = "  phase        seconds   share    calls   ms/call   slowest rank\n";
  for (int p = 0; p < kPhases; ++p) {
    const auto& t = totals[p];
    if (t.calls == 0) continue;
    const auto slowest =
        std::max_element(t.per_rank.begin(), t.per_rank.end(),
                         [](const auto& a, const auto& b) { return a.second < b.second; });
    char line[160];
    std::snprintf(line, sizeof(line), "  %-11s %8.3f  %5.1f%%  %7lld  %8.3f   %d (%.3f s)\n",
                  phase_name(static_cast<Phase>(p)), t.seconds,
                  all > 0 ? 100.0 * t.seconds / all : 0.0, static_cast<long long>(t.calls),
                  1000.0 * t.seconds / static_cast<double>(t.calls), slowest->first,
                  slowest->second);
    table += line;
  }
  char last[96];
  std::snprintf(last, sizeof(last), "  (seconds summed over %d rank(s))", ranks);
  return table + last;
}

}  // namespace

const char* phase_name(Phase phase) {
  switch (phase) {
    case Phase::kDataWait:
      return "data wait";
    case Phase::kForward:
      return "forward";
    case Phase::kBackward:
      return "backward";
    case Phase::kReduction:
      return "reduction";
    case Phase::kOptimizer:
      return "optimizer";
    case Phase::kEvaluation:
      return "evaluation";
    case Phase::kCheckpoint:
      return "checkpoint";
  }
  return "?";
}

PhaseProfiler::PhaseProfiler(bool enabled, std::function<void()> synchronize)
    : recording_(enabled), synchronize_(std::move(synchronize)) {}

PhaseProfiler::Scope::Scope(PhaseProfiler* profiler, Phase phase)
    : profiler_(profiler != nullptr && profiler->recording() ? profiler : nullptr),
      phase_(phase),
      start_(Clock::now()) {}

PhaseProfiler::Scope::~Scope() {
  if (profiler_ == nullptr) return;
  if (profiler_->synchronize_) profiler_->synchronize_();
  const auto end = Clock::now();
  using Micro = std::chrono::duration<double, std::micro>;
  profiler_->record(phase_, Micro(start_ - profiler_->origin_).count(),
                    Micro(end - start_).count());
}

void PhaseProfiler::record(Phase phase, double start_us, double duration_us) {
  if (!recording_ || rows_.size() >= 3 * kMaxEvents) return;
  rows_.insert(rows_.end(), {static_cast<double>(phase), start_us, duration_us});
}

torch::Tensor PhaseProfiler::events() const {
  const auto n = static_cast<int64_t>(rows_.size() / 3);
  return torch::tensor(rows_, torch::kFloat64).reshape({n, 3});
}

std::string PhaseProfiler::write(comm::Communicator& ranks, const std::string& path,
                                 const std::string& title) const {
  const auto local = events();
  auto rows =
      torch::cat({torch::full({local.size(0), 1}, ranks.rank(), torch::kFloat64), local}, 1);
  const auto all = ranks.gather_rows(rows.contiguous(), 0);
  if (!ranks.is_main()) return "";
  nlohmann::json trace = {{"displayTimeUnit", "ms"},
                          {"otherData", {{"title", title}, {"ranks", ranks.size()}}}};
  auto& events_json = trace["traceEvents"] = nlohmann::json::array();
  for (int r = 0; r < ranks.size(); ++r) {
    events_json.push_back({{"name", "process_name"},
                           {"ph", "M"},
                           {"pid", r},
                           {"args", {{"name", "rank " + std::to_string(r)}}}});
  }
  std::array<PhaseTotals, kPhases> totals;
  const auto data = all.accessor<double, 2>();
  for (int64_t i = 0; i < all.size(0); ++i) {
    const int rank = static_cast<int>(data[i][0]);
    const int phase = static_cast<int>(data[i][1]);
    events_json.push_back({{"name", phase_name(static_cast<Phase>(phase))},
                           {"cat", "training"},
                           {"ph", "X"},
                           {"pid", rank},
                           {"tid", 0},
                           {"ts", data[i][2]},
                           {"dur", data[i][3]}});
    auto& t = totals.at(phase);
    t.seconds += data[i][3] * 1e-6;
    t.calls += 1;
    t.per_rank[rank] += data[i][3] * 1e-6;
  }
  write_text_atomically(path, trace.dump());
  return summary_table(totals, ranks.size());
}

}  // namespace cdl::train

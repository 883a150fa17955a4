// The phase profiler: recorded phases gathered from every rank into one Chrome trace, the
// summary table's sums, shares and slowest rank (hand-computed), scopes that record only while
// recording.
#include "cdl/train/phase_profiler.hpp"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <thread>

#include "cdl/comm/serial_communicator.hpp"
#include "cdl/core/atomic_file.hpp"
#include "test_files.hpp"
#include "thread_group.hpp"

namespace cdl::train {
namespace {

TEST(PhaseProfiler, TraceOfEveryRankAndItsSummary) {
  data::testing::TempDir dir;
  const std::string path = dir.file("profiler/trace.json");
  std::vector<std::string> tables(3);
  testing::run_thread_group(3, [&](comm::Communicator& ranks) {
    PhaseProfiler profiler(true);
    const double scale = 1.0 + ranks.rank();  // rank r's phases last (1 + r) times longer
    profiler.record(Phase::kForward, 0, 100000 * scale);  // 0.1 s x scale
    profiler.record(Phase::kBackward, 100000, 300000 * scale);
    profiler.record(Phase::kForward, 500000, 100000 * scale);
    profiler.stop();
    profiler.record(Phase::kOptimizer, 900000, 1e6);  // after stop: not recorded
    tables[ranks.rank()] = profiler.write(ranks, path, "split 0");
  });
  EXPECT_EQ(tables[1], "");
  EXPECT_EQ(tables[2], "");
  // forward: 2 calls x 0.1 s x (1 + 2 + 3) = 1.2 s; backward 0.3 s x 6 = 1.8 s; shares 40/60 %.
  const std::string& table = tables[0];
  EXPECT_NE(table.find("forward        1.200   40.0%        6   200.000   2 (0.600 s)"),
            std::string::npos)
      << table;
  EXPECT_NE(table.find("backward       1.800   60.0%        3   600.000   2 (0.900 s)"),
            std::string::npos)
      << table;
  EXPECT_EQ(table.find("optimizer"), std::string::npos);
  EXPECT_NE(table.find("summed over 3 rank(s)"), std::string::npos);
  const auto trace = nlohmann::json::parse(read_text_file(path));
  EXPECT_EQ(trace["otherData"]["title"], "split 0");
  int complete = 0, named = 0;
  for (const auto& event : trace["traceEvents"]) {
    if (event["ph"] == "M") {
      EXPECT_EQ(event["args"]["name"], "rank " + std::to_string(event["pid"].get<int>()));
      ++named;
      continue;
    }
    ++complete;
    if (event["pid"] == 2 && event["name"] == "backward") {
      EXPECT_DOUBLE_EQ(event["ts"].get<double>(), 100000.0);
      EXPECT_DOUBLE_EQ(event["dur"].get<double>(), 900000.0);
    }
  }
  EXPECT_EQ(named, 3);
  EXPECT_EQ(complete, 9);
}

TEST(PhaseProfiler, ScopesRecordOnlyWhileRecording) {
  PhaseProfiler off(false);
  { const PhaseProfiler::Scope scope(&off, Phase::kForward); }
  EXPECT_EQ(off.events().size(0), 0);
  int synchronised = 0;
  PhaseProfiler on(true, [&] { ++synchronised; });
  {
    const PhaseProfiler::Scope scope(&on, Phase::kDataWait);
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  { const PhaseProfiler::Scope none(nullptr, Phase::kForward); }
  const auto events = on.events();
  ASSERT_EQ(events.size(0), 1);
  EXPECT_EQ(events[0][0].item<double>(), static_cast<double>(Phase::kDataWait));
  EXPECT_GE(events[0][2].item<double>(), 20000.0);
  EXPECT_EQ(synchronised, 1);
}

}  // namespace
}  // namespace cdl::train

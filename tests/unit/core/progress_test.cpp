// The progress line redraws in place at most once per interval and erases itself when done.
#include "cdl/core/progress.hpp"

#include <gtest/gtest.h>

#include <sstream>

namespace cdl {
namespace {

TEST(ProgressLine, RedrawsAtMostOncePerIntervalAndErasesItself) {
  std::ostringstream out;
  const auto t0 = ProgressLine::Clock::now();
  {
    ProgressLine line(&out, "epoch 2", 10, /*interval_seconds=*/1.0);
    line.update(1, 4, t0 + std::chrono::milliseconds(500));
    line.update(2, 8, t0 + std::chrono::milliseconds(900));    // within the interval: skipped
    line.update(5, 20, t0 + std::chrono::milliseconds(1600));  // redrawn
  }
  const std::string text = out.str();
  EXPECT_NE(text.find("\repoch 2: 1/10 batches"), std::string::npos) << text;
  EXPECT_EQ(text.find("2/10"), std::string::npos) << text;
  EXPECT_NE(text.find("\repoch 2: 5/10 batches"), std::string::npos) << text;
  EXPECT_EQ(text.back(), '\r');  // erased: the next log line starts at column 0
  EXPECT_EQ(text.find('\n'), std::string::npos);
}

TEST(ProgressLine, CountsAndRatesInTheUnitsAsked) {
  std::ostringstream out;
  const auto t0 = ProgressLine::Clock::now();
  {
    ProgressLine line(&out, "converting", 40, 0.25, ProgressUnits{"images", "MB/s"});
    line.update(12, 170.0, t0 + std::chrono::seconds(2));  // 170 MB in 2 s
  }
  EXPECT_NE(out.str().find("\rconverting: 12/40 images, 85.0 MB/s"), std::string::npos)
      << out.str();
}

}  // namespace
}  // namespace cdl

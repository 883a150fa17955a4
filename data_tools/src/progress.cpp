// Progress of a conversion and its summary.
#include "caps2h5/progress.hpp"

#include <algorithm>
#include <cstdio>
#include <iostream>

#include "cdl/core/logging.hpp"

namespace cdl::data_tools {

Progress::Progress(int64_t total, bool enabled)
    : total_(total),
      line_(std::make_unique<ProgressLine>(enabled && log::is_tty() ? &std::cerr : nullptr,
                                           "converting", total, /*interval_seconds=*/0.25,
                                           ProgressUnits{"images", "MB/s"})),
      start_(std::chrono::steady_clock::now()) {}

double Progress::seconds() const {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
}

void Progress::update(int64_t done, double bytes) {
  done_ = done;
  bytes_ = bytes;
  line_->update(done, bytes / 1e6);
}

std::string Progress::finish() {
  line_->finish();
  const double s = seconds();
  char line[160];
  std::snprintf(line, sizeof line, "%lld images, %.3f GB, %.2f s, %.1f MB/s", (long long)done_,
                bytes_ / 1e9, s, bytes_ / 1e6 / std::max(1e-9, s));
  return line;
}

}  // namespace cdl::data_tools

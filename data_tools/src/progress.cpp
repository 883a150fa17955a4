// Progress bar and summary.
#include "caps2h5/progress.hpp"

#include <cstdio>

#include "cdl/core/logging.hpp"

namespace cdl::data_tools {

Progress::Progress(int64_t total, bool enabled)
    : total_(total), draw_(enabled && log::is_tty()), start_(std::chrono::steady_clock::now()) {}

double Progress::seconds() const {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
}

void Progress::update(int64_t done, double bytes) {
  done_ = done;
  bytes_ = bytes;
  if (!draw_ || total_ <= 0) return;
  const int width = 30;
  const int filled = static_cast<int>(width * done / total_);
  std::string bar(size_t(filled), '#');
  bar.resize(size_t(width), '.');
  std::fprintf(stderr, "\r[%s] %lld/%lld images, %.0f MB/s", bar.c_str(), (long long)done,
               (long long)total_, bytes / 1e6 / std::max(1e-9, seconds()));
  std::fflush(stderr);
}

std::string Progress::finish() {
  if (draw_) std::fprintf(stderr, "\r%80s\r", "");
  const double s = seconds();
  char line[160];
  std::snprintf(line, sizeof line, "%lld images, %.3f GB, %.2f s, %.1f MB/s", (long long)done_,
                bytes_ / 1e9, s, bytes_ / 1e6 / std::max(1e-9, s));
  return line;
}

}  // namespace cdl::data_tools

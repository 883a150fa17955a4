// Implementation of the terminal progress line.
#include "cdl/core/progress.hpp"

#include <cstdio>

namespace cdl {

ProgressLine::ProgressLine(std::ostream* out, std::string label, int64_t total,
                           double interval_seconds, ProgressUnits units)
    : out_(out),
      label_(std::move(label)),
      total_(total),
      interval_(interval_seconds),
      units_(std::move(units)) {}

ProgressLine::~ProgressLine() {
  finish();
}

void ProgressLine::update(int64_t done, double amount, Clock::time_point now) {
  if (out_ == nullptr || (drawn_width_ > 0 && now - last_draw_ < interval_)) return;
  const double seconds = std::chrono::duration<double>(now - start_).count();
  char rate[64] = "";
  if (seconds > 0) std::snprintf(rate, sizeof rate, ", %.1f ", amount / seconds);
  const std::string text = label_ + ": " + std::to_string(done) + "/" + std::to_string(total_) +
                           " " + units_.steps + (seconds > 0 ? rate + units_.rate : "");
  *out_ << '\r' << text;
  if (text.size() < drawn_width_) *out_ << std::string(drawn_width_ - text.size(), ' ');
  out_->flush();
  drawn_width_ = text.size();
  last_draw_ = now;
}

void ProgressLine::finish() {
  if (out_ == nullptr || drawn_width_ == 0) return;
  *out_ << '\r' << std::string(drawn_width_, ' ') << '\r';
  out_->flush();
  drawn_width_ = 0;
}

}  // namespace cdl

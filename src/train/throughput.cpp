// Implementation of the throughput counters.
#include "cdl/train/throughput.hpp"

namespace cdl::train {
namespace {

double rate(int64_t samples, double seconds) {
  return seconds > 0 ? static_cast<double>(samples) / seconds : 0.0;
}

}  // namespace

void Throughput::add_epoch(int64_t samples, double seconds, double wait_seconds) {
  samples_ += samples;
  seconds_ += seconds;
  wait_seconds_ += wait_seconds;
  if (++epochs_ == 1) {
    first_samples_ = samples;
    first_seconds_ = seconds;
  }
}

double Throughput::samples_per_second() const {
  return rate(samples_, seconds_);
}

double Throughput::steady_samples_per_second() const {
  if (epochs_ <= 1) return samples_per_second();
  return rate(samples_ - first_samples_, seconds_ - first_seconds_);
}

double Throughput::data_wait_fraction() const {
  return seconds_ > 0 ? wait_seconds_ / seconds_ : 0.0;
}

}  // namespace cdl::train

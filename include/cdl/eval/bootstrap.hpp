// Percentile bootstrap confidence intervals of the metrics TSVs (reference 5.4: ClinicaDL reports
// each metric with the lower and upper bound of a 95 % interval and a standard error, from 3000
// paired resamples). Ours are seeded, hence reproducible; ClinicaDL's are not.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "cdl/eval/metrics.hpp"

namespace cdl::eval {

/// The bootstrap interval of one metric.
struct MetricInterval {
  double lower = 0.0;           ///< percentile (1 - level) / 2 of the resampled values
  double upper = 0.0;           ///< percentile (1 + level) / 2
  double standard_error = 0.0;  ///< standard deviation of the resampled values (n - 1)
};

/// Options of a bootstrap.
struct BootstrapOptions {
  int resamples = 3000;
  double level = 0.95;
  uint64_t seed = 0;
};

/// The `q`-th fraction (0..1) percentile of `values` with linear interpolation between order
/// statistics (numpy's default). `values` must not be empty.
double percentile(std::vector<double> values, double q);

/// Intervals of every metric `metrics_of` computes on a resample of the `n` items (row indices
/// drawn with replacement; labels and predictions are resampled together). Empty when n < 2.
/// `metrics_of` must return the same metric names for any resample.
std::map<std::string, MetricInterval> bootstrap_intervals(
    int64_t n, const std::function<MetricList(const std::vector<int64_t>&)>& metrics_of,
    const BootstrapOptions& options);

}  // namespace cdl::eval

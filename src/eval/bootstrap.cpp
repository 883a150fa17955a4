// Implementation of the percentile bootstrap.
#include "cdl/eval/bootstrap.hpp"

#include <algorithm>
#include <cmath>
#include <random>

#include "cdl/core/error.hpp"

namespace cdl::eval {

double percentile(std::vector<double> values, double q) {
  CDL_CHECK(!values.empty(), "percentile of no value");
  std::sort(values.begin(), values.end());
  const double position = q * static_cast<double>(values.size() - 1);
  const auto below = static_cast<size_t>(std::floor(position));
  const auto above = std::min(below + 1, values.size() - 1);
  const double fraction = position - static_cast<double>(below);
  return values[below] + fraction * (values[above] - values[below]);
}

std::map<std::string, MetricInterval> bootstrap_intervals(
    int64_t n, const std::function<MetricList(const std::vector<int64_t>&)>& metrics_of,
    const BootstrapOptions& options) {
  std::map<std::string, MetricInterval> intervals;
  if (n < 2 || options.resamples < 2) return intervals;
  std::mt19937_64 generator(options.seed);
  std::uniform_int_distribution<int64_t> draw(0, n - 1);
  std::map<std::string, std::vector<double>> samples;
  std::vector<int64_t> rows(static_cast<size_t>(n));
  for (int r = 0; r < options.resamples; ++r) {
    for (auto& row : rows) row = draw(generator);
    for (const auto& [name, value] : metrics_of(rows)) samples[name].push_back(value);
  }
  const double tail = (1.0 - options.level) / 2.0;
  for (const auto& [name, values] : samples) {
    double mean = 0.0;
    for (double v : values) mean += v;
    mean /= static_cast<double>(values.size());
    double squares = 0.0;
    for (double v : values) squares += (v - mean) * (v - mean);
    intervals[name] = {percentile(values, tail), percentile(values, 1.0 - tail),
                       std::sqrt(squares / static_cast<double>(values.size() - 1))};
  }
  return intervals;
}

}  // namespace cdl::eval

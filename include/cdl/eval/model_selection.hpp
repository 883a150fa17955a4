// Model selection of ClinicaDL (reference 4.6, "RetainBest"): per selection metric, the best value
// seen at epoch ends and whether a new evaluation beats it; resumable state.
#pragma once

#include <nlohmann/json_fwd.hpp>
#include <string>
#include <vector>

#include "cdl/eval/metrics.hpp"

namespace cdl::eval {

/// Best value of each selection metric (e.g. "loss", "BA"). Values start at +inf for metrics where
/// lower is better and -inf otherwise; an evaluation improves a metric only when strictly better
/// (ties and NaN never do), as in ClinicaDL. Unlike ClinicaDL, R2_score, MCC, MK, LR_plus and
/// LR_minus have a direction, and in multi-class runs a class-dependent metric such as "BA" is
/// read as the mean of its per-class values "BA-0", "BA-1"... Not collective: rank 0 decides.
class RetainBest {
 public:
  /// Throws ConfigError when the list is empty, has duplicates, or names a metric without
  /// direction (see metric_direction()).
  explicit RetainBest(std::vector<std::string> selection_metrics);

  /// Records one end-of-epoch validation evaluation; returns the selection metrics that improved,
  /// in selection order (copy the checkpoint to best-<metric>/ for each). Throws DataError when a
  /// selection metric is missing from `validation_metrics` (metric_value() rules).
  std::vector<std::string> step(const MetricList& validation_metrics);

  /// The selection metrics, in the order given.
  const std::vector<std::string>& metrics() const { return metrics_; }
  /// Best value so far of `metric` (+-inf before any evaluation). Throws ConfigError if unknown.
  double best(const std::string& metric) const;

  /// State for a checkpoint: {"<metric>": best value, ...} (non-finite values as strings).
  nlohmann::json state() const;
  /// Restores the values saved by state() for the metrics of this instance; a metric absent from
  /// the state keeps its initial value (e.g. a selection metric added on resume). Throws DataError
  /// on a malformed state.
  void load_state(const nlohmann::json& state);

 private:
  size_t index_of(const std::string& metric) const;

  std::vector<std::string> metrics_;
  std::vector<double> best_;
};

}  // namespace cdl::eval

// Model selection (RetainBest): best value per selection metric.
#include "cdl/eval/model_selection.hpp"

#include <algorithm>
#include <limits>
#include <nlohmann/json.hpp>

#include "cdl/core/error.hpp"

namespace cdl::eval {

RetainBest::RetainBest(std::vector<std::string> selection_metrics)
    : metrics_(std::move(selection_metrics)) {
  if (metrics_.empty()) {
    CDL_THROW(ConfigError, "selection_metrics is empty; expected at least one metric, e.g. loss");
  }
  constexpr double kInf = std::numeric_limits<double>::infinity();
  for (size_t i = 0; i < metrics_.size(); ++i) {
    if (std::find(metrics_.begin(), metrics_.begin() + static_cast<long>(i), metrics_[i]) !=
        metrics_.begin() + static_cast<long>(i)) {
      CDL_THROW(ConfigError, "selection_metrics lists '", metrics_[i],
                "' twice; expected each metric once");
    }
    best_.push_back(metric_direction(metrics_[i]) == MetricDirection::kMinimize ? kInf : -kInf);
  }
}

std::vector<std::string> RetainBest::step(const MetricList& validation_metrics) {
  std::vector<double> values;
  for (const auto& metric : metrics_) values.push_back(metric_value(validation_metrics, metric));
  std::vector<std::string> improved;
  for (size_t i = 0; i < metrics_.size(); ++i) {
    if (is_better(metrics_[i], values[i], best_[i])) {
      best_[i] = values[i];
      improved.push_back(metrics_[i]);
    }
  }
  return improved;
}

size_t RetainBest::index_of(const std::string& metric) const {
  auto it = std::find(metrics_.begin(), metrics_.end(), metric);
  if (it == metrics_.end()) {
    CDL_THROW(ConfigError, "'", metric, "' is not a selection metric of this run");
  }
  return static_cast<size_t>(it - metrics_.begin());
}

double RetainBest::best(const std::string& metric) const {
  return best_[index_of(metric)];
}

nlohmann::json RetainBest::state() const {
  nlohmann::json out = nlohmann::json::object();
  for (size_t i = 0; i < metrics_.size(); ++i) out[metrics_[i]] = metric_to_json(best_[i]);
  return out;
}

void RetainBest::load_state(const nlohmann::json& state) {
  if (!state.is_object()) {
    CDL_THROW(DataError, "model-selection state ", state.dump(),
              "; expected an object {metric: best value}");
  }
  for (size_t i = 0; i < metrics_.size(); ++i) {
    if (state.contains(metrics_[i])) best_[i] = metric_from_json(state[metrics_[i]]);
  }
}

}  // namespace cdl::eval

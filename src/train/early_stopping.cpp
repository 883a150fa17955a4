// Early stopping on the validation loss.
#include "cdl/train/early_stopping.hpp"

#include <cmath>
#include <nlohmann/json.hpp>

#include "cdl/core/error.hpp"
#include "cdl/eval/metrics.hpp"

namespace cdl::train {

EarlyStopping::EarlyStopping(int patience, double tolerance)
    : patience_(patience), tolerance_(tolerance) {
  if (patience < 0) {
    CDL_THROW(ConfigError, "--patience ", patience, " is negative; expected 0 (disabled) or more");
  }
  if (!std::isfinite(tolerance) || tolerance < 0.0) {
    CDL_THROW(ConfigError, "--tolerance ", tolerance, " is invalid; expected a number >= 0");
  }
}

bool EarlyStopping::step(double validation_loss) {
  if (!enabled()) return false;
  if (std::isnan(validation_loss)) return true;
  if (!has_best_) {
    has_best_ = true;
    best_ = validation_loss;
    return false;
  }
  if (validation_loss < best_ - best_ * tolerance_) {
    best_ = validation_loss;
    num_bad_epochs_ = 0;
  } else {
    ++num_bad_epochs_;
  }
  return num_bad_epochs_ >= patience_;
}

nlohmann::json EarlyStopping::state() const {
  nlohmann::json out;
  out["best"] = has_best_ ? eval::metric_to_json(best_) : nlohmann::json(nullptr);
  out["num_bad_epochs"] = num_bad_epochs_;
  out["patience"] = patience_;
  out["tolerance"] = tolerance_;
  return out;
}

void EarlyStopping::load_state(const nlohmann::json& state) {
  if (!state.is_object() || !state.contains("best") || !state.contains("num_bad_epochs") ||
      !state["num_bad_epochs"].is_number_integer()) {
    CDL_THROW(DataError, "early-stopping state ", state.dump(),
              "; expected an object with \"best\" and an integer \"num_bad_epochs\"");
  }
  has_best_ = !state["best"].is_null();
  best_ = has_best_ ? eval::metric_from_json(state["best"]) : 0.0;
  num_bad_epochs_ = state["num_bad_epochs"].get<int>();
}

}  // namespace cdl::train

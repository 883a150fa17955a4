// ReduceLROnPlateau logic of ClinicaDL's adaptive learning rate.
#include "cdl/train/adaptive_lr.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <nlohmann/json.hpp>

#include "cdl/core/error.hpp"
#include "cdl/eval/metrics.hpp"

namespace cdl::train {

AdaptiveLearningRate::AdaptiveLearningRate(double initial_lr, AdaptiveLrOptions options)
    : options_(options), lr_(initial_lr), best_(std::numeric_limits<double>::infinity()) {
  const auto& o = options_;
  if (!(initial_lr > 0.0) || !(o.factor > 0.0 && o.factor < 1.0) || o.patience < 0 ||
      o.cooldown < 0 || !(o.threshold >= 0.0) || !(o.min_lr >= 0.0) || !(o.eps >= 0.0)) {
    CDL_THROW(ConfigError, "adaptive learning rate: learning_rate=", initial_lr,
              " factor=", o.factor, " patience=", o.patience, " threshold=", o.threshold,
              " cooldown=", o.cooldown, " min_lr=", o.min_lr, " eps=", o.eps,
              "; expected learning_rate > 0, 0 < factor < 1 and every other value >= 0");
  }
}

double AdaptiveLearningRate::step(double validation_loss) {
  ++last_epoch_;
  reduced_ = false;
  if (validation_loss < best_ * (1.0 - options_.threshold)) {
    best_ = validation_loss;
    num_bad_epochs_ = 0;
  } else {
    ++num_bad_epochs_;
  }
  if (cooldown_counter_ > 0) {
    --cooldown_counter_;
    num_bad_epochs_ = 0;  // bad epochs during cooldown are ignored
  }
  if (num_bad_epochs_ > options_.patience) {
    const double new_lr = std::max(lr_ * options_.factor, options_.min_lr);
    if (lr_ - new_lr > options_.eps) {
      lr_ = new_lr;
      reduced_ = true;
    }
    cooldown_counter_ = options_.cooldown;
    num_bad_epochs_ = 0;
  }
  return lr_;
}

nlohmann::json AdaptiveLearningRate::state() const {
  return {{"lr", lr_},
          {"best", eval::metric_to_json(best_)},
          {"num_bad_epochs", num_bad_epochs_},
          {"cooldown_counter", cooldown_counter_},
          {"last_epoch", last_epoch_}};
}

void AdaptiveLearningRate::load_state(const nlohmann::json& state) {
  try {
    lr_ = state.at("lr").get<double>();
    best_ = eval::metric_from_json(state.at("best"));
    num_bad_epochs_ = state.at("num_bad_epochs").get<int>();
    cooldown_counter_ = state.at("cooldown_counter").get<int>();
    last_epoch_ = state.at("last_epoch").get<int>();
  } catch (const nlohmann::json::exception& e) {
    CDL_THROW(DataError, "adaptive learning-rate state ", state.dump(), " is malformed (", e.what(),
              "); expected lr, best, num_bad_epochs, cooldown_counter, last_epoch");
  }
  reduced_ = false;
}

}  // namespace cdl::train

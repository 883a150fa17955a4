// ClinicaDL's adaptive learning rate (reference 4.8): PyTorch's ReduceLROnPlateau on the
// end-of-epoch validation loss, as pure logic over one learning rate; resumable state.
#pragma once

#include <nlohmann/json_fwd.hpp>

namespace cdl::train {

/// Parameters of ReduceLROnPlateau; the defaults are PyTorch's, which ClinicaDL uses (mode min,
/// relative threshold).
struct AdaptiveLrOptions {
  double factor = 0.1;      ///< new lr = max(lr * factor, min_lr)
  int patience = 10;        ///< bad epochs tolerated before a reduction
  double threshold = 1e-4;  ///< improvement means loss < best * (1 - threshold)
  int cooldown = 0;         ///< epochs after a reduction during which bad epochs are not counted
  double min_lr = 0.0;      ///< floor of the learning rate
  double eps = 1e-8;        ///< reductions smaller than eps are skipped
};

/// ReduceLROnPlateau(mode="min", threshold_mode="rel") over a single learning rate. Feed step()
/// with each epoch's end validation loss (after checkpointing, as ClinicaDL does) and give the
/// returned lr to every parameter group of the optimizer. Not collective: rank 0 decides.
class AdaptiveLearningRate {
 public:
  /// Throws ConfigError when initial_lr <= 0, factor is not in (0, 1), or patience, cooldown,
  /// threshold, min_lr or eps is negative.
  explicit AdaptiveLearningRate(double initial_lr, AdaptiveLrOptions options = {});

  /// Records one validation loss (NaN counts as a bad epoch); returns the learning rate to use
  /// from now on.
  double step(double validation_loss);

  /// The current learning rate.
  double learning_rate() const { return lr_; }
  /// True when the last step() reduced the learning rate.
  bool reduced_last_step() const { return reduced_; }
  /// Best loss so far (+inf before the first step).
  double best() const { return best_; }
  /// Current count of epochs without improvement.
  int num_bad_epochs() const { return num_bad_epochs_; }

  /// State for a checkpoint: {"lr", "best", "num_bad_epochs", "cooldown_counter", "last_epoch"}.
  nlohmann::json state() const;
  /// Restores a state() (the options stay those of the constructor). Throws DataError if malformed.
  void load_state(const nlohmann::json& state);

 private:
  AdaptiveLrOptions options_;
  double lr_;
  double best_;
  int num_bad_epochs_ = 0;
  int cooldown_counter_ = 0;
  int last_epoch_ = 0;
  bool reduced_ = false;
};

}  // namespace cdl::train

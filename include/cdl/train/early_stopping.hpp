// Early stopping on the validation loss (design section 6, reference 4.7): stop when for `patience`
// consecutive epochs the loss never went below best * (1 - tolerance); resumable state.
#pragma once

#include <nlohmann/json_fwd.hpp>

namespace cdl::train {

/// Early-stopping decision of the main rank, fed with each epoch's end validation loss.
/// An epoch "improves" when its loss is below best - best * tolerance (relative tolerance,
/// ClinicaDL's formula); the first epoch only sets the reference. After `patience` consecutive
/// epochs without improvement, step() says stop. patience = 0 disables early stopping entirely. A
/// NaN loss stops at once (when enabled). Not collective: rank 0 decides and broadcasts the
/// decision.
class EarlyStopping {
 public:
  /// Throws ConfigError when patience < 0 or tolerance is negative or not finite.
  EarlyStopping(int patience, double tolerance);

  /// Records the validation loss of the epoch that just ended; true when training must stop now
  /// (do not start another epoch).
  bool step(double validation_loss);

  /// False when patience is 0 (step() then always returns false and records nothing).
  bool enabled() const { return patience_ > 0; }
  /// True once a reference loss was recorded.
  bool has_best() const { return has_best_; }
  /// The reference loss (meaningful only when has_best()).
  double best() const { return best_; }
  /// Consecutive epochs without improvement so far.
  int num_bad_epochs() const { return num_bad_epochs_; }

  /// State for a checkpoint: {"best": number|null, "num_bad_epochs": n, "patience", "tolerance"}.
  nlohmann::json state() const;
  /// Restores best and num_bad_epochs saved by state(); patience and tolerance stay those given to
  /// the constructor (the resumed run's options win). Throws DataError on a malformed state.
  void load_state(const nlohmann::json& state);

 private:
  int patience_;
  double tolerance_;
  bool has_best_ = false;
  double best_ = 0.0;
  int num_bad_epochs_ = 0;
};

}  // namespace cdl::train

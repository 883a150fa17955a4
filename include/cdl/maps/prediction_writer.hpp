// Writes the prediction and metrics TSVs of one group (train, validation) for one best model:
// part level, image level (soft voting / mean of parts) and description.log (reference 7.5, 5.5).
#pragma once

#include <string>

#include "cdl/data/caps_dataset.hpp"
#include "cdl/eval/evaluator.hpp"

namespace cdl::maps {

/// Part-level prediction and metrics of one group, ready to be written.
struct GroupPredictions {
  std::string group;  ///< "train" or "validation"
  std::shared_ptr<const data::CapsDataset> dataset;
  eval::Evaluation evaluation;  ///< gathered on rank 0
  /// False for data without labels: predictions only (true_label -1), no metrics tables.
  bool has_labels = true;
  /// Multi-network: the part-level metrics file holds one block per part (network), each tagged
  /// with a `<mode>_id` column, as ClinicaDL appends them network after network.
  bool metrics_per_part = false;
};

/// Writes `<dir>/<group>_<mode>_level_{prediction,metrics}.tsv`, the image-level files and
/// description.log for `predictions` (no metrics files without labels). Image-level soft voting
/// weighs parts by their balanced accuracy in `validation` (the validation rows of the same model).
/// The part-level metrics tables (and the image-level ones of image mode) carry ClinicaDL's
/// bootstrap rows (lower and upper bound of the 95 % interval, standard error), drawn from
/// `bootstrap_seed`. Main rank only.
void write_group_predictions(const std::string& dir, const GroupPredictions& predictions,
                             const GroupPredictions& validation, double selection_threshold,
                             const std::string& data_source, uint64_t bootstrap_seed);

}  // namespace cdl::maps

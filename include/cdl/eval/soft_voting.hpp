// Image-level ensembling of part-level predictions (reference 5.5, design section 6): soft voting
// weighted by each part's validation balanced accuracy (classification), mean of parts
// (regression).
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace cdl::eval {

/// One row of a classification prediction table (part level or image level).
struct ClassificationPrediction {
  std::string participant_id;
  std::string session_id;
  int64_t part_id = 0;                ///< `<mode>_id`; 0 in image-level rows
  int64_t true_label = 0;             ///< class code
  int64_t predicted_label = 0;        ///< class code
  std::vector<double> probabilities;  ///< proba0 .. proba{K-1}
};

/// One row of a regression prediction table (part level or image level).
struct RegressionPrediction {
  std::string participant_id;
  std::string session_id;
  int64_t part_id = 0;
  double true_label = 0.0;
  double predicted_label = 0.0;
};

/// Per-part weights of soft voting.
struct SoftVotingWeights {
  std::map<int64_t, double> balanced_accuracy;  ///< validation BA of each part id
  std::map<int64_t, double> weights;            ///< normalised weights (sum 1) of each part id
  bool uniform_fallback = false;  ///< true when every BA was zeroed and equal weights were used
};

/// Weights of each part from its validation rows: w_j = BA_j / sum BA, where BA_j is the
/// balanced accuracy of part j's rows (the "BA" of classification_metrics() with K = number of
/// probabilities; multi-class: mean of the per-class BA-c), and BA_j is set to 0 when it is
/// below `selection_threshold`. When every BA is 0 (ClinicaDL would give NaN predictions), every
/// part gets the same weight, `uniform_fallback` is set and a warning is logged. Throws DataError
/// on empty input or rows with differing probability counts.
SoftVotingWeights soft_voting_weights(const std::vector<ClassificationPrediction>& validation_rows,
                                      double selection_threshold);

/// Image-level rows by soft voting: for each (participant_id, session_id), P_k = sum_j w_j p_kj /
/// sum_j w_j over its parts, prediction = first argmax of P, true label = the parts' label,
/// part_id = 0. Rows come out sorted by participant then session (pandas groupby order). Throws
/// DataError when an image does not have exactly the part ids of `weights`, when its parts
/// disagree on the true label, or when probability counts differ.
std::vector<ClassificationPrediction> soft_voting(const std::vector<ClassificationPrediction>& rows,
                                                  const SoftVotingWeights& weights);

/// Image-level regression rows: unweighted mean of the parts' predicted_label, true label of the
/// parts, part_id = 0, sorted by participant then session. Throws DataError when the parts of an
/// image disagree on the true label.
std::vector<RegressionPrediction> mean_voting(const std::vector<RegressionPrediction>& rows);

}  // namespace cdl::eval

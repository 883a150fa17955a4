// Image-level ensembling: BA-weighted soft voting and regression mean.
#include "cdl/eval/soft_voting.hpp"

#include <utility>

#include "cdl/core/error.hpp"
#include "cdl/core/logging.hpp"
#include "cdl/eval/metrics.hpp"

namespace cdl::eval {
namespace {

using ImageKey = std::pair<std::string, std::string>;

template <typename Row>
std::map<ImageKey, std::vector<const Row*>> group_by_image(const std::vector<Row>& rows) {
  std::map<ImageKey, std::vector<const Row*>> groups;
  for (const auto& row : rows) groups[{row.participant_id, row.session_id}].push_back(&row);
  return groups;
}

size_t probability_count(const std::vector<ClassificationPrediction>& rows, const char* table) {
  if (rows.empty()) {
    CDL_THROW(DataError, "soft voting: the ", table, " table has no row; expected part-level rows");
  }
  const size_t k = rows.front().probabilities.size();
  for (const auto& row : rows) {
    if (row.probabilities.size() != k || k == 0) {
      CDL_THROW(DataError, "soft voting: ", row.participant_id, " ", row.session_id, " part ",
                row.part_id, " has ", row.probabilities.size(),
                " probabilities; expected the same non-zero count (", k, ") in every row");
    }
  }
  return k;
}

double part_balanced_accuracy(const std::vector<const ClassificationPrediction*>& rows,
                              int64_t num_classes) {
  std::vector<int64_t> y_true, y_pred;
  for (const auto* row : rows) {
    y_true.push_back(row->true_label);
    y_pred.push_back(row->predicted_label);
  }
  return metric_value(classification_metrics(y_true, y_pred, num_classes), "BA");
}

void check_image_parts(const ImageKey& image,
                       const std::vector<const ClassificationPrediction*>& parts,
                       const SoftVotingWeights& weights) {
  std::map<int64_t, int> seen;
  for (const auto* part : parts) ++seen[part->part_id];
  bool same = seen.size() == weights.weights.size() && parts.size() == seen.size();
  for (const auto& [id, count] : seen) same = same && weights.weights.count(id) == 1;
  if (!same) {
    CDL_THROW(DataError, "soft voting: image ", image.first, " ", image.second, " has ",
              parts.size(), " part rows (", seen.size(),
              " distinct ids); expected exactly one row "
              "for each of the ",
              weights.weights.size(), " part ids of the validation table");
  }
}

template <typename Row>
void check_same_label(const ImageKey& image, const std::vector<const Row*>& parts) {
  for (const auto* part : parts) {
    if (part->true_label != parts.front()->true_label) {
      CDL_THROW(DataError, "image-level ensembling: the parts of ", image.first, " ", image.second,
                " have different true labels (", parts.front()->true_label, " and ",
                part->true_label, "); expected one label per image");
    }
  }
}

ClassificationPrediction vote_one_image(const ImageKey& image,
                                        const std::vector<const ClassificationPrediction*>& parts,
                                        const SoftVotingWeights& weights, size_t k) {
  check_image_parts(image, parts, weights);
  check_same_label(image, parts);
  std::vector<double> proba(k, 0.0);
  double weight_sum = 0.0;
  for (const auto* part : parts) {
    const double w = weights.weights.at(part->part_id);
    weight_sum += w;
    for (size_t c = 0; c < k; ++c) proba[c] += w * part->probabilities[c];
  }
  size_t best = 0;
  for (size_t c = 0; c < k; ++c) {
    proba[c] /= weight_sum;
    if (proba[c] > proba[best]) best = c;
  }
  return {image.first, image.second, 0, parts.front()->true_label, static_cast<int64_t>(best),
          proba};
}

}  // namespace

SoftVotingWeights soft_voting_weights(const std::vector<ClassificationPrediction>& validation_rows,
                                      double selection_threshold) {
  const auto num_classes = static_cast<int64_t>(probability_count(validation_rows, "validation"));
  std::map<int64_t, std::vector<const ClassificationPrediction*>> by_part;
  for (const auto& row : validation_rows) by_part[row.part_id].push_back(&row);
  SoftVotingWeights out;
  double total = 0.0;
  for (const auto& [part, rows] : by_part) {
    const double ba = part_balanced_accuracy(rows, num_classes);
    out.balanced_accuracy[part] = ba;
    out.weights[part] = ba < selection_threshold ? 0.0 : ba;
    total += out.weights[part];
  }
  out.uniform_fallback = !(total > 0.0);
  for (auto& [part, weight] : out.weights) {
    weight = out.uniform_fallback ? 1.0 / static_cast<double>(by_part.size()) : weight / total;
  }
  if (out.uniform_fallback) {
    log::warn(
        "soft voting: every part has a validation balanced accuracy of 0 or below "
        "selection_threshold=",
        selection_threshold, "; falling back to equal weights for the ", by_part.size(),
        " parts (hint: lower --selection_threshold)");
  }
  return out;
}

std::vector<ClassificationPrediction> soft_voting(const std::vector<ClassificationPrediction>& rows,
                                                  const SoftVotingWeights& weights) {
  const size_t k = probability_count(rows, "prediction");
  std::vector<ClassificationPrediction> out;
  for (const auto& [image, parts] : group_by_image(rows)) {
    out.push_back(vote_one_image(image, parts, weights, k));
  }
  return out;
}

std::vector<RegressionPrediction> mean_voting(const std::vector<RegressionPrediction>& rows) {
  std::vector<RegressionPrediction> out;
  for (const auto& [image, parts] : group_by_image(rows)) {
    check_same_label(image, parts);
    double sum = 0.0;
    for (const auto* part : parts) sum += part->predicted_label;
    out.push_back({image.first, image.second, 0, parts.front()->true_label,
                   sum / static_cast<double>(parts.size())});
  }
  return out;
}

}  // namespace cdl::eval

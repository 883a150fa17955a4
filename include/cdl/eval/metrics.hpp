// Evaluation metrics of ClinicaDL's three tasks (reference 5.3, 5.4) and the direction rule of
// model selection (reference 4.6): pure functions over label vectors and sample tensors.
#pragma once

#include <torch/types.h>

#include <cstdint>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <utility>
#include <vector>

namespace cdl::eval {

/// Ordered (name, value) pairs, in ClinicaDL's column order.
using MetricList = std::vector<std::pair<std::string, double>>;

/// Classification metric names in column order: BA, accuracy, F1_score, sensitivity, specificity,
/// PPV, NPV, MCC, MK, LR_plus, LR_minus.
const std::vector<std::string>& classification_metric_names();

/// Regression metric names in column order: R2_score, MAE, RMSE.
const std::vector<std::string>& regression_metric_names();

/// Reconstruction metric names in column order: MAE, RMSE, PSNR, SSIM.
const std::vector<std::string>& reconstruction_metric_names();

/// One-vs-rest confusion counts of one class c: TP = #(pred=c and true=c), FN = #(pred!=c and
/// true=c), FP = #(pred=c and true!=c), TN = #(pred!=c and true!=c).
struct ConfusionCounts {
  int64_t tp = 0;
  int64_t fn = 0;
  int64_t fp = 0;
  int64_t tn = 0;
};

/// Counts the one-vs-rest confusion of class `positive_class`. Throws DataError when the two
/// vectors have different lengths.
ConfusionCounts confusion_counts(const std::vector<int64_t>& y_true,
                                 const std::vector<int64_t>& y_pred, int64_t positive_class);

/// The ten class-dependent metrics of one class (every name of classification_metric_names()
/// except accuracy, same order), with ClinicaDL's zero-division results (0 for every undefined
/// ratio; LR_plus = 0 when specificity = 1, LR_minus = 0 when specificity = 0).
MetricList class_metrics(const ConfusionCounts& counts);

/// Classification metrics of ClinicaDL. Binary (num_classes <= 2): class code 0 is the positive
/// class and names carry no suffix. Multi-class: each class-dependent metric m is reported for
/// every class c as "m-c" (metric-major, class-minor order), accuracy once. Throws DataError on
/// empty input, length mismatch, or a code outside [0, num_classes).
MetricList classification_metrics(const std::vector<int64_t>& y_true,
                                  const std::vector<int64_t>& y_pred, int64_t num_classes);

/// Regression metrics R2_score, MAE, RMSE (R2 = 0 when the target is constant). Throws DataError on
/// empty input or length mismatch.
MetricList regression_metrics(const std::vector<double>& y_true, const std::vector<double>& y_pred);

/// PSNR data range of a target sample: scikit-image's rule (1 if min >= 0, else 2) when every value
/// lies in [-1, 1]. Outside that range ClinicaDL crashes; we use the target's own range
/// max - min instead (or |max| for a constant target) so unnormalised images still get a PSNR.
double psnr_data_range(const torch::Tensor& target);

/// PSNR = 10 log10(data_range^2 / MSE) in double precision, +inf when MSE = 0 (data range as in
/// psnr_data_range). Throws DataError when the shapes differ.
double psnr(const torch::Tensor& target, const torch::Tensor& output);

/// SSIM of one sample, mean of the SSIM map over every position and channel. A sample of shape
/// [C, D, H, W] uses the 3D variant, [C, H, W] the 2D one (ClinicaDL chooses 2D only when C = 3
/// and crashes on 1-channel slices; the rank of the tensor decides here). Gaussian window of
/// width 11 and sigma 1.5 (normalised to sum 1), zero padding 5, C1 = 0.01^2, C2 = 0.03^2; the
/// separable window is applied as one zero-padded 1D pass per axis (sums of shifted slices, equal
/// to ClinicaDL's full-window depthwise conv3d and ~3x faster on CPU). Runs on the tensor's device
/// in its floating type (float64 stays float64, anything else float32). Throws DataError on bad
/// shapes.
double ssim(const torch::Tensor& target, const torch::Tensor& output);

/// Per-sample reconstruction metrics MAE, RMSE, PSNR, SSIM of one sample (no batch axis).
MetricList reconstruction_metrics(const torch::Tensor& target, const torch::Tensor& output);

/// Set-level metrics: per name (order of the first row), the mean over rows. All rows must carry
/// the same names in the same order (DataError otherwise); empty input gives an empty list.
MetricList mean_metrics(const std::vector<MetricList>& rows);

/// Training-log view of a metric list: for every name of `names`, the value itself when present,
/// else the mean of its per-class values "name-0", "name-1", ... (reference 7.3). Throws
/// DataError when neither is present.
MetricList aggregate_class_metrics(const MetricList& metrics,
                                   const std::vector<std::string>& names);

/// Value of `name` in `metrics`, falling back to the mean over "name-c" entries like
/// aggregate_class_metrics. Throws DataError when absent.
double metric_value(const MetricList& metrics, const std::string& name);

/// Which way a metric improves.
enum class MetricDirection { kMinimize, kMaximize };

/// Direction of a selection metric. Lower is better for loss (and any name ending in "loss"), MAE,
/// RMSE and LR_minus; higher for BA, accuracy, F1_score, sensitivity, specificity, PPV, NPV,
/// PSNR, SSIM, LNCC and also R2_score, MCC, MK, LR_plus (which ClinicaDL cannot select on). A
/// per-class suffix "-c" is ignored. Throws ConfigError for an unknown name.
MetricDirection metric_direction(const std::string& metric);

/// True when `candidate` is strictly better than `best` for `metric` (ties and a NaN candidate
/// never are; a NaN best is beaten by any number).
bool is_better(const std::string& metric, double candidate, double best);

/// A metric value as JSON: finite numbers as numbers, non-finite ones as "inf", "-inf", "nan"
/// (JSON has no literal for them).
nlohmann::json metric_to_json(double value);

/// Inverse of metric_to_json. Throws DataError on anything else.
double metric_from_json(const nlohmann::json& value);

}  // namespace cdl::eval

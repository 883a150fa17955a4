// Evaluation metrics of ClinicaDL's tasks and the selection-direction rule.
#include "cdl/eval/metrics.hpp"

#include <torch/torch.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <limits>
#include <nlohmann/json.hpp>
#include <set>

#include "cdl/core/error.hpp"

namespace cdl::eval {
namespace {

double safe_ratio(double numerator, double denominator) {
  return denominator == 0.0 ? 0.0 : numerator / denominator;
}

void check_lengths(size_t n_true, size_t n_pred, const char* what) {
  if (n_true != n_pred) {
    CDL_THROW(DataError, what, ": ", n_true, " true labels but ", n_pred,
              " predicted labels; expected one prediction per sample");
  }
  if (n_true == 0) {
    CDL_THROW(DataError, what, ": no sample to evaluate; expected at least one");
  }
}

void check_codes(const std::vector<int64_t>& codes, int64_t num_classes, const char* which) {
  for (int64_t code : codes) {
    if (code < 0 || code >= num_classes) {
      CDL_THROW(DataError, "classification metrics: ", which, " label code ", code,
                " is outside [0, ", num_classes, ")",
                "\nhint: labels of -1 mean 'no label'; do not compute metrics for them");
    }
  }
}

// SSIM statistics work on the sample as a batch of one: [1, C, spatial...].
torch::Tensor as_floating_batch(const torch::Tensor& sample) {
  auto type = sample.scalar_type() == torch::kDouble ? torch::kDouble : torch::kFloat;
  return sample.to(type).unsqueeze(0);
}

// Normalised 11-wide Gaussian window of ClinicaDL's SSIM (sigma 1.5).
std::vector<double> gaussian_window_1d() {
  constexpr int kWidth = 11;
  constexpr double kSigma = 1.5;
  std::vector<double> window(kWidth);
  double total = 0.0;
  for (int k = 0; k < kWidth; ++k) {
    window[k] = std::exp(-(k - kWidth / 2) * (k - kWidth / 2) / (2.0 * kSigma * kSigma));
    total += window[k];
  }
  for (double& w : window) w /= total;
  return window;
}

// Zero-padded 1D convolution along `axis` as a sum of shifted slices: out[i] += w[k] in[i+k-5].
torch::Tensor blur_axis(const torch::Tensor& in, int64_t axis, const std::vector<double>& window) {
  const int64_t n = in.size(axis), half = static_cast<int64_t>(window.size()) / 2;
  auto out = torch::zeros_like(in);
  for (int64_t k = 0; k < static_cast<int64_t>(window.size()); ++k) {
    const int64_t shift = k - half;
    const int64_t begin = std::max<int64_t>(0, -shift), end = std::min<int64_t>(n, n - shift);
    if (end <= begin) continue;
    out.narrow(axis, begin, end - begin)
        .add_(in.narrow(axis, begin + shift, end - begin), window[static_cast<size_t>(k)]);
  }
  return out;
}

// Depthwise Gaussian blur with zero padding 5 over every spatial axis of [1, C, spatial...]. The
// 3D (2D) window is the outer product of 1D windows, so one pass per axis equals ClinicaDL's
// full-window conv3d (conv2d); it is several times faster on CPU.
torch::Tensor gaussian_blur(const torch::Tensor& batch, const std::vector<double>& window) {
  torch::Tensor out = batch;
  for (int64_t axis = 2; axis < batch.dim(); ++axis) out = blur_axis(out, axis, window);
  return out;
}

void check_same_shape(const torch::Tensor& target, const torch::Tensor& output, const char* what) {
  if (target.sizes() != output.sizes()) {
    CDL_THROW(DataError, what, ": target shape ", target.sizes(), " differs from output shape ",
              output.sizes(), "; expected identical shapes");
  }
}

std::string strip_class_suffix(const std::string& metric) {
  auto dash = metric.rfind('-');
  if (dash == std::string::npos || dash + 1 == metric.size()) return metric;
  for (size_t i = dash + 1; i < metric.size(); ++i) {
    if (!std::isdigit(static_cast<unsigned char>(metric[i]))) return metric;
  }
  return metric.substr(0, dash);
}

bool ends_with(const std::string& text, const std::string& suffix) {
  return text.size() >= suffix.size() &&
         text.compare(text.size() - suffix.size(), suffix.size(), suffix) == 0;
}

}  // namespace

const std::vector<std::string>& classification_metric_names() {
  static const std::vector<std::string> names = {
      "BA",  "accuracy", "F1_score", "sensitivity", "specificity", "PPV",
      "NPV", "MCC",      "MK",       "LR_plus",     "LR_minus"};
  return names;
}

const std::vector<std::string>& regression_metric_names() {
  static const std::vector<std::string> names = {"R2_score", "MAE", "RMSE"};
  return names;
}

const std::vector<std::string>& reconstruction_metric_names() {
  static const std::vector<std::string> names = {"MAE", "RMSE", "PSNR", "SSIM"};
  return names;
}

ConfusionCounts confusion_counts(const std::vector<int64_t>& y_true,
                                 const std::vector<int64_t>& y_pred, int64_t positive_class) {
  if (y_true.size() != y_pred.size()) check_lengths(y_true.size(), y_pred.size(), "confusion");
  ConfusionCounts counts;
  for (size_t i = 0; i < y_true.size(); ++i) {
    const bool is_true = y_true[i] == positive_class;
    const bool is_pred = y_pred[i] == positive_class;
    counts.tp += is_true && is_pred;
    counts.fn += is_true && !is_pred;
    counts.fp += !is_true && is_pred;
    counts.tn += !is_true && !is_pred;
  }
  return counts;
}

MetricList class_metrics(const ConfusionCounts& c) {
  const double tp = static_cast<double>(c.tp), fn = static_cast<double>(c.fn);
  const double fp = static_cast<double>(c.fp), tn = static_cast<double>(c.tn);
  const double sensitivity = safe_ratio(tp, tp + fn);
  const double specificity = safe_ratio(tn, tn + fp);
  const double ppv = safe_ratio(tp, tp + fp);
  const double npv = safe_ratio(tn, tn + fn);
  const double f1 = safe_ratio(2.0 * ppv * sensitivity, ppv + sensitivity);
  const double mcc =
      safe_ratio(tp * tn - fp * fn, std::sqrt((tp + fp) * (tp + fn) * (tn + fp) * (tn + fn)));
  const double lr_plus = specificity == 1.0 ? 0.0 : sensitivity / (1.0 - specificity);
  const double lr_minus = specificity == 0.0 ? 0.0 : (1.0 - sensitivity) / specificity;
  return {{"BA", (sensitivity + specificity) / 2.0},
          {"F1_score", f1},
          {"sensitivity", sensitivity},
          {"specificity", specificity},
          {"PPV", ppv},
          {"NPV", npv},
          {"MCC", mcc},
          {"MK", ppv + npv - 1.0},
          {"LR_plus", lr_plus},
          {"LR_minus", lr_minus}};
}

MetricList classification_metrics(const std::vector<int64_t>& y_true,
                                  const std::vector<int64_t>& y_pred, int64_t num_classes) {
  check_lengths(y_true.size(), y_pred.size(), "classification metrics");
  const int64_t classes = std::max<int64_t>(num_classes, 2);
  check_codes(y_true, classes, "true");
  check_codes(y_pred, classes, "predicted");
  const bool binary = num_classes <= 2;
  std::vector<MetricList> per_class;
  for (int64_t c = 0; c < (binary ? 1 : classes); ++c) {
    per_class.push_back(class_metrics(confusion_counts(y_true, y_pred, c)));
  }
  int64_t correct = 0;
  for (size_t i = 0; i < y_true.size(); ++i) correct += y_true[i] == y_pred[i];
  MetricList out;
  for (const auto& name : classification_metric_names()) {
    if (name == "accuracy") {
      out.emplace_back(name, static_cast<double>(correct) / static_cast<double>(y_true.size()));
      continue;
    }
    for (size_t c = 0; c < per_class.size(); ++c) {
      const std::string key = binary ? name : name + "-" + std::to_string(c);
      out.emplace_back(key, metric_value(per_class[c], name));
    }
  }
  return out;
}

MetricList regression_metrics(const std::vector<double>& y_true,
                              const std::vector<double>& y_pred) {
  check_lengths(y_true.size(), y_pred.size(), "regression metrics");
  const double n = static_cast<double>(y_true.size());
  double mean = 0.0;
  for (double y : y_true) mean += y;
  mean /= n;
  double abs_sum = 0.0, sq_sum = 0.0, total_sq = 0.0;
  for (size_t i = 0; i < y_true.size(); ++i) {
    const double err = y_true[i] - y_pred[i];
    abs_sum += std::abs(err);
    sq_sum += err * err;
    total_sq += (y_true[i] - mean) * (y_true[i] - mean);
  }
  const double r2 = total_sq == 0.0 ? 0.0 : 1.0 - sq_sum / total_sq;
  return {{"R2_score", r2}, {"MAE", abs_sum / n}, {"RMSE", std::sqrt(sq_sum / n)}};
}

double psnr_data_range(const torch::Tensor& target) {
  const double lo = target.min().item<double>();
  const double hi = target.max().item<double>();
  if (lo >= -1.0 && hi <= 1.0) return lo >= 0.0 ? 1.0 : 2.0;
  return hi > lo ? hi - lo : std::abs(hi);
}

double psnr(const torch::Tensor& target, const torch::Tensor& output) {
  check_same_shape(target, output, "PSNR");
  const double mse =
      (target.to(torch::kDouble) - output.to(torch::kDouble)).square().mean().item<double>();
  if (mse == 0.0) return std::numeric_limits<double>::infinity();
  const double range = psnr_data_range(target);
  return 10.0 * std::log10(range * range / mse);
}

double ssim(const torch::Tensor& target, const torch::Tensor& output) {
  check_same_shape(target, output, "SSIM");
  if (target.dim() != 3 && target.dim() != 4) {
    CDL_THROW(DataError, "SSIM: sample of shape ", target.sizes(),
              "; expected [C, H, W] (2D) or [C, D, H, W] (3D) without the batch axis");
  }
  torch::NoGradGuard no_grad;
  const auto x = as_floating_batch(target);
  const auto y = as_floating_batch(output).to(x.scalar_type());
  const auto window = gaussian_window_1d();
  const auto mu_x = gaussian_blur(x, window), mu_y = gaussian_blur(y, window);
  const auto mu_xx = mu_x * mu_x, mu_yy = mu_y * mu_y, mu_xy = mu_x * mu_y;
  const auto sigma_xx = gaussian_blur(x * x, window) - mu_xx;
  const auto sigma_yy = gaussian_blur(y * y, window) - mu_yy;
  const auto sigma_xy = gaussian_blur(x * y, window) - mu_xy;
  constexpr double kC1 = 0.01 * 0.01, kC2 = 0.03 * 0.03;
  const auto map = ((2 * mu_xy + kC1) * (2 * sigma_xy + kC2)) /
                   ((mu_xx + mu_yy + kC1) * (sigma_xx + sigma_yy + kC2));
  return map.mean().item<double>();
}

MetricList reconstruction_metrics(const torch::Tensor& target, const torch::Tensor& output) {
  check_same_shape(target, output, "reconstruction metrics");
  torch::NoGradGuard no_grad;
  const auto diff = target.to(torch::kDouble) - output.to(torch::kDouble);
  return {{"MAE", diff.abs().mean().item<double>()},
          {"RMSE", std::sqrt(diff.square().mean().item<double>())},
          {"PSNR", psnr(target, output)},
          {"SSIM", ssim(target, output)}};
}

MetricList mean_metrics(const std::vector<MetricList>& rows) {
  if (rows.empty()) return {};
  MetricList out = rows.front();
  for (auto& entry : out) entry.second = 0.0;
  for (const auto& row : rows) {
    if (row.size() != out.size()) {
      CDL_THROW(DataError, "mean_metrics: a row has ", row.size(), " metrics, expected ",
                out.size(), " like the first row");
    }
    for (size_t i = 0; i < row.size(); ++i) {
      if (row[i].first != out[i].first) {
        CDL_THROW(DataError, "mean_metrics: metric '", row[i].first, "' at position ", i,
                  ", expected '", out[i].first, "' like the first row");
      }
      out[i].second += row[i].second;
    }
  }
  for (auto& entry : out) entry.second /= static_cast<double>(rows.size());
  return out;
}

double metric_value(const MetricList& metrics, const std::string& name) {
  double sum = 0.0;
  int count = 0;
  for (const auto& [key, value] : metrics) {
    if (key == name) return value;
    if (key.size() > name.size() && key.compare(0, name.size(), name) == 0 &&
        key[name.size()] == '-' && strip_class_suffix(key) == name) {
      sum += value;
      ++count;
    }
  }
  if (count == 0) {
    std::string seen;
    for (const auto& entry : metrics) seen += (seen.empty() ? "" : ", ") + entry.first;
    CDL_THROW(DataError, "metric '", name, "' was not computed; computed metrics: [", seen, "]");
  }
  return sum / count;
}

MetricList aggregate_class_metrics(const MetricList& metrics,
                                   const std::vector<std::string>& names) {
  MetricList out;
  for (const auto& name : names) out.emplace_back(name, metric_value(metrics, name));
  return out;
}

MetricDirection metric_direction(const std::string& metric) {
  static const std::set<std::string> kMinimize = {"loss", "MAE", "RMSE", "LR_minus"};
  static const std::set<std::string> kMaximize = {
      "BA",   "accuracy", "F1_score", "sensitivity", "specificity", "PPV", "NPV",
      "PSNR", "SSIM",     "LNCC",     "R2_score",    "MCC",         "MK",  "LR_plus"};
  const std::string base = strip_class_suffix(metric);
  if (kMinimize.count(base) || ends_with(base, "loss")) return MetricDirection::kMinimize;
  if (kMaximize.count(base)) return MetricDirection::kMaximize;
  CDL_THROW(ConfigError, "selection metric '", metric,
            "' has no known direction; expected loss or one of the task's evaluation metrics "
            "(BA, accuracy, F1_score, sensitivity, specificity, PPV, NPV, MCC, MK, LR_plus, "
            "LR_minus, R2_score, MAE, RMSE, PSNR, SSIM)");
}

bool is_better(const std::string& metric, double candidate, double best) {
  if (std::isnan(candidate)) return false;
  if (std::isnan(best)) return true;
  return metric_direction(metric) == MetricDirection::kMinimize ? candidate < best
                                                                : candidate > best;
}

nlohmann::json metric_to_json(double value) {
  if (std::isnan(value)) return "nan";
  if (std::isinf(value)) return value > 0 ? "inf" : "-inf";
  return value;
}

double metric_from_json(const nlohmann::json& value) {
  if (value.is_number()) return value.get<double>();
  if (value.is_string()) {
    const auto text = value.get<std::string>();
    if (text == "nan") return std::numeric_limits<double>::quiet_NaN();
    if (text == "inf") return std::numeric_limits<double>::infinity();
    if (text == "-inf") return -std::numeric_limits<double>::infinity();
  }
  CDL_THROW(DataError, "metric value ", value.dump(),
            " in a saved state; expected a number or one of \"inf\", \"-inf\", \"nan\"");
}

}  // namespace cdl::eval

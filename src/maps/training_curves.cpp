// Implementation of the training-curve drawing: panels on a grid, linear axes with a few round
// ticks, one colour per split (network), dashed training and solid validation curves.
#include "cdl/maps/training_curves.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <sstream>

#include "cdl/core/error.hpp"
#include "cdl/maps/tsv_writer.hpp"

namespace cdl::maps {
namespace {

constexpr double kPanelWidth = 360, kPanelHeight = 240;
constexpr double kMarginLeft = 58, kMarginRight = 14, kMarginTop = 30, kMarginBottom = 36;
constexpr int kColumns = 3;
constexpr double kTitleHeight = 40, kLegendHeight = 24;
const char* const kColours[] = {"#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e",
                                "#17becf", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22"};

std::string number(double value) {
  char text[32];
  std::snprintf(text, sizeof(text), "%.6g", value);
  return text;
}

std::string escape_xml(const std::string& text) {
  std::string out;
  for (const char c : text) {
    switch (c) {
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '&':
        out += "&amp;";
        break;
      case '"':
        out += "&quot;";
        break;
      default:
        out += static_cast<unsigned char>(c) < 0x20 ? ' ' : c;
    }
  }
  return out;
}

/// The metrics drawn: those with both columns, in the log's order, loss first.
std::vector<std::string> drawn_metrics(const TsvTable& log) {
  std::vector<std::string> metrics;
  for (const auto& column : log.columns()) {
    const auto stem = column.size() > 6 ? column.substr(0, column.size() - 6) : "";
    if (!stem.empty() && column.compare(stem.size(), 6, "_train") == 0 &&
        log.has_column(stem + "_valid")) {
      metrics.push_back(stem);
    }
  }
  std::stable_partition(metrics.begin(), metrics.end(),
                        [](const std::string& m) { return m == "loss"; });
  return metrics;
}

/// A linear range [low, high] around `values` (finite ones), widened when flat.
std::pair<double, double> range_of(const std::vector<double>& values) {
  double low = std::numeric_limits<double>::infinity(), high = -low;
  for (const double v : values) {
    if (!std::isfinite(v)) continue;
    low = std::min(low, v);
    high = std::max(high, v);
  }
  if (!std::isfinite(low)) return {0.0, 1.0};
  if (high - low < 1e-12 * std::max(1.0, std::abs(high))) {
    const double pad = std::max(std::abs(high) * 0.05, 0.5);
    return {low - pad, high + pad};
  }
  const double pad = 0.05 * (high - low);
  return {low - pad, high + pad};
}

/// About five round tick values within [low, high].
std::vector<double> ticks(double low, double high) {
  const double raw = (high - low) / 5.0;
  const double magnitude = std::pow(10.0, std::floor(std::log10(raw)));
  double step = magnitude;
  for (const double factor : {1.0, 2.0, 5.0, 10.0}) {
    step = factor * magnitude;
    if (raw <= step) break;
  }
  std::vector<double> values;
  for (double v = std::ceil(low / step) * step; v <= high + 1e-9 * step; v += step) {
    values.push_back(std::abs(v) < 1e-12 * step ? 0.0 : v);
  }
  return values;
}

/// One panel: the axes' mapping from values to the drawing.
struct Panel {
  double left, top, width, height;  // plot area
  double x_low, x_high, y_low, y_high;
  double x(double value) const { return left + (value - x_low) / (x_high - x_low) * width; }
  double y(double value) const { return top + (y_high - value) / (y_high - y_low) * height; }
};

void draw_axes(std::ostringstream& svg, const Panel& p, const std::string& metric) {
  svg << "<rect x=\"" << number(p.left) << "\" y=\"" << number(p.top) << "\" width=\""
      << number(p.width) << "\" height=\"" << number(p.height)
      << "\" fill=\"none\" stroke=\"#999\"/>\n";
  svg << "<text x=\"" << number(p.left + p.width / 2) << "\" y=\"" << number(p.top - 10)
      << "\" text-anchor=\"middle\" font-weight=\"bold\">" << escape_xml(metric) << "</text>\n";
  for (const double t : ticks(p.y_low, p.y_high)) {
    svg << "<line x1=\"" << number(p.left) << "\" x2=\"" << number(p.left + p.width) << "\" y1=\""
        << number(p.y(t)) << "\" y2=\"" << number(p.y(t)) << "\" stroke=\"#eee\"/><text x=\""
        << number(p.left - 4) << "\" y=\"" << number(p.y(t) + 4) << "\" text-anchor=\"end\">"
        << number(t) << "</text>\n";
  }
  for (const double t : ticks(p.x_low, p.x_high)) {
    svg << "<text x=\"" << number(p.x(t)) << "\" y=\"" << number(p.top + p.height + 16)
        << "\" text-anchor=\"middle\">" << number(t) << "</text>\n";
  }
  svg << "<text x=\"" << number(p.left + p.width / 2) << "\" y=\"" << number(p.top + p.height + 31)
      << "\" text-anchor=\"middle\">epochs</text>\n";
}

void draw_curve(std::ostringstream& svg, const Panel& p, const std::vector<double>& xs,
                const std::vector<double>& ys, const std::string& colour, bool dashed,
                const std::string& curve, const std::string& set, const std::string& metric) {
  svg << "<polyline data-curve=\"" << escape_xml(curve) << "\" data-set=\"" << set
      << "\" data-metric=\"" << escape_xml(metric) << "\" fill=\"none\" stroke=\"" << colour
      << "\" stroke-width=\"1.6\"" << (dashed ? " stroke-dasharray=\"5 3\"" : "") << " points=\"";
  bool first = true;
  for (size_t i = 0; i < xs.size(); ++i) {
    if (!std::isfinite(ys[i])) continue;  // a missing value leaves the point out
    svg << (first ? "" : " ") << number(p.x(xs[i])) << "," << number(p.y(ys[i]));
    first = false;
  }
  svg << "\"/>\n";
}

}  // namespace

std::vector<double> epoch_positions(const TsvTable& log) {
  const int64_t epoch_column = log.column_index("epoch");
  const int64_t iteration_column = log.column_index("iteration");
  std::map<int64_t, double> last_iteration;
  for (int64_t r = 0; r < log.num_rows(); ++r) {
    const int64_t epoch = log_integer(log.at(r, epoch_column), "epoch", log.location(r));
    auto& last = last_iteration[epoch];
    last = std::max(last, static_cast<double>(log_integer(log.at(r, iteration_column), "iteration",
                                                          log.location(r))));
  }
  std::vector<double> positions;
  for (int64_t r = 0; r < log.num_rows(); ++r) {
    const int64_t epoch = log_integer(log.at(r, epoch_column), "epoch", log.location(r));
    const auto iteration =
        static_cast<double>(log_integer(log.at(r, iteration_column), "iteration", log.location(r)));
    positions.push_back(static_cast<double>(epoch) + (iteration + 1) / (last_iteration[epoch] + 1));
  }
  return positions;
}

std::string training_curves_svg(const std::string& title,
                                const std::vector<TrainingCurves>& curves) {
  CDL_CHECK(!curves.empty(), "no training log to draw");
  const auto metrics = drawn_metrics(curves.front().log);
  const int rows = static_cast<int>((metrics.size() + kColumns - 1) / kColumns);
  const double width = kColumns * kPanelWidth;
  const double height = kTitleHeight + kLegendHeight + rows * kPanelHeight;
  std::ostringstream svg;
  svg << "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
      << "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" << number(width) << "\" height=\""
      << number(height) << "\" viewBox=\"0 0 " << number(width) << " " << number(height)
      << "\" font-family=\"sans-serif\" font-size=\"11\">\n"
      << "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
      << "<text x=\"" << number(width / 2) << "\" y=\"26\" text-anchor=\"middle\" "
      << "font-size=\"16\">" << escape_xml(title) << "</text>\n";
  // Legend: a colour per curve; dashed = training, solid = validation, dot = best model.
  double legend_x = 12;
  for (size_t c = 0; c < curves.size(); ++c) {
    const std::string colour = kColours[c % std::size(kColours)];
    svg << "<line x1=\"" << number(legend_x) << "\" x2=\"" << number(legend_x + 18) << "\" y1=\""
        << number(kTitleHeight + 8) << "\" y2=\"" << number(kTitleHeight + 8) << "\" stroke=\""
        << colour << "\" stroke-width=\"2\"/><text x=\"" << number(legend_x + 22) << "\" y=\""
        << number(kTitleHeight + 12) << "\">" << escape_xml(curves[c].name) << "</text>\n";
    legend_x += 30 + 7 * static_cast<double>(curves[c].name.size());
  }
  svg << "<text x=\"" << number(width - 12) << "\" y=\"" << number(kTitleHeight + 12)
      << "\" text-anchor=\"end\">dashed: training, solid: validation, dot: best model</text>\n";
  std::vector<std::vector<double>> positions;
  double last_epoch = 1;
  for (const auto& curve : curves) {
    positions.push_back(epoch_positions(curve.log));
    for (const double x : positions.back()) last_epoch = std::max(last_epoch, x);
  }
  for (size_t m = 0; m < metrics.size(); ++m) {
    const auto& metric = metrics[m];
    std::vector<double> values;
    for (const auto& curve : curves) {
      for (const char* set : {"_train", "_valid"}) {
        if (!curve.log.has_column(metric + set)) continue;
        const int64_t column = curve.log.column_index(metric + set);
        for (int64_t r = 0; r < curve.log.num_rows(); ++r)
          values.push_back(log_number(curve.log.at(r, column)));
      }
    }
    const auto [y_low, y_high] = range_of(values);
    const double origin_x = static_cast<double>(m % kColumns) * kPanelWidth;
    const double origin_y =
        kTitleHeight + kLegendHeight + static_cast<double>(m / kColumns) * kPanelHeight;
    const Panel panel{origin_x + kMarginLeft,
                      origin_y + kMarginTop,
                      kPanelWidth - kMarginLeft - kMarginRight,
                      kPanelHeight - kMarginTop - kMarginBottom,
                      0.0,
                      last_epoch,
                      y_low,
                      y_high};
    svg << "<g data-metric=\"" << escape_xml(metric) << "\" data-x-range=\"0 " << number(last_epoch)
        << "\" data-y-range=\"" << number(y_low) << " " << number(y_high) << "\" data-area=\""
        << number(panel.left) << " " << number(panel.top) << " " << number(panel.width) << " "
        << number(panel.height) << "\">\n";
    draw_axes(svg, panel, metric);
    for (size_t c = 0; c < curves.size(); ++c) {
      const auto& curve = curves[c];
      const std::string colour = kColours[c % std::size(kColours)];
      if (!curve.log.has_column(metric + "_train") || !curve.log.has_column(metric + "_valid"))
        continue;
      std::vector<double> train, valid;
      for (int64_t r = 0; r < curve.log.num_rows(); ++r) {
        train.push_back(log_number(curve.log.at(r, metric + "_train")));
        valid.push_back(log_number(curve.log.at(r, metric + "_valid")));
      }
      draw_curve(svg, panel, positions[c], train, colour, true, curve.name, "train", metric);
      draw_curve(svg, panel, positions[c], valid, colour, false, curve.name, "validation", metric);
      const auto best = curve.best_epoch.find(metric);
      if (best == curve.best_epoch.end()) continue;
      // The best model is the one after its epoch: the epoch's last row (at e + 1).
      for (int64_t r = curve.log.num_rows() - 1; r >= 0; --r) {
        if (log_integer(curve.log.at(r, "epoch"), "epoch", curve.log.location(r)) != best->second)
          continue;
        if (!std::isfinite(valid[r])) break;
        svg << "<circle data-curve=\"" << escape_xml(curve.name) << "\" data-best=\""
            << escape_xml(metric) << "\" data-epoch=\"" << best->second << "\" cx=\""
            << number(panel.x(positions[c][r])) << "\" cy=\"" << number(panel.y(valid[r]))
            << "\" r=\"4.5\" fill=\"" << colour << "\" stroke=\"black\"><title>best-"
            << escape_xml(metric) << ": epoch " << best->second << "</title></circle>\n";
        break;
      }
    }
    svg << "</g>\n";
  }
  svg << "</svg>\n";
  return svg.str();
}

}  // namespace cdl::maps

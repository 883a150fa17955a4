// Training curves of a MAPS drawn as one SVG document, for people who would rather look than
// read training.tsv: a panel per metric (loss first), the training (dashed) and validation
// (solid) curve of every split (and network) in it, each best model marked on the validation
// curve of its selection metric.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "cdl/core/tsv_table.hpp"

namespace cdl::maps {

/// The log of one split (or one network of a split) and where its best models were taken.
struct TrainingCurves {
  std::string name;                           ///< "split-0", "split-1 network-2" ...
  TsvTable log;                               ///< its training.tsv
  std::map<std::string, int64_t> best_epoch;  ///< selection metric -> epoch of best-<metric>
};

/// Where a training.tsv row lies on the epoch axis: an evaluation after iteration i of epoch e
/// at e + (i + 1) / (the last iteration logged in epoch e, + 1); the end of epoch e at e + 1.
std::vector<double> epoch_positions(const TsvTable& log);

/// The SVG document (UTF-8 text) of `curves` under `title`. Metrics are those with a "_train"
/// and a "_valid" column in the first log. Every curve is a <polyline> carrying data-curve,
/// data-set (train | validation) and data-metric attributes, every best-model mark a <circle>
/// with data-curve, data-best and data-epoch; each panel's <g> gives its axes' ranges as
/// data-x-range and data-y-range ("low high") and its plot area as data-area ("x y width
/// height"), so that a test (or a user's script) can read values back from the drawing.
std::string training_curves_svg(const std::string& title,
                                const std::vector<TrainingCurves>& curves);

}  // namespace cdl::maps

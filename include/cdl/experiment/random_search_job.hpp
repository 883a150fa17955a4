// Random search as one job: N sampled configurations (config/random_search.hpp) trained as units
// over rank groups that take the next run when they finish one, each run a MAPS of its own
// (LAUNCH_DIR/NAME/run-<k>, k folds if asked), and a summary of every run's selection metrics.
// A run whose options are invalid or whose training diverges is recorded as failed; the others
// go on.
#pragma once

#include <cstdint>
#include <string>

#include "cdl/comm/runtime.hpp"
#include "cdl/config/random_search.hpp"

namespace cdl::experiment {

/// What `clinicadl-hpc random-search` was asked.
struct SearchRequest {
  std::string launch_dir;  ///< holds random_search.toml
  std::string name;        ///< the search folder LAUNCH_DIR/NAME
  int64_t runs = 1;        ///< sampled configurations
  bool overwrite = false;  ///< replace an earlier search folder of that name
  bool resume = false;     ///< continue the search of that folder (its own random_search.toml)
};

/// The search folder LAUNCH_DIR/NAME.
std::string search_folder(const SearchRequest& request);

/// Not collective, deterministic: throws ConfigError when the search folder is a file, or an
/// existing non-empty folder without --overwrite; with --overwrite it must be a search folder
/// (random_search.json) holding none of the space's inputs (data, split tables, the TOML file).
/// With --resume it must be a search folder.
void check_search_destination(const SearchRequest& request, const config::SearchSpace& space);

/// For --resume: the space the search folder recorded (its copy of random_search.toml) and its
/// number of runs (request.runs, when not 0, must match it). Throws ConfigError when the folder
/// is not a search folder or the numbers differ.
config::SearchSpace recorded_search(SearchRequest& request);

/// Collective: runs the search. Rank groups: min(ranks, runs) groups of consecutive ranks; each
/// group trains its runs one after another as `train` would (its own rank groups inside for
/// --multi_network or --split_parallel). World rank 0 claims the search folder, writes
/// random_search.json (the request and every run's sampled values) and, at the end,
/// random_search.tsv: one row per run (status, seconds, sampled values, the validation value of
/// each selection metric for its best model, averaged over the splits, and per split).
/// Each run's outcome is recorded in outcomes/run-<k>.json as it ends. A stop request ends the
/// job (kInterruptedExitCode) after every group saved its states; with --resume the search
/// continues: runs with an outcome are kept, started runs continue as `resume` would, the others
/// train.
void run_random_search(const config::SearchSpace& space, const SearchRequest& request,
                       comm::Runtime& runtime);

}  // namespace cdl::experiment

// `caps2h5 split` and `caps2h5 kfold`: ClinicaDL-compatible TSV split trees (reference 6.4),
// stratified by diagnosis at subject level.
#pragma once

#include <cstdint>
#include <string>

namespace cdl::data_tools {

/// Options shared by split and kfold.
struct SplitOptions {
  std::string labels_tsv;  ///< participant_id, session_id, diagnosis, ...
  std::string output_dir;  ///< default: <dir of labels>/split or /<K>_fold
  std::string subset_name = "validation";
  std::string n_test = "100";  ///< split: a count, or a fraction < 1
  int n_splits = 5;            ///< kfold
  uint64_t seed = 2;
};

/// Writes train.tsv, train_baseline.tsv, <subset>_baseline.tsv, <subset>.tsv and split.json
/// into the output folder (refused if it exists). Returns the folder written.
std::string write_split(const SplitOptions& options);

/// Writes split-0 .. split-(K-1) (same four TSVs each) and kfold.json (refused if the folder
/// exists); every subject is in exactly one validation fold. Returns the folder written.
std::string write_kfold(const SplitOptions& options);

}  // namespace cdl::data_tools

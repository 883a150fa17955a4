// Reading of ClinicaDL split trees (tsvtools split / kfold output) for one split k: train and
// validation tables, labels.tsv join, diagnosis filter, cohort column, multi-cohort TSV_DIR.
#pragma once

#include <string>
#include <vector>

#include "cdl/core/tsv_table.hpp"

namespace cdl::data {

/// How the tables of a split are chosen and filtered (ClinicaDL options of the same names).
struct SplitOptions {
  std::vector<std::string> diagnoses{"AD", "CN"};  ///< rows kept: diagnosis in this list
  bool baseline = false;  ///< train on train_baseline.tsv instead of train.tsv
  bool valid_longitudinal =
      false;                  ///< validate on validation.tsv instead of validation_baseline.tsv
  int n_splits = 0;           ///< <= 1: TSV_DIR holds the tables; else TSV_DIR/split-<k>
  bool multi_cohort = false;  ///< TSV_DIR is a TSV with columns cohort, path, diagnoses
};

/// The two tables of one split, each with a `cohort` column, rows in file order.
struct SplitTables {
  TsvTable train;
  TsvTable validation;
};

/// Reads split `split` of `tsv_dir` per ClinicaDL (reference 6.4-6.6). Throws ConfigError naming
/// the file when a table is missing, lacks participant_id/session_id/diagnosis (after the
/// labels.tsv join), or when `multi_cohort` does not match the kind of `tsv_dir`.
SplitTables read_split(const std::string& tsv_dir, int split, const SplitOptions& options);

/// Reads one table `file` with ClinicaDL's rules: labels.tsv join if `diagnosis` is absent,
/// filter on `diagnoses`, `cohort` column set to `cohort`.
TsvTable read_split_table(const std::string& file, const std::vector<std::string>& diagnoses,
                          const std::string& cohort);

/// The folder of split `split`: `tsv_dir` when n_splits <= 1, else `tsv_dir/split-<split>`.
std::string split_directory(const std::string& tsv_dir, int split, int n_splits);

/// Inner join of `table` with `labels` on (participant_id, session_id): adds the columns of
/// `labels` that `table` lacks; rows of `table` without a match are dropped; table order kept.
TsvTable join_on_session(const TsvTable& table, const TsvTable& labels);

/// The nearest `labels.tsv` in the folder of `file` or any parent folder; "" if none.
std::string find_labels_tsv(const std::string& file);

/// Parses ClinicaDL's comma-separated diagnoses cell ("AD, CN") into names (spaces ignored).
std::vector<std::string> parse_diagnoses(const std::string& cell);

}  // namespace cdl::data

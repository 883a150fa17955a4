// Implementation of the split-tree reader (ClinicaDL reference 6.4-6.6).
#include "cdl/data/split_reader.hpp"

#include <algorithm>
#include <filesystem>
#include <map>
#include <set>
#include <tuple>

#include "cdl/core/error.hpp"
#include "cdl/data/data_source.hpp"

namespace cdl::data {
namespace fs = std::filesystem;
namespace {

std::string join(const std::vector<std::string>& values) {
  std::string out;
  for (const auto& v : values) out += (out.empty() ? "" : ", ") + v;
  return out;
}

bool is_tsv_file(const std::string& path) {
  return fs::path(path).extension() == ".tsv" && !fs::is_directory(path);
}

/// Checks that the kind of TSV_DIR (folder or cohort TSV) matches the multi_cohort option.
void check_multi_cohort_kind(const std::string& tsv_dir, bool multi_cohort) {
  const bool is_tsv = is_tsv_file(tsv_dir);
  if (is_tsv && !multi_cohort) {
    CDL_THROW(ConfigError, "TSV_DIR '", tsv_dir, "' is a .tsv file but multi_cohort is off",
              "\nhint: add --multi_cohort (TSV_DIR then lists cohort, path, diagnoses)");
  }
  if (!is_tsv && multi_cohort) {
    CDL_THROW(ConfigError, "multi_cohort is on but TSV_DIR '", tsv_dir, "' is not a .tsv file",
              "\nhint: give a TSV with columns cohort, path, diagnoses, or drop --multi_cohort");
  }
}

SplitTables read_cohort_split(const std::string& dir, int split, const SplitOptions& options,
                              const std::vector<std::string>& diagnoses,
                              const std::string& cohort) {
  const fs::path d = split_directory(dir, split, options.n_splits);
  const std::string train = options.baseline ? "train_baseline.tsv" : "train.tsv";
  const std::string valid =
      options.valid_longitudinal ? "validation.tsv" : "validation_baseline.tsv";
  return {read_split_table((d / train).string(), diagnoses, cohort),
          read_split_table((d / valid).string(), diagnoses, cohort)};
}

/// Diagnoses of `wanted` that also appear in `available`, in `wanted` order.
std::vector<std::string> intersect(const std::vector<std::string>& wanted,
                                   const std::vector<std::string>& available) {
  std::vector<std::string> out;
  for (const auto& d : wanted) {
    if (std::find(available.begin(), available.end(), d) != available.end()) out.push_back(d);
  }
  return out;
}

SplitTables read_multi_cohort(const std::string& tsv_path, int split, const SplitOptions& options) {
  const TsvTable cohorts = TsvTable::read(tsv_path);
  cohorts.require_columns({"cohort", "path", "diagnoses"});
  SplitTables out{TsvTable({}, tsv_path), TsvTable({}, tsv_path)};
  std::set<std::string> used;
  for (int64_t r = 0; r < cohorts.num_rows(); ++r) {
    const auto diagnoses =
        intersect(options.diagnoses, parse_diagnoses(cohorts.at(r, "diagnoses")));
    if (diagnoses.empty()) continue;
    used.insert(diagnoses.begin(), diagnoses.end());
    std::string dir = cohorts.at(r, "path");
    if (fs::path(dir).is_relative() && !fs::exists(dir)) {
      dir = (fs::path(tsv_path).parent_path() / dir).string();
    }
    SplitTables t = read_cohort_split(dir, split, options, diagnoses, cohorts.at(r, "cohort"));
    out.train.append(t.train);
    out.validation.append(t.validation);
  }
  if (used != std::set<std::string>(options.diagnoses.begin(), options.diagnoses.end())) {
    CDL_THROW(ConfigError, "the cohorts of '", tsv_path, "' provide the diagnoses {",
              join(std::vector<std::string>(used.begin(), used.end())), "} but {",
              join(options.diagnoses), "} were requested",
              "\nhint: fix the `diagnoses` column of the cohort TSV or the --diagnoses option");
  }
  return out;
}

}  // namespace

std::string split_directory(const std::string& tsv_dir, int split, int n_splits) {
  if (n_splits <= 1) return tsv_dir;
  return (fs::path(tsv_dir) / ("split-" + std::to_string(split))).string();
}

std::string find_labels_tsv(const std::string& file) {
  fs::path dir = fs::absolute(fs::path(file)).parent_path();
  while (true) {
    const fs::path candidate = dir / "labels.tsv";
    if (fs::is_regular_file(candidate)) return candidate.string();
    if (!dir.has_parent_path() || dir.parent_path() == dir) return "";
    dir = dir.parent_path();
  }
}

TsvTable join_on_session(const TsvTable& table, const TsvTable& labels) {
  table.require_columns({"participant_id", "session_id"});
  labels.require_columns({"participant_id", "session_id"});
  std::map<std::pair<std::string, std::string>, int64_t> label_rows;
  for (int64_t r = 0; r < labels.num_rows(); ++r) {
    label_rows.emplace(std::make_pair(labels.at(r, "participant_id"), labels.at(r, "session_id")),
                       r);
  }
  std::vector<int64_t> added;
  std::vector<std::string> columns = table.columns();
  for (int64_t c = 0; c < static_cast<int64_t>(labels.columns().size()); ++c) {
    if (!table.has_column(labels.columns()[c])) {
      added.push_back(c);
      columns.push_back(labels.columns()[c]);
    }
  }
  TsvTable out(columns, table.source());
  for (int64_t r = 0; r < table.num_rows(); ++r) {
    const auto it = label_rows.find({table.at(r, "participant_id"), table.at(r, "session_id")});
    if (it == label_rows.end()) continue;
    std::vector<std::string> values = table.row(r);
    for (int64_t c : added) values.push_back(labels.at(it->second, c));
    out.add_row(std::move(values), table.row_file(r), table.row_line(r));
  }
  return out;
}

TsvTable read_split_table(const std::string& file, const std::vector<std::string>& diagnoses,
                          const std::string& cohort) {
  TsvTable table = TsvTable::read(file);
  table.require_columns({"participant_id", "session_id"});
  if (!table.has_column("diagnosis")) {
    const std::string labels = find_labels_tsv(file);
    if (labels.empty()) {
      CDL_THROW(ConfigError, "TSV '", file, "' has no 'diagnosis' column and no labels.tsv was ",
                "found in its folder or any parent folder\nhint: add a diagnosis column or put ",
                "the labels.tsv of `clinicadl tsvtools get-labels` above the split folder");
    }
    table = join_on_session(table, TsvTable::read(labels));
    table.require_columns({"diagnosis"});
  }
  const int64_t dx = table.column_index("diagnosis");
  TsvTable kept = table.filter([&](int64_t r) {
    return std::find(diagnoses.begin(), diagnoses.end(), table.at(r, dx)) != diagnoses.end();
  });
  kept.set_column("cohort", cohort);
  return kept;
}

namespace {

/// Throws when a (cohort, participant, session) appears twice in `table`: it would be trained on
/// and evaluated twice.
void check_no_duplicate_sessions(const TsvTable& table) {
  std::map<std::tuple<std::string, std::string, std::string>, int64_t> first_row;
  for (int64_t r = 0; r < table.num_rows(); ++r) {
    const auto key = std::make_tuple(table.at(r, "cohort"), table.at(r, "participant_id"),
                                     table.at(r, "session_id"));
    const auto [it, inserted] = first_row.emplace(key, r);
    if (!inserted) {
      CDL_THROW(ConfigError, "session ", std::get<1>(key), " ", std::get<2>(key),
                " appears twice: ", table.location(it->second), " and ", table.location(r),
                "; each session may appear once per set\n  hint: remove the duplicate row");
    }
  }
}

/// Throws when a participant is in both sets: the validation metrics would be optimistic (leak).
void check_no_participant_in_both(const SplitTables& tables) {
  std::map<std::pair<std::string, std::string>, int64_t> train_row;
  for (int64_t r = 0; r < tables.train.num_rows(); ++r) {
    train_row.emplace(
        std::make_pair(tables.train.at(r, "cohort"), tables.train.at(r, "participant_id")), r);
  }
  for (int64_t r = 0; r < tables.validation.num_rows(); ++r) {
    const auto key = std::make_pair(tables.validation.at(r, "cohort"),
                                    tables.validation.at(r, "participant_id"));
    const auto it = train_row.find(key);
    if (it == train_row.end()) continue;
    CDL_THROW(ConfigError, "participant ", key.second, " is in the training set (",
              tables.train.location(it->second), ") and in the validation set (",
              tables.validation.location(r),
              "): data leak; expected disjoint participants\n  "
              "hint: make the split with `caps2h5 split`/`kfold` or ClinicaDL's tsvtools, which "
              "split by participant");
  }
}

SplitTables checked(SplitTables tables) {
  check_no_duplicate_sessions(tables.train);
  check_no_duplicate_sessions(tables.validation);
  check_no_participant_in_both(tables);
  return tables;
}

}  // namespace

SplitTables read_split(const std::string& tsv_dir, int split, const SplitOptions& options) {
  check_multi_cohort_kind(tsv_dir, options.multi_cohort);
  if (options.n_splits > 1 && (split < 0 || split >= options.n_splits)) {
    CDL_THROW(ConfigError, "split ", split, " requested but n_splits is ", options.n_splits,
              "; expected 0 <= split < n_splits");
  }
  if (options.multi_cohort) return checked(read_multi_cohort(tsv_dir, split, options));
  if (!fs::is_directory(tsv_dir)) {
    CDL_THROW(ConfigError, "TSV_DIR '", tsv_dir, "' is not a folder",
              "\nhint: give the output folder of `clinicadl tsvtools split` or `kfold`");
  }
  return checked(read_cohort_split(tsv_dir, split, options, options.diagnoses, kSingleCohort));
}

std::vector<std::string> parse_diagnoses(const std::string& cell) {
  std::vector<std::string> out;
  std::string current;
  for (char c : cell + ",") {
    if (c == ',') {
      if (!current.empty()) out.push_back(current);
      current.clear();
    } else if (c != ' ' && c != '\t') {
      current += c;
    }
  }
  return out;
}

}  // namespace cdl::data

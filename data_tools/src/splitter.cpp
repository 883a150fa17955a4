// Subject-level stratified split / k-fold. Rows keep every column of the label table, sorted by
// (participant_id, session_id) and de-duplicated; "baseline" = smallest session_id.
#include "caps2h5/splitter.hpp"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <random>
#include <set>

#include "cdl/core/error.hpp"
#include "cdl/core/file_tree.hpp"
#include "cdl/core/tsv_table.hpp"

namespace cdl::data_tools {
namespace fs = std::filesystem;
namespace {

/// The label table, sorted and de-duplicated, with each subject's baseline diagnosis.
struct Labels {
  TsvTable table;
  std::map<std::string, std::string> diagnosis;  ///< participant -> baseline diagnosis
  int participant_column = 0;
  int session_column = 0;
};

Labels read_labels(const std::string& path) {
  const TsvTable raw = TsvTable::read(path);
  Labels labels;
  labels.participant_column = raw.column_index("participant_id");
  labels.session_column = raw.column_index("session_id");
  const int dc = raw.column_index("diagnosis");
  const size_t pc = size_t(labels.participant_column), sc = size_t(labels.session_column);
  const auto& rows = raw.rows();
  std::vector<size_t> order(rows.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    return std::tie(rows[a][pc], rows[a][sc]) < std::tie(rows[b][pc], rows[b][sc]);
  });
  labels.table = TsvTable(raw.columns());
  std::map<std::pair<std::string, std::string>, size_t> seen;  // session -> first row index
  for (const size_t i : order) {
    const auto& row = rows[i];
    const auto [it, inserted] = seen.emplace(std::make_pair(row[pc], row[sc]), i);
    if (!inserted) {
      // An exact repeat is harmless; two different rows for one session are a contradiction.
      if (rows[it->second] == row) continue;
      CDL_THROW(
          ConfigError, "'", path, "' lines ", it->second + 2, " and ", i + 2,
          " give different values for session ", row[pc], " ", row[sc], " (diagnosis '",
          rows[it->second][size_t(dc)], "' and '", row[size_t(dc)],
          "'); expected one row per session\n  hint: keep the right row and delete the other");
    }
    labels.diagnosis.emplace(row[pc], row[size_t(dc)]);  // first (baseline) session wins
    labels.table.add_row(row);
  }
  if (labels.diagnosis.size() < 2) {
    CDL_THROW(ConfigError, "'", path, "' has ", labels.diagnosis.size(),
              " participant(s); at least 2 are needed to split");
  }
  return labels;
}

/// Subjects of each diagnosis, each list shuffled by `seed` (portable Fisher-Yates).
std::map<std::string, std::vector<std::string>> shuffled_classes(const Labels& labels,
                                                                 uint64_t seed) {
  std::map<std::string, std::vector<std::string>> classes;
  for (const auto& [participant, diagnosis] : labels.diagnosis)
    classes[diagnosis].push_back(participant);
  std::mt19937_64 engine(seed);
  for (auto& [diagnosis, subjects] : classes) {
    for (size_t i = subjects.size() - 1; i > 0; --i)
      std::swap(subjects[i], subjects[engine() % (i + 1)]);
  }
  return classes;
}

/// Number of test subjects from "--n_test" (a count, or a fraction of the subjects if < 1).
size_t test_count(const std::string& text, size_t n_subjects) {
  char* end = nullptr;
  const double value = std::strtod(text.c_str(), &end);
  if (end == text.c_str() || *end != '\0' || value <= 0) {
    CDL_THROW(ConfigError, "--n_test '", text,
              "' is invalid; expected a count or a fraction in (0, 1)");
  }
  const size_t n = value < 1.0 ? size_t(std::ceil(value * double(n_subjects))) : size_t(value);
  if (n < 1 || n >= n_subjects || (value >= 1.0 && value != std::floor(value))) {
    CDL_THROW(ConfigError, "--n_test '", text, "' gives ", n, " test subjects out of ", n_subjects,
              "; expected between 1 and ", n_subjects - 1);
  }
  return n;
}

/// Per-class test quotas summing to n (largest remainders, ties by class name).
std::map<std::string, size_t> quotas(const std::map<std::string, std::vector<std::string>>& classes,
                                     size_t n, size_t total) {
  std::map<std::string, size_t> q;
  std::vector<std::pair<double, std::string>> remainders;
  size_t assigned = 0;
  for (const auto& [name, subjects] : classes) {
    const double exact = double(n) * double(subjects.size()) / double(total);
    q[name] = size_t(std::floor(exact));
    assigned += q[name];
    remainders.emplace_back(-(exact - std::floor(exact)), name);
  }
  std::sort(remainders.begin(), remainders.end());
  for (size_t i = 0; assigned < n && i < remainders.size(); ++i, ++assigned)
    ++q[remainders[i].second];
  return q;
}

/// Writes the four TSVs of one split into `dir` given the held-out subjects.
void write_tables(const Labels& labels, const std::set<std::string>& held_out,
                  const std::string& subset, const fs::path& dir) {
  fs::create_directories(dir);
  const auto& columns = labels.table.columns();
  TsvTable train(columns), train_base(columns), valid(columns), valid_base(columns);
  std::set<std::string> seen;
  for (const auto& row : labels.table.rows()) {
    const std::string& p = row[size_t(labels.participant_column)];
    const bool baseline = seen.insert(p).second;
    const bool out = held_out.count(p) > 0;
    (out ? valid : train).add_row(row);
    if (baseline) (out ? valid_base : train_base).add_row(row);
  }
  train.write((dir / "train.tsv").string());
  train_base.write((dir / "train_baseline.tsv").string());
  valid.write((dir / (subset + ".tsv")).string());
  valid_base.write((dir / (subset + "_baseline.tsv")).string());
}

/// Output folder (default next to the labels) that must not exist yet.
fs::path output_folder(const SplitOptions& o, const std::string& default_name) {
  fs::path dir = o.output_dir.empty() ? fs::path(o.labels_tsv).parent_path() / default_name
                                      : fs::path(o.output_dir);
  if (fs::exists(dir)) {
    CDL_THROW(ConfigError, "output folder '", dir.string(), "' already exists; hint: remove it or ",
              "choose another with --output_dir");
  }
  return dir;
}

void write_json(const fs::path& path, const nlohmann::ordered_json& json) {
  std::ofstream out(path);
  out << json.dump(4) << '\n';
  if (!out) CDL_THROW(DataError, "cannot write '", path.string(), "'");
}

nlohmann::ordered_json common_json(const SplitOptions& o) {
  return {{"data_tsv", fs::absolute(o.labels_tsv).string()},
          {"subset_name", o.subset_name},
          {"stratification", "diagnosis"},
          {"seed", o.seed},
          {"ignore_demographics", true},
          {"valid_longitudinal", true},
          {"created_by", "caps2h5"}};
}

/// Builds the tree in "<dir>.tmp" and renames it, so a failure leaves nothing behind.
template <typename Body>
std::string write_atomically(const fs::path& dir, Body body) {
  const fs::path tmp = dir.string() + ".tmp";
  cdl::remove_tree(tmp);
  try {
    body(tmp);
    fs::rename(tmp, dir);
  } catch (...) {
    std::error_code ec;
    cdl::remove_tree(tmp, ec);
    throw;
  }
  return dir.string();
}

}  // namespace

std::string write_split(const SplitOptions& o) {
  const Labels labels = read_labels(o.labels_tsv);
  const fs::path dir = output_folder(o, "split");
  const size_t n = test_count(o.n_test, labels.diagnosis.size());
  const auto classes = shuffled_classes(labels, o.seed);
  std::set<std::string> held_out;
  for (const auto& [name, count] : quotas(classes, n, labels.diagnosis.size())) {
    const auto& subjects = classes.at(name);
    held_out.insert(subjects.begin(), subjects.begin() + std::ptrdiff_t(count));
  }
  nlohmann::ordered_json json = common_json(o);
  json["n_test"] = n;
  return write_atomically(dir, [&](const fs::path& tmp) {
    write_tables(labels, held_out, o.subset_name, tmp);
    write_json(tmp / "split.json", json);
  });
}

std::string write_kfold(const SplitOptions& o) {
  const Labels labels = read_labels(o.labels_tsv);
  if (o.n_splits < 2 || size_t(o.n_splits) > labels.diagnosis.size()) {
    CDL_THROW(ConfigError, "--n_splits ", o.n_splits, " is invalid for ", labels.diagnosis.size(),
              " participants; expected 2..", labels.diagnosis.size());
  }
  const fs::path dir = output_folder(o, std::to_string(o.n_splits) + "_fold");
  std::vector<std::set<std::string>> folds(size_t(o.n_splits));
  size_t position = 0;  // dealt round-robin across classes: fold sizes differ by at most one
  for (const auto& [name, subjects] : shuffled_classes(labels, o.seed)) {
    for (const auto& s : subjects) folds[position++ % folds.size()].insert(s);
  }
  nlohmann::ordered_json json = common_json(o);
  json["n_splits"] = o.n_splits;
  return write_atomically(dir, [&](const fs::path& tmp) {
    for (size_t k = 0; k < folds.size(); ++k) {
      write_tables(labels, folds[k], o.subset_name, tmp / ("split-" + std::to_string(k)));
    }
    write_json(tmp / "kfold.json", json);
  });
}

}  // namespace cdl::data_tools

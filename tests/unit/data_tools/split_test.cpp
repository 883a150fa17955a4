// caps2h5 split / kfold: stratification, subject separation, coverage, determinism.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "caps2h5/splitter.hpp"
#include "cdl/core/error.hpp"
#include "cdl/core/tsv_table.hpp"
#include "test_helpers.hpp"

namespace cdl::data_tools {
namespace {

namespace fs = std::filesystem;
using testing::TempDir;

/// 40 subjects: 16 AD, 24 CN, with 1-3 sessions each (rows deliberately unsorted).
std::string write_labels(const TempDir& dir) {
  TsvTable t({"participant_id", "session_id", "diagnosis", "age", "sex"});
  for (int s = 40; s >= 1; --s) {
    char p[16];
    std::snprintf(p, sizeof p, "sub-%03d", s);
    for (int k = s % 3; k >= 0; --k) {
      t.add_row({p, "ses-M0" + std::to_string(10 + 6 * k).substr(0, 2), s <= 16 ? "AD" : "CN", "70",
                 "F"});
    }
  }
  t.write(dir / "labels.tsv");
  return dir / "labels.tsv";
}

std::set<std::string> subjects_of(const std::string& path) {
  const TsvTable t = TsvTable::read(path);
  std::set<std::string> s;
  for (const auto& row : t.rows()) s.insert(row[size_t(t.column_index("participant_id"))]);
  return s;
}

std::map<std::string, int> diagnoses_of(const std::string& path) {
  const TsvTable t = TsvTable::read(path);
  std::map<std::string, int> counts;
  for (const auto& row : t.rows()) ++counts[row[size_t(t.column_index("diagnosis"))]];
  return counts;
}

std::string slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

TEST(Split, StratifiedSubjectLevelAndDeterministic) {
  TempDir dir("split");
  SplitOptions o;
  o.labels_tsv = write_labels(dir);
  o.n_test = "10";
  o.seed = 7;
  o.output_dir = dir / "out";
  const fs::path out = write_split(o);
  for (const char* f : {"train.tsv", "train_baseline.tsv", "validation.tsv",
                        "validation_baseline.tsv", "split.json"}) {
    EXPECT_TRUE(fs::exists(out / f)) << f;
  }
  const auto train = subjects_of((out / "train.tsv").string());
  const auto valid = subjects_of((out / "validation.tsv").string());
  EXPECT_EQ(valid.size(), 10u);
  EXPECT_EQ(train.size(), 30u);
  for (const auto& s : valid) EXPECT_EQ(train.count(s), 0u) << s << " on both sides";
  const auto base = diagnoses_of((out / "validation_baseline.tsv").string());
  EXPECT_EQ(base.at("AD"), 4);  // 10 * 16/40
  EXPECT_EQ(base.at("CN"), 6);
  EXPECT_EQ(TsvTable::read((out / "train_baseline.tsv").string()).rows().size(), 30u);
  const TsvTable t = TsvTable::read((out / "train.tsv").string());
  EXPECT_EQ(t.columns().size(), 5u);
  EXPECT_TRUE(std::is_sorted(t.rows().begin(), t.rows().end(), [](const auto& a, const auto& b) {
    return std::tie(a[0], a[1]) < std::tie(b[0], b[1]);
  }));
  // Same seed -> same files; other seed -> another split.
  o.output_dir = dir / "again";
  write_split(o);
  EXPECT_EQ(slurp(dir / "again/validation.tsv"), slurp(dir / "out/validation.tsv"));
  o.output_dir = dir / "other";
  o.seed = 8;
  write_split(o);
  EXPECT_NE(slurp(dir / "other/validation.tsv"), slurp(dir / "out/validation.tsv"));
}

TEST(Split, FractionAndRefusals) {
  TempDir dir("splitfrac");
  SplitOptions o;
  o.labels_tsv = write_labels(dir);
  o.n_test = "0.25";
  o.output_dir = dir / "out";
  write_split(o);
  EXPECT_EQ(subjects_of(dir / "out/validation_baseline.tsv").size(), 10u);
  EXPECT_THROW(write_split(o), ConfigError);  // exists
  o.output_dir = dir / "out2";
  o.n_test = "40";
  EXPECT_THROW(write_split(o), ConfigError);
  EXPECT_FALSE(fs::exists(dir / "out2"));
}

TEST(Split, ConflictingDuplicateSessionIsRefusedExactRepeatIsNot) {
  TempDir dir("splitdup");
  TsvTable t({"participant_id", "session_id", "diagnosis"});
  for (int s = 1; s <= 6; ++s)
    t.add_row({"sub-00" + std::to_string(s), "ses-M000", s <= 3 ? "AD" : "CN"});
  t.add_row({"sub-002", "ses-M000", "AD"});  // exact repeat: harmless
  t.write(dir / "labels.tsv");
  SplitOptions o;
  o.labels_tsv = dir / "labels.tsv";
  o.n_test = "2";
  o.output_dir = dir / "ok";
  EXPECT_NO_THROW(write_split(o));
  t.add_row({"sub-005", "ses-M000", "AD"});  // contradicts line 6 (CN)
  t.write(dir / "labels.tsv");
  o.output_dir = dir / "bad";
  try {
    write_split(o);
    ADD_FAILURE() << "a contradictory labels.tsv was accepted";
  } catch (const ConfigError& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find("lines 6 and 9"), std::string::npos) << message;
    EXPECT_NE(message.find("session sub-005 ses-M000 (diagnosis 'CN' and 'AD')"), std::string::npos)
        << message;
  }
  EXPECT_FALSE(fs::exists(dir / "bad"));
}

TEST(Kfold, EverySubjectValidatedExactlyOnce) {
  TempDir dir("kfold");
  SplitOptions o;
  o.labels_tsv = write_labels(dir);
  o.n_splits = 3;
  const fs::path out = write_kfold(o);
  EXPECT_EQ(out, dir.path() / "3_fold");
  EXPECT_TRUE(fs::exists(out / "kfold.json"));
  std::map<std::string, int> seen;
  for (int k = 0; k < 3; ++k) {
    const fs::path split = out / ("split-" + std::to_string(k));
    const auto valid = subjects_of((split / "validation_baseline.tsv").string());
    const auto train = subjects_of((split / "train.tsv").string());
    EXPECT_EQ(valid.size() + train.size(), 40u);
    for (const auto& s : valid) {
      ++seen[s];
      EXPECT_EQ(train.count(s), 0u);
    }
    const auto d = diagnoses_of((split / "validation_baseline.tsv").string());
    EXPECT_GE(d.at("AD"), 5);
    EXPECT_LE(d.at("AD"), 6);
  }
  EXPECT_EQ(seen.size(), 40u);
  for (const auto& [s, n] : seen) EXPECT_EQ(n, 1) << s;
  EXPECT_THROW(write_kfold(o), ConfigError);  // 3_fold exists
}

}  // namespace
}  // namespace cdl::data_tools

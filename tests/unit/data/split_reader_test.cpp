// Tests of the split-tree reader: file choice, diagnosis filter, labels.tsv join, multi-cohort.
#include "cdl/data/split_reader.hpp"

#include <gtest/gtest.h>

#include "cdl/core/error.hpp"
#include "test_files.hpp"

namespace cdl::data {
namespace {

using testing::TempDir;
using testing::write_text;

const char* kHeader = "participant_id\tsession_id\tdiagnosis\tage\n";

/// Writes a split folder whose four tables are told apart by their participant prefixes.
void write_split_folder(const std::string& dir) {
  write_text(dir + "/train.tsv", std::string(kHeader) +
                                     "sub-t1\tses-M000\tAD\t70\nsub-t1\tses-M006\tAD\t70.5\n"
                                     "sub-t2\tses-M000\tMCI\t71\nsub-t3\tses-M000\tCN\t72\n");
  write_text(dir + "/train_baseline.tsv",
             std::string(kHeader) +
                 "sub-t1\tses-M000\tAD\t70\nsub-t2\tses-M000\tMCI\t71\n"
                 "sub-t3\tses-M000\tCN\t72\n");
  write_text(dir + "/validation.tsv",
             std::string(kHeader) + "sub-v1\tses-M000\tCN\t60\nsub-v1\tses-M012\tCN\t61\n");
  write_text(dir + "/validation_baseline.tsv", std::string(kHeader) + "sub-v1\tses-M000\tCN\t60\n");
}

std::vector<std::string> sessions(const TsvTable& t) {
  std::vector<std::string> out;
  for (int64_t r = 0; r < t.num_rows(); ++r) {
    out.push_back(t.at(r, "participant_id") + "/" + t.at(r, "session_id"));
  }
  return out;
}

TEST(SplitReaderTest, DefaultIsLongitudinalTrainAndBaselineValidation) {
  TempDir dir;
  write_split_folder(dir.path());
  const SplitTables t = read_split(dir.path(), 0, SplitOptions{});
  EXPECT_EQ(sessions(t.train),
            (std::vector<std::string>{"sub-t1/ses-M000", "sub-t1/ses-M006", "sub-t3/ses-M000"}));
  EXPECT_EQ(sessions(t.validation), std::vector<std::string>{"sub-v1/ses-M000"});
  EXPECT_EQ(t.train.at(0, "cohort"), "single");
  EXPECT_EQ(t.train.at(1, "age"), "70.5");  // all columns kept
}

std::string error_of(const std::string& dir) {
  try {
    read_split(dir, 0, SplitOptions{});
  } catch (const ConfigError& error) {
    return error.what();
  }
  return "";
}

TEST(SplitReaderTest, DuplicateSessionsAreRefusedNamingBothLines) {
  TempDir dir;
  write_split_folder(dir.path());
  write_text(dir.path() + "/train.tsv", std::string(kHeader) +
                                            "sub-t1\tses-M000\tAD\t70\nsub-t3\tses-M000\tCN\t72\n"
                                            "sub-t1\tses-M000\tAD\t70\n");
  const auto message = error_of(dir.path());
  EXPECT_NE(message.find("session sub-t1 ses-M000 appears twice"), std::string::npos) << message;
  EXPECT_NE(message.find("line 2"), std::string::npos) << message;
  EXPECT_NE(message.find("line 4"), std::string::npos) << message;
}

TEST(SplitReaderTest, AParticipantInBothSetsIsADataLeak) {
  TempDir dir;
  write_split_folder(dir.path());
  write_text(dir.path() + "/validation_baseline.tsv",
             std::string(kHeader) + "sub-v1\tses-M000\tCN\t60\nsub-t3\tses-M012\tCN\t73\n");
  const auto message = error_of(dir.path());
  EXPECT_NE(message.find("participant sub-t3 is in the training set"), std::string::npos)
      << message;
  EXPECT_NE(message.find("data leak"), std::string::npos) << message;
}

TEST(SplitReaderTest, BaselineAndValidLongitudinalChooseTheOtherFiles) {
  TempDir dir;
  write_split_folder(dir.path());
  SplitOptions options;
  options.baseline = true;
  options.valid_longitudinal = true;
  options.diagnoses = {"AD", "CN", "MCI"};
  const SplitTables t = read_split(dir.path(), 0, options);
  EXPECT_EQ(sessions(t.train),
            (std::vector<std::string>{"sub-t1/ses-M000", "sub-t2/ses-M000", "sub-t3/ses-M000"}));
  EXPECT_EQ(sessions(t.validation),
            (std::vector<std::string>{"sub-v1/ses-M000", "sub-v1/ses-M012"}));
}

TEST(SplitReaderTest, KFoldUsesSplitFolderAndJoinsLabelsFromAParent) {
  TempDir dir;
  write_text(dir.file("labels.tsv"), std::string(kHeader) +
                                         "sub-a\tses-M000\tAD\t80\nsub-b\tses-M000\tCN\t81\n"
                                         "sub-c\tses-M000\tCN\t82\n");
  const std::string fold = dir.file("split/5_fold");
  const std::string ids = "participant_id\tsession_id\n";
  write_text(fold + "/split-1/train.tsv",
             ids + "sub-b\tses-M000\nsub-a\tses-M000\nsub-x\tses-M000\n");
  write_text(fold + "/split-1/validation_baseline.tsv", ids + "sub-c\tses-M000\n");
  SplitOptions options;
  options.n_splits = 5;
  const SplitTables t = read_split(fold, 1, options);
  EXPECT_EQ(sessions(t.train), (std::vector<std::string>{"sub-b/ses-M000", "sub-a/ses-M000"}));
  EXPECT_EQ(t.train.at(0, "diagnosis"), "CN");
  EXPECT_EQ(t.train.at(1, "age"), "80");
  EXPECT_EQ(t.validation.num_rows(), 1);
  EXPECT_EQ(split_directory(fold, 1, 5), fold + "/split-1");
  EXPECT_EQ(split_directory(fold, 0, 1), fold);
}

TEST(SplitReaderTest, MissingTableAndMissingDiagnosisNameTheFile) {
  TempDir dir;
  write_text(dir.file("train.tsv"), "participant_id\tsession_id\nsub-1\tses-M000\n");
  try {
    read_split(dir.path(), 0, SplitOptions{});
    FAIL() << "expected ConfigError";
  } catch (const ConfigError& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find(dir.file("train.tsv")), std::string::npos) << msg;
    EXPECT_NE(msg.find("diagnosis"), std::string::npos) << msg;
  }
  write_text(dir.file("train.tsv"), std::string(kHeader) + "sub-1\tses-M000\tAD\t70\n");
  try {
    read_split(dir.path(), 0, SplitOptions{});
    FAIL() << "expected ConfigError";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("validation_baseline.tsv"), std::string::npos) << e.what();
  }
}

TEST(SplitReaderTest, TableWithoutSessionColumnIsRejected) {
  TempDir dir;
  write_text(dir.file("train.tsv"), "participant_id\tdiagnosis\nsub-1\tAD\n");
  EXPECT_THROW(read_split_table(dir.file("train.tsv"), {"AD"}, "single"), ConfigError);
}

TEST(SplitReaderTest, MultiCohortIntersectsDiagnosesAndTagsCohorts) {
  TempDir dir;
  write_split_folder(dir.file("adni"));
  write_split_folder(dir.file("aibl"));
  write_split_folder(dir.file("oasis"));
  write_text(dir.file("cohorts.tsv"),
             "cohort\tpath\tdiagnoses\nADNI\tadni\tAD, CN\n"
             "AIBL\taibl\tCN\nOASIS\toasis\tMCI\n");
  SplitOptions options;
  options.multi_cohort = true;
  const SplitTables t = read_split(dir.file("cohorts.tsv"), 0, options);
  // ADNI: AD + CN rows (3); AIBL: CN only (1); OASIS skipped (MCI not requested).
  ASSERT_EQ(t.train.num_rows(), 4);
  EXPECT_EQ(t.train.at(0, "cohort"), "ADNI");
  EXPECT_EQ(t.train.at(3, "cohort"), "AIBL");
  EXPECT_EQ(t.train.at(3, "participant_id"), "sub-t3");
  EXPECT_EQ(t.validation.num_rows(), 2);
  options.diagnoses = {"AD", "CN", "pMCI"};
  EXPECT_THROW(read_split(dir.file("cohorts.tsv"), 0, options), ConfigError);
}

TEST(SplitReaderTest, MultiCohortKindMustMatchTheOption) {
  TempDir dir;
  write_split_folder(dir.path());
  SplitOptions options;
  options.multi_cohort = true;
  EXPECT_THROW(read_split(dir.path(), 0, options), ConfigError);
  write_text(dir.file("cohorts.tsv"), "cohort\tpath\tdiagnoses\n");
  EXPECT_THROW(read_split(dir.file("cohorts.tsv"), 0, SplitOptions{}), ConfigError);
}

TEST(SplitReaderTest, ParseDiagnoses) {
  EXPECT_EQ(parse_diagnoses("AD, CN ,MCI"), (std::vector<std::string>{"AD", "CN", "MCI"}));
  EXPECT_TRUE(parse_diagnoses(" ").empty());
}

}  // namespace
}  // namespace cdl::data

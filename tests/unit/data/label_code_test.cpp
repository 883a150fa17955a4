// Tests of label_code generation and label extraction with row-precise errors.
#include "cdl/data/label_code.hpp"

#include <gtest/gtest.h>

#include "cdl/core/error.hpp"
#include "test_files.hpp"

namespace cdl::data {
namespace {

using testing::TempDir;
using testing::write_text;

TsvTable one_column(const std::string& name, const std::vector<std::string>& values) {
  TsvTable t({"participant_id", "session_id", name}, "mem.tsv");
  for (size_t i = 0; i < values.size(); ++i) {
    t.add_row({"sub-" + std::to_string(i), "ses-M000", values[i]}, "mem.tsv",
              static_cast<int64_t>(i) + 2);
  }
  return t;
}

TEST(LabelCodeTest, StringsAreSortedLexicographically) {
  const LabelCode code =
      LabelCode::from_table(one_column("diagnosis", {"CN", "AD", "MCI", "AD"}), "diagnosis");
  EXPECT_EQ(code.entries(),
            (std::vector<std::pair<std::string, int64_t>>{{"AD", 0}, {"CN", 1}, {"MCI", 2}}));
  EXPECT_EQ(code.num_classes(), 3);
  EXPECT_EQ(code.encode("CN"), 1);
  EXPECT_THROW(code.encode("pMCI"), ConfigError);
}

TEST(LabelCodeTest, NumbersAreSortedNumerically) {
  const LabelCode code =
      LabelCode::from_table(one_column("grade", {"10", "9", "2.5", "9"}), "grade");
  EXPECT_EQ(code.encode("2.5"), 0);
  EXPECT_EQ(code.encode("9"), 1);
  EXPECT_EQ(code.encode("10"), 2);
}

TEST(LabelCodeTest, CustomMappingMayMergeClasses) {
  const LabelCode code({{"AD", 0}, {"MCI", 0}, {"CN", 1}});
  EXPECT_EQ(code.num_classes(), 2);
  const TsvTable t = one_column("diagnosis", {"CN", "MCI", "AD"});
  EXPECT_EQ(encode_column(t, "diagnosis", code), (std::vector<int64_t>{1, 0, 0}));
  EXPECT_EQ(count_distinct(t, "diagnosis"), 3);
  EXPECT_THROW(LabelCode({{"AD", -1}}), ConfigError);
}

TEST(LabelCodeTest, MissingLabelNamesFileLineAndColumn) {
  const TsvTable t = one_column("diagnosis", {"AD", "", "CN"});
  try {
    LabelCode::from_table(t, "diagnosis");
    FAIL() << "expected ConfigError";
  } catch (const ConfigError& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("'diagnosis'"), std::string::npos) << msg;
    EXPECT_NE(msg.find("mem.tsv' line 3"), std::string::npos) << msg;
    EXPECT_NE(msg.find("sub-1"), std::string::npos) << msg;
  }
  const LabelCode code({{"AD", 0}, {"CN", 1}});
  try {
    encode_column(one_column("diagnosis", {"AD", "MCI"}), "diagnosis", code);
    FAIL() << "expected ConfigError";
  } catch (const ConfigError& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("line 3"), std::string::npos) << msg;
    EXPECT_NE(msg.find("'MCI'"), std::string::npos) << msg;
  }
}

TEST(LabelCodeTest, RegressionTargetsAndErrors) {
  EXPECT_EQ(read_float_column(one_column("age", {"70.5", "61"}), "age"),
            (std::vector<float>{70.5f, 61.0f}));
  try {
    read_float_column(one_column("age", {"70", "old"}), "age");
    FAIL() << "expected ConfigError";
  } catch (const ConfigError& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("'old'"), std::string::npos) << msg;
    EXPECT_NE(msg.find("line 3"), std::string::npos) << msg;
  }
  EXPECT_THROW(read_float_column(one_column("age", {""}), "age"), ConfigError);
  EXPECT_THROW(read_float_column(one_column("age", {"1"}), "mmse"), ConfigError);
}

TEST(LabelCodeTest, DefaultColumns) {
  EXPECT_EQ(default_label_column(Task::kClassification), "diagnosis");
  EXPECT_EQ(default_label_column(Task::kRegression), "age");
  EXPECT_EQ(default_label_column(Task::kReconstruction), "");
}

}  // namespace
}  // namespace cdl::data

// TSV formatting as pandas writes ClinicaDL's MAPS files (Python float repr), and atomic appends.
#include "cdl/maps/tsv_writer.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <cstdint>
#include <filesystem>
#include <limits>

#include "cdl/core/atomic_file.hpp"
#include "cdl/core/error.hpp"
#include "cdl/core/file_tree.hpp"

namespace cdl::maps {
namespace {

namespace fs = std::filesystem;

TEST(FormatTsvDoubleTest, MatchesPythonRepr) {
  // Expected strings are Python's repr() of the same doubles.
  const std::vector<std::pair<double, std::string>> cases = {
      {0.1, "0.1"},
      {1.0, "1.0"},
      {100.0, "100.0"},
      {-2.5, "-2.5"},
      {0.0, "0.0"},
      {-0.0, "-0.0"},
      {1e16, "1e+16"},
      {1e15, "1000000000000000.0"},
      {123456789012345678.0, "1.2345678901234568e+17"},
      {0.0001, "0.0001"},
      {0.00001, "1e-05"},
      {1.5e-7, "1.5e-07"},
      {0.1 + 0.2, "0.30000000000000004"},
      {1.0 / 3.0, "0.3333333333333333"},
      {1e22, "1e+22"},
      {1e100, "1e+100"},
      {12345.678, "12345.678"},
      {static_cast<double>(0.1f), "0.10000000149011612"},
      {5e-324, "5e-324"},
      {1.7976931348623157e308, "1.7976931348623157e+308"},
      {std::numeric_limits<double>::infinity(), "inf"},
      {-std::numeric_limits<double>::infinity(), "-inf"},
      {std::nan(""), ""},  // pandas' na_rep
  };
  for (const auto& [value, text] : cases) EXPECT_EQ(format_tsv_double(value), text) << text;
}

TEST(TsvCellTest, TypesFormatLikePandas) {
  EXPECT_EQ(TsvCell(3).text(), "3");
  EXPECT_EQ(TsvCell(int64_t{-7}).text(), "-7");
  EXPECT_EQ(TsvCell(size_t{12}).text(), "12");
  EXPECT_EQ(TsvCell(2.0).text(), "2.0");
  EXPECT_EQ(TsvCell(0.5f).text(), "0.5");
  EXPECT_EQ(TsvCell(true).text(), "True");
  EXPECT_EQ(TsvCell("sub-01").text(), "sub-01");
  EXPECT_EQ(TsvCell(std::string("N/A")).text(), "N/A");
}

TEST(TsvTableTest, ToStringAndQuoting) {
  TsvTable table({"participant_id", "session_id", "image_id", "true_label", "proba0"});
  table.add_row({"sub-01", "ses-M000", 0, 1, 0.25});
  table.add_row({"sub\t02", "ses \"x\"", 0, 0, 1e-05});
  EXPECT_EQ(table.to_string(),
            "participant_id\tsession_id\timage_id\ttrue_label\tproba0\n"
            "sub-01\tses-M000\t0\t1\t0.25\n"
            "\"sub\t02\"\t\"ses \"\"x\"\"\"\t0\t0\t1e-05\n");
  EXPECT_THROW(table.add_row({"too", "short"}), InternalError);
  EXPECT_EQ(table.column_index("true_label"), 3);
  EXPECT_THROW(table.column_index("absent"), ConfigError);
}

class TsvFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("cdl_tsv_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    cdl::remove_tree(dir_);
  }
  void TearDown() override { cdl::remove_tree(dir_); }
  fs::path dir_;
};

TEST_F(TsvFileTest, AppendRowRewritesAtomically) {
  const auto path = (dir_ / "split-0" / "training_logs" / "training.tsv").string();
  const auto header = training_tsv_header({"R2_score", "MAE", "RMSE"});
  append_tsv_row(path, header, {0, 9, 1.5, 0.1, 2.0, 3.0, 4.0, 0.2, 2.5, 3.5, 4.5});
  append_tsv_row(path, header, {1, 9, 3.0, 0.3, 1.0, 1.5, 2.0, 0.4, 1.25, 1.75, 2.25});
  EXPECT_EQ(read_text_file(path),
            "epoch\titeration\ttime\tR2_score_train\tMAE_train\tRMSE_train\tloss_train\t"
            "R2_score_valid\tMAE_valid\tRMSE_valid\tloss_valid\n"
            "0\t9\t1.5\t0.1\t2.0\t3.0\t4.0\t0.2\t2.5\t3.5\t4.5\n"
            "1\t9\t3.0\t0.3\t1.0\t1.5\t2.0\t0.4\t1.25\t1.75\t2.25\n");
  for (const auto& entry : fs::directory_iterator(fs::path(path).parent_path())) {
    EXPECT_EQ(entry.path().filename(), "training.tsv");  // no temporary left behind
  }
  EXPECT_THROW(append_tsv_row(path, {"epoch", "other"}, {0, 1}), DataError);
}

TEST_F(TsvFileTest, ReadBackAndDropRowsOfAResumedEpoch) {
  const auto path = (dir_ / "t.tsv").string();
  TsvTable table({"epoch", "iteration", "name"});
  table.add_row({0, 3, "a\tb"});
  table.add_row({1, 3, ""});
  table.add_row({2, 3, "c"});
  table.write(path);
  auto back = TsvTable::read(path);
  EXPECT_EQ(back.columns(), table.columns());
  EXPECT_EQ(back.rows(), table.rows());
  const size_t epoch = back.column_index("epoch");
  EXPECT_EQ(back.remove_rows_if(
                [&](const std::vector<std::string>& row) { return std::stoi(row[epoch]) >= 1; }),
            2u);
  back.write(path);
  EXPECT_EQ(read_text_file(path), "epoch\titeration\tname\n0\t3\t\"a\tb\"\n");
  write_text_atomically((dir_ / "bad.tsv").string(), "a\tb\n1\n");
  EXPECT_THROW(TsvTable::read((dir_ / "bad.tsv").string()), ConfigError);
}

TEST(TrainingTsvHeaderTest, ClassificationColumns) {
  const auto header = training_tsv_header({"BA", "accuracy"});
  EXPECT_EQ(header,
            (std::vector<std::string>{"epoch", "iteration", "time", "BA_train", "accuracy_train",
                                      "loss_train", "BA_valid", "accuracy_valid", "loss_valid"}));
}

}  // namespace
}  // namespace cdl::maps

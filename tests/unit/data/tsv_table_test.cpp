// Tests of TsvTable: parsing, errors naming file/line/column, editing.
#include "cdl/core/tsv_table.hpp"

#include <gtest/gtest.h>

#include "cdl/core/error.hpp"
#include "test_files.hpp"

namespace cdl::data {
namespace {

using testing::TempDir;
using testing::write_text;

TEST(TsvTableTest, ReadsHeaderRowsAndOrigins) {
  TempDir dir;
  const std::string path = dir.file("t.tsv");
  write_text(path,
             "participant_id\tsession_id\tdiagnosis\r\nsub-1\tses-M000\tAD\r\n"
             "sub-2\tses-M006\t\r\n\n");
  const TsvTable t = TsvTable::read(path);
  EXPECT_EQ(t.columns(), (std::vector<std::string>{"participant_id", "session_id", "diagnosis"}));
  ASSERT_EQ(t.num_rows(), 2);
  EXPECT_EQ(t.at(0, "diagnosis"), "AD");
  EXPECT_EQ(t.at(1, "diagnosis"), "");
  EXPECT_EQ(t.at(1, "session_id"), "ses-M006");
  EXPECT_NE(t.location(1).find("line 3"), std::string::npos);
  EXPECT_NE(t.location(1).find(path), std::string::npos);
}

TEST(TsvTableTest, AcceptsAUtf8ByteOrderMark) {
  TempDir dir;
  const std::string path = dir.file("bom.tsv");
  write_text(path, "\xEF\xBB\xBFparticipant_id\tsession_id\nsub-1\tses-M000\n");
  const TsvTable t = TsvTable::read(path);
  EXPECT_TRUE(t.has_column("participant_id"));
  EXPECT_EQ(t.at(0, "participant_id"), "sub-1");
}

TEST(TsvTableTest, QuotedFieldsRoundTripThroughWriteAndRead) {
  // What the MAPS writers write (Python csv quoting) is what every reader reads back: the one
  // table of the project. A quoted field may hold tabs, quotes and line breaks.
  TempDir dir;
  const std::string path = dir.file("quoted.tsv");
  TsvTable table({"participant_id", "note", "value"}, "in memory");
  table.add_row({"sub-1", "tab\there", 0.5});
  table.add_row({"sub-2", "say \"hi\"\nnext line", 2});
  table.add_row({"sub-3", "", 1e-05});
  table.write(path);
  const TsvTable back = TsvTable::read(path);
  EXPECT_EQ(back.columns(), table.columns());
  EXPECT_EQ(back.rows(), table.rows());
  EXPECT_EQ(back.at(1, "note"), "say \"hi\"\nnext line");
  EXPECT_EQ(back.row_line(2), 5) << "lines count the break inside the quoted field";
  // CRLF line ends and a BOM as Excel writes them, with a quoted field.
  write_text(path,
             "\xEF\xBB\xBF"
             "a\tb\r\n\"x\ty\"\t2\r\n");
  const TsvTable excel = TsvTable::read(path);
  EXPECT_EQ(excel.at(0, "a"), "x\ty");
  EXPECT_EQ(excel.at(0, "b"), "2");
}

TEST(TsvTableTest, WrongFieldCountNamesFileAndLine) {
  TempDir dir;
  const std::string path = dir.file("bad.tsv");
  write_text(path, "a\tb\n1\t2\n3 4\n");
  try {
    TsvTable::read(path);
    FAIL() << "expected ConfigError";
  } catch (const ConfigError& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find(path), std::string::npos) << msg;
    EXPECT_NE(msg.find("line 3"), std::string::npos) << msg;
    EXPECT_NE(msg.find("expected 2"), std::string::npos) << msg;
  }
}

TEST(TsvTableTest, MissingColumnsAreListedWithFile) {
  TempDir dir;
  const std::string path = dir.file("t.tsv");
  write_text(path, "participant_id\tage\nsub-1\t70\n");
  const TsvTable t = TsvTable::read(path);
  try {
    t.require_columns({"participant_id", "session_id", "diagnosis"});
    FAIL() << "expected ConfigError";
  } catch (const ConfigError& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find(path), std::string::npos) << msg;
    EXPECT_NE(msg.find("session_id, diagnosis"), std::string::npos) << msg;
    EXPECT_NE(msg.find("columns found: participant_id, age"), std::string::npos) << msg;
  }
  EXPECT_THROW(t.column_index("sex"), ConfigError);
}

TEST(TsvTableTest, MissingFileIsConfigError) {
  EXPECT_THROW(TsvTable::read("/nonexistent/folder/x.tsv"), ConfigError);
}

TEST(TsvTableTest, FilterSetColumnAppendAndWrite) {
  TempDir dir;
  TsvTable t({"participant_id", "diagnosis"}, "mem");
  t.add_row({"sub-1", "AD"});
  t.add_row({"sub-2", "MCI"});
  const TsvTable kept = t.filter([&](int64_t r) { return t.at(r, "diagnosis") != "MCI"; });
  ASSERT_EQ(kept.num_rows(), 1);
  TsvTable other({"diagnosis", "participant_id"}, "other");
  other.add_row({"CN", "sub-3"});
  TsvTable all = kept;
  all.append(other);
  ASSERT_EQ(all.num_rows(), 2);
  EXPECT_EQ(all.at(1, "participant_id"), "sub-3");
  all.set_column("cohort", "single");
  EXPECT_EQ(all.at(1, "cohort"), "single");
  const std::string path = dir.file("out.tsv");
  all.write(path);
  const TsvTable back = TsvTable::read(path);
  EXPECT_EQ(back.columns(), all.columns());
  EXPECT_EQ(back.row(1), all.row(1));
}

TEST(TsvTableTest, AppendKeepsTheUnionOfColumns) {
  TsvTable a({"participant_id", "age"}, "a");
  a.add_row({"sub-1", "70"});
  TsvTable b({"sex", "participant_id"}, "b");
  b.add_row({"F", "sub-2"});
  a.append(b);
  EXPECT_EQ(a.columns(), (std::vector<std::string>{"participant_id", "age", "sex"}));
  EXPECT_EQ(a.row(0), (std::vector<std::string>{"sub-1", "70", ""}));
  EXPECT_EQ(a.row(1), (std::vector<std::string>{"sub-2", "", "F"}));
}

TEST(TsvTableTest, ParseNumber) {
  EXPECT_EQ(parse_number("70.5").value(), 70.5);
  EXPECT_EQ(parse_number("-3").value(), -3.0);
  EXPECT_FALSE(parse_number("").has_value());
  EXPECT_FALSE(parse_number("nan").has_value());
  EXPECT_FALSE(parse_number("70a").has_value());
}

}  // namespace
}  // namespace cdl::data

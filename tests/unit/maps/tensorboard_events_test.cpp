// TensorBoard event files: CRC-32C against published check values, an Event encoded by hand from
// the protocol-buffer rules, the files of a training log and their rewrite after a resume.
// (TensorBoard's own reader checks the files of a real training: tests/interop.)
#include "cdl/maps/tensorboard_events.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <iterator>

#include "cdl/core/error.hpp"
#include "test_files.hpp"

namespace cdl::maps {
namespace {

namespace fs = std::filesystem;
using data::testing::TempDir;

std::string bytes_of(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

/// The only file of `folder`.
std::string only_file(const std::string& folder) {
  std::vector<std::string> files;
  for (const auto& entry : fs::directory_iterator(folder)) files.push_back(entry.path().string());
  EXPECT_EQ(files.size(), 1u) << folder;
  return files.empty() ? "" : files.front();
}

TEST(Crc32c, PublishedCheckValues) {
  EXPECT_EQ(crc32c(""), 0u);
  EXPECT_EQ(crc32c("123456789"), 0xE3069283u);              // the CRC catalogue's check value
  EXPECT_EQ(crc32c(std::string(32, '\0')), 0x8A9136AAu);    // RFC 3720, B.4
  EXPECT_EQ(crc32c(std::string(32, '\xFF')), 0x62A8AB43u);  // RFC 3720, B.4
}

TEST(TensorBoardEvents, ScalarEventBytesFollowTheProtocolBufferRules) {
  const std::string expected{
      // wall_time (field 1, fixed64) = 1.5
      '\x09', 0, 0, 0, 0, 0, 0, '\xF8', '\x3F',
      // step (field 2, varint) = 300
      '\x10', '\xAC', '\x02',
      // summary (field 5, 13 bytes): value (field 1, 11 bytes): tag "loss", simple_value 0.25
      '\x2A', '\x0D', '\x0A', '\x0B', '\x0A', '\x04', 'l', 'o', 's', 's', '\x15', 0, 0, '\x80',
      '\x3E'};
  EXPECT_EQ(scalar_event(1.5, 300, "loss", 0.25f), expected);
}

TEST(TensorBoardEvents, RecordFramingHoldsTheLengthAndBothMaskedCrcs) {
  const std::string record = tfrecord("abc");
  ASSERT_EQ(record.size(), 8u + 4u + 3u + 4u);
  EXPECT_EQ(record.substr(0, 8), std::string("\x03\0\0\0\0\0\0\0", 8));
  EXPECT_EQ(record.substr(12, 3), "abc");
  const auto masked = [](uint32_t crc) { return ((crc >> 15) | (crc << 17)) + 0xA282EAD8u; };
  uint32_t data_crc = 0;
  for (int i = 3; i >= 0; --i) data_crc = (data_crc << 8) | static_cast<uint8_t>(record[15 + i]);
  EXPECT_EQ(data_crc, masked(crc32c("abc")));
}

const std::vector<std::string> kColumns{"epoch",      "iteration", "time",      "BA_train",
                                        "loss_train", "BA_valid",  "loss_valid"};

TEST(TensorBoardEvents, RowsGoToTrainAndValidationFilesWithClinicaDLSteps) {
  TempDir dir;
  const TensorBoardLog log(dir.file("tensorboard"), 10);
  log.append_row(kColumns, {"0", "9", "1.0", "0.5", "0.7", "0.6", "0.8"}, 1000.0);
  log.append_row(kColumns, {"1", "9", "2.0", "0.75", "0.4", "0.5", "0.9"}, 1001.0);
  const auto train = bytes_of(only_file(dir.file("tensorboard/train")));
  const auto validation = bytes_of(only_file(dir.file("tensorboard/validation")));
  std::string expected_train = tfrecord(file_version_event(1000.0));
  expected_train += tfrecord(scalar_event(1000.0, 9, "BA", 0.5f));
  expected_train += tfrecord(scalar_event(1000.0, 9, "loss", 0.7f));
  expected_train += tfrecord(scalar_event(1001.0, 19, "BA", 0.75f));
  expected_train += tfrecord(scalar_event(1001.0, 19, "loss", 0.4f));
  EXPECT_EQ(train, expected_train);
  EXPECT_NE(validation.find(tfrecord(scalar_event(1001.0, 19, "loss", 0.9f))), std::string::npos);
  EXPECT_EQ(fs::path(only_file(dir.file("tensorboard/train")))
                .filename()
                .string()
                .rfind("events.out.tfevents.1000.", 0),
            0u);
}

TEST(TensorBoardEvents, RewriteKeepsOnlyTheRowsOfTheTrimmedLog) {
  TempDir dir;
  const TensorBoardLog log(dir.file("tensorboard"), 10);
  log.append_row(kColumns, {"0", "9", "1.0", "0.5", "0.7", "0.6", "0.8"}, 1000.0);
  log.append_row(kColumns, {"1", "9", "2.0", "0.75", "0.4", "0.5", "0.9"}, 1001.0);
  TsvTable trimmed(kColumns);
  trimmed.add_row(std::vector<std::string>{"0", "9", "1.0", "0.5", "0.7", "0.6", "0.8"});
  log.rewrite(trimmed, 999.0);  // the first row's wall time again: 999 + 1.0
  TempDir fresh;
  const TensorBoardLog reference(fresh.file("tensorboard"), 10);
  reference.append_row(kColumns, {"0", "9", "1.0", "0.5", "0.7", "0.6", "0.8"}, 1000.0);
  for (const char* set : {"train", "validation"}) {
    EXPECT_EQ(bytes_of(only_file(dir.file(std::string("tensorboard/") + set))),
              bytes_of(only_file(fresh.file(std::string("tensorboard/") + set))))
        << set;
  }
}

TEST(TensorBoardEvents, ABadIterationCellNamesTheColumn) {
  TempDir dir;
  const TensorBoardLog log(dir.file("tensorboard"), 10);
  try {
    log.append_row(kColumns, {"0", "nine", "1.0", "0.5", "0.7", "0.6", "0.8"}, 1000.0);
    FAIL() << "expected a DataError";
  } catch (const DataError& error) {
    EXPECT_NE(std::string(error.what()).find("column 'iteration' holds 'nine'"), std::string::npos);
  }
}

}  // namespace
}  // namespace cdl::maps

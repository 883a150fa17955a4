// Implementation of the TensorBoard event files: CRC-32C, TFRecord framing, the Event and
// Summary fields ClinicaDL's scalars use, and the files of one training log.
#include "cdl/maps/tensorboard_events.hpp"

#include <unistd.h>

#include <array>
#include <cmath>
#include <cstring>
#include <filesystem>

#include "cdl/core/atomic_file.hpp"
#include "cdl/core/error.hpp"
#include "cdl/core/node_memory.hpp"
#include "cdl/maps/tsv_writer.hpp"

namespace cdl::maps {
namespace {

namespace fs = std::filesystem;

/// The 256-entry table of the reflected Castagnoli polynomial 0x82F63B78.
std::array<uint32_t, 256> crc32c_table() {
  std::array<uint32_t, 256> table{};
  for (uint32_t i = 0; i < 256; ++i) {
    uint32_t crc = i;
    for (int bit = 0; bit < 8; ++bit) crc = (crc >> 1) ^ (0x82F63B78u & (0u - (crc & 1u)));
    table[i] = crc;
  }
  return table;
}

/// TFRecord's masking of a CRC (so that a CRC of CRCs stays meaningful).
uint32_t masked(uint32_t crc) {
  return ((crc >> 15) | (crc << 17)) + 0xA282EAD8u;
}

void put_little_endian(std::string& out, uint64_t value, int bytes) {
  for (int i = 0; i < bytes; ++i) out.push_back(static_cast<char>((value >> (8 * i)) & 0xFF));
}

// Protocol buffers: a field key is (number << 3 | wire type); integers are varints.
enum WireType : uint32_t { kVarint = 0, kFixed64 = 1, kLengthDelimited = 2, kFixed32 = 5 };

void put_varint(std::string& out, uint64_t value) {
  while (value >= 0x80) {
    out.push_back(static_cast<char>((value & 0x7F) | 0x80));
    value >>= 7;
  }
  out.push_back(static_cast<char>(value));
}

void put_key(std::string& out, uint32_t field, WireType type) {
  put_varint(out, (field << 3) | type);
}

void put_double(std::string& out, uint32_t field, double value) {
  uint64_t bits = 0;
  std::memcpy(&bits, &value, sizeof(bits));
  put_key(out, field, kFixed64);
  put_little_endian(out, bits, 8);
}

void put_float(std::string& out, uint32_t field, float value) {
  uint32_t bits = 0;
  std::memcpy(&bits, &value, sizeof(bits));
  put_key(out, field, kFixed32);
  put_little_endian(out, bits, 4);
}

void put_bytes(std::string& out, uint32_t field, std::string_view bytes) {
  put_key(out, field, kLengthDelimited);
  put_varint(out, bytes.size());
  out.append(bytes);
}

// Field numbers of tensorflow.Event, Summary and Summary.Value.
constexpr uint32_t kEventWallTime = 1, kEventStep = 2, kEventFileVersion = 3, kEventSummary = 5;
constexpr uint32_t kSummaryValue = 1, kValueTag = 1, kValueSimpleValue = 2;

const std::array<std::pair<const char*, const char*>, 2> kSets{
    {{"_train", "train"}, {"_valid", "validation"}}};

/// The event file of one set's folder: the one there, or a new name after `wall_time` and host.
std::string event_file(const std::string& folder, double wall_time) {
  if (fs::is_directory(folder)) {
    for (const auto& entry : fs::directory_iterator(folder)) {
      const auto name = entry.path().filename().string();
      if (name.rfind("events.out.tfevents.", 0) == 0 && name.find(".tmp.") == std::string::npos) {
        return entry.path().string();
      }
    }
  }
  return folder + "/events.out.tfevents." + std::to_string(static_cast<int64_t>(wall_time)) + "." +
         host_name() + ".clinicadl-hpc";
}

}  // namespace

uint32_t crc32c(std::string_view bytes) {
  static const auto table = crc32c_table();
  uint32_t crc = 0xFFFFFFFFu;
  for (const char c : bytes) crc = table[(crc ^ static_cast<uint8_t>(c)) & 0xFF] ^ (crc >> 8);
  return ~crc;
}

std::string tfrecord(std::string_view payload) {
  std::string length;
  put_little_endian(length, payload.size(), 8);
  std::string record = length;
  put_little_endian(record, masked(crc32c(length)), 4);
  record.append(payload);
  put_little_endian(record, masked(crc32c(payload)), 4);
  return record;
}

std::string file_version_event(double wall_time) {
  std::string event;
  put_double(event, kEventWallTime, wall_time);
  put_bytes(event, kEventFileVersion, "brain.Event:2");
  return event;
}

std::string scalar_event(double wall_time, int64_t step, const std::string& tag, float value) {
  std::string summary_value;
  put_bytes(summary_value, kValueTag, tag);
  put_float(summary_value, kValueSimpleValue, value);
  std::string summary;
  put_bytes(summary, kSummaryValue, summary_value);
  std::string event;
  put_double(event, kEventWallTime, wall_time);
  put_key(event, kEventStep, kVarint);
  put_varint(event, static_cast<uint64_t>(step));
  put_bytes(event, kEventSummary, summary);
  return event;
}

TensorBoardLog::TensorBoardLog(std::string folder, int64_t batches_per_epoch)
    : folder_(std::move(folder)), batches_per_epoch_(batches_per_epoch) {}

void TensorBoardLog::append_row(const std::vector<std::string>& columns,
                                const std::vector<std::string>& row, double wall_time) const {
  CDL_CHECK(columns.size() == row.size() && columns.size() >= 3 && columns[0] == "epoch" &&
                columns[1] == "iteration",
            "a training log row of ", row.size(), " cells for ", columns.size(), " columns");
  const int64_t step =
      log_integer(row[1], "iteration") + log_integer(row[0], "epoch") * batches_per_epoch_;
  for (const auto& [suffix, set] : kSets) {
    const std::string folder = folder_ + "/" + set;
    ensure_directory(folder);
    const std::string path = event_file(folder, wall_time);
    std::string records = fs::exists(path) ? "" : tfrecord(file_version_event(wall_time));
    for (size_t i = 3; i < columns.size(); ++i) {
      const auto& column = columns[i];
      const size_t stem = column.size() - std::strlen(suffix);
      if (column.size() <= std::strlen(suffix) || column.compare(stem, std::string::npos, suffix))
        continue;
      records += tfrecord(scalar_event(wall_time, step, column.substr(0, stem),
                                       static_cast<float>(log_number(row[i]))));
    }
    append_bytes(path, records.data(), records.size());
  }
}

void TensorBoardLog::rewrite(const TsvTable& table, double origin) const {
  for (const auto& [suffix, set] : kSets) {
    const std::string folder = folder_ + "/" + set;
    if (!fs::is_directory(folder)) continue;
    for (const auto& entry : fs::directory_iterator(folder)) {
      if (entry.path().filename().string().rfind("events.out.tfevents.", 0) == 0) {
        fs::remove(entry.path());
      }
    }
  }
  const int64_t time_column = table.column_index("time");
  for (int64_t r = 0; r < table.num_rows(); ++r) {
    append_row(table.columns(), table.row(r), origin + log_number(table.at(r, time_column)));
  }
}

}  // namespace cdl::maps

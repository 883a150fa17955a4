// TensorBoard event files of the training logs (reference section 7.3): one scalar per metric and
// set, written as ClinicaDL's SummaryWriters write them, under
// training_logs/[network-<n>/]tensorboard/{train,validation}/. The format is TFRecord framing
// (length, masked CRC-32C of the length, an Event protocol buffer, masked CRC-32C of it); the
// few protocol-buffer fields it needs are encoded here.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "cdl/core/tsv_table.hpp"

namespace cdl::maps {

/// CRC-32C (Castagnoli polynomial) of `bytes`, as TFRecord framing checks it.
uint32_t crc32c(std::string_view bytes);

/// One TFRecord: `payload` framed with its length and their masked CRC-32C.
std::string tfrecord(std::string_view payload);

/// The Event protocol buffer that opens every event file (file_version "brain.Event:2").
std::string file_version_event(double wall_time);

/// The Event protocol buffer of one scalar: `tag` = `value` at `step`.
std::string scalar_event(double wall_time, int64_t step, const std::string& tag, float value);

/// The event files of one training log (training.tsv): `folder` is its tensorboard/ folder.
/// Global step of a row = iteration + epoch x `batches_per_epoch` (ClinicaDL's).
class TensorBoardLog {
 public:
  TensorBoardLog(std::string folder, int64_t batches_per_epoch);

  /// Appends the scalars of one training.tsv row (columns "<metric>_train" to train/,
  /// "<metric>_valid" to validation/), with `wall_time` in seconds since the Unix epoch. Creates
  /// each set's event file (named after `wall_time` and the host) when it has none.
  void append_row(const std::vector<std::string>& columns, const std::vector<std::string>& row,
                  double wall_time) const;

  /// Replaces the event files by the rows of `table` (training.tsv after a resume trimmed it);
  /// `origin` is the wall time at which the table's "time" column was 0.
  void rewrite(const TsvTable& table, double origin) const;

 private:
  std::string folder_;
  int64_t batches_per_epoch_;
};

}  // namespace cdl::maps

// Targets: ClinicaDL's label_code (class name -> code) for classification, float
// targets for regression, and their extraction from a split table with row-precise errors.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "cdl/core/tsv_table.hpp"
#include "cdl/data/task.hpp"

namespace cdl::data {

/// Mapping from raw label values (as text) to class codes 0..K-1 (ClinicaDL's label_code).
class LabelCode {
 public:
  LabelCode() = default;
  /// A user-given mapping (several names may share a code). Throws ConfigError on negative codes.
  explicit LabelCode(std::map<std::string, int64_t> mapping);
  /// ClinicaDL's automatic code: the sorted unique values of `column` in `table` (numerically if
  /// every value is a number, else lexicographically) mapped to 0..K-1. Throws ConfigError naming
  /// the file and row of an empty value, or when the column is missing.
  static LabelCode from_table(const TsvTable& table, const std::string& column);

  /// Code of `value`; throws ConfigError listing the known values when absent.
  int64_t encode(const std::string& value) const;
  /// True when `value` has a code.
  bool contains(const std::string& value) const { return code_.count(value) > 0; }
  /// Number of classes = largest code + 1 (0 when empty).
  int64_t num_classes() const;
  /// (value, code) pairs ordered by code then value, e.g. {("AD", 0), ("CN", 1)} for maps.json.
  std::vector<std::pair<std::string, int64_t>> entries() const;
  /// The raw mapping.
  const std::map<std::string, int64_t>& mapping() const { return code_; }
  /// True when no class is known.
  bool empty() const { return code_.empty(); }

 private:
  std::map<std::string, int64_t> code_;
};

/// Number of distinct non-empty values of `column` (ClinicaDL's output_size for classification).
int64_t count_distinct(const TsvTable& table, const std::string& column);

/// Class codes of every row of `table`; throws ConfigError naming file, line and column of a
/// missing value or a value without a code.
std::vector<int64_t> encode_column(const TsvTable& table, const std::string& column,
                                   const LabelCode& code);

/// Float targets of every row (regression); throws ConfigError naming file, line and column of a
/// missing or non-numeric value.
std::vector<float> read_float_column(const TsvTable& table, const std::string& column);

}  // namespace cdl::data

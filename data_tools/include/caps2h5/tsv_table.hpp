// A small tab-separated table (header row + string cells), as ClinicaDL's TSV files.
#pragma once

#include <string>
#include <vector>

namespace cdl::data_tools {

/// Header + rows of strings. Rows always have as many cells as the header.
class TsvTable {
 public:
  TsvTable() = default;
  /// A table with these columns and no rows.
  explicit TsvTable(std::vector<std::string> columns);

  /// Reads `path`; throws ConfigError naming the file and line on ragged rows.
  static TsvTable read(const std::string& path);
  /// Writes the table to `path` (header first, '\n' line ends); throws DataError on failure.
  void write(const std::string& path) const;

  /// Column names in file order.
  const std::vector<std::string>& columns() const { return columns_; }
  /// All rows.
  const std::vector<std::vector<std::string>>& rows() const { return rows_; }
  /// Appends a row; it must have one cell per column.
  void add_row(std::vector<std::string> row);
  /// Index of `name`, or -1 when absent.
  int find_column(const std::string& name) const;
  /// Index of `name`; throws ConfigError naming the file and the columns present when absent.
  int require_column(const std::string& name) const;
  /// Path it was read from (empty for built tables).
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  std::vector<std::string> columns_;
  std::vector<std::vector<std::string>> rows_;
};

}  // namespace cdl::data_tools

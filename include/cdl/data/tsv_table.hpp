// A small in-memory table read from a tab-separated file with a header row (ClinicaDL's TSVs).
// Every row remembers the file and line it came from, so errors can name both.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace cdl::data {

/// A table of strings: named columns, rows of equal length, and the origin of every row.
/// Values are kept as text exactly as written (pandas writes missing values as empty fields).
class TsvTable {
 public:
  TsvTable() = default;
  /// An empty table with the given columns; `source` names it in error messages.
  TsvTable(std::vector<std::string> columns, std::string source);

  /// Reads `path` (tab-separated, first line = header; '\r' and empty trailing lines ignored).
  /// Throws ConfigError if the file is missing, empty, or a row has the wrong number of fields.
  static TsvTable read(const std::string& path);
  /// Writes the table as a TSV (header + rows) to `path` (written to path.tmp, then renamed).
  void write(const std::string& path) const;

  /// The column names in file order.
  const std::vector<std::string>& columns() const { return columns_; }
  /// Number of data rows.
  int64_t num_rows() const { return static_cast<int64_t>(rows_.size()); }
  /// The file this table was read from (or the name given at construction).
  const std::string& source() const { return source_; }

  /// True when the table has a column named `name`.
  bool has_column(const std::string& name) const;
  /// Index of column `name`; throws ConfigError naming the file, the column and the columns seen.
  int64_t column_index(const std::string& name) const;
  /// Throws one ConfigError listing every column of `names` that is missing.
  void require_columns(const std::vector<std::string>& names) const;

  /// The value at (row, column name).
  const std::string& at(int64_t row, const std::string& column) const;
  /// The value at (row, column index).
  const std::string& at(int64_t row, int64_t column) const { return rows_.at(row).at(column); }
  /// All values of one row in column order.
  const std::vector<std::string>& row(int64_t row) const { return rows_.at(row); }
  /// "file line N" for a data row, for error messages (header is line 1).
  std::string location(int64_t row) const;
  /// File a data row was read from ("" when built in memory).
  const std::string& row_file(int64_t row) const { return row_files_.at(row); }
  /// Line of a data row in its file (0 when built in memory).
  int64_t row_line(int64_t row) const { return row_lines_.at(row); }

  /// Appends a row (must have one value per column); `file`/`line` record where it came from.
  void add_row(std::vector<std::string> values, const std::string& file = {}, int64_t line = 0);
  /// Appends row `row` of `other`, which must have the same columns, keeping its origin.
  void append_row_from(const TsvTable& other, int64_t row);
  /// Sets every value of column `name` to `value`, adding the column at the end if absent.
  void set_column(const std::string& name, const std::string& value);
  /// Adds column `name` with one value per row; throws InternalError on a length mismatch.
  void add_column(const std::string& name, std::vector<std::string> values);

  /// A copy holding only the rows for which `keep(row)` is true (origins kept).
  template <typename Predicate>
  TsvTable filter(Predicate keep) const {
    TsvTable out(columns_, source_);
    for (int64_t r = 0; r < num_rows(); ++r) {
      if (keep(r)) out.append_row_from(*this, r);
    }
    return out;
  }

  /// Concatenates `other` below this table, matching columns by name (any order); like
  /// pandas.concat, columns present on one side only are kept and filled with "" elsewhere.
  void append(const TsvTable& other);

 private:
  std::vector<std::string> columns_;
  std::vector<std::vector<std::string>> rows_;
  std::vector<std::string> row_files_;
  std::vector<int64_t> row_lines_;
  std::string source_;
};

/// Parses a float from a TSV value; std::nullopt when empty, "nan" or not a number.
std::optional<double> parse_number(const std::string& text);

}  // namespace cdl::data

// TsvTable: the one tab-separated table of the project, for every TSV it reads (split trees,
// labels, cohort lists, MAPS tables read back) and writes (MAPS tables, split trees, training
// logs). Reading accepts what pandas and Excel write: a UTF-8 byte-order mark, CRLF line ends,
// Python-csv quoting; every row remembers its file and line so errors can name both. Writing
// quotes like Python's csv module (only fields holding a tab, a quote or a line break) and is
// atomic (temporary name + rename). Cells are formatted like pandas' to_csv (TsvCell).
#pragma once

#include <cstdint>
#include <functional>
#include <initializer_list>
#include <optional>
#include <string>
#include <type_traits>
#include <vector>

namespace cdl {

/// A double as pandas writes it: Python's repr (shortest round-trip digits; fixed notation for
/// decimal exponents in [-4, 16), else "1e-05" / "1.5e+16"; integral values keep ".0"), "inf" /
/// "-inf", and "" for NaN (pandas' default na_rep).
std::string format_tsv_double(double value);

/// One formatted cell. Doubles/floats go through format_tsv_double (a float is widened to double
/// first, as Python's float(tensor.item()) does), integers print as integers, bools as True/False,
/// strings as they are.
class TsvCell {
 public:
  /// Implicit from strings, floating-point numbers, integers and bools, so rows read as
  /// {"sub-01", "ses-M000", 0, 1, 0.25}.
  TsvCell(std::string text) : text_(std::move(text)) {}       // NOLINT: implicit on purpose
  TsvCell(const char* text) : text_(text) {}                  // NOLINT
  TsvCell(double value) : text_(format_tsv_double(value)) {}  // NOLINT
  TsvCell(float value) : text_(format_tsv_double(value)) {}   // NOLINT
  TsvCell(bool value) : text_(value ? "True" : "False") {}    // NOLINT
  /// Any integer type except bool.
  template <typename Int,
            std::enable_if_t<std::is_integral_v<Int> && !std::is_same_v<Int, bool>, int> = 0>
  TsvCell(Int value) : text_(std::to_string(value)) {}  // NOLINT

  /// The text written to the file (before quoting).
  const std::string& text() const { return text_; }

 private:
  std::string text_;
};

/// A table of text cells: named columns, rows of equal length, and the origin of every row.
/// Values are kept as text exactly as read (pandas writes missing values as empty fields).
class TsvTable {
 public:
  TsvTable() = default;
  /// An empty table with the given columns; `source` names it in error messages.
  explicit TsvTable(std::vector<std::string> columns, std::string source = {});

  /// Reads `path`: first line = header, tabs between fields, Python-csv quoting (a quoted field
  /// may hold tabs, doubled quotes and line breaks), a UTF-8 BOM and '\r' line ends accepted,
  /// empty lines skipped. Throws ConfigError when the file is missing, empty, or a row has the
  /// wrong number of fields (naming the file, the line, both counts and the columns).
  static TsvTable read(const std::string& path);
  /// The file contents: header line then one line per row, fields quoted when needed, '\n' ends.
  std::string to_string() const;
  /// Writes to_string() to `path` atomically (parents created). Throws DataError on failure
  /// (a full disk is named so); `path` is then left as it was.
  void write(const std::string& path) const;

  /// The column names in file order.
  const std::vector<std::string>& columns() const { return columns_; }
  /// Every row, in order.
  const std::vector<std::vector<std::string>>& rows() const { return rows_; }
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
  /// "'file' line N" for a data row, for error messages (header is line 1).
  std::string location(int64_t row) const;
  /// File a data row was read from ("" when built in memory).
  const std::string& row_file(int64_t row) const { return row_files_.at(row); }
  /// Line of a data row in its file (0 when built in memory).
  int64_t row_line(int64_t row) const { return row_lines_.at(row); }

  /// Appends a row of formatted cells, e.g. add_row({"sub-01", "ses-M000", 1, 0.25}). Throws
  /// InternalError when its length differs from the number of columns.
  void add_row(std::initializer_list<TsvCell> cells) { add_row(std::vector<TsvCell>(cells)); }
  void add_row(const std::vector<TsvCell>& cells);
  /// Appends a row of text; `file`/`line` record where it came from.
  void add_row(std::vector<std::string> values, const std::string& file = {}, int64_t line = 0);
  /// Appends row `row` of `other`, which must have the same columns, keeping its origin.
  void append_row_from(const TsvTable& other, int64_t row);
  /// Removes every row for which `remove(row values)` is true; returns how many were removed.
  size_t remove_rows_if(const std::function<bool(const std::vector<std::string>&)>& remove);
  /// Sets every value of column `name` to `value`, adding the column at the end if absent.
  void set_column(const std::string& name, const std::string& value);
  /// Adds column `name` with one value per row; throws InternalError on a length mismatch.
  void add_column(const std::string& name, std::vector<std::string> values);

  /// A copy holding only the rows for which `keep(row index)` is true (origins kept).
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

}  // namespace cdl

// Tab-separated tables written like pandas' DataFrame.to_csv(sep="\t", index=False) in ClinicaDL's
// MAPS (floats as Python repr, ints as ints, NaN as an empty field), always atomically.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

namespace cdl::train {

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

/// A header plus rows of text cells. Fields containing a tab, a quote or a line break are quoted
/// like Python's csv module (minimal quoting, doubled quotes).
class TsvTable {
 public:
  /// A table with the given column names. Throws DataError when the header is empty.
  explicit TsvTable(std::vector<std::string> header);

  /// Appends a row; throws DataError when its length differs from the header's.
  void add_row(const std::vector<TsvCell>& row);
  /// Removes every row for which `predicate(row)` is true; returns how many were removed.
  size_t remove_rows_if(const std::function<bool(const std::vector<std::string>&)>& predicate);

  /// The column names.
  const std::vector<std::string>& header() const { return header_; }
  /// The rows as formatted text cells (unquoted).
  const std::vector<std::vector<std::string>>& rows() const { return rows_; }
  /// Index of a column; throws DataError when absent.
  size_t column_index(const std::string& name) const;

  /// The file contents: header line then one line per row, each ending in "\n".
  std::string to_string() const;
  /// Writes to_string() to `path` atomically (temporary name + rename; parents created).
  void write(const std::string& path) const;

 private:
  std::vector<std::string> header_;
  std::vector<std::vector<std::string>> rows_;
};

/// Reads a TSV file written by TsvTable (or pandas) back as text cells; the first line is the
/// header. Throws DataError when unreadable, empty, or a row's length differs from the header's.
TsvTable read_tsv(const std::string& path);

/// Appends one row to `path`, creating it with `header` when absent, by rewriting the whole file
/// atomically (a crash leaves either the old or the new file). Throws DataError when an existing
/// file has a different header.
void append_tsv_row(const std::string& path, const std::vector<std::string>& header,
                    const std::vector<TsvCell>& row);

/// Columns of training.tsv (reference 7.3): epoch, iteration, time, then "<m>_train" for each
/// task metric followed by loss_train, then the same with "_valid".
std::vector<std::string> training_tsv_header(const std::vector<std::string>& metric_names);

}  // namespace cdl::train

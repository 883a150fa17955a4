// Implementation of the project's TSV table: pandas-like cells, Python-csv quoting, atomic writes.
#include "cdl/core/tsv_table.hpp"

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <filesystem>

#include "cdl/core/atomic_file.hpp"
#include "cdl/core/error.hpp"

namespace cdl {
namespace {

// Shortest round-trip digits of |value| and the decimal exponent of the first digit.
void shortest_digits(double value, std::string& digits, int& exponent) {
  char buffer[64];
  auto result =
      std::to_chars(buffer, buffer + sizeof buffer, std::abs(value), std::chars_format::scientific);
  const std::string text(buffer, result.ptr);  // e.g. "1.2345e-05"
  const size_t e = text.find('e');
  digits.clear();
  for (size_t i = 0; i < e; ++i) {
    if (text[i] != '.') digits += text[i];
  }
  exponent = std::stoi(text.substr(e + 1));
}

std::string fixed_notation(const std::string& digits, int exponent) {
  if (exponent < 0) return "0." + std::string(static_cast<size_t>(-exponent - 1), '0') + digits;
  const auto integer_length = static_cast<size_t>(exponent + 1);
  if (digits.size() <= integer_length) {
    return digits + std::string(integer_length - digits.size(), '0') + ".0";
  }
  return digits.substr(0, integer_length) + "." + digits.substr(integer_length);
}

std::string scientific_notation(const std::string& digits, int exponent) {
  std::string out = digits.substr(0, 1);
  if (digits.size() > 1) out += "." + digits.substr(1);
  const int magnitude = std::abs(exponent);
  out += exponent < 0 ? "e-" : "e+";
  if (magnitude < 10) out += "0";
  return out + std::to_string(magnitude);
}

std::string join(const std::vector<std::string>& values, const std::string& separator) {
  std::string out;
  for (size_t i = 0; i < values.size(); ++i) out += (i > 0 ? separator : "") + values[i];
  return out;
}

constexpr const char* kByteOrderMark = "\xEF\xBB\xBF";

/// Python csv's minimal quoting: only a field holding a tab, a quote or a line break is quoted,
/// with its quotes doubled; also (`force`) a field that would otherwise read back differently.
std::string quote_field(const std::string& text, bool force = false) {
  if (!force && text.find_first_of("\t\"\n\r") == std::string::npos) return text;
  std::string out = "\"";
  for (const char c : text) {
    out += c;
    if (c == '"') out += '"';
  }
  return out + "\"";
}

/// One line of the file. A row made of one empty field is written "" (an empty line would be
/// skipped when read), and a first header field that starts with a byte-order mark is quoted
/// (the reader drops a leading mark).
std::string join_line(const std::vector<std::string>& cells, bool header = false) {
  std::string line;
  for (size_t i = 0; i < cells.size(); ++i) {
    const bool lone_empty = cells.size() == 1 && cells[i].empty();
    const bool leading_mark = header && i == 0 && cells[i].rfind(kByteOrderMark, 0) == 0;
    line += (i ? "\t" : "") + quote_field(cells[i], lone_empty || leading_mark);
  }
  return line + "\n";
}

/// One record of a TSV text and the line it starts on.
struct Record {
  std::vector<std::string> fields;
  int64_t line = 0;
};

/// Splits TSV text into records: tabs separate fields, line breaks records, except inside a
/// quoted field (a field that starts with a quote; "" inside is one quote). '\r' before a line
/// break is dropped; empty lines give no record.
std::vector<Record> parse_records(const std::string& text) {
  std::vector<Record> records;
  Record current{{std::string()}, 1};
  bool quoted = false, field_started = false;
  int64_t line = 1;
  const auto end_record = [&] {
    const bool blank = current.fields.size() == 1 && current.fields[0].empty() && !field_started;
    if (!blank) records.push_back(std::move(current));
    current = Record{{std::string()}, line};
    field_started = false;
  };
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (quoted) {
      if (c == '"' && i + 1 < text.size() && text[i + 1] == '"') {
        current.fields.back() += '"';
        ++i;
      } else if (c == '"') {
        quoted = false;
      } else {
        if (c == '\n') ++line;
        current.fields.back() += c;
      }
    } else if (c == '"' && current.fields.back().empty()) {
      quoted = field_started = true;
    } else if (c == '\t') {
      current.fields.emplace_back();
      field_started = true;
    } else if (c == '\n' || (c == '\r' && i + 1 < text.size() && text[i + 1] == '\n')) {
      if (c == '\r') ++i;
      ++line;
      end_record();
    } else {
      current.fields.back() += c;
      field_started = true;
    }
  }
  end_record();
  return records;
}

}  // namespace

std::string format_tsv_double(double value) {
  if (std::isnan(value)) return "";
  if (std::isinf(value)) return value > 0 ? "inf" : "-inf";
  std::string digits;
  int exponent = 0;
  shortest_digits(value, digits, exponent);
  const std::string sign = std::signbit(value) ? "-" : "";
  if (exponent >= -4 && exponent < 16) return sign + fixed_notation(digits, exponent);
  return sign + scientific_notation(digits, exponent);
}

TsvTable::TsvTable(std::vector<std::string> columns, std::string source)
    : columns_(std::move(columns)), source_(std::move(source)) {}

TsvTable TsvTable::read(const std::string& path) {
  if (!std::filesystem::is_regular_file(path)) {
    CDL_THROW(ConfigError, "TSV file '", path, "' does not exist or is not a regular file\n",
              "  hint: check the TSV_DIR / DATA argument (ClinicaDL split trees hold train.tsv, ",
              "train_baseline.tsv, validation_baseline.tsv)");
  }
  std::string text = read_text_file(path);
  if (text.rfind(kByteOrderMark, 0) == 0) text.erase(0, 3);  // UTF-8 BOM (Excel), as pandas
  auto records = parse_records(text);
  if (records.empty()) {
    CDL_THROW(ConfigError, "TSV file '", path, "' is empty; expected a header row such as ",
              "'participant_id<TAB>session_id<TAB>diagnosis'");
  }
  TsvTable table(std::move(records.front().fields), path);
  for (size_t r = 1; r < records.size(); ++r) {
    auto& record = records[r];
    if (record.fields.size() != table.columns_.size()) {
      CDL_THROW(ConfigError, "TSV file '", path, "' line ", record.line, " has ",
                record.fields.size(), " tab-separated fields, expected ", table.columns_.size(),
                " (one per header column: ", join(table.columns_, ", "),
                ")\n  hint: fields must be separated by tabs, not spaces");
    }
    table.add_row(std::move(record.fields), path, record.line);
  }
  return table;
}

std::string TsvTable::to_string() const {
  std::string text = join_line(columns_, /*header=*/true);
  for (const auto& row : rows_) text += join_line(row);
  return text;
}

void TsvTable::write(const std::string& path) const {
  write_text_atomically(path, to_string());
}

bool TsvTable::has_column(const std::string& name) const {
  return std::find(columns_.begin(), columns_.end(), name) != columns_.end();
}

int64_t TsvTable::column_index(const std::string& name) const {
  const auto it = std::find(columns_.begin(), columns_.end(), name);
  if (it == columns_.end()) {
    CDL_THROW(ConfigError, "TSV '", source_, "' has no column '", name,
              "'; columns found: ", join(columns_, ", "));
  }
  return static_cast<int64_t>(it - columns_.begin());
}

void TsvTable::require_columns(const std::vector<std::string>& names) const {
  std::vector<std::string> missing;
  for (const auto& name : names) {
    if (!has_column(name)) missing.push_back(name);
  }
  if (!missing.empty()) {
    CDL_THROW(ConfigError, "TSV '", source_, "' lacks required column(s) ", join(missing, ", "),
              "; columns found: ", join(columns_, ", "));
  }
}

const std::string& TsvTable::at(int64_t row, const std::string& column) const {
  return rows_.at(row).at(column_index(column));
}

std::string TsvTable::location(int64_t row) const {
  const std::string& file = row_files_.at(row).empty() ? source_ : row_files_.at(row);
  if (row_lines_.at(row) <= 0) return "'" + file + "' row " + std::to_string(row + 1);
  return "'" + file + "' line " + std::to_string(row_lines_.at(row));
}

void TsvTable::add_row(const std::vector<TsvCell>& cells) {
  std::vector<std::string> values;
  values.reserve(cells.size());
  for (const auto& cell : cells) values.push_back(cell.text());
  add_row(std::move(values));
}

void TsvTable::add_row(std::vector<std::string> values, const std::string& file, int64_t line) {
  if (values.size() != columns_.size()) {
    CDL_THROW(InternalError, "TSV row of ", values.size(), " values for ", columns_.size(),
              " columns (", join(columns_, ", "), ")");
  }
  rows_.push_back(std::move(values));
  row_files_.push_back(file);
  row_lines_.push_back(line);
}

void TsvTable::append_row_from(const TsvTable& other, int64_t row) {
  add_row(other.rows_.at(row), other.row_files_.at(row), other.row_lines_.at(row));
}

size_t TsvTable::remove_rows_if(
    const std::function<bool(const std::vector<std::string>&)>& remove) {
  size_t kept = 0;
  for (size_t r = 0; r < rows_.size(); ++r) {
    if (remove(rows_[r])) continue;
    if (kept != r) {  // never move a row onto itself (that would empty it)
      rows_[kept] = std::move(rows_[r]);
      row_files_[kept] = std::move(row_files_[r]);
      row_lines_[kept] = row_lines_[r];
    }
    ++kept;
  }
  const size_t removed = rows_.size() - kept;
  rows_.resize(kept);
  row_files_.resize(kept);
  row_lines_.resize(kept);
  return removed;
}

void TsvTable::set_column(const std::string& name, const std::string& value) {
  if (!has_column(name)) {
    add_column(name, std::vector<std::string>(rows_.size(), value));
    return;
  }
  const int64_t c = column_index(name);
  for (auto& row : rows_) row[c] = value;
}

void TsvTable::add_column(const std::string& name, std::vector<std::string> values) {
  CDL_CHECK(values.size() == rows_.size(), "column '", name, "' has ", values.size(),
            " values for ", rows_.size(), " rows");
  CDL_CHECK(!has_column(name), "column '", name, "' already exists");
  columns_.push_back(name);
  for (size_t r = 0; r < rows_.size(); ++r) rows_[r].push_back(std::move(values[r]));
}

void TsvTable::append(const TsvTable& other) {
  if (columns_.empty() && rows_.empty()) columns_ = other.columns_;
  for (const auto& name : other.columns_) {  // union of columns, like pandas.concat
    if (!has_column(name)) add_column(name, std::vector<std::string>(rows_.size()));
  }
  std::vector<int64_t> order;  // column of `other` for each of ours, -1 = absent there
  for (const auto& name : columns_) {
    order.push_back(other.has_column(name) ? other.column_index(name) : -1);
  }
  for (int64_t r = 0; r < other.num_rows(); ++r) {
    std::vector<std::string> values;
    for (const int64_t c : order) values.push_back(c < 0 ? std::string() : other.rows_[r][c]);
    add_row(std::move(values), other.row_files_[r], other.row_lines_[r]);
  }
}

std::optional<double> parse_number(const std::string& text) {
  if (text.empty()) return std::nullopt;
  const char* begin = text.c_str();
  char* end = nullptr;
  errno = 0;
  const double value = std::strtod(begin, &end);
  if (end == begin || *end != '\0' || errno == ERANGE || std::isnan(value)) return std::nullopt;
  return value;
}

}  // namespace cdl

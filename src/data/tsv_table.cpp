// Implementation of TsvTable: reading, writing and editing tab-separated tables.
#include "cdl/data/tsv_table.hpp"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "cdl/core/error.hpp"

namespace cdl::data {
namespace {

std::vector<std::string> split_tabs(const std::string& line) {
  std::vector<std::string> fields;
  size_t start = 0;
  while (true) {
    const size_t tab = line.find('\t', start);
    if (tab == std::string::npos) {
      fields.push_back(line.substr(start));
      return fields;
    }
    fields.push_back(line.substr(start, tab - start));
    start = tab + 1;
  }
}

std::string join(const std::vector<std::string>& values, const std::string& separator) {
  std::string out;
  for (size_t i = 0; i < values.size(); ++i) {
    if (i > 0) out += separator;
    out += values[i];
  }
  return out;
}

void strip_cr(std::string& line) {
  if (!line.empty() && line.back() == '\r') line.pop_back();
}

std::ifstream open_tsv(const std::string& path) {
  if (!std::filesystem::is_regular_file(path)) {
    CDL_THROW(ConfigError, "TSV file '", path, "' does not exist or is not a regular file.\n",
              "hint: check the TSV_DIR / DATA argument (ClinicaDL split trees hold train.tsv, ",
              "train_baseline.tsv, validation_baseline.tsv)");
  }
  std::ifstream in(path);
  if (!in) CDL_THROW(ConfigError, "cannot open TSV file '", path, "' for reading");
  return in;
}

}  // namespace

TsvTable::TsvTable(std::vector<std::string> columns, std::string source)
    : columns_(std::move(columns)), source_(std::move(source)) {}

TsvTable TsvTable::read(const std::string& path) {
  std::ifstream in = open_tsv(path);
  std::string line;
  if (!std::getline(in, line)) {
    CDL_THROW(ConfigError, "TSV file '", path, "' is empty; expected a header row such as ",
              "'participant_id<TAB>session_id<TAB>diagnosis'");
  }
  strip_cr(line);
  if (line.rfind("\xEF\xBB\xBF", 0) == 0) line.erase(0, 3);  // UTF-8 BOM (Excel), as pandas
  TsvTable table(split_tabs(line), path);
  int64_t line_number = 1;
  while (std::getline(in, line)) {
    ++line_number;
    strip_cr(line);
    if (line.empty()) continue;
    std::vector<std::string> fields = split_tabs(line);
    if (fields.size() != table.columns_.size()) {
      CDL_THROW(ConfigError, "TSV file '", path, "' line ", line_number, " has ", fields.size(),
                " tab-separated fields, expected ", table.columns_.size(),
                " (one per header column: ", join(table.columns_, ", "),
                ")\nhint: fields must be separated by tabs, not spaces");
    }
    table.add_row(std::move(fields), path, line_number);
  }
  return table;
}

void TsvTable::write(const std::string& path) const {
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp);
    if (!out) CDL_THROW(DataError, "cannot open '", tmp, "' for writing");
    out << join(columns_, "\t") << '\n';
    for (const auto& row : rows_) out << join(row, "\t") << '\n';
    if (!out) CDL_THROW(DataError, "error while writing '", tmp, "' (disk full?)");
  }
  std::filesystem::rename(tmp, path);
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

void TsvTable::add_row(std::vector<std::string> values, const std::string& file, int64_t line) {
  CDL_CHECK(values.size() == columns_.size(), "row of ", values.size(), " values for ",
            columns_.size(), " columns");
  rows_.push_back(std::move(values));
  row_files_.push_back(file);
  row_lines_.push_back(line);
}

void TsvTable::append_row_from(const TsvTable& other, int64_t row) {
  add_row(other.rows_.at(row), other.row_files_.at(row), other.row_lines_.at(row));
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
    for (int64_t c : order) values.push_back(c < 0 ? std::string() : other.rows_[r][c]);
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

}  // namespace cdl::data

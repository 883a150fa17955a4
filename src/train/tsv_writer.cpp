// TSV tables formatted like pandas, written atomically.
#include "cdl/train/tsv_writer.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <filesystem>
#include <sstream>

#include "cdl/core/atomic_file.hpp"
#include "cdl/core/error.hpp"

namespace cdl::train {
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

std::string quote_field(const std::string& text) {
  if (text.find_first_of("\t\"\n\r") == std::string::npos) return text;
  std::string out = "\"";
  for (char c : text) {
    out += c;
    if (c == '"') out += '"';
  }
  return out + "\"";
}

std::string join_line(const std::vector<std::string>& cells) {
  std::string line;
  for (size_t i = 0; i < cells.size(); ++i) line += (i ? "\t" : "") + quote_field(cells[i]);
  return line + "\n";
}

// Splits one line on tabs, honouring quoted fields (a quoted field never spans lines here).
std::vector<std::string> split_line(const std::string& line) {
  std::vector<std::string> cells(1);
  bool quoted = false;
  for (size_t i = 0; i < line.size(); ++i) {
    const char c = line[i];
    if (quoted && c == '"' && i + 1 < line.size() && line[i + 1] == '"') {
      cells.back() += '"';
      ++i;
    } else if (c == '"' && (quoted || cells.back().empty())) {
      quoted = !quoted;
    } else if (c == '\t' && !quoted) {
      cells.emplace_back();
    } else {
      cells.back() += c;
    }
  }
  return cells;
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

TsvTable::TsvTable(std::vector<std::string> header) : header_(std::move(header)) {
  if (header_.empty()) CDL_THROW(DataError, "a TSV table needs at least one column");
}

void TsvTable::add_row(const std::vector<TsvCell>& row) {
  if (row.size() != header_.size()) {
    CDL_THROW(DataError, "TSV row with ", row.size(), " cells; expected ", header_.size(),
              " (columns: ", header_.front(), " ...)");
  }
  std::vector<std::string> cells;
  cells.reserve(row.size());
  for (const auto& cell : row) cells.push_back(cell.text());
  rows_.push_back(std::move(cells));
}

size_t TsvTable::remove_rows_if(
    const std::function<bool(const std::vector<std::string>&)>& predicate) {
  const size_t before = rows_.size();
  rows_.erase(std::remove_if(rows_.begin(), rows_.end(), predicate), rows_.end());
  return before - rows_.size();
}

size_t TsvTable::column_index(const std::string& name) const {
  auto it = std::find(header_.begin(), header_.end(), name);
  if (it == header_.end()) CDL_THROW(DataError, "TSV table has no column '", name, "'");
  return static_cast<size_t>(it - header_.begin());
}

std::string TsvTable::to_string() const {
  std::string text = join_line(header_);
  for (const auto& row : rows_) text += join_line(row);
  return text;
}

void TsvTable::write(const std::string& path) const {
  write_text_atomically(path, to_string());
}

TsvTable read_tsv(const std::string& path) {
  std::istringstream in(read_text_file(path));
  std::string line;
  if (!std::getline(in, line)) CDL_THROW(DataError, path, " is empty; expected a TSV header line");
  if (!line.empty() && line.back() == '\r') line.pop_back();
  TsvTable table(split_line(line));
  for (size_t number = 2; std::getline(in, line); ++number) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty()) continue;
    const auto cells = split_line(line);
    if (cells.size() != table.header().size()) {
      CDL_THROW(DataError, path, " line ", number, " has ", cells.size(), " fields; expected ",
                table.header().size(), " like the header");
    }
    table.add_row(std::vector<TsvCell>(cells.begin(), cells.end()));
  }
  return table;
}

void append_tsv_row(const std::string& path, const std::vector<std::string>& header,
                    const std::vector<TsvCell>& row) {
  TsvTable table = std::filesystem::exists(path) ? read_tsv(path) : TsvTable(header);
  if (table.header() != header) {
    CDL_THROW(DataError, path, " has the header '", join_line(table.header()).substr(0, 200),
              "'; expected the columns of this run (", header.size(), " columns starting with ",
              header.front(), ")\nhint: remove the file or use a new MAPS folder");
  }
  table.add_row(row);
  table.write(path);
}

std::vector<std::string> training_tsv_header(const std::vector<std::string>& metric_names) {
  std::vector<std::string> header = {"epoch", "iteration", "time"};
  for (const char* suffix : {"_train", "_valid"}) {
    for (const auto& name : metric_names) header.push_back(name + suffix);
    header.push_back(std::string("loss") + suffix);
  }
  return header;
}

}  // namespace cdl::train

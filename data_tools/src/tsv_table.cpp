// TSV reading/writing.
#include "caps2h5/tsv_table.hpp"

#include <fstream>
#include <sstream>

#include "cdl/core/error.hpp"

namespace cdl::data_tools {
namespace {

std::vector<std::string> split_tabs(std::string line) {
  if (!line.empty() && line.back() == '\r') line.pop_back();
  std::vector<std::string> cells;
  std::string cell;
  std::istringstream in(line);
  while (std::getline(in, cell, '\t')) cells.push_back(cell);
  if (!line.empty() && line.back() == '\t') cells.emplace_back();
  return cells;
}

}  // namespace

TsvTable::TsvTable(std::vector<std::string> columns) : columns_(std::move(columns)) {}

TsvTable TsvTable::read(const std::string& path) {
  std::ifstream in(path);
  if (!in) CDL_THROW(ConfigError, "cannot open TSV file '", path, "'");
  TsvTable table;
  table.path_ = path;
  std::string line;
  if (!std::getline(in, line)) CDL_THROW(ConfigError, "TSV file '", path, "' is empty");
  if (line.rfind("\xEF\xBB\xBF", 0) == 0) line.erase(0, 3);  // UTF-8 BOM (Excel), as pandas
  table.columns_ = split_tabs(line);
  for (int number = 2; std::getline(in, line); ++number) {
    if (line.empty() || line == "\r") continue;
    std::vector<std::string> row = split_tabs(line);
    if (row.size() != table.columns_.size()) {
      CDL_THROW(ConfigError, "TSV file '", path, "' line ", number, " has ", row.size(),
                " cells, expected ", table.columns_.size(), " (one per header column)");
    }
    table.rows_.push_back(std::move(row));
  }
  return table;
}

void TsvTable::write(const std::string& path) const {
  std::ofstream out(path, std::ios::trunc);
  auto write_row = [&out](const std::vector<std::string>& row) {
    for (size_t c = 0; c < row.size(); ++c) out << (c ? "\t" : "") << row[c];
    out << '\n';
  };
  write_row(columns_);
  for (const auto& row : rows_) write_row(row);
  if (!out) CDL_THROW(DataError, "cannot write TSV file '", path, "'");
}

void TsvTable::add_row(std::vector<std::string> row) {
  if (row.size() != columns_.size()) {
    CDL_THROW(InternalError, "TSV row of ", row.size(), " cells for ", columns_.size(), " columns");
  }
  rows_.push_back(std::move(row));
}

int TsvTable::find_column(const std::string& name) const {
  for (size_t c = 0; c < columns_.size(); ++c) {
    if (columns_[c] == name) return static_cast<int>(c);
  }
  return -1;
}

int TsvTable::require_column(const std::string& name) const {
  const int c = find_column(name);
  if (c >= 0) return c;
  std::string present;
  for (const auto& col : columns_) present += (present.empty() ? "" : ", ") + col;
  CDL_THROW(ConfigError, "TSV file '", path_, "' has no column '", name, "' (columns: ", present,
            ")");
}

}  // namespace cdl::data_tools

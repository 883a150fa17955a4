// Implementation of the training-log helpers.
#include "cdl/maps/tsv_writer.hpp"

#include <cmath>
#include <filesystem>

#include "cdl/core/error.hpp"

namespace cdl::maps {

void append_tsv_row(const std::string& path, const std::vector<std::string>& header,
                    const std::vector<TsvCell>& row) {
  TsvTable table = std::filesystem::exists(path) ? TsvTable::read(path) : TsvTable(header, path);
  if (table.columns() != header) {
    CDL_THROW(DataError, path, " has ", table.columns().size(), " columns starting with '",
              table.columns().front(), "'; expected the columns of this run (", header.size(),
              " columns starting with ", header.front(),
              ")\n  hint: remove the file or use a new MAPS folder");
  }
  table.add_row(row);
  table.write(path);
}

double log_number(const std::string& text) {
  if (text.empty()) return std::nan("");
  try {
    return std::stod(text);
  } catch (const std::exception&) {
    return std::nan("");
  }
}

int64_t log_integer(const std::string& text, const std::string& column, const std::string& where) {
  size_t used = 0;
  int64_t value = 0;
  try {
    value = std::stoll(text, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used == 0 || used != text.size()) {
    CDL_THROW(DataError, where.empty() ? "" : where + ": ", "training log column '", column,
              "' holds '", text, "', expected an integer");
  }
  return value;
}

std::vector<std::string> training_tsv_header(const std::vector<std::string>& metric_names) {
  std::vector<std::string> header = {"epoch", "iteration", "time"};
  for (const char* suffix : {"_train", "_valid"}) {
    for (const auto& name : metric_names) header.push_back(name + suffix);
    header.push_back(std::string("loss") + suffix);
  }
  return header;
}

}  // namespace cdl::maps

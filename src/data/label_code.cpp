// Implementation of LabelCode and of label extraction from split tables.
#include "cdl/data/label_code.hpp"

#include <algorithm>
#include <set>

#include "cdl/core/error.hpp"

namespace cdl::data {
namespace {

/// Throws the ConfigError for an empty label cell.
[[noreturn]] void throw_missing(const TsvTable& table, int64_t row, const std::string& column) {
  std::string who;
  if (table.has_column("participant_id") && table.has_column("session_id")) {
    who = " (" + table.at(row, "participant_id") + ", " + table.at(row, "session_id") + ")";
  }
  CDL_THROW(ConfigError, "missing value in column '", column, "' at ", table.location(row), who,
            "\nhint: fill the value or remove the row from the TSV");
}

/// Sorts values numerically when all are numbers, else lexicographically (pandas' sort order).
void natural_sort(std::vector<std::string>& values) {
  const bool numeric = std::all_of(values.begin(), values.end(), [](const std::string& v) {
    return parse_number(v).has_value();
  });
  if (!numeric) {
    std::sort(values.begin(), values.end());
    return;
  }
  std::stable_sort(values.begin(), values.end(), [](const std::string& a, const std::string& b) {
    return *parse_number(a) < *parse_number(b);
  });
}

}  // namespace

LabelCode::LabelCode(std::map<std::string, int64_t> mapping) : code_(std::move(mapping)) {
  for (const auto& [name, code] : code_) {
    if (code < 0) {
      CDL_THROW(ConfigError, "label_code maps '", name, "' to ", code,
                "; expected codes 0..K-1 (non-negative integers)");
    }
  }
}

LabelCode LabelCode::from_table(const TsvTable& table, const std::string& column) {
  const int64_t c = table.column_index(column);
  std::set<std::string> unique;
  for (int64_t r = 0; r < table.num_rows(); ++r) {
    if (table.at(r, c).empty()) throw_missing(table, r, column);
    unique.insert(table.at(r, c));
  }
  std::vector<std::string> values(unique.begin(), unique.end());
  natural_sort(values);
  std::map<std::string, int64_t> mapping;
  for (size_t i = 0; i < values.size(); ++i) mapping[values[i]] = static_cast<int64_t>(i);
  return LabelCode(std::move(mapping));
}

int64_t LabelCode::encode(const std::string& value) const {
  const auto it = code_.find(value);
  if (it != code_.end()) return it->second;
  std::string known;
  for (const auto& [name, code] : entries()) known += (known.empty() ? "" : ", ") + name;
  CDL_THROW(ConfigError, "label '", value, "' has no class code; known labels: ", known,
            "\nhint: the label_code comes from the training table of split 0 or the config file");
}

int64_t LabelCode::num_classes() const {
  int64_t largest = -1;
  for (const auto& entry : code_) largest = std::max(largest, entry.second);
  return largest + 1;
}

std::vector<std::pair<std::string, int64_t>> LabelCode::entries() const {
  std::vector<std::pair<std::string, int64_t>> out(code_.begin(), code_.end());
  std::stable_sort(out.begin(), out.end(),
                   [](const auto& a, const auto& b) { return a.second < b.second; });
  return out;
}

int64_t count_distinct(const TsvTable& table, const std::string& column) {
  const int64_t c = table.column_index(column);
  std::set<std::string> unique;
  for (int64_t r = 0; r < table.num_rows(); ++r) {
    if (!table.at(r, c).empty()) unique.insert(table.at(r, c));
  }
  return static_cast<int64_t>(unique.size());
}

std::vector<int64_t> encode_column(const TsvTable& table, const std::string& column,
                                   const LabelCode& code) {
  const int64_t c = table.column_index(column);
  std::vector<int64_t> codes;
  codes.reserve(static_cast<size_t>(table.num_rows()));
  for (int64_t r = 0; r < table.num_rows(); ++r) {
    const std::string& value = table.at(r, c);
    if (value.empty()) throw_missing(table, r, column);
    if (!code.contains(value)) {
      try {
        code.encode(value);
      } catch (const ConfigError& e) {
        CDL_THROW(ConfigError, "column '", column, "' at ", table.location(r), ": ", e.what());
      }
    }
    codes.push_back(code.encode(value));
  }
  return codes;
}

std::vector<float> read_float_column(const TsvTable& table, const std::string& column) {
  const int64_t c = table.column_index(column);
  std::vector<float> values;
  values.reserve(static_cast<size_t>(table.num_rows()));
  for (int64_t r = 0; r < table.num_rows(); ++r) {
    const std::string& text = table.at(r, c);
    if (text.empty()) throw_missing(table, r, column);
    const auto number = parse_number(text);
    if (!number) {
      CDL_THROW(ConfigError, "value '", text, "' in column '", column, "' at ", table.location(r),
                " is not a number; regression needs a numeric label column",
                "\nhint: choose another column with --label");
    }
    values.push_back(static_cast<float>(*number));
  }
  return values;
}

}  // namespace cdl::data

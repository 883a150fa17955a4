// emissions.csv: CodeCarbon's columns, energies in kWh, powers in W and emissions in kg from the
// measured joules (hand-computed), unknown values left empty, appended rows.
#include "cdl/maps/emissions_csv.hpp"

#include <gtest/gtest.h>

#include <sstream>

#include "cdl/core/atomic_file.hpp"
#include "cdl/core/error.hpp"
#include "test_files.hpp"

namespace cdl::maps {
namespace {

std::vector<std::string> split_csv(const std::string& line) {
  std::vector<std::string> cells;
  std::stringstream in(line);
  std::string cell;
  while (std::getline(in, cell, ',')) cells.push_back(cell);
  if (!line.empty() && line.back() == ',') cells.emplace_back();
  return cells;
}

TEST(EmissionsCsv, MeasuredEnergyAndItsEstimateInCodeCarbonUnits) {
  EmissionsRecord r;
  r.timestamp = "2026-12-06T06:00:00";
  r.project_name = "maps";
  r.run_id = "split-0";
  r.experiment_id = "maps";
  r.duration_seconds = 100;
  r.cpu_joules = 3.6e6;  // 1 kWh
  r.gpu_joules = 1.8e6;  // 0.5 kWh
  r.carbon_intensity = 400;
  const auto cells = split_csv(emissions_row(r));
  const auto& columns = emissions_columns();
  ASSERT_EQ(cells.size(), columns.size());
  std::map<std::string, std::string> by_name;
  for (size_t i = 0; i < columns.size(); ++i) by_name[columns[i]] = cells[i];
  EXPECT_EQ(by_name["cpu_energy"], "1");
  EXPECT_EQ(by_name["gpu_energy"], "0.5");
  EXPECT_EQ(by_name["ram_energy"], "");  // no DRAM counter: unknown, not 0
  EXPECT_EQ(by_name["energy_consumed"], "1.5");
  EXPECT_EQ(by_name["emissions"], "0.6");  // 1.5 kWh x 400 g/kWh = 0.6 kg
  EXPECT_EQ(by_name["emissions_rate"], "0.006");
  EXPECT_EQ(by_name["cpu_power"], "36000");  // 3.6 MJ over 100 s
  EXPECT_EQ(by_name["ram_power"], "");
  EXPECT_EQ(by_name["country_name"], "");
  EXPECT_EQ(by_name["tracking_mode"], "machine");
  EXPECT_EQ(columns.front(), "timestamp");
  EXPECT_EQ(columns.back(), "wue");
}

TEST(EmissionsCsv, RowsAreAppendedUnderOneHeader) {
  data::testing::TempDir dir;
  const auto path = dir.file("emissions.csv");
  EmissionsRecord r;
  r.cpu_model = "CPU, \"fast\"";
  append_emissions_row(path, r);
  append_emissions_row(path, r);
  const std::string text = read_text_file(path);
  EXPECT_EQ(text.rfind("timestamp,project_name,run_id,", 0), 0u);
  EXPECT_NE(text.find("\"CPU, \"\"fast\"\"\""), std::string::npos);
  size_t lines = 0;
  for (const char c : text) lines += c == '\n';
  EXPECT_EQ(lines, 3u);
  write_text_atomically(path, "something else\n");
  EXPECT_THROW(append_emissions_row(path, r), DataError);
}

}  // namespace
}  // namespace cdl::maps

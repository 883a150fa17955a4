// Implementation of emissions.csv: CodeCarbon's columns, measured values only.
#include "cdl/maps/emissions_csv.hpp"

#include <cstdio>
#include <filesystem>

#include "cdl/core/atomic_file.hpp"
#include "cdl/core/error.hpp"

namespace cdl::maps {
namespace {

constexpr double kJoulesPerKwh = 3.6e6;

std::string csv_field(const std::string& text) {
  if (text.find_first_of(",\"\n\r") == std::string::npos) return text;
  std::string quoted = "\"";
  for (const char c : text) quoted += c == '"' ? std::string("\"\"") : std::string(1, c);
  return quoted + "\"";
}

std::string number(double value) {
  char text[40];
  std::snprintf(text, sizeof(text), "%.10g", value);
  return text;
}

std::string optional_number(const std::optional<double>& value) {
  return value ? number(*value) : "";
}

std::optional<double> kwh(const std::optional<double>& joules) {
  if (!joules) return std::nullopt;
  return *joules / kJoulesPerKwh;
}

std::optional<double> watts(const std::optional<double>& joules, double seconds) {
  if (!joules || seconds <= 0) return std::nullopt;
  return *joules / seconds;
}

}  // namespace

const std::vector<std::string>& emissions_columns() {
  static const std::vector<std::string> columns{"timestamp",
                                                "project_name",
                                                "run_id",
                                                "experiment_id",
                                                "duration",
                                                "emissions",
                                                "emissions_rate",
                                                "cpu_power",
                                                "gpu_power",
                                                "ram_power",
                                                "cpu_energy",
                                                "gpu_energy",
                                                "ram_energy",
                                                "energy_consumed",
                                                "water_consumed",
                                                "country_name",
                                                "country_iso_code",
                                                "region",
                                                "cloud_provider",
                                                "cloud_region",
                                                "os",
                                                "python_version",
                                                "codecarbon_version",
                                                "cpu_count",
                                                "cpu_model",
                                                "gpu_count",
                                                "gpu_model",
                                                "longitude",
                                                "latitude",
                                                "ram_total_size",
                                                "tracking_mode",
                                                "cpu_utilization_percent",
                                                "gpu_utilization_percent",
                                                "ram_utilization_percent",
                                                "ram_used_gb",
                                                "on_cloud",
                                                "pue",
                                                "wue"};
  return columns;
}

std::string emissions_row(const EmissionsRecord& r) {
  std::optional<double> energy;  // kWh, what was measured
  for (const auto& part : {r.cpu_joules, r.ram_joules, r.gpu_joules}) {
    if (part) energy = energy.value_or(0.0) + *part / kJoulesPerKwh;
  }
  std::optional<double> emissions;
  if (energy) emissions = *energy * r.carbon_intensity / 1000.0;  // kg CO2eq
  std::optional<double> rate;
  if (emissions && r.duration_seconds > 0) rate = *emissions / r.duration_seconds;
  const std::vector<std::string> cells{r.timestamp,
                                       r.project_name,
                                       r.run_id,
                                       r.experiment_id,
                                       number(r.duration_seconds),
                                       optional_number(emissions),
                                       optional_number(rate),
                                       optional_number(watts(r.cpu_joules, r.duration_seconds)),
                                       optional_number(watts(r.gpu_joules, r.duration_seconds)),
                                       optional_number(watts(r.ram_joules, r.duration_seconds)),
                                       optional_number(kwh(r.cpu_joules)),
                                       optional_number(kwh(r.gpu_joules)),
                                       optional_number(kwh(r.ram_joules)),
                                       optional_number(energy),
                                       "",
                                       "",
                                       "",
                                       "",
                                       "",
                                       "",
                                       "Linux",
                                       "",
                                       "",
                                       std::to_string(r.cpu_count),
                                       r.cpu_model,
                                       std::to_string(r.gpu_count),
                                       r.gpu_model,
                                       "",
                                       "",
                                       number(r.ram_total_gb),
                                       "machine",
                                       "",
                                       "",
                                       "",
                                       "",
                                       "N",
                                       "1",
                                       "0"};
  std::string line;
  for (size_t i = 0; i < cells.size(); ++i) line += (i ? "," : "") + csv_field(cells[i]);
  return line;
}

void append_emissions_row(const std::string& path, const EmissionsRecord& record) {
  std::string header;
  for (const auto& column : emissions_columns()) header += (header.empty() ? "" : ",") + column;
  std::string text = std::filesystem::exists(path) ? read_text_file(path) : header + "\n";
  if (text.compare(0, header.size() + 1, header + "\n") != 0) {
    CDL_THROW(DataError, path, " does not start with CodeCarbon's columns (", header.substr(0, 40),
              "...); expected an emissions.csv written by clinicadl-hpc\n  hint: move it away");
  }
  write_text_atomically(path, text + emissions_row(record) + "\n");
}

}  // namespace cdl::maps

// emissions.csv in the columns of CodeCarbon (the tracker behind ClinicaDL's
// --emissions_calculator), filled where measured: the tools that read CodeCarbon's files read
// ours. Energies in kWh, powers in W, emissions in kg CO2eq, as CodeCarbon writes them.
#pragma once

#include <optional>
#include <string>
#include <vector>

namespace cdl::maps {

/// One training's measured energy and what CodeCarbon's row needs around it.
struct EmissionsRecord {
  std::string timestamp;  ///< ISO 8601, UTC
  std::string project_name;
  std::string run_id;
  std::string experiment_id;
  double duration_seconds = 0.0;
  std::optional<double> cpu_joules, ram_joules, gpu_joules;  ///< unset: no readable counter
  double carbon_intensity = 475.0;                           ///< g CO2eq per kWh
  int cpu_count = 0;
  std::string cpu_model;
  int gpu_count = 0;
  std::string gpu_model;
  double ram_total_gb = 0.0;
};

/// CodeCarbon's columns, in its order.
const std::vector<std::string>& emissions_columns();

/// The CSV line (no line end) of `record`: unknown values are empty cells, never zeros.
std::string emissions_row(const EmissionsRecord& record);

/// Appends `record` to the emissions.csv at `path` (header first when new), rewriting it
/// atomically. Throws DataError when an existing file has other columns.
void append_emissions_row(const std::string& path, const EmissionsRecord& record);

}  // namespace cdl::maps

// Implementation of the energy report: every rank's counters gathered on the main rank, nodes
// counted once, the CodeCarbon row and its log line.
#include "cdl/train/energy_report.hpp"

#include <torch/torch.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <functional>
#include <set>
#include <sstream>
#include <thread>

#include "cdl/core/node_memory.hpp"
#include "cdl/maps/emissions_csv.hpp"

namespace cdl::train {
namespace {

std::string cpu_model() {
  std::ifstream cpuinfo("/proc/cpuinfo");
  std::string line;
  while (std::getline(cpuinfo, line)) {
    if (line.rfind("model name", 0) == 0 && line.find(':') != std::string::npos) {
      return line.substr(line.find(':') + 2);
    }
  }
  return "";
}

std::string utc_now() {
  const std::time_t now = std::time(nullptr);
  std::tm utc{};
  gmtime_r(&now, &utc);
  char text[32];
  std::strftime(text, sizeof(text), "%Y-%m-%dT%H:%M:%S", &utc);
  return text;
}

std::string kilojoules(const std::optional<double>& joules) {
  if (!joules) return "not measured";
  std::ostringstream out;
  out.precision(4);
  out << *joules / 1000.0 << " kJ";
  return out.str();
}

}  // namespace

double carbon_intensity() {
  const char* text = std::getenv("CDL_CARBON_INTENSITY");
  if (text != nullptr && *text != '\0') {
    char* end = nullptr;
    const double value = std::strtod(text, &end);
    if (end != text && *end == '\0' && std::isfinite(value) && value >= 0) return value;
  }
  return 475.0;
}

EnergyReport::EnergyReport(const std::string& gpu)
    : meter_(std::make_unique<EnergyMeter>(powercap_root(), gpu)) {}

std::string EnergyReport::finish(comm::Communicator& ranks, const std::string& path,
                                 const std::string& project, const std::string& run_id,
                                 double intensity) {
  const EnergyUse use = meter_->read();
  // Row: host key (53 bits of its hash), CPU J, RAM J, GPU J (NaN: not measured), seconds.
  const double host =
      static_cast<double>(std::hash<std::string>{}(host_name()) & ((1ull << 52) - 1));
  const double nan = std::nan("");
  auto row = torch::tensor({host, use.cpu_joules.value_or(nan), use.ram_joules.value_or(nan),
                            use.gpu_joules.value_or(nan), use.seconds},
                           torch::kFloat64)
                 .reshape({1, 5});
  const auto all = ranks.gather_rows(row, 0);
  if (!ranks.is_main()) return "";
  maps::EmissionsRecord record;
  record.timestamp = utc_now();
  record.project_name = project;
  record.run_id = run_id;
  record.experiment_id = project;
  record.carbon_intensity = intensity;
  record.cpu_count = static_cast<int>(std::thread::hardware_concurrency());
  record.cpu_model = cpu_model();
  record.ram_total_gb = static_cast<double>(node_memory_bytes()) / 1e9;
  std::set<double> nodes;
  const auto values = all.accessor<double, 2>();
  for (int64_t r = 0; r < all.size(0); ++r) {
    record.duration_seconds = std::max(record.duration_seconds, values[r][4]);
    const auto add = [](std::optional<double>& sum, double value) {
      if (!std::isnan(value)) sum = sum.value_or(0.0) + value;
    };
    if (nodes.insert(values[r][0]).second) {  // a node's RAPL counters once
      add(record.cpu_joules, values[r][1]);
      add(record.ram_joules, values[r][2]);
    }
    add(record.gpu_joules, values[r][3]);
    if (!std::isnan(values[r][3])) ++record.gpu_count;
  }
  if (!record.cpu_joules && !record.ram_joules && !record.gpu_joules) {
    return "--emissions_calculator: no energy counter is readable here (CPU: " +
           meter_->cpu_problem() +
           (meter_->gpu_problem().empty() ? "" : "; GPU: " + meter_->gpu_problem()) +
           "), so no emissions.csv is written: nothing is estimated without a measure";
  }
  maps::append_emissions_row(path, record);
  double joules = 0;
  for (const auto& part : {record.cpu_joules, record.ram_joules, record.gpu_joules})
    joules += part.value_or(0.0);
  std::ostringstream line;
  line << run_id << " used " << kilojoules(joules) << " over " << record.duration_seconds
       << " s (CPU " << kilojoules(record.cpu_joules) << " on " << nodes.size() << " node(s), RAM "
       << kilojoules(record.ram_joules) << ", GPU " << kilojoules(record.gpu_joules) << "): about "
       << joules / 3.6e6 * intensity << " g CO2eq at " << intensity << " g/kWh"
       << (std::getenv("CDL_CARBON_INTENSITY") ? "" : " (world average; set CDL_CARBON_INTENSITY)")
       << "; " << path;
  return line.str();
}

}  // namespace cdl::train

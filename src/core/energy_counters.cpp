// Implementation of the energy counters: powercap RAPL domains found by their names, NVML
// through dlopen (no link-time dependency on the driver), a background sampler for wraps.
#include "cdl/core/energy_counters.hpp"

#include <dlfcn.h>
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace cdl {
namespace {

namespace fs = std::filesystem;

double seconds_now() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

/// The number in a small sysfs file, or an error text naming the file and errno's words.
bool read_number(const std::string& path, double& value, std::string& problem) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    problem = "cannot read " + path + ": " + std::strerror(errno);
    return false;
  }
  char text[64] = {0};
  const ssize_t n = ::read(fd, text, sizeof(text) - 1);
  ::close(fd);
  char* end = nullptr;
  value = n > 0 ? std::strtod(text, &end) : 0.0;
  if (n <= 0 || end == text) {
    problem = "cannot read a number from " + path;
    return false;
  }
  return true;
}

std::string first_line(const std::string& path) {
  std::string value;
  std::ifstream(path) >> value;
  return value;
}

/// Adds the counter's increase since its last value (one wrap at most between two samples).
void advance(EnergyCounter& counter, double value) {
  double delta = value - counter.last;
  if (delta < 0) delta += counter.max_range;
  if (delta > 0) counter.accumulated += delta;
  counter.last = value;
}

}  // namespace

// NVML's few entry points, resolved at run time.
struct EnergyMeter::Nvml {
  using Device = void*;
  void* library = nullptr;
  int (*shutdown)() = nullptr;
  int (*total_energy)(Device, unsigned long long*) = nullptr;  // millijoules since driver load
  Device device = nullptr;
  ~Nvml() {
    if (shutdown) shutdown();
    if (library) dlclose(library);
  }
  bool read(double& millijoules) const {
    unsigned long long value = 0;
    if (total_energy(device, &value) != 0) return false;
    millijoules = static_cast<double>(value);
    return true;
  }
};

EnergyMeter::EnergyMeter(const std::string& root, const std::string& gpu, double sample_seconds) {
  std::error_code error;
  for (const auto& entry : fs::directory_iterator(root, error)) {
    const std::string name = entry.path().filename().string();
    if (name.rfind("intel-rapl:", 0) != 0) continue;
    std::vector<fs::path> domains{entry.path()};
    for (const auto& sub : fs::directory_iterator(entry.path(), error)) {
      if (sub.path().filename().string().rfind(name + ":", 0) == 0) domains.push_back(sub.path());
    }
    for (const auto& domain : domains) {
      const std::string kind = first_line((domain / "name").string());
      const bool package = kind.rfind("package", 0) == 0, dram = kind == "dram";
      if (!package && !dram) continue;  // core, uncore and psys overlap the package
      EnergyCounter counter;
      counter.path = (domain / "energy_uj").string();
      std::string problem;
      read_number((domain / "max_energy_range_uj").string(), counter.max_range, problem);
      if (!read_number(counter.path, counter.last, problem)) {
        cpu_problem_ = problem + " (RAPL counters are often readable by root only)";
        continue;
      }
      (package ? packages_ : drams_).push_back(counter);
    }
  }
  if (packages_.empty() && cpu_problem_.empty()) {
    cpu_problem_ = "no RAPL package domain under " + root +
                   " (powercap absent: a VM, a non-x86 "
                   "CPU or the intel_rapl module not loaded)";
  }
  if (!packages_.empty()) cpu_problem_.clear();
  if (!gpu.empty()) {
    auto nvml = std::make_unique<Nvml>();
    nvml->library = dlopen("libnvidia-ml.so.1", RTLD_NOW | RTLD_LOCAL);
    const auto symbol = [&](const char* name) {
      return nvml->library ? dlsym(nvml->library, name) : nullptr;
    };
    auto init = reinterpret_cast<int (*)()>(symbol("nvmlInit_v2"));
    auto by_index =
        reinterpret_cast<int (*)(unsigned, Nvml::Device*)>(symbol("nvmlDeviceGetHandleByIndex_v2"));
    auto by_uuid =
        reinterpret_cast<int (*)(const char*, Nvml::Device*)>(symbol("nvmlDeviceGetHandleByUUID"));
    nvml->total_energy = reinterpret_cast<int (*)(Nvml::Device, unsigned long long*)>(
        symbol("nvmlDeviceGetTotalEnergyConsumption"));
    nvml->shutdown = reinterpret_cast<int (*)()>(symbol("nvmlShutdown"));
    const bool uuid = !gpu.empty() && !std::isdigit(static_cast<unsigned char>(gpu[0]));
    double value = 0;
    if (!nvml->library) {
      gpu_problem_ = "libnvidia-ml.so.1 cannot be loaded: " + std::string(dlerror());
    } else if (!init || !by_index || !by_uuid || !nvml->total_energy || init() != 0) {
      nvml->shutdown = nullptr;
      gpu_problem_ = "NVML cannot be initialised";
    } else if ((uuid ? by_uuid(gpu.c_str(), &nvml->device)
                     : by_index(static_cast<unsigned>(std::atoi(gpu.c_str())), &nvml->device)) !=
               0) {
      gpu_problem_ = "NVML has no device " + gpu;
    } else if (!nvml->read(value)) {
      gpu_problem_ = "NVML gives no total energy for device " + gpu + " (GPUs before Volta)";
    } else {
      gpu_ = EnergyCounter{"", 0.0, value, 0.0};
      nvml_ = std::move(nvml);
    }
  }
  start_ = seconds_now();
  if (!packages_.empty() || gpu_)
    sampler_ = std::thread([this, sample_seconds] { run(sample_seconds); });
}

EnergyMeter::~EnergyMeter() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (sampler_.joinable()) sampler_.join();
}

void EnergyMeter::sample() {
  std::string ignored;
  for (auto* counters : {&packages_, &drams_}) {
    for (auto& counter : *counters) {
      double value = 0;
      if (read_number(counter.path, value, ignored)) advance(counter, value);
    }
  }
  double millijoules = 0;
  if (gpu_ && nvml_->read(millijoules)) advance(*gpu_, millijoules);
}

void EnergyMeter::run(double sample_seconds) {
  std::unique_lock<std::mutex> lock(mutex_);
  while (!stopping_) {
    wake_.wait_for(lock, std::chrono::duration<double>(sample_seconds));
    if (!stopping_) sample();
  }
}

EnergyUse EnergyMeter::read() {
  std::lock_guard<std::mutex> lock(mutex_);
  sample();
  EnergyUse use;
  use.seconds = seconds_now() - start_;
  const auto joules = [](const std::vector<EnergyCounter>& counters) {
    double microjoules = 0;
    for (const auto& counter : counters) microjoules += counter.accumulated;
    return microjoules * 1e-6;
  };
  if (!packages_.empty()) use.cpu_joules = joules(packages_);
  if (!drams_.empty()) use.ram_joules = joules(drams_);
  if (gpu_) use.gpu_joules = gpu_->accumulated * 1e-3;
  return use;
}

std::string nvml_device_of_cuda_device(int cuda_index) {
  const char* visible = std::getenv("CUDA_VISIBLE_DEVICES");
  if (visible == nullptr || *visible == '\0') return std::to_string(cuda_index);
  std::stringstream list(visible);
  std::string entry;
  for (int i = 0; std::getline(list, entry, ','); ++i) {
    if (i == cuda_index) return entry;
  }
  return std::to_string(cuda_index);
}

std::string powercap_root() {
  const char* root = std::getenv("CDL_POWERCAP_ROOT");
  return root != nullptr && *root != '\0' ? root : "/sys/class/powercap";
}

}  // namespace cdl

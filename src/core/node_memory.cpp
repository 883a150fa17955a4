// Implementation of the node facts.
#include "cdl/core/node_memory.hpp"

#include <sched.h>
#include <unistd.h>

#include <algorithm>
#include <bitset>
#include <cerrno>
#include <cstdio>
#include <fstream>
#include <thread>

namespace cdl {

std::string host_name() {
  char name[256] = {0};
  gethostname(name, sizeof(name) - 1);
  return name;
}

int64_t node_memory_bytes() {
  return static_cast<int64_t>(sysconf(_SC_PHYS_PAGES)) * sysconf(_SC_PAGESIZE);
}

int64_t available_memory_bytes() {
  std::ifstream meminfo("/proc/meminfo");
  std::string line;
  const std::string key = "MemAvailable:";
  while (std::getline(meminfo, line)) {
    if (line.compare(0, key.size(), key) == 0) {
      try {
        return std::stoll(line.substr(key.size())) * 1024;  // reported in kB
      } catch (const std::exception&) {
        break;
      }
    }
  }
  return node_memory_bytes();
}

std::string format_memory_size(double bytes) {
  static const char* const kUnits[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
  int unit = 0;
  while (bytes >= 1024.0 && unit < 5) {
    bytes /= 1024.0;
    ++unit;
  }
  char text[32];
  std::snprintf(text, sizeof(text), unit == 0 ? "%.0f %s" : "%.1f %s", bytes, kUnits[unit]);
  return text;
}

namespace {

/// The affinity mask through a cpu_set_t of `cpus` bits; empty when the kernel's is larger
/// (EINVAL: ask again with more bits) or unreadable.
std::vector<uint64_t> affinity_mask(int cpus, bool& too_small) {
  std::vector<uint64_t> mask;
  too_small = false;
#if defined(__linux__)
  cpu_set_t* set = CPU_ALLOC(cpus);
  if (set == nullptr) return mask;
  const size_t size = CPU_ALLOC_SIZE(cpus);
  CPU_ZERO_S(size, set);
  if (sched_getaffinity(0, size, set) == 0) {
    mask.assign(static_cast<size_t>((cpus + 63) / 64), 0);
    for (int cpu = 0; cpu < cpus; ++cpu) {
      if (CPU_ISSET_S(cpu, size, set)) mask[cpu / 64] |= uint64_t{1} << (cpu % 64);
    }
  } else {
    too_small = errno == EINVAL;
  }
  CPU_FREE(set);
#endif
  return mask;
}

}  // namespace

std::vector<uint64_t> usable_cpu_mask() {
  for (int cpus = 1024; cpus <= (1 << 20); cpus *= 2) {
    bool too_small = false;
    auto mask = affinity_mask(cpus, too_small);
    while (!mask.empty() && mask.back() == 0) mask.pop_back();
    if (!mask.empty()) return mask;
    if (!too_small) break;
  }
  const int cpus = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  std::vector<uint64_t> all(static_cast<size_t>((cpus + 63) / 64), 0);
  for (int cpu = 0; cpu < cpus; ++cpu) all[cpu / 64] |= uint64_t{1} << (cpu % 64);
  return all;
}

int count_cpus(const std::vector<uint64_t>& mask) {
  int count = 0;
  for (const uint64_t word : mask) count += static_cast<int>(std::bitset<64>(word).count());
  return count;
}

int ranks_sharing_cpus(const std::vector<std::vector<uint64_t>>& masks, int me) {
  const auto& mine = masks.at(static_cast<size_t>(me));
  int sharing = 0;
  for (const auto& other : masks) {
    bool overlap = false;
    for (size_t w = 0; w < std::min(mine.size(), other.size()); ++w)
      overlap |= (mine[w] & other[w]) != 0;
    sharing += overlap;
  }
  return std::max(1, sharing);
}

}  // namespace cdl

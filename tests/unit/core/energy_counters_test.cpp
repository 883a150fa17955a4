// Energy counters on a powercap tree made by the test: package and DRAM domains found by name
// (core and psys left out), energy counted across a counter's wrap, and what cannot be read
// named; NVML's device names from CUDA_VISIBLE_DEVICES.
#include "cdl/core/energy_counters.hpp"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>

namespace cdl {
namespace {

namespace fs = std::filesystem;

class PowercapTree : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = fs::temp_directory_path() / ("powercap_" + std::to_string(::getpid()));
    fs::remove_all(root_);
    domain("intel-rapl:0", "package-0", 1000000, 5000000);
    domain("intel-rapl:0/intel-rapl:0:0", "core", 1, 5000000);
    domain("intel-rapl:0/intel-rapl:0:2", "dram", 200, 1000000);
    domain("intel-rapl:1", "psys", 7, 5000000);
  }
  void TearDown() override { fs::remove_all(root_); }
  void domain(const std::string& relative, const std::string& name, double energy, double range) {
    fs::create_directories(root_ / relative);
    std::ofstream(root_ / relative / "name") << name << "\n";
    set(relative, energy);
    std::ofstream(root_ / relative / "max_energy_range_uj") << range << "\n";
  }
  void set(const std::string& relative, double energy) {
    std::ofstream(root_ / relative / "energy_uj") << static_cast<long long>(energy) << "\n";
  }
  fs::path root_;
};

TEST_F(PowercapTree, PackageAndDramEnergyAcrossAWrap) {
  EnergyMeter meter(root_.string(), "", 3600.0);
  EXPECT_EQ(meter.cpu_problem(), "");
  set("intel-rapl:0", 4000000);             // +3 J
  set("intel-rapl:0/intel-rapl:0:2", 700);  // +500 uJ
  set("intel-rapl:1", 99999);               // psys: not counted
  EXPECT_DOUBLE_EQ(*meter.read().cpu_joules, 3.0);
  set("intel-rapl:0", 500000);  // wrapped at 5 J: +1.5 J
  const EnergyUse use = meter.read();
  EXPECT_DOUBLE_EQ(*use.cpu_joules, 4.5);
  EXPECT_DOUBLE_EQ(*use.ram_joules, 0.0005);
  EXPECT_FALSE(use.gpu_joules.has_value());
  EXPECT_GE(use.seconds, 0.0);
}

TEST_F(PowercapTree, WhatCannotBeReadIsNamedAndNothingIsInvented) {
  EnergyMeter absent((root_ / "nothing").string(), "", 3600.0);
  EXPECT_NE(absent.cpu_problem().find("no RAPL package domain"), std::string::npos);
  EXPECT_FALSE(absent.read().cpu_joules.has_value());
  fs::remove(root_ / "intel-rapl:0" / "energy_uj");
  EnergyMeter unreadable(root_.string(), "", 3600.0);
  EXPECT_NE(unreadable.cpu_problem().find("energy_uj"), std::string::npos)
      << unreadable.cpu_problem();
  EXPECT_FALSE(unreadable.read().cpu_joules.has_value());
}

TEST(EnergyCounters, NvmlNamesFromCudaVisibleDevices) {
  ::unsetenv("CUDA_VISIBLE_DEVICES");
  EXPECT_EQ(nvml_device_of_cuda_device(1), "1");
  ::setenv("CUDA_VISIBLE_DEVICES", "3,GPU-8f2e,5", 1);
  EXPECT_EQ(nvml_device_of_cuda_device(0), "3");
  EXPECT_EQ(nvml_device_of_cuda_device(1), "GPU-8f2e");
  ::unsetenv("CUDA_VISIBLE_DEVICES");
}

TEST(EnergyCounters, AGpuWithoutNvmlIsNamed) {
  EnergyMeter meter("/nonexistent", "0", 3600.0);
  if (meter.gpu_problem().empty()) GTEST_SKIP() << "this machine has NVML and a GPU";
  EXPECT_NE(meter.gpu_problem().find("libnvidia-ml.so.1"), std::string::npos)
      << meter.gpu_problem();
  EXPECT_FALSE(meter.read().gpu_joules.has_value());
}

}  // namespace
}  // namespace cdl

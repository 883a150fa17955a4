// The node memory figures: read on Linux, consistent with each other, sizes written for people.
#include "cdl/core/node_memory.hpp"

#include <gtest/gtest.h>
#include <sched.h>

namespace cdl {
namespace {

TEST(NodeMemory, AvailableIsKnownAndAtMostThePhysicalMemory) {
  EXPECT_GT(node_memory_bytes(), int64_t{1} << 26);
  EXPECT_GT(available_memory_bytes(), 0);
  EXPECT_LE(available_memory_bytes(), node_memory_bytes());
}

TEST(NodeMemory, HostNameIsKnown) {
  EXPECT_FALSE(host_name().empty());
}

TEST(NodeMemory, SizesInTheLargestUnitWithOneDecimal) {
  EXPECT_EQ(format_memory_size(0), "0 B");
  EXPECT_EQ(format_memory_size(1023), "1023 B");
  EXPECT_EQ(format_memory_size(1024), "1.0 KiB");
  EXPECT_EQ(format_memory_size(1536.0 * 1024 * 1024), "1.5 GiB");
  EXPECT_EQ(format_memory_size(3.0 * (int64_t{1} << 40)), "3.0 TiB");
  EXPECT_EQ(format_memory_size(2048.0 * (int64_t{1} << 50)), "2048.0 PiB");
}

// Bound ranks (disjoint masks) keep their own CPUs; unbound ones (the same mask) split it; a rank
// whose cores overlap one neighbour's shares with that one only.
TEST(NodeCpus, RanksShareOnlyTheCpusTheirMasksHaveInCommon) {
  const std::vector<uint64_t> cores01{0x3}, cores23{0xC}, all8{0xFF};
  EXPECT_EQ(ranks_sharing_cpus({cores01, cores23}, 0), 1);
  EXPECT_EQ(ranks_sharing_cpus({all8, all8, all8, all8}, 2), 4);
  EXPECT_EQ(ranks_sharing_cpus({cores01, {0x6}, cores23}, 0), 2);  // {0,1} meets {1,2} only
  EXPECT_EQ(ranks_sharing_cpus({cores01, {0x6}, cores23}, 1), 3);
  EXPECT_EQ(ranks_sharing_cpus({{0x0, 0x1}, {0x1}}, 0), 1);  // CPU 64 vs CPU 0
  EXPECT_EQ(ranks_sharing_cpus({{}}, 0), 1);                 // never below 1
  EXPECT_EQ(count_cpus({0xFF, 0x1}), 9);
}

// The mask is the calling thread's affinity: pinned to one CPU, it holds that CPU alone.
TEST(NodeCpus, UsableCpusFollowTheAffinityMask) {
  const auto before = usable_cpu_mask();
  ASSERT_GE(count_cpus(before), 1);
  int first = 0;
  while (((before[first / 64] >> (first % 64)) & 1) == 0) ++first;
  cpu_set_t saved, one;
  ASSERT_EQ(sched_getaffinity(0, sizeof(saved), &saved), 0);
  CPU_ZERO(&one);
  CPU_SET(first, &one);
  ASSERT_EQ(sched_setaffinity(0, sizeof(one), &one), 0);
  const auto pinned = usable_cpu_mask();
  ASSERT_EQ(sched_setaffinity(0, sizeof(saved), &saved), 0);
  EXPECT_EQ(count_cpus(pinned), 1);
  EXPECT_EQ((pinned[first / 64] >> (first % 64)) & 1, 1u);
  EXPECT_EQ(usable_cpu_mask(), before);
}

}  // namespace
}  // namespace cdl

// The node memory figures: read on Linux, consistent with each other, sizes written for people.
#include "cdl/core/node_memory.hpp"

#include <gtest/gtest.h>

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

}  // namespace
}  // namespace cdl

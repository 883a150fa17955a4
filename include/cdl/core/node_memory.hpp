// This node's memory: its size, what is available now, and sizes written for people. The one
// home of these figures for the bounds checked before a job allocates (images, cache, network).
#pragma once

#include <cstdint>
#include <string>

namespace cdl {

/// Physical memory of this node, in bytes.
int64_t node_memory_bytes();

/// Memory available to new allocations now (MemAvailable of /proc/meminfo), in bytes; the
/// physical memory where /proc/meminfo cannot be read.
int64_t available_memory_bytes();

/// `bytes` in the largest binary unit that keeps it at least 1, one decimal ("1.5 GiB", "512 B").
std::string format_memory_size(double bytes);

}  // namespace cdl

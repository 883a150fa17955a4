// This node: its name, its memory (size, what is available now) and sizes written for people.
// The one home of these facts (the bounds checked before a job allocates, lock files, logs).
#pragma once

#include <cstdint>
#include <string>

namespace cdl {

/// This node's host name (gethostname).
std::string host_name();

/// Physical memory of this node, in bytes.
int64_t node_memory_bytes();

/// Memory available to new allocations now (MemAvailable of /proc/meminfo), in bytes; the
/// physical memory where /proc/meminfo cannot be read.
int64_t available_memory_bytes();

/// `bytes` in the largest binary unit that keeps it at least 1, one decimal ("1.5 GiB", "512 B").
std::string format_memory_size(double bytes);

}  // namespace cdl

// This node: its name, its memory (size, what is available now), sizes written for people, and
// the CPUs this process may run on. The one home of these facts (the bounds checked before a job
// allocates, lock files, logs, the number of LibTorch threads of a rank).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

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

/// The CPUs the calling thread may run on: its affinity mask, what `mpirun --bind-to`, `srun
/// --cpu-bind`, `taskset` or a cgroup cpuset left it (read at start-up, it is the process's). CPU
/// i is bit i % 64 of word i / 64. Where the mask cannot be read (not Linux), the first
/// std::thread::hardware_concurrency() CPUs.
std::vector<uint64_t> usable_cpu_mask();

/// The number of CPUs in `mask`.
int count_cpus(const std::vector<uint64_t>& mask);

/// How many of the node's ranks run on CPUs of rank `me`'s mask, itself included: 1 for ranks
/// bound to cores of their own, all of them for unbound ranks. `masks[r]`: local rank r's
/// usable_cpu_mask().
int ranks_sharing_cpus(const std::vector<std::vector<uint64_t>>& masks, int me);

}  // namespace cdl

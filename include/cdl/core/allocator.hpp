// The memory allocator of the process. clinicadl-hpc links jemalloc when it was built with it
// (cmake/CdlAllocator.cmake) and configures it here to keep freed pages for reuse: training
// allocates and frees the same large activation blocks at every step, and returning them to the
// system (glibc's behaviour for large blocks) costs page faults on every step.
#pragma once

#include <string>

namespace cdl {

/// jemalloc's settings of clinicadl-hpc (MALLOC_CONF in the environment still overrides them).
inline constexpr const char* kJemallocSettings =
    "oversize_threshold:0,dirty_decay_ms:-1,muzzy_decay_ms:-1";

/// What allocates this process's memory, for logs and environment.txt: "jemalloc 5.3.0-0-g54eaed1d
/// (dirty_decay_ms -1, muzzy_decay_ms -1)" with the settings in effect, or "system malloc".
std::string allocator_description();

}  // namespace cdl

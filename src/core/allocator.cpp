// Implementation of the allocator settings and report.
#include "cdl/core/allocator.hpp"

#include <dlfcn.h>
#include <sys/types.h>

#include <string>

#include "cdl/config.hpp"

#if CDL_WITH_JEMALLOC
extern "C" {
// Read by jemalloc when it initialises, before main(): its documented configuration symbol.
// NOLINTNEXTLINE: the name is jemalloc's
const char* malloc_conf = cdl::kJemallocSettings;
}
#endif

namespace cdl {
namespace {

using Mallctl = int (*)(const char*, void*, size_t*, void*, size_t);

/// An integer jemalloc option through mallctl, as text ("?" if unreadable).
std::string option_text(Mallctl mallctl, const char* name) {
  ssize_t value = 0;
  size_t length = sizeof(value);
  if (mallctl(name, &value, &length, nullptr, 0) != 0) return "?";
  return std::to_string(static_cast<long long>(value));
}

}  // namespace

std::string allocator_description() {
  // Found whether jemalloc was linked in or preloaded (LD_PRELOAD).
  const auto mallctl = reinterpret_cast<Mallctl>(dlsym(RTLD_DEFAULT, "mallctl"));
  if (mallctl == nullptr) return "system malloc";
  const char* version = nullptr;
  size_t length = sizeof(version);
  const bool has_version = mallctl("version", &version, &length, nullptr, 0) == 0;
  return std::string("jemalloc ") + (has_version && version ? version : "?") + " (dirty_decay_ms " +
         option_text(mallctl, "opt.dirty_decay_ms") + ", muzzy_decay_ms " +
         option_text(mallctl, "opt.muzzy_decay_ms") + ")";
}

}  // namespace cdl

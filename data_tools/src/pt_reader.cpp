// .pt files through the LibTorch module libcdl_pt_plugin.so, loaded on first use (dlopen).
#include "caps2h5/pt_reader.hpp"

#include <dlfcn.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <mutex>

#include "cdl/core/error.hpp"

#ifndef CDL_PT_PLUGIN_DIR
#define CDL_PT_PLUGIN_DIR ""
#endif

namespace cdl::data_tools {
namespace {

namespace fs = std::filesystem;
using ReadFn = bool (*)(const char*, int64_t*, std::vector<float>*, std::string*);
using WriteFn = bool (*)(const char*, const int64_t*, const float*, std::string*);
constexpr const char* kPlugin = "libcdl_pt_plugin.so";

/// Candidate locations: $CAPS2H5_PT_PLUGIN, next to the executable, ../lib, the build folder.
std::vector<std::string> plugin_candidates() {
  std::vector<std::string> paths;
  if (const char* env = std::getenv("CAPS2H5_PT_PLUGIN")) paths.emplace_back(env);
  std::error_code ec;
  const fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  if (!ec) {
    paths.push_back((exe.parent_path() / kPlugin).string());
    paths.push_back((exe.parent_path().parent_path() / "lib" / kPlugin).string());
  }
  if (std::string(CDL_PT_PLUGIN_DIR).size() > 0) {
    paths.push_back((fs::path(CDL_PT_PLUGIN_DIR) / kPlugin).string());
  }
  paths.emplace_back(kPlugin);  // the dynamic loader's search path
  return paths;
}

/// The plugin handle (opened once); throws DataError listing where it was looked for.
void* plugin() {
  static std::once_flag once;
  static void* handle = nullptr;
  static std::string tried;
  std::call_once(once, [] {
    for (const auto& path : plugin_candidates()) {
      handle = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
      if (handle != nullptr) return;
      tried += "\n  " + path + ": " + dlerror();
    }
  });
  if (handle == nullptr) {
    CDL_THROW(DataError, "reading .pt tensors needs ", kPlugin, " (LibTorch), not found:", tried,
              "\nhint: build the target cdl_pt_plugin or set CAPS2H5_PT_PLUGIN=/path/to/", kPlugin);
  }
  return handle;
}

template <typename Fn>
Fn symbol(const char* name) {
  void* address = dlsym(plugin(), name);
  if (address == nullptr) CDL_THROW(DataError, kPlugin, " has no symbol ", name);
  return reinterpret_cast<Fn>(address);
}

}  // namespace

Volume read_pt_tensor(const std::string& path) {
  Volume v;
  std::string error;
  if (!symbol<ReadFn>("cdl_pt_read")(path.c_str(), v.shape.data(), &v.data, &error)) {
    CDL_THROW(DataError, "cannot read tensor file '", path, "': ", error);
  }
  return v;
}

void write_pt_tensor(const std::string& path, const Volume& volume) {
  std::string error;
  if (!symbol<WriteFn>("cdl_pt_write")(path.c_str(), volume.shape.data(), volume.data.data(),
                                       &error)) {
    CDL_THROW(DataError, "cannot write tensor file '", path, "': ", error);
  }
}

}  // namespace cdl::data_tools

// Every binary must use the system C++ runtime, not the copies of libstdc++ functions that PyPI's
// LibTorch exports (cmake/CdlLinkOrder.cmake explains the crash they caused). These tests link
// LibTorch and ask the dynamic linker where the shared symbols resolve.
#include <dlfcn.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <unistd.h>
#include <filesystem>
#include <fstream>
#include <string>

#include "cdl/core/file_tree.hpp"

namespace {

/// The shared object that defines the global symbol `mangled`, or "" when none does.
std::string defining_library(const char* mangled) {
  void* address = dlsym(RTLD_DEFAULT, mangled);
  if (address == nullptr) return "";
  Dl_info info{};
  if (dladdr(address, &info) == 0 || info.dli_fname == nullptr) return "";
  return info.dli_fname;
}

// Symbols that the torch 2.x wheel's libtorch_cpu.so, libc10.so and libtorch.so define as well.
constexpr const char* kSharedSymbols[] = {
    "_ZNSt10filesystem10remove_allERKNS_7__cxx114pathE",                 // remove_all(path)
    "_ZNSt10filesystem10remove_allERKNS_7__cxx114pathERSt10error_code",  // remove_all(path, ec)
    "_ZNSt10filesystem18create_directoriesERKNS_7__cxx114pathE",         // create_directories
    "_ZNSt10filesystem6statusERKNS_7__cxx114pathE",                      // status
    "_ZNKSt10filesystem7__cxx1116filesystem_error4whatEv",               // filesystem_error::what
    "_ZNSt7__cxx1112basic_stringIcSt11char_traitsIcESaIcEE7reserveEv",   // string::reserve()
};

TEST(CxxRuntimeOrigin, LibTorchIsLoaded) {
  // The test only means something when LibTorch is linked: use it.
  EXPECT_EQ(torch::ones({3}).sum().item<float>(), 3.0f);
  EXPECT_FALSE(defining_library("_ZN3c1019UndefinedTensorImpl10_singletonE").empty());
}

TEST(CxxRuntimeOrigin, SharedSymbolsResolveToTheSystemRuntime) {
  for (const char* symbol : kSharedSymbols) {
    const std::string library = defining_library(symbol);
    if (library.empty()) continue;  // an older libstdc++ without this symbol: nothing to shadow
    EXPECT_THAT(library, testing::HasSubstr("libstdc++")) << "symbol " << symbol;
  }
  EXPECT_THAT(defining_library(kSharedSymbols[0]), testing::HasSubstr("libstdc++"));
}

TEST(RemoveTree, RemovesNestedFoldersFilesAndLinksButNeverFollowsLinks) {
  const auto root =
      std::filesystem::temp_directory_path() / ("cdl_remove_tree_" + std::to_string(getpid()));
  const auto keep = root.string() + "_kept";
  std::filesystem::create_directories(root / "a" / "b");
  std::filesystem::create_directories(keep);
  std::ofstream(root / "a" / "b" / "file.txt") << "x";
  std::ofstream(keep + "/precious.txt") << "y";
  std::filesystem::create_directory_symlink(keep, root / "link");
  EXPECT_EQ(cdl::remove_tree(root), 5u);  // root, a, b, file.txt, link
  EXPECT_FALSE(std::filesystem::exists(root));
  EXPECT_TRUE(std::filesystem::exists(keep + "/precious.txt"));  // the link's target survives
  EXPECT_EQ(cdl::remove_tree(root), 0u);                         // absent: nothing to do
  std::error_code error;
  EXPECT_EQ(cdl::remove_tree(keep, error), 2u);
  EXPECT_FALSE(error);
}

}  // namespace

// Implementation of remove_tree with nftw (depth first, physical walk).
#include "cdl/core/file_tree.hpp"

#include <ftw.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <string>
#include <system_error>

namespace cdl {
namespace {

thread_local std::uintmax_t removed_count = 0;
thread_local int failed_errno = 0;
thread_local std::string failed_path;

int remove_entry(const char* path, const struct stat*, int type, struct FTW*) {
  const int result = (type == FTW_DP || type == FTW_D) ? rmdir(path) : unlink(path);
  if (result != 0) {
    failed_errno = errno;
    failed_path = path;
    return 1;  // stop the walk
  }
  ++removed_count;
  return 0;
}

}  // namespace

std::uintmax_t remove_tree(const std::filesystem::path& path) {
  struct stat info {};
  if (lstat(path.c_str(), &info) != 0) {
    if (errno == ENOENT) return 0;
    throw std::filesystem::filesystem_error("cannot remove", path,
                                            std::error_code(errno, std::generic_category()));
  }
  removed_count = 0;
  failed_errno = 0;
  if (nftw(path.c_str(), remove_entry, 32, FTW_DEPTH | FTW_PHYS) != 0) {
    const int code = failed_errno != 0 ? failed_errno : errno;
    throw std::filesystem::filesystem_error(
        "cannot remove", std::filesystem::path(failed_path.empty() ? path.string() : failed_path),
        std::error_code(code, std::generic_category()));
  }
  return removed_count;
}

std::uintmax_t remove_tree(const std::filesystem::path& path, std::error_code& error) noexcept {
  try {
    error.clear();
    return remove_tree(path);
  } catch (const std::filesystem::filesystem_error& failure) {
    error = failure.code();
  } catch (...) {
    error = std::make_error_code(std::errc::io_error);
  }
  return static_cast<std::uintmax_t>(-1);
}

}  // namespace cdl

// Removal of a folder tree without std::filesystem::remove_all. PyPI's LibTorch 2.x exports its
// own copy of that function, which the dynamic linker may bind our calls to, and which jumps to
// address 0 (cmake/CdlLinkOrder.cmake tells the story). This POSIX version depends on no C++
// runtime symbol, so every binary is immune whatever the load order.
#pragma once

#include <cstdint>
#include <filesystem>
#include <system_error>

namespace cdl {

/// Removes `path` and, if it is a folder, everything below it (symbolic links are removed, never
/// followed). Returns the number of entries removed (0 when `path` does not exist). Throws
/// std::filesystem::filesystem_error naming the entry that could not be removed.
std::uintmax_t remove_tree(const std::filesystem::path& path);

/// As above, but reports a failure through `error` (cleared on success) instead of throwing.
std::uintmax_t remove_tree(const std::filesystem::path& path, std::error_code& error) noexcept;

}  // namespace cdl

// Crash-safe file writing: write to "<path>.tmp.<pid>", then rename over the real name, so a reader
// never sees a half-written file under the real name. Plus directory creation.
#pragma once

#include <cstddef>
#include <functional>
#include <string>

namespace cdl {

/// Creates `path` and its missing parents (no-op when it exists). Throws DataError when it cannot
/// be created or exists as something other than a directory.
void ensure_directory(const std::string& path);

/// The temporary name used while writing `path`: "<path>.tmp.<pid>".
std::string temporary_path(const std::string& path);

/// Calls `writer(temporary_path(path))`, which must create that file, then flushes it to disk and
/// renames it to `path` atomically (same directory, POSIX rename). Missing parent directories are
/// created. If the writer throws or the rename fails, the temporary file is removed and the
/// exception propagates (DataError for file-system failures); `path` is then left untouched.
void write_file_atomically(const std::string& path,
                           const std::function<void(const std::string& tmp_path)>& writer);

/// Writes `size` bytes to `path` atomically (see write_file_atomically): the one checked writer
/// of the project's files, looping over short writes. Throws DataError naming the file and the
/// reason (a full disk, quota or file-size limit named as such); nothing is left behind then.
void write_bytes_atomically(const std::string& path, const void* data, size_t size);

/// Appends `size` bytes to `path` (created when missing), looping over short writes, for files
/// that readers follow while they grow. On failure the file is cut back to its old length (no
/// half-written record) and DataError names the file and the reason, as write_bytes_atomically.
void append_bytes(const std::string& path, const void* data, size_t size);

/// Writes `content` to `path` atomically (see write_bytes_atomically).
void write_text_atomically(const std::string& path, const std::string& content);

/// Reads a whole file as text. Throws DataError when it cannot be read.
std::string read_text_file(const std::string& path);

}  // namespace cdl

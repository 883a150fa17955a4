// Crash-safe file writing through a temporary name and an atomic rename.
#include "cdl/core/atomic_file.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <system_error>

#include "cdl/core/error.hpp"

namespace cdl {
namespace {

namespace fs = std::filesystem;

// Flushes the file's data to the storage device; best effort (some file systems refuse fsync).
void sync_file(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY);
  if (fd < 0) return;
  (void)::fsync(fd);
  ::close(fd);
}

void remove_quietly(const std::string& path) {
  std::error_code ignored;
  fs::remove(path, ignored);
}

/// Words for the errno of a failed write, with what to do about a full disk.
std::string write_failure(int error) {
  std::string words = std::strerror(error);
  if (error == ENOSPC || error == EDQUOT || error == EFBIG) {
    words +=
        " (disk full, quota or file-size limit reached); hint: free space or use another folder";
  }
  return words;
}

/// Writes `size` bytes to the open `fd` of `path`, looping over short writes, and closes it;
/// throws DataError naming the file, how far it got and why (ENOSPC named as a full disk).
void write_to(int fd, const std::string& path, const void* data, size_t size) {
  const auto* bytes = static_cast<const char*>(data);
  size_t written = 0;
  while (written < size) {
    const ssize_t n = ::write(fd, bytes + written, size - written);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      const int error = n < 0 ? errno : ENOSPC;  // a write of 0 bytes: no room left
      ::close(fd);
      CDL_THROW(DataError, "failed to write ", path, " after ", written, " of ", size,
                " bytes: ", write_failure(error));
    }
    written += static_cast<size_t>(n);
  }
  if (::close(fd) != 0) {
    CDL_THROW(DataError, "failed to write ", path, ": ", write_failure(errno));
  }
}

/// Writes `size` bytes to a new file `path`, looping over short writes; throws DataError naming
/// the file, how far it got and why (ENOSPC named as a full disk).
void write_all(const std::string& path, const void* data, size_t size) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) {
    CDL_THROW(DataError, "cannot create ", path, ": ", std::strerror(errno),
              "\nhint: check that the directory is writable and the disk not full");
  }
  write_to(fd, path, data, size);
}

}  // namespace

void append_bytes(const std::string& path, const void* data, size_t size) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0) {
    CDL_THROW(DataError, "cannot open ", path, " to append to it: ", std::strerror(errno));
  }
  const off_t old_size = ::lseek(fd, 0, SEEK_END);
  try {
    write_to(fd, path, data, size);
  } catch (const DataError&) {
    if (old_size >= 0) (void)::truncate(path.c_str(), old_size);  // no half-written record
    throw;
  }
}

void ensure_directory(const std::string& path) {
  std::error_code error;
  fs::create_directories(path, error);
  if (!fs::is_directory(path)) {
    CDL_THROW(DataError, "cannot create directory ", path, ": ",
              error ? error.message() : std::string("a non-directory file has that name"),
              "; expected a writable directory path");
  }
}

std::string temporary_path(const std::string& path) {
  return path + ".tmp." + std::to_string(static_cast<long>(::getpid()));
}

void write_file_atomically(const std::string& path,
                           const std::function<void(const std::string& tmp_path)>& writer) {
  const fs::path parent = fs::path(path).parent_path();
  if (!parent.empty()) ensure_directory(parent.string());
  const std::string tmp = temporary_path(path);
  try {
    writer(tmp);
    if (!fs::is_regular_file(tmp)) {
      CDL_THROW(DataError, "writing ", path, ": the writer did not create ", tmp,
                "; expected it to write the temporary file it was given");
    }
    sync_file(tmp);
    std::error_code error;
    fs::rename(tmp, path, error);
    if (error) {
      CDL_THROW(DataError, "cannot rename ", tmp, " to ", path, ": ", error.message());
    }
  } catch (...) {
    remove_quietly(tmp);
    throw;
  }
}

void write_bytes_atomically(const std::string& path, const void* data, size_t size) {
  write_file_atomically(path, [&](const std::string& tmp) { write_all(tmp, data, size); });
}

void write_text_atomically(const std::string& path, const std::string& content) {
  write_bytes_atomically(path, content.data(), content.size());
}

std::string read_text_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    CDL_THROW(DataError, "cannot read ", path, ": ", std::strerror(errno));
  }
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

}  // namespace cdl

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

void write_all(const std::string& path, const std::string& content) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out) {
    CDL_THROW(DataError, "cannot create ", path, ": ", std::strerror(errno),
              "\nhint: check that the directory is writable and the disk not full");
  }
  out.write(content.data(), static_cast<std::streamsize>(content.size()));
  out.close();
  if (!out) {
    CDL_THROW(DataError, "failed to write ", content.size(), " bytes to ", path,
              "\nhint: check free disk space and quotas");
  }
}

}  // namespace

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

void write_text_atomically(const std::string& path, const std::string& content) {
  write_file_atomically(path, [&content](const std::string& tmp) { write_all(tmp, content); });
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

// gzip/zlib coding through libdeflate (whole buffers in memory), with a zlib fallback.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace cdl::data_tools {

/// Allocator that leaves new elements uninitialized (resize() of a 25 MB buffer costs nothing).
template <typename T>
struct DefaultInitAllocator : std::allocator<T> {
  template <typename U>
  struct rebind {
    using other = DefaultInitAllocator<U>;
  };
  DefaultInitAllocator() = default;
  template <typename U>
  DefaultInitAllocator(const DefaultInitAllocator<U>&) noexcept {}
  template <typename U>
  void construct(U* p) noexcept {
    ::new (static_cast<void*>(p)) U;
  }
  template <typename U, typename... Args>
  void construct(U* p, Args&&... args) {
    ::new (static_cast<void*>(p)) U(std::forward<Args>(args)...);
  }
};

/// A byte buffer (file contents, encoded chunks) whose growth does not zero memory.
using Bytes = std::vector<uint8_t, DefaultInitAllocator<uint8_t>>;

/// Reads a whole file into memory; throws DataError naming the file if it cannot be read.
Bytes read_file_bytes(const std::string& path);

/// Writes `size` bytes to `path` (truncating); throws DataError on failure.
void write_file_bytes(const std::string& path, const void* data, size_t size);

/// True when the buffer starts with the gzip magic bytes 1f 8b.
bool is_gzip(const Bytes& bytes);

/// Decompresses a complete gzip stream (one or several members). `name` is used in errors
/// (truncated or corrupt data throw DataError naming it).
Bytes gunzip(const Bytes& compressed, const std::string& name);

/// Compresses to a gzip stream at `level` (0-12, libdeflate levels).
Bytes gzip_compress(const uint8_t* data, size_t size, int level);

/// Compresses to a zlib stream (the HDF5 deflate filter's format) at `level`.
Bytes zlib_compress(const uint8_t* data, size_t size, int level);

}  // namespace cdl::data_tools

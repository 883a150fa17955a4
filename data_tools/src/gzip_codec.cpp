// gzip decoding with libdeflate: the output size comes from the ISIZE trailer of each member
// (mod 2^32), so a member is inflated in one call straight into its final buffer.
#include "caps2h5/gzip_codec.hpp"

#include <libdeflate.h>
#include <zlib.h>

#include <cstdio>
#include <fstream>
#include <memory>

#include "cdl/core/error.hpp"

namespace cdl::data_tools {
namespace {

struct DecompressorDeleter {
  void operator()(libdeflate_decompressor* d) const { libdeflate_free_decompressor(d); }
};
struct CompressorDeleter {
  void operator()(libdeflate_compressor* c) const { libdeflate_free_compressor(c); }
};

/// ISIZE of the member ending at `end` (the last 4 bytes, little endian).
uint32_t trailer_size(const uint8_t* end) {
  return uint32_t(end[-4]) | (uint32_t(end[-3]) << 8) | (uint32_t(end[-2]) << 16) |
         (uint32_t(end[-1]) << 24);
}

/// Slow but general path: zlib inflate of every member with a growing buffer.
Bytes gunzip_with_zlib(const Bytes& in, const std::string& name) {
  z_stream zs{};
  if (inflateInit2(&zs, 15 + 32) != Z_OK) CDL_THROW(DataError, name, ": zlib init failed");
  Bytes out(in.size() * 4 + 1024);
  zs.next_in = const_cast<Bytef*>(in.data());
  zs.avail_in = static_cast<uInt>(in.size());
  int rc = Z_OK;
  size_t produced = 0;
  while (true) {
    if (produced == out.size()) out.resize(out.size() * 2);
    zs.next_out = out.data() + produced;
    zs.avail_out = static_cast<uInt>(out.size() - produced);
    rc = inflate(&zs, Z_NO_FLUSH);
    produced = out.size() - zs.avail_out;
    if (rc == Z_STREAM_END && zs.avail_in > 0) {  // next gzip member
      inflateReset(&zs);
      continue;
    }
    if (rc != Z_OK) break;
  }
  inflateEnd(&zs);
  if (rc != Z_STREAM_END) {
    CDL_THROW(DataError, "cannot decompress '", name, "': gzip stream is truncated or corrupt (",
              "zlib status ", rc, ", ", in.size(), " compressed bytes read)");
  }
  out.resize(produced);
  return out;
}

}  // namespace

Bytes read_file_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  if (!in) CDL_THROW(DataError, "cannot open '", path, "' for reading");
  const std::streamsize size = in.tellg();
  Bytes bytes(static_cast<size_t>(size));
  in.seekg(0);
  if (size > 0 && !in.read(reinterpret_cast<char*>(bytes.data()), size)) {
    CDL_THROW(DataError, "cannot read '", path, "' (", size, " bytes expected)");
  }
  return bytes;
}

void write_file_bytes(const std::string& path, const void* data, size_t size) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(static_cast<const char*>(data), static_cast<std::streamsize>(size));
  if (!out) CDL_THROW(DataError, "cannot write '", path, "' (", size, " bytes)");
}

bool is_gzip(const Bytes& bytes) {
  return bytes.size() >= 2 && bytes[0] == 0x1f && bytes[1] == 0x8b;
}

Bytes gunzip(const Bytes& compressed, const std::string& name) {
  if (compressed.size() < 18) {
    CDL_THROW(DataError, "cannot decompress '", name, "': ", compressed.size(),
              " bytes is shorter than any gzip stream (truncated file?)");
  }
  const uint32_t isize = trailer_size(compressed.data() + compressed.size());
  if (double(isize) > 1100.0 * double(compressed.size())) {  // beyond deflate's 1032:1 limit
    return gunzip_with_zlib(compressed, name);               // damaged trailer: let zlib judge
  }
  std::unique_ptr<libdeflate_decompressor, DecompressorDeleter> d(libdeflate_alloc_decompressor());
  Bytes out(isize);
  size_t in_used = 0;
  size_t out_used = 0;
  const libdeflate_result rc = libdeflate_gzip_decompress_ex(
      d.get(), compressed.data(), compressed.size(), out.data(), out.size(), &in_used, &out_used);
  if (rc == LIBDEFLATE_SUCCESS && in_used == compressed.size() && out_used == out.size()) {
    return out;
  }
  // Several members, a size >= 4 GiB, or a damaged stream: zlib decides (and names the file).
  return gunzip_with_zlib(compressed, name);
}

Bytes gzip_compress(const uint8_t* data, size_t size, int level) {
  std::unique_ptr<libdeflate_compressor, CompressorDeleter> c(libdeflate_alloc_compressor(level));
  Bytes out(libdeflate_gzip_compress_bound(c.get(), size));
  const size_t n = libdeflate_gzip_compress(c.get(), data, size, out.data(), out.size());
  CDL_CHECK(n > 0, "gzip compression of ", size, " bytes failed");
  out.resize(n);
  return out;
}

Bytes zlib_compress(const uint8_t* data, size_t size, int level) {
  std::unique_ptr<libdeflate_compressor, CompressorDeleter> c(libdeflate_alloc_compressor(level));
  Bytes out(libdeflate_zlib_compress_bound(c.get(), size));
  const size_t n = libdeflate_zlib_compress(c.get(), data, size, out.data(), out.size());
  CDL_CHECK(n > 0, "zlib compression of ", size, " bytes failed");
  out.resize(n);
  return out;
}

}  // namespace cdl::data_tools

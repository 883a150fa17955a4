// Implementation of the zip integrity check (PKWARE APPNOTE 6.3: end of central directory,
// zip64 end record and locator, central and local file headers, zip64 extended information).
#include "zip_records.hpp"

#include <zlib.h>

#include <algorithm>
#include <cstring>
#include <sstream>
#include <vector>

#include "cdl/core/error.hpp"

namespace cdl::formats {
namespace {

constexpr uint32_t kEndOfCentralDirectory = 0x06054b50;
constexpr uint32_t kZip64EndLocator = 0x07064b50;
constexpr uint32_t kZip64End = 0x06064b50;
constexpr uint32_t kCentralHeader = 0x02014b50;
constexpr uint32_t kLocalHeader = 0x04034b50;
constexpr uint16_t kZip64ExtraField = 0x0001;
constexpr uint16_t kStored = 0;
constexpr uint16_t kDeflated = 8;
/// Largest deflated record: torch.save stores tensors uncompressed and deflates only small code
/// records; a bigger one would make LibTorch's reader inflate it whole in memory, on every rank.
constexpr uint64_t kMaxDeflatedRecord = uint64_t(64) << 20;

/// Little-endian reads bounded by the archive; a read past its end is a damaged archive.
class Bytes {
 public:
  Bytes(const uint8_t* data, size_t size, const std::string& source)
      : data_(data), size_(size), source_(source) {}

  template <typename T>
  T read(uint64_t offset) const {
    need(offset, sizeof(T), "a header field");
    T value = 0;
    for (size_t i = 0; i < sizeof(T); ++i) value |= T(data_[offset + i]) << (8 * i);
    return value;
  }
  void need(uint64_t offset, uint64_t count, const char* what) const {
    if (offset > size_ || count > size_ - offset) {
      damaged(what, " at byte ", offset, " (", count, " bytes) reaches past the end of the ", size_,
              "-byte archive");
    }
  }
  template <typename... Parts>
  [[noreturn]] void damaged(const Parts&... parts) const {
    std::ostringstream message;
    (message << ... << parts);
    CDL_THROW(DataError, "'", source_, "' is damaged (truncated or corrupt): ", message.str(),
              "\n  hint: restore it from a copy; a training state can be dropped (the split then "
              "trains from scratch)");
  }
  const uint8_t* at(uint64_t offset) const { return data_ + offset; }
  size_t size() const { return size_; }

 private:
  const uint8_t* data_;
  size_t size_;
  const std::string& source_;
};

/// Where the central directory is and how many entries it has.
struct Directory {
  uint64_t offset = 0;
  uint64_t entries = 0;
};

uint64_t find_end_record(const Bytes& zip) {
  const size_t smallest = 22;
  const size_t lowest = zip.size() > smallest + 0xffff ? zip.size() - smallest - 0xffff : 0;
  for (size_t at = zip.size() - smallest;; --at) {  // the record ends the file, but a comment
    if (zip.read<uint32_t>(at) == kEndOfCentralDirectory) return at;
    if (at == lowest) break;
  }
  zip.damaged("no end-of-central-directory record");
}

Directory read_directory(const Bytes& zip) {
  const uint64_t end = find_end_record(zip);
  Directory directory{zip.read<uint32_t>(end + 16), zip.read<uint16_t>(end + 10)};
  const bool zip64 = directory.offset == 0xffffffffu || directory.entries == 0xffffu;
  if (zip64) {
    if (end < 20 || zip.read<uint32_t>(end - 20) != kZip64EndLocator) {
      zip.damaged("a zip64 archive without its zip64 end locator");
    }
    const uint64_t record = zip.read<uint64_t>(end - 20 + 8);
    if (zip.read<uint32_t>(record) != kZip64End) zip.damaged("no zip64 end record at ", record);
    directory.entries = zip.read<uint64_t>(record + 32);
    directory.offset = zip.read<uint64_t>(record + 48);
  }
  return directory;
}

/// One central-directory entry, sizes and offset resolved through the zip64 extra field.
struct Entry {
  std::string name;
  uint16_t method = 0;
  uint32_t crc = 0;
  uint64_t compressed = 0;
  uint64_t uncompressed = 0;
  uint64_t local_offset = 0;
  uint64_t next = 0;  ///< offset of the next central entry
};

void apply_zip64_extra(const Bytes& zip, uint64_t extra, uint64_t extra_end, Entry& entry) {
  while (extra + 4 <= extra_end) {
    const uint16_t id = zip.read<uint16_t>(extra);
    const uint16_t length = zip.read<uint16_t>(extra + 2);
    uint64_t field = extra + 4;
    if (id == kZip64ExtraField) {
      for (uint64_t* value : {&entry.uncompressed, &entry.compressed, &entry.local_offset}) {
        if (*value != 0xffffffffu) continue;
        if (field + 8 > extra + 4 + length)
          zip.damaged("record '", entry.name, "': short zip64 field");
        *value = zip.read<uint64_t>(field);
        field += 8;
      }
      return;
    }
    extra += 4 + uint64_t(length);
  }
}

Entry read_entry(const Bytes& zip, uint64_t at) {
  if (zip.read<uint32_t>(at) != kCentralHeader) zip.damaged("no central directory entry at ", at);
  Entry entry;
  entry.method = zip.read<uint16_t>(at + 10);
  entry.crc = zip.read<uint32_t>(at + 16);
  entry.compressed = zip.read<uint32_t>(at + 20);
  entry.uncompressed = zip.read<uint32_t>(at + 24);
  const uint16_t name_length = zip.read<uint16_t>(at + 28);
  const uint16_t extra_length = zip.read<uint16_t>(at + 30);
  const uint16_t comment_length = zip.read<uint16_t>(at + 32);
  entry.local_offset = zip.read<uint32_t>(at + 42);
  zip.need(at + 46, name_length, "a record name");
  entry.name.assign(reinterpret_cast<const char*>(zip.at(at + 46)), name_length);
  const uint64_t extra = at + 46 + name_length;
  zip.need(extra, uint64_t(extra_length) + comment_length, "a central entry's extra fields");
  apply_zip64_extra(zip, extra, extra + extra_length, entry);
  entry.next = extra + extra_length + comment_length;
  return entry;
}

uint32_t crc32_of(const uint8_t* data, uint64_t size) {
  uLong crc = crc32(0L, Z_NULL, 0);
  while (size > 0) {
    const uInt piece = static_cast<uInt>(std::min<uint64_t>(size, 1u << 30));
    crc = crc32(crc, data, piece);
    data += piece;
    size -= piece;
  }
  return static_cast<uint32_t>(crc);
}

/// CRC-32 and length of what the raw deflate stream `data[0, size)` inflates to, computed in
/// 64 KiB pieces (nothing the size of the record is allocated); false when the stream is corrupt.
bool inflated_crc32(const uint8_t* data, uint64_t size, uint32_t& crc, uint64_t& length) {
  z_stream stream{};
  if (inflateInit2(&stream, -MAX_WBITS) != Z_OK) return false;
  std::vector<uint8_t> piece(1 << 16);
  uLong running = crc32(0L, Z_NULL, 0);
  length = 0;
  int status = Z_OK;
  while (status == Z_OK) {
    if (stream.avail_in == 0 && size > 0) {
      stream.next_in = const_cast<Bytef*>(data);
      stream.avail_in = static_cast<uInt>(std::min<uint64_t>(size, 1u << 30));
      data += stream.avail_in;
      size -= stream.avail_in;
    }
    stream.next_out = piece.data();
    stream.avail_out = static_cast<uInt>(piece.size());
    status = inflate(&stream, Z_NO_FLUSH);
    const uInt produced = static_cast<uInt>(piece.size()) - stream.avail_out;
    running = crc32(running, piece.data(), produced);
    length += produced;
    if (status == Z_BUF_ERROR && stream.avail_in == 0 && size == 0) break;  // input ended early
  }
  inflateEnd(&stream);
  crc = static_cast<uint32_t>(running);
  return status == Z_STREAM_END;
}

/// The CRC-32 of the record's content (stored or deflated); throws when it cannot be computed.
uint32_t content_crc32(const Bytes& zip, const Entry& entry, uint64_t data) {
  if (entry.method == kStored) {
    if (entry.compressed != entry.uncompressed) {
      zip.damaged("record '", entry.name, "' is stored with ", entry.compressed,
                  " bytes but announces ", entry.uncompressed);
    }
    return crc32_of(zip.at(data), entry.compressed);
  }
  if (entry.method != kDeflated) {
    zip.damaged("record '", entry.name, "' uses compression method ", entry.method,
                "; expected 0 (stored) or 8 (deflate)");
  }
  if (entry.uncompressed > kMaxDeflatedRecord) {
    zip.damaged("record '", entry.name, "' is deflated to ", entry.uncompressed,
                " bytes, beyond the ", kMaxDeflatedRecord,
                " accepted (torch.save stores tensors uncompressed)");
  }
  uint32_t crc = 0;
  uint64_t length = 0;
  if (!inflated_crc32(zip.at(data), entry.compressed, crc, length) ||
      length != entry.uncompressed) {
    zip.damaged("record '", entry.name, "' does not inflate to its ", entry.uncompressed, " bytes");
  }
  return crc;
}

void check_entry(const Bytes& zip, const Entry& entry) {
  const uint64_t local = entry.local_offset;
  if (zip.read<uint32_t>(local) != kLocalHeader) {
    zip.damaged("record '", entry.name, "': no local header at byte ", local);
  }
  const uint16_t name_length = zip.read<uint16_t>(local + 26);
  zip.need(local + 30, name_length, "a record name");
  if (std::string(reinterpret_cast<const char*>(zip.at(local + 30)), name_length) != entry.name) {
    zip.damaged("record '", entry.name, "': its local header names another record");
  }
  const uint64_t data = local + 30 + name_length + zip.read<uint16_t>(local + 28);
  zip.need(data, entry.compressed, "record data");
  const uint32_t computed = content_crc32(zip, entry, data);
  // A recorded 0 means the writer computed none (torch 2.x can skip it:
  // torch.serialization.config.save.compute_crc32 = False): nothing to compare with.
  if (computed != entry.crc && entry.crc != 0) {
    std::ostringstream crcs;
    crcs << std::hex << "recorded 0x" << entry.crc << ", computed 0x" << computed;
    zip.damaged("record '", entry.name, "' fails its CRC-32 check (", crcs.str(), ")");
  }
}

}  // namespace

void check_zip_records(const uint8_t* data, size_t size, const std::string& source) {
  if (size == 0) {
    CDL_THROW(DataError, "'", source, "' is empty (0 bytes); expected a zip archive (torch.save)",
              "\n  hint: it was cut short, e.g. by a full disk or a killed job");
  }
  const Bytes zip(data, size, source);
  if (size < 22 || zip.read<uint32_t>(0) != kLocalHeader) {
    CDL_THROW(DataError, "'", source, "' is not a zip archive (", size,
              " bytes); expected a torch.save file");
  }
  const Directory directory = read_directory(zip);
  uint64_t at = directory.offset;
  for (uint64_t i = 0; i < directory.entries; ++i) {
    const Entry entry = read_entry(zip, at);
    check_entry(zip, entry);
    at = entry.next;
  }
}

}  // namespace cdl::formats

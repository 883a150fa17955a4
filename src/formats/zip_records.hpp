// Integrity of a zip archive held in memory (PyTorch's checkpoint container): every record of the
// central directory is located, bounded by the archive, and its stored bytes checked against the
// CRC-32 the writer recorded. LibTorch's reader skips that check, so one flipped byte in a weight
// used to load as a different model. Private to formats/.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace cdl::formats {

/// Checks every record of the zip archive in `data[0, size)`: the end-of-central-directory record
/// (zip64 too), each central entry, its local header and data inside the archive, and the CRC-32
/// of each record's content (stored, or deflated: inflated in 64 KiB pieces, never whole) when the
/// writer recorded one (not 0).
/// Throws DataError naming `source` and the record at the first problem ("is damaged: record
/// 'archive/data/0' fails its CRC-32 check ..."); an empty or non-zip input is named as such.
void check_zip_records(const uint8_t* data, size_t size, const std::string& source);

}  // namespace cdl::formats

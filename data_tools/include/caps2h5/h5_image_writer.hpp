// Writes the clinicadl-hpc HDF5 container (format of data_tools/README.md, constants of
// cdl/data/h5/container_format.hpp). Image chunks are encoded (float16, shuffle, deflate) by the
// caller's threads with encode_chunk() and stored as they are with H5Dwrite_chunk.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "caps2h5/gzip_codec.hpp"
#include "caps2h5/volume.hpp"
#include "cdl/h5/handle.hpp"

namespace cdl::data_tools {

/// Root attributes of a container (format and format_version are always written).
struct RootAttributes {
  std::string preprocessing_json;
  std::string cohort;
  std::string created_by;
  std::string source;
};

/// Layout of /images.
struct ImagesLayout {
  int64_t count = 0;
  Shape4 shape{0, 0, 0, 0};  ///< C, D, H, W of one image
  bool float16 = false;
  int compression = 0;   ///< 0 = none, 1-9 = shuffle + deflate at that level
  bool checksum = true;  ///< fletcher32 filter: every read verifies each image's checksum
};

/// HDF5's Fletcher-32 checksum of `size` bytes (what its fletcher32 filter stores and verifies).
uint32_t fletcher32(const uint8_t* data, size_t size);

/// Encodes one image as stored in its chunk: float32 or float16 little endian, then (when
/// compression > 0) byte shuffle + zlib, then (when checksum) the 4-byte Fletcher-32 checksum:
/// exactly what HDF5's shuffle, deflate and fletcher32 filters read back.
Bytes encode_chunk(const Volume& volume, const ImagesLayout& layout);

/// Rounds a float to the nearest IEEE half (ties to even), returned as raw bits.
uint16_t float_to_half(float value);

/// HDF5 type of IEEE half precision (little endian); the caller owns the handle.
h5::Datatype make_float16_type();

/// Turns off HDF5's automatic error printing (errors are reported through exceptions).
void silence_hdf5_errors();

/// One output file, written in order: attributes, images (any order of indices), strings, masks.
class H5ImageWriter {
 public:
  /// Creates (truncates) `path`; throws DataError naming it on failure.
  explicit H5ImageWriter(const std::string& path);
  /// Writes the root attributes of the format.
  void write_attributes(const RootAttributes& attributes);
  /// Creates /images with one chunk per image.
  void create_images(const ImagesLayout& layout);
  /// Stores image `index` from `size` bytes made by encode_chunk() with the same layout (or
  /// plain float32 values when the layout is float32 without compression).
  void write_chunk(int64_t index, const void* chunk, size_t size);
  /// Writes a 1-D variable-length UTF-8 string dataset (e.g. /participant_id).
  void write_strings(const std::string& name, const std::vector<std::string>& values);
  /// Writes /masks/<roi> as uint8 [D, H, W].
  void write_mask(const std::string& roi, const std::array<int64_t, 3>& dims,
                  const std::vector<uint8_t>& mask);
  /// Flushes and closes the file; throws DataError on failure.
  void close();

 private:
  std::string path_;
  h5::File file_;
  h5::Dataset images_;
  ImagesLayout layout_;
};

}  // namespace cdl::data_tools

// HDF5 writing with the C API and RAII handles.
#include "caps2h5/h5_image_writer.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "cdl/core/error.hpp"
#include "cdl/h5/container_format.hpp"

namespace cdl::data_tools {
namespace fmt = h5::format;
namespace {

/// Variable-length UTF-8 string type.
h5::Datatype make_string_type() {
  h5::Datatype type(H5Tcopy(H5T_C_S1));
  H5Tset_size(type.get(), H5T_VARIABLE);
  H5Tset_cset(type.get(), H5T_CSET_UTF8);
  return type;
}

void write_string_attribute(hid_t object, const char* name, const std::string& value) {
  h5::Datatype type = make_string_type();
  h5::Dataspace space(H5Screate(H5S_SCALAR));
  h5::Attribute attr(H5Acreate2(object, name, type.get(), space.get(), H5P_DEFAULT, H5P_DEFAULT));
  const char* text = value.c_str();
  if (!attr.valid() || H5Awrite(attr.get(), type.get(), &text) < 0) {
    CDL_THROW(DataError, "cannot write HDF5 attribute '", name, "'");
  }
}

void write_int_attribute(hid_t object, const char* name, int value) {
  h5::Dataspace space(H5Screate(H5S_SCALAR));
  h5::Attribute attr(
      H5Acreate2(object, name, H5T_STD_I32LE, space.get(), H5P_DEFAULT, H5P_DEFAULT));
  if (!attr.valid() || H5Awrite(attr.get(), H5T_NATIVE_INT, &value) < 0) {
    CDL_THROW(DataError, "cannot write HDF5 attribute '", name, "'");
  }
}

/// HDF5's shuffle filter: byte b of element e goes to position b * n + e.
Bytes shuffle_bytes(const uint8_t* data, size_t size, size_t element_size) {
  Bytes out(size);
  const size_t n = size / element_size;
  for (size_t e = 0; e < n; ++e) {
    for (size_t b = 0; b < element_size; ++b) out[b * n + e] = data[e * element_size + b];
  }
  return out;
}

}  // namespace

uint32_t fletcher32(const uint8_t* data, size_t size) {
  // Fletcher's checksum over big-endian 16-bit words (an odd last byte is the high half of a
  // word), both sums kept modulo 65535 by end-around carry folding: HDF5's fletcher32 filter.
  // Folding every 360 words keeps the 32-bit sums from overflowing.
  uint32_t sum1 = 0, sum2 = 0;
  const auto fold = [](uint32_t x) { return (x & 0xffffu) + (x >> 16); };
  size_t words = size / 2;
  while (words > 0) {
    const size_t block = std::min<size_t>(words, 360);
    for (size_t w = 0; w < block; ++w, data += 2) {
      sum1 += (uint32_t(data[0]) << 8) | uint32_t(data[1]);
      sum2 += sum1;
    }
    words -= block;
    sum1 = fold(sum1);
    sum2 = fold(sum2);
  }
  if (size % 2 != 0) {
    sum1 += uint32_t(data[0]) << 8;
    sum2 += sum1;
    sum1 = fold(sum1);
    sum2 = fold(sum2);
  }
  sum1 = fold(sum1);
  sum2 = fold(sum2);
  return (sum2 << 16) | sum1;
}

uint16_t float_to_half(float value) {
  uint32_t x;
  std::memcpy(&x, &value, 4);
  const uint16_t sign = static_cast<uint16_t>((x >> 16) & 0x8000u);
  const uint32_t abs = x & 0x7fffffffu;
  if (abs >= 0x7f800000u) return sign | (abs > 0x7f800000u ? 0x7e00u : 0x7c00u);  // NaN / Inf
  if (abs >= 0x477ff000u) return sign | 0x7c00u;          // rounds to >= 65520: overflow to Inf
  if (abs < 0x38800000u) {                                // below 2^-14: subnormal half (or zero)
    const float scaled = std::fabs(value) * 16777216.0f;  // * 2^24: exact, units of 2^-24
    return sign | static_cast<uint16_t>(std::nearbyint(scaled));  // ties to even (default mode)
  }
  const uint32_t mantissa_rounding = 0xfffu + ((abs >> 13) & 1u);  // round to nearest even
  const uint32_t rounded = abs + mantissa_rounding;
  return sign | static_cast<uint16_t>((rounded - 0x38000000u) >> 13);
}

h5::Datatype make_float16_type() {
  h5::Datatype type(H5Tcopy(H5T_IEEE_F32LE));
  H5Tset_fields(type.get(), 15, 10, 5, 0, 10);
  H5Tset_size(type.get(), 2);
  H5Tset_ebias(type.get(), 15);
  return type;
}

void silence_hdf5_errors() {
  H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
}

Bytes encode_chunk(const Volume& volume, const ImagesLayout& layout) {
  const size_t n = volume.data.size();
  Bytes raw;
  if (layout.float16) {
    raw.resize(n * 2);
    for (size_t v = 0; v < n; ++v) {
      const uint16_t h = float_to_half(volume.data[v]);
      std::memcpy(raw.data() + 2 * v, &h, 2);
    }
  } else {
    raw.resize(n * 4);
    std::memcpy(raw.data(), volume.data.data(), n * 4);
  }
  Bytes chunk = raw;
  if (layout.compression > 0) {
    const Bytes shuffled = shuffle_bytes(raw.data(), raw.size(), layout.float16 ? 2 : 4);
    chunk = zlib_compress(shuffled.data(), shuffled.size(), layout.compression);
  }
  if (layout.checksum) {  // the fletcher32 filter's 4 trailing bytes, little endian
    const uint32_t sum = fletcher32(chunk.data(), chunk.size());
    for (int b = 0; b < 4; ++b) chunk.push_back(uint8_t(sum >> (8 * b)));
  }
  return chunk;
}

H5ImageWriter::H5ImageWriter(const std::string& path) : path_(path) {
  silence_hdf5_errors();
  file_ = h5::File(H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT));
  if (!file_.valid()) CDL_THROW(DataError, "cannot create HDF5 file '", path, "'");
}

void H5ImageWriter::write_attributes(const RootAttributes& a) {
  write_string_attribute(file_.get(), fmt::kAttrFormat, fmt::kFormatName);
  write_int_attribute(file_.get(), fmt::kAttrFormatVersion, fmt::kFormatVersion);
  write_string_attribute(file_.get(), fmt::kAttrPreprocessing, a.preprocessing_json);
  write_string_attribute(file_.get(), fmt::kAttrCohort, a.cohort);
  write_string_attribute(file_.get(), fmt::kAttrCreatedBy, a.created_by);
  write_string_attribute(file_.get(), fmt::kAttrSource, a.source);
}

void H5ImageWriter::create_images(const ImagesLayout& layout) {
  layout_ = layout;
  const hsize_t dims[5] = {hsize_t(layout.count), hsize_t(layout.shape[0]),
                           hsize_t(layout.shape[1]), hsize_t(layout.shape[2]),
                           hsize_t(layout.shape[3])};
  hsize_t chunk[5] = {1, dims[1], dims[2], dims[3], dims[4]};
  h5::Dataspace space(H5Screate_simple(5, dims, nullptr));
  h5::PropertyList dcpl(H5Pcreate(H5P_DATASET_CREATE));
  H5Pset_chunk(dcpl.get(), 5, chunk);
  if (layout.compression > 0) {
    H5Pset_shuffle(dcpl.get());
    H5Pset_deflate(dcpl.get(), static_cast<unsigned>(layout.compression));
  }
  if (layout.checksum) H5Pset_fletcher32(dcpl.get());  // last filter: checks what is stored
  h5::Datatype f16 = make_float16_type();
  const hid_t type = layout.float16 ? f16.get() : H5T_IEEE_F32LE;
  images_ = h5::Dataset(H5Dcreate2(file_.get(), fmt::kImages, type, space.get(), H5P_DEFAULT,
                                   dcpl.get(), H5P_DEFAULT));
  if (!images_.valid()) CDL_THROW(DataError, "cannot create ", fmt::kImages, " in '", path_, "'");
}

void H5ImageWriter::write_chunk(int64_t index, const void* chunk, size_t size) {
  const hsize_t offset[5] = {hsize_t(index), 0, 0, 0, 0};
  if (H5Dwrite_chunk(images_.get(), H5P_DEFAULT, 0, offset, size, chunk) < 0) {
    CDL_THROW(DataError, "cannot write image ", index, " to '", path_, "' (disk full?)");
  }
}

void H5ImageWriter::write_strings(const std::string& name, const std::vector<std::string>& values) {
  h5::Datatype type = make_string_type();
  const hsize_t n = values.size();
  h5::Dataspace space(H5Screate_simple(1, &n, nullptr));
  h5::Dataset set(H5Dcreate2(file_.get(), name.c_str(), type.get(), space.get(), H5P_DEFAULT,
                             H5P_DEFAULT, H5P_DEFAULT));
  std::vector<const char*> pointers;
  for (const auto& v : values) pointers.push_back(v.c_str());
  if (!set.valid() || (n > 0 && H5Dwrite(set.get(), type.get(), H5S_ALL, H5S_ALL, H5P_DEFAULT,
                                         pointers.data()) < 0)) {
    CDL_THROW(DataError, "cannot write dataset '", name, "' to '", path_, "'");
  }
}

void H5ImageWriter::write_mask(const std::string& roi, const std::array<int64_t, 3>& dims,
                               const std::vector<uint8_t>& mask) {
  if (H5Lexists(file_.get(), fmt::kMasksGroup, H5P_DEFAULT) <= 0) {
    h5::Group group(
        H5Gcreate2(file_.get(), fmt::kMasksGroup, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT));
  }
  const hsize_t d[3] = {hsize_t(dims[0]), hsize_t(dims[1]), hsize_t(dims[2])};
  h5::Dataspace space(H5Screate_simple(3, d, nullptr));
  const std::string name = std::string(fmt::kMasksGroup) + "/" + roi;
  h5::Dataset set(H5Dcreate2(file_.get(), name.c_str(), H5T_STD_U8LE, space.get(), H5P_DEFAULT,
                             H5P_DEFAULT, H5P_DEFAULT));
  if (!set.valid() ||
      H5Dwrite(set.get(), H5T_NATIVE_UINT8, H5S_ALL, H5S_ALL, H5P_DEFAULT, mask.data()) < 0) {
    CDL_THROW(DataError, "cannot write mask '", name, "' to '", path_, "'");
  }
}

void H5ImageWriter::close() {
  images_.reset();
  if (file_.valid() && H5Fflush(file_.get(), H5F_SCOPE_GLOBAL) < 0) {
    CDL_THROW(DataError, "cannot flush '", path_, "' (disk full?)");
  }
  file_.reset();
}

}  // namespace cdl::data_tools

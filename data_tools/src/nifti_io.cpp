// NIfTI reading and writing. nifticlib interprets (and byte-swaps) the header from memory;
// the voxel conversion to float32 C order [C][X][Y][Z] is done here.
#include "caps2h5/nifti_io.hpp"

#include <nifti2_io.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <memory>
#include <sstream>

#include "cdl/core/error.hpp"

namespace cdl::data_tools {
namespace {

struct NimDeleter {
  void operator()(nifti_image* nim) const { nifti_image_free(nim); }
};
using NimPtr = std::unique_ptr<nifti_image, NimDeleter>;

/// Largest image accepted: each spatial length, the channel count and the voxel count are
/// bounded before anything is allocated (a hostile or corrupt header cannot make us allocate or
/// write out of bounds; products are checked for overflow).
constexpr int64_t kMaxSpatialLength = 1 << 16;
constexpr int64_t kMaxChannels = 1 << 12;
constexpr int64_t kMaxVoxels = int64_t(1) << 32;  // 16 GiB of float32 per image

template <typename T>
T byte_swapped(T value) {
  uint8_t bytes[sizeof(T)];
  std::memcpy(bytes, &value, sizeof(T));
  std::reverse(bytes, bytes + sizeof(T));
  std::memcpy(&value, bytes, sizeof(T));
  return value;
}

/// The header fields nifticlib loops over or that place the voxels, read from the raw bytes
/// (swapped to this machine's order) before nifticlib sees them.
struct RawHeader {
  int version = 0;          ///< 1 or 2
  int64_t dim[8] = {};      ///< dim[0] dimensions, then the lengths
  int64_t data_offset = 0;  ///< vox_offset: where the voxels start
};

/// Reads sizeof_hdr, dim[] and vox_offset of a NIfTI-1 (348-byte) or NIfTI-2 (540-byte) header in
/// either byte order; throws DataError naming the file when the header is not one of them.
RawHeader read_raw_header(const Bytes& bytes, const std::string& name) {
  int32_t size = 0;
  if (bytes.size() >= sizeof size) std::memcpy(&size, bytes.data(), sizeof size);
  const bool swap = size != 348 && size != 540;
  if (swap) size = byte_swapped(size);
  RawHeader raw;
  raw.version = size == 348 ? 1 : size == 540 ? 2 : 0;
  const size_t header_bytes = raw.version == 2 ? sizeof(nifti_2_header) : sizeof(nifti_1_header);
  if (raw.version == 0 || bytes.size() < header_bytes) {
    CDL_THROW(DataError, "'", name, "' is not a NIfTI-1/NIfTI-2 file (", bytes.size(),
              " bytes, header size field ", size,
              "; expected 348 or 540); hint: is the file truncated or corrupt?");
  }
  const auto fix = [swap](auto value) { return swap ? byte_swapped(value) : value; };
  if (raw.version == 1) {
    nifti_1_header h;
    std::memcpy(&h, bytes.data(), sizeof h);
    for (int d = 0; d < 8; ++d) raw.dim[d] = fix(h.dim[d]);
    const float offset = fix(h.vox_offset);
    raw.data_offset =
        std::isfinite(offset) && offset == std::floor(offset) && std::fabs(offset) < 9.0e15f
            ? static_cast<int64_t>(offset)
            : -1;
  } else {
    nifti_2_header h;
    std::memcpy(&h, bytes.data(), sizeof h);
    for (int d = 0; d < 8; ++d) raw.dim[d] = fix(h.dim[d]);
    raw.data_offset = fix(h.vox_offset);
  }
  return raw;
}

/// Refuses the header fields that would make nifticlib loop out of its arrays, overflow its voxel
/// count, or place the voxels elsewhere than the file's writer meant.
void check_raw_header(const RawHeader& raw, size_t file_size, const std::string& name) {
  if (raw.dim[0] < 1 || raw.dim[0] > 7) {
    CDL_THROW(DataError, "'", name, "': header dim[0] = ", raw.dim[0],
              "; expected 1 to 7 dimensions (corrupt header?)");
  }
  for (int d = 1; d <= raw.dim[0]; ++d) {
    const int64_t limit = d <= 3 ? kMaxSpatialLength : kMaxChannels;
    if (raw.dim[d] > limit || raw.dim[d] < -limit) {
      CDL_THROW(DataError, "'", name, "': header dim[", d, "] = ", raw.dim[d],
                " is out of range; expected at most ", limit, " (corrupt header?)");
    }
  }
  const int64_t header_bytes =
      raw.version == 2 ? int64_t(sizeof(nifti_2_header)) : int64_t(sizeof(nifti_1_header));
  if (raw.data_offset < header_bytes || raw.data_offset > int64_t(file_size)) {
    CDL_THROW(DataError, "'", name, "': header vox_offset ",
              raw.data_offset < 0 ? std::string("is not a whole number of bytes")
                                  : "= " + std::to_string(raw.data_offset),
              "; expected the voxels to start between the end of the ", header_bytes,
              "-byte header and the end of the ", file_size, "-byte file (corrupt header?)");
  }
}

/// Interprets the NIfTI-1 or NIfTI-2 header at the start of `bytes` once its raw fields are
/// checked (nifticlib swaps it).
NimPtr parse_header(const Bytes& bytes, const RawHeader& raw, const std::string& name) {
  NimPtr nim;
  if (raw.version == 1) {
    nifti_1_header h;
    std::memcpy(&h, bytes.data(), sizeof h);
    nim.reset(nifti_convert_n1hdr2nim(h, name.c_str()));
  } else {
    nifti_2_header h;
    std::memcpy(&h, bytes.data(), sizeof h);
    nim.reset(nifti_convert_n2hdr2nim(h, name.c_str()));
  }
  if (!nim) {
    CDL_THROW(DataError, "'", name, "' is not a readable NIfTI-", raw.version, " file (",
              bytes.size(), " bytes); hint: is the file truncated or corrupt?");
  }
  return nim;
}

bool is_supported_datatype(int datatype) {
  switch (datatype) {
    case DT_UINT8:
    case DT_INT8:
    case DT_INT16:
    case DT_UINT16:
    case DT_INT32:
    case DT_FLOAT32:
    case DT_UINT32:
    case DT_INT64:
    case DT_UINT64:
    case DT_FLOAT64:
      return true;
    default:
      return false;
  }
}

/// Voxel count of the header's dim[] (dims < 1 count as 1, as nibabel does), bounded; throws
/// DataError naming the file and the offending dimension.
int64_t checked_voxel_count(const nifti_image& nim, const std::string& name) {
  if (nim.ndim < 1 || nim.ndim > 7) {
    CDL_THROW(DataError, "'", name, "': header dim[0] = ", nim.ndim,
              "; expected 1 to 7 dimensions");
  }
  int64_t voxels = 1, channels = 1;
  for (int d = 1; d <= nim.ndim; ++d) {
    const int64_t length = nim.dim[d] > 0 ? int64_t(nim.dim[d]) : 1;
    const int64_t limit = d <= 3 ? kMaxSpatialLength : kMaxChannels;
    if (length > limit) {
      CDL_THROW(DataError, "'", name, "': header dim[", d, "] = ", nim.dim[d], " is out of range; ",
                "expected at most ", limit, " (corrupt header?)");
    }
    if (d >= 4 && __builtin_mul_overflow(channels, length, &channels)) channels = kMaxChannels + 1;
    if (__builtin_mul_overflow(voxels, length, &voxels)) voxels = kMaxVoxels + 1;
  }
  if (channels > kMaxChannels || voxels > kMaxVoxels) {
    CDL_THROW(DataError, "'", name, "': the header announces ", voxels > kMaxVoxels ? "over " : "",
              std::min(voxels, kMaxVoxels), " voxels in ", channels,
              " channel(s); expected at most ", kMaxVoxels, " voxels and ", kMaxChannels,
              " channels (corrupt header?)");
  }
  return voxels;
}

/// Checks that the image is single-file, of a supported datatype, with sane dimensions and
/// complete data. Returns the number of voxels.
int64_t check_image(const nifti_image& nim, int64_t data_offset, size_t file_size,
                    const std::string& name) {
  if (nim.nifti_type != NIFTI_FTYPE_NIFTI1_1 && nim.nifti_type != NIFTI_FTYPE_NIFTI2_1) {
    CDL_THROW(DataError, "'", name, "': only single-file NIfTI (.nii/.nii.gz, magic n+1 or n+2) ",
              "is supported, found nifti_type ", nim.nifti_type, " (ANALYZE or .hdr/.img pair)");
  }
  if (!is_supported_datatype(nim.datatype)) {
    CDL_THROW(DataError, "'", name, "': NIfTI datatype ", nifti_datatype_to_string(nim.datatype),
              " (", nim.datatype, ") is not supported; expected an integer or real type");
  }
  const int64_t voxels = checked_voxel_count(nim, name);
  if (int64_t(nim.nvox) != voxels) {
    CDL_THROW(DataError, "'", name, "': inconsistent header (", nim.nvox,
              " voxels for dims giving ", voxels, "); corrupt header?");
  }
  const int64_t data_bytes = voxels * int64_t(nim.nbyper);  // <= 2^32 * 8: no overflow
  if (int64_t(file_size) - data_offset < data_bytes) {
    CDL_THROW(DataError, "'", name, "' is truncated: its header announces ", voxels, " voxels of ",
              nifti_datatype_to_string(nim.datatype), " (", data_bytes, " bytes after the ",
              data_offset, "-byte header) but the file has ", file_size, " bytes");
  }
  return voxels;
}

/// Scaling rule of nibabel's get_fdata(dtype=float32): value * slope + inter when the slope is
/// finite and non-zero, computed in float (or double for 32/64-bit integers and doubles).
struct Scaling {
  bool apply = false;
  double slope = 1.0;
  double inter = 0.0;
};

/// Stored value at byte address `p` (any alignment), scaled when kScale, as float.
template <typename T, typename Compute, bool kScale>
inline float load_value(const uint8_t* p, Compute slope, Compute inter) {
  T x;
  std::memcpy(&x, p, sizeof(T));
  const Compute v = static_cast<Compute>(x);
  return static_cast<float>(kScale ? v * slope + inter : v);
}

/// Converts and reorders in one pass: Fortran order [C][Z][Y][X] of T (i fastest) into float
/// C order [C][X][Y][Z], in (i, k) tiles so that strided reads and writes stay in cache.
template <typename T, typename Compute, bool kScale>
void decode_voxels(const uint8_t* raw, const Shape4& shape, const Scaling& scaling, float* out) {
  constexpr int64_t kTile = 32;
  constexpr int64_t kSize = int64_t(sizeof(T));
  const Compute slope = static_cast<Compute>(scaling.slope);
  const Compute inter = static_cast<Compute>(scaling.inter);
  const int64_t nx = shape[1], ny = shape[2], nz = shape[3], vol = nx * ny * nz;
  for (int64_t c = 0; c < shape[0]; ++c) {
    const uint8_t* src = raw + c * vol * kSize;
    float* dst = out + c * vol;
    for (int64_t j = 0; j < ny; ++j) {
      for (int64_t i0 = 0; i0 < nx; i0 += kTile) {
        for (int64_t k0 = 0; k0 < nz; k0 += kTile) {
          const int64_t i1 = std::min(nx, i0 + kTile), k1 = std::min(nz, k0 + kTile);
          for (int64_t i = i0; i < i1; ++i) {
            float* row = dst + (i * ny + j) * nz;
            const uint8_t* column = src + (j * nx + i) * kSize;
            for (int64_t k = k0; k < k1; ++k) {
              row[k] = load_value<T, Compute, kScale>(column + k * ny * nx * kSize, slope, inter);
            }
          }
        }
      }
    }
  }
}

/// decode_voxels with the scaling decision taken once, outside the voxel loop.
template <typename T, typename Compute>
void decode_typed(const uint8_t* raw, const Shape4& shape, const Scaling& scaling, float* out) {
  if (scaling.apply) {
    decode_voxels<T, Compute, true>(raw, shape, scaling, out);
  } else {
    decode_voxels<T, Compute, false>(raw, shape, scaling, out);
  }
}

/// Scaling parameters of the header.
Scaling scaling_of(const nifti_image& nim) {
  Scaling s;
  s.slope = static_cast<float>(nim.scl_slope);
  s.inter = std::isfinite(nim.scl_inter) ? static_cast<float>(nim.scl_inter) : 0.0f;
  s.apply =
      std::isfinite(nim.scl_slope) && nim.scl_slope != 0.0 && !(s.slope == 1.0 && s.inter == 0.0);
  return s;
}

/// Decodes the raw buffer (native byte order) of any supported datatype into `out`.
void decode_data(const nifti_image& nim, const uint8_t* raw, const Shape4& shape, float* out,
                 const std::string& name) {
  const Scaling s = scaling_of(nim);
  switch (nim.datatype) {
    case DT_UINT8:
      return decode_typed<uint8_t, float>(raw, shape, s, out);
    case DT_INT8:
      return decode_typed<int8_t, float>(raw, shape, s, out);
    case DT_INT16:
      return decode_typed<int16_t, float>(raw, shape, s, out);
    case DT_UINT16:
      return decode_typed<uint16_t, float>(raw, shape, s, out);
    case DT_INT32:
      return decode_typed<int32_t, double>(raw, shape, s, out);
    case DT_FLOAT32:
      return decode_typed<float, float>(raw, shape, s, out);
    case DT_UINT32:
      return decode_typed<uint32_t, double>(raw, shape, s, out);
    case DT_INT64:
      return decode_typed<int64_t, double>(raw, shape, s, out);
    case DT_UINT64:
      return decode_typed<uint64_t, double>(raw, shape, s, out);
    case DT_FLOAT64:
      return decode_typed<double, double>(raw, shape, s, out);
    default:
      CDL_THROW(DataError, "'", name, "': NIfTI datatype ", nifti_datatype_to_string(nim.datatype),
                " (", nim.datatype, ") is not supported; expected an integer or real type");
  }
}

/// Channel count and spatial dims (X, Y, Z) from the header's dim[] array.
Shape4 shape_of(const nifti_image& nim) {
  int64_t dim[8] = {0, 1, 1, 1, 1, 1, 1, 1};
  for (int d = 1; d <= nim.ndim && d <= 7; ++d) dim[d] = nim.dim[d] > 0 ? nim.dim[d] : 1;
  return {dim[4] * dim[5] * dim[6] * dim[7], dim[1], dim[2], dim[3]};
}

/// Builds the header bytes (header + 4-byte extension flag) of a new single-file image.
Bytes make_header(const NiftiSpec& spec) {
  const int64_t ndim = spec.dims[3] > 1 ? 4 : 3;
  const int64_t dims[8] = {ndim, spec.dims[0], spec.dims[1], spec.dims[2], spec.dims[3], 1, 1, 1};
  NimPtr nim(nifti_make_new_nim(dims, spec.datatype, 0));
  CDL_CHECK(nim != nullptr, "nifti_make_new_nim failed for datatype ", spec.datatype);
  nim->scl_slope = spec.scl_slope;
  nim->scl_inter = spec.scl_inter;
  Bytes header;
  if (spec.version == 2) {
    nifti_2_header h;
    nifti_convert_nim2n2hdr(nim.get(), &h);
    std::memcpy(h.magic, "n+2\0\r\n\032\n", 8);
    h.vox_offset = sizeof(nifti_2_header) + 4;
    header.assign(reinterpret_cast<uint8_t*>(&h), reinterpret_cast<uint8_t*>(&h) + sizeof h);
  } else {
    nifti_1_header h;
    nifti_convert_nim2n1hdr(nim.get(), &h);
    std::memcpy(h.magic, "n+1\0", 4);
    h.vox_offset = sizeof(nifti_1_header) + 4;
    header.assign(reinterpret_cast<uint8_t*>(&h), reinterpret_cast<uint8_t*>(&h) + sizeof h);
  }
  header.resize(header.size() + 4, 0);  // extension flag: no extensions
  return header;
}

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() &&
         s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

}  // namespace

std::string shape_to_string(const Shape4& shape) {
  std::ostringstream out;
  out << shape[0] << "x" << shape[1] << "x" << shape[2] << "x" << shape[3];
  return out.str();
}

Volume decode_nifti(const Bytes& file_bytes, const std::string& name) {
  Bytes inflated;
  const Bytes* bytes = &file_bytes;
  if (is_gzip(file_bytes)) {
    inflated = gunzip(file_bytes, name);
    bytes = &inflated;
  }
  const RawHeader header = read_raw_header(*bytes, name);
  check_raw_header(header, bytes->size(), name);
  NimPtr nim = parse_header(*bytes, header, name);
  const int64_t voxels = check_image(*nim, header.data_offset, bytes->size(), name);
  const uint8_t* raw = bytes->data() + header.data_offset;
  Bytes swapped;
  if (nim->byteorder != nifti_short_order() && nim->swapsize > 1) {
    swapped.assign(raw, raw + voxels * nim->nbyper);
    nifti_swap_Nbytes(voxels, nim->swapsize, swapped.data());
    raw = swapped.data();
  }
  Volume volume;
  volume.shape = shape_of(*nim);
  CDL_CHECK(volume.shape[0] * volume.shape[1] * volume.shape[2] * volume.shape[3] == voxels,
            "shape and voxel count disagree for ", name);
  volume.data.resize(static_cast<size_t>(voxels));
  decode_data(*nim, raw, volume.shape, volume.data.data(), name);
  return volume;
}

Volume read_nifti(const std::string& path) {
  return decode_nifti(read_file_bytes(path), path);
}

void write_nifti(const std::string& path, const NiftiSpec& spec, const void* fortran_data) {
  Bytes file = make_header(spec);
  int nbyper = 0, swapsize = 0;
  nifti_datatype_sizes(spec.datatype, &nbyper, &swapsize);
  const size_t data_bytes =
      size_t(spec.dims[0] * spec.dims[1] * spec.dims[2] * spec.dims[3]) * size_t(nbyper);
  const auto* data = static_cast<const uint8_t*>(fortran_data);
  file.insert(file.end(), data, data + data_bytes);
  if (ends_with(path, ".gz")) {
    const Bytes gz = gzip_compress(file.data(), file.size(), spec.gzip_level);
    write_file_bytes(path, gz.data(), gz.size());
  } else {
    write_file_bytes(path, file.data(), file.size());
  }
}

void write_nifti_volume(const std::string& path, const Volume& volume, int gzip_level) {
  const int64_t nx = volume.shape[1], ny = volume.shape[2], nz = volume.shape[3];
  std::vector<float> fortran(volume.data.size());
  for (int64_t i = 0; i < nx; ++i) {
    for (int64_t j = 0; j < ny; ++j) {
      for (int64_t k = 0; k < nz; ++k) {
        fortran[(k * ny + j) * nx + i] = volume.data[(i * ny + j) * nz + k];
      }
    }
  }
  NiftiSpec spec;
  spec.dims = {nx, ny, nz, 1};
  spec.gzip_level = gzip_level;
  write_nifti(path, spec, fortran.data());
}

void write_nifti_mask(const std::string& path, const std::array<int64_t, 3>& dims,
                      const std::vector<uint8_t>& c_order_mask) {
  const int64_t nx = dims[0], ny = dims[1], nz = dims[2];
  std::vector<uint8_t> fortran(c_order_mask.size());
  for (int64_t i = 0; i < nx; ++i) {
    for (int64_t j = 0; j < ny; ++j) {
      for (int64_t k = 0; k < nz; ++k) {
        fortran[(k * ny + j) * nx + i] = c_order_mask[(i * ny + j) * nz + k];
      }
    }
  }
  NiftiSpec spec;
  spec.dims = {nx, ny, nz, 1};
  spec.datatype = DT_UINT8;
  write_nifti(path, spec, fortran.data());
}

}  // namespace cdl::data_tools

// NIfTI decoding: every datatype, scaling, .nii/.nii.gz, NIfTI-2, files written by nifticlib
// itself, truncated files; gzip corner cases; half-precision rounding.
#include "caps2h5/nifti_io.hpp"

#include <gtest/gtest.h>

#include <nifti2_io.h>
#include <cstring>
#include <functional>

#include <cmath>
#include <cstring>

#include "caps2h5/gzip_codec.hpp"
#include "caps2h5/h5_image_writer.hpp"
#include "cdl/core/error.hpp"
#include "test_helpers.hpp"

namespace cdl::data_tools {
namespace {

using testing::TempDir;

constexpr int64_t kX = 8, kY = 10, kZ = 6;

/// Raw value stored at Fortran position (i, j, k): small integers that every type holds.
double raw_value(int64_t i, int64_t j, int64_t k, bool is_signed) {
  return double((i + 3 * j + 7 * k) % 100) - (is_signed ? 40.0 : 0.0);
}

/// Raw bytes of the test image in `datatype`, i fastest (NIfTI storage order).
template <typename T>
std::vector<uint8_t> raw_image(bool is_signed) {
  std::vector<T> values;
  for (int64_t k = 0; k < kZ; ++k)
    for (int64_t j = 0; j < kY; ++j)
      for (int64_t i = 0; i < kX; ++i)
        values.push_back(static_cast<T>(raw_value(i, j, k, is_signed)));
  std::vector<uint8_t> bytes(values.size() * sizeof(T));
  std::memcpy(bytes.data(), values.data(), bytes.size());
  return bytes;
}

struct Case {
  int datatype;
  bool is_signed;
  std::vector<uint8_t> bytes;
};

std::vector<Case> all_cases() {
  return {{DT_UINT8, false, raw_image<uint8_t>(false)},  {DT_INT16, true, raw_image<int16_t>(true)},
          {DT_INT32, true, raw_image<int32_t>(true)},    {DT_FLOAT32, true, raw_image<float>(true)},
          {DT_FLOAT64, true, raw_image<double>(true)},   {DT_INT8, true, raw_image<int8_t>(true)},
          {DT_UINT16, false, raw_image<uint16_t>(false)}};
}

/// Checks tensor[0][i][j][k] == raw(i,j,k) * slope + inter for every voxel (exact).
void expect_volume(const Volume& v, bool is_signed, float slope, float inter,
                   const std::string& what) {
  ASSERT_EQ(v.shape, (Shape4{1, kX, kY, kZ})) << what;
  size_t n = 0;
  for (int64_t i = 0; i < kX; ++i)
    for (int64_t j = 0; j < kY; ++j)
      for (int64_t k = 0; k < kZ; ++k, ++n) {
        const float raw = float(raw_value(i, j, k, is_signed));
        const float expected = slope != 0.0f ? raw * slope + inter : raw;
        ASSERT_EQ(v.data[n], expected) << what << " at " << i << "," << j << "," << k;
      }
}

TEST(NiftiIo, EveryDatatypeScalingAndCompressionRoundTrips) {
  TempDir dir("nifti");
  for (const Case& c : all_cases()) {
    for (const float slope : {0.0f, 0.5f}) {
      for (const std::string ext : {".nii", ".nii.gz"}) {
        NiftiSpec spec;
        spec.dims = {kX, kY, kZ, 1};
        spec.datatype = c.datatype;
        spec.scl_slope = slope;
        spec.scl_inter = slope != 0.0f ? -3.0f : 0.0f;
        const std::string path = dir / ("img" + std::to_string(c.datatype) + ext);
        write_nifti(path, spec, c.bytes.data());
        expect_volume(read_nifti(path), c.is_signed, spec.scl_slope, spec.scl_inter,
                      path + " slope " + std::to_string(slope));
      }
    }
  }
}

TEST(NiftiIo, ReadsNifti2) {
  TempDir dir("nifti2");
  const auto bytes = raw_image<int16_t>(true);
  NiftiSpec spec;
  spec.dims = {kX, kY, kZ, 1};
  spec.datatype = DT_INT16;
  spec.version = 2;
  spec.scl_slope = 2.0f;
  spec.scl_inter = 1.0f;
  write_nifti(dir / "v2.nii.gz", spec, bytes.data());
  const Bytes raw = gunzip(read_file_bytes(dir / "v2.nii.gz"), "v2");
  ASSERT_EQ(nifti_header_version(reinterpret_cast<const char*>(raw.data()), raw.size()), 2);
  expect_volume(read_nifti(dir / "v2.nii.gz"), true, 2.0f, 1.0f, "nifti2");
}

TEST(NiftiIo, ReadsBigEndianFiles) {
  TempDir dir("bigendian");
  for (const int version : {1, 2}) {
    const auto bytes = raw_image<int16_t>(true);
    NiftiSpec spec;
    spec.dims = {kX, kY, kZ, 1};
    spec.datatype = DT_INT16;
    spec.version = version;
    spec.scl_slope = 0.5f;
    spec.scl_inter = 2.0f;
    const std::string path = dir / ("be" + std::to_string(version) + ".nii");
    write_nifti(path, spec, bytes.data());
    Bytes file = read_file_bytes(path);
    const size_t header = version == 1 ? sizeof(nifti_1_header) : sizeof(nifti_2_header);
    swap_nifti_header(file.data(), version);
    ASSERT_EQ(file[0], 0) << "sizeof_hdr must now be big endian";
    nifti_swap_2bytes(int64_t(bytes.size() / 2), file.data() + header + 4);
    write_file_bytes(path, file.data(), file.size());
    expect_volume(read_nifti(path), true, 0.5f, 2.0f, path);
  }
}

TEST(NiftiIo, ReadsFilesWrittenByNifticlib) {
  TempDir dir("nifticlib");
  const int64_t dims[8] = {3, kX, kY, kZ, 1, 1, 1, 1};
  nifti_image* nim = nifti_make_new_nim(dims, DT_INT16, 1);
  auto bytes = raw_image<int16_t>(true);
  std::memcpy(nim->data, bytes.data(), bytes.size());
  nim->scl_slope = 0.25;
  nim->scl_inter = 4;
  const std::string path = dir / "lib.nii";
  nifti_set_filenames(nim, path.c_str(), 0, 1);
  nifti_image_write(nim);
  nifti_image_free(nim);
  expect_volume(read_nifti(path), true, 0.25f, 4.0f, "nifticlib-written");
}

TEST(NiftiIo, FourthDimensionBecomesChannels) {
  TempDir dir("channels");
  std::vector<float> values(size_t(kX * kY * kZ * 2));
  for (size_t v = 0; v < values.size(); ++v) values[v] = float(v);
  NiftiSpec spec;
  spec.dims = {kX, kY, kZ, 2};
  write_nifti(dir / "t.nii", spec, values.data());
  const Volume v = read_nifti(dir / "t.nii");
  ASSERT_EQ(v.shape, (Shape4{2, kX, kY, kZ}));
  // tensor[1][i=2][j=3][k=4] = storage index 1*vol + 2 + kX*(3 + kY*4)
  EXPECT_EQ(v.data[size_t(((1 * kX + 2) * kY + 3) * kZ + 4)],
            float(kX * kY * kZ + 2 + kX * (3 + kY * 4)));
}

TEST(NiftiIo, TruncatedGzipNamesTheFile) {
  TempDir dir("trunc");
  const auto bytes = raw_image<float>(true);
  NiftiSpec spec;
  spec.dims = {kX, kY, kZ, 1};
  write_nifti(dir / "full.nii.gz", spec, bytes.data());
  Bytes gz = read_file_bytes(dir / "full.nii.gz");
  gz.resize(gz.size() / 2);
  const std::string path = dir / "cut.nii.gz";
  write_file_bytes(path, gz.data(), gz.size());
  try {
    read_nifti(path);
    FAIL() << "no error for a truncated file";
  } catch (const DataError& e) {
    EXPECT_NE(std::string(e.what()).find(path), std::string::npos) << e.what();
  }
}

TEST(NiftiIo, TruncatedUncompressedDataNamesTheFile) {
  TempDir dir("truncnii");
  const auto bytes = raw_image<float>(true);
  NiftiSpec spec;
  spec.dims = {kX, kY, kZ, 1};
  write_nifti(dir / "full.nii", spec, bytes.data());
  Bytes raw = read_file_bytes(dir / "full.nii");
  raw.resize(raw.size() - 10);
  write_file_bytes(dir / "cut.nii", raw.data(), raw.size());
  try {
    read_nifti(dir / "cut.nii");
    FAIL() << "no error for truncated data";
  } catch (const DataError& e) {
    EXPECT_NE(std::string(e.what()).find("cut.nii' is truncated"), std::string::npos) << e.what();
  }
  write_file_bytes(dir / "tiny.nii", raw.data(), 100);
  EXPECT_THROW(read_nifti(dir / "tiny.nii"), DataError);
}

/// A small valid NIfTI-`version` file whose header is then edited by `edit` (raw bytes).
std::string edited_nifti(const TempDir& dir, int version, const std::string& name,
                         const std::function<void(Bytes&)>& edit) {
  const auto bytes = raw_image<float>(true);
  NiftiSpec spec;
  spec.dims = {kX, kY, kZ, 1};
  spec.version = version;
  write_nifti(dir / "ok.nii", spec, bytes.data());
  Bytes raw = read_file_bytes(dir / "ok.nii");
  edit(raw);
  const std::string path = dir / name;
  write_file_bytes(path, raw.data(), raw.size());
  return path;
}

std::string read_error(const std::string& path) {
  try {
    read_nifti(path);
  } catch (const DataError& e) {
    return e.what();
  }
  return "";
}

void set_dim(Bytes& raw, int d, int64_t value) {  // NIfTI-2: int64 dim[8] at byte 16
  std::memcpy(raw.data() + 16 + 8 * d, &value, sizeof value);
}

TEST(NiftiIo, HugeOrOverflowingDimensionsAreRefusedBeforeAllocating) {
  TempDir dir("hugedims");
  // 2^22 per axis: the voxel count (2^66) wraps around 64 bits in nifticlib.
  const auto wrapped = edited_nifti(dir, 2, "wrap.nii", [](Bytes& raw) {
    for (int d = 1; d <= 3; ++d) set_dim(raw, d, int64_t(1) << 22);
  });
  EXPECT_NE(read_error(wrapped).find("dim[1] = 4194304 is out of range"), std::string::npos)
      << read_error(wrapped);
  // Each axis allowed, the product not: 65536^3 voxels.
  const auto big = edited_nifti(dir, 2, "big.nii", [](Bytes& raw) {
    for (int d = 1; d <= 3; ++d) set_dim(raw, d, 65536);
  });
  EXPECT_NE(read_error(big).find("voxels in 1 channel(s); expected at most"), std::string::npos)
      << read_error(big);
  const auto negative = edited_nifti(dir, 2, "ndim.nii", [](Bytes& raw) { set_dim(raw, 0, 9); });
  EXPECT_NE(read_error(negative), "");
}

TEST(NiftiIo, OutOfRangeDimensionCountIsRefusedBeforeNifticlibReadsIt) {
  TempDir dir("ndim");
  // nifticlib loops over dim[0] entries of 8-entry arrays: 1000, 2^20 and 2^32 smashed its stack;
  // -1 decoded as a 1x1x1x1 image.
  for (const int64_t ndim :
       {int64_t(-1), int64_t(0), int64_t(8), int64_t(1000), int64_t(1) << 20, int64_t(1) << 32}) {
    const auto path = edited_nifti(dir, 2, "ndim" + std::to_string(ndim) + ".nii",
                                   [ndim](Bytes& raw) { set_dim(raw, 0, ndim); });
    const auto message = read_error(path);
    EXPECT_NE(message.find("dim[0] = " + std::to_string(ndim) + "; expected 1 to 7"),
              std::string::npos)
        << ndim << ": " << message;
  }
  // The same in a big-endian NIfTI-1 file: the check reads the header in its byte order.
  const auto big_endian = edited_nifti(dir, 1, "be.nii", [](Bytes& raw) {
    swap_nifti_header(raw.data(), 1);
    const int16_t big_endian_1000 = int16_t(0xe803);  // 1000 with its bytes swapped
    std::memcpy(raw.data() + 40, &big_endian_1000, 2);
  });
  EXPECT_NE(read_error(big_endian).find("dim[0] = 1000"), std::string::npos)
      << read_error(big_endian);
}

TEST(NiftiIo, VoxelOffsetOutsideTheFileOrNotAWholeNumberIsRefused) {
  TempDir dir("voxoffset");
  // NIfTI-1: float vox_offset at byte 108. NaN or negative were read from byte 348, 4 bytes early.
  for (const float offset : {std::nanf(""), -4.0f, 352.5f, 100.0f, 1.0e9f, INFINITY}) {
    const auto path = edited_nifti(dir, 1, "bad.nii", [offset](Bytes& raw) {
      std::memcpy(raw.data() + 108, &offset, sizeof offset);
    });
    const auto message = read_error(path);
    EXPECT_NE(message.find("vox_offset"), std::string::npos) << offset << ": " << message;
    EXPECT_NE(message.find("bad.nii"), std::string::npos) << message;
  }
  // NIfTI-2: int64 vox_offset at byte 168.
  const auto beyond = edited_nifti(dir, 2, "beyond.nii", [](Bytes& raw) {
    const int64_t offset = int64_t(raw.size()) + 1;
    std::memcpy(raw.data() + 168, &offset, sizeof offset);
  });
  EXPECT_NE(read_error(beyond).find("header vox_offset = "), std::string::npos)
      << read_error(beyond);
}

TEST(NiftiIo, UnsupportedDatatypeIsNamedAsSuchNotAsTruncation) {
  TempDir dir("complex");
  const auto path = edited_nifti(dir, 2, "complex.nii", [](Bytes& raw) {
    const int16_t complex64 = 32, bitpix = 64;  // NIfTI-2: datatype at byte 12, bitpix at 14
    std::memcpy(raw.data() + 12, &complex64, 2);
    std::memcpy(raw.data() + 14, &bitpix, 2);
  });
  const auto message = read_error(path);
  EXPECT_NE(message.find("is not supported"), std::string::npos) << message;
  EXPECT_EQ(message.find("truncated"), std::string::npos) << message;
}

TEST(Gzip, MultiMemberStreamsAreConcatenated) {
  const std::string a = "hello ", b = "world";
  Bytes gz = gzip_compress(reinterpret_cast<const uint8_t*>(a.data()), a.size(), 6);
  const Bytes second = gzip_compress(reinterpret_cast<const uint8_t*>(b.data()), b.size(), 6);
  gz.insert(gz.end(), second.begin(), second.end());
  const Bytes out = gunzip(gz, "two-members");
  EXPECT_EQ(std::string(out.begin(), out.end()), "hello world");
}

TEST(Half, RoundsToNearestEven) {
  EXPECT_EQ(float_to_half(1.0f), 0x3c00);
  EXPECT_EQ(float_to_half(-2.0f), 0xc000);
  EXPECT_EQ(float_to_half(65504.0f), 0x7bff);
  EXPECT_EQ(float_to_half(70000.0f), 0x7c00);
  EXPECT_EQ(float_to_half(0.1f), 0x2e66);
  EXPECT_EQ(float_to_half(std::ldexp(1.0f, -24)), 0x0001);
  EXPECT_EQ(float_to_half(std::ldexp(1.0f, -26)), 0x0000);
  EXPECT_EQ(float_to_half(1.0f + std::ldexp(1.0f, -11)), 0x3c00);      // tie -> even
  EXPECT_EQ(float_to_half(1.0f + 3 * std::ldexp(1.0f, -11)), 0x3c02);  // tie -> even (up)
  EXPECT_EQ(float_to_half(std::nanf("")) & 0x7e00, 0x7e00);
}

}  // namespace
}  // namespace cdl::data_tools

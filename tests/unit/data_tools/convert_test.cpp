// caps2h5 convert end to end: NIfTI files with known values -> HDF5 -> read back and compare.
#include <gtest/gtest.h>
#include <hdf5.h>
#include <nifti2_io.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "caps2h5/converter.hpp"
#include "caps2h5/h5_image_reader.hpp"
#include "caps2h5/h5_image_writer.hpp"
#include "caps2h5/inspector.hpp"
#include "caps2h5/pt_reader.hpp"
#include "cdl/core/error.hpp"
#include "cdl/h5/container_format.hpp"
#include "test_helpers.hpp"

namespace cdl::data_tools {
namespace {

namespace fs = std::filesystem;
namespace fmt = h5::format;
using testing::t1_path;
using testing::TempDir;
using testing::test_options;

constexpr int64_t kX = 8, kY = 10, kZ = 8;

/// Stored value of subject s at (i, j, k).
double raw(int s, int64_t i, int64_t j, int64_t k) {
  return double((i + 3 * j + 7 * k + s) % 100);
}

template <typename T>
void write_typed(const std::string& path, int s, int datatype, float slope, float inter) {
  std::vector<T> values;
  for (int64_t k = 0; k < kZ; ++k)
    for (int64_t j = 0; j < kY; ++j)
      for (int64_t i = 0; i < kX; ++i) values.push_back(static_cast<T>(raw(s, i, j, k)));
  NiftiSpec spec;
  spec.dims = {kX, kY, kZ, 1};
  spec.datatype = datatype;
  spec.scl_slope = slope;
  spec.scl_inter = inter;
  write_nifti(path, spec, values.data());
}

/// Subject s (1..5) gets datatype uint8, int16, int32, float32, float64; odd s are scaled.
void write_subject(const std::string& caps, int s, const std::string& ext = ".nii.gz") {
  const std::string path = t1_path(caps, "sub-00" + std::to_string(s), "ses-M000", ext);
  const float slope = s % 2 ? 0.5f : 0.0f, inter = s % 2 ? -3.0f : 0.0f;
  switch (s) {
    case 1:
      return write_typed<uint8_t>(path, s, DT_UINT8, slope, inter);
    case 2:
      return write_typed<int16_t>(path, s, DT_INT16, slope, inter);
    case 3:
      return write_typed<int32_t>(path, s, DT_INT32, slope, inter);
    case 4:
      return write_typed<float>(path, s, DT_FLOAT32, slope, inter);
    default:
      return write_typed<double>(path, s, DT_FLOAT64, slope, inter);
  }
}

float expected(int s, int64_t i, int64_t j, int64_t k) {
  const float v = float(raw(s, i, j, k));
  return s % 2 ? v * 0.5f - 3.0f : v;
}

std::string error_of(const ConvertOptions& o) {
  SerialTransport serial;
  try {
    convert(o, serial);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

void expect_no_output(const std::string& out) {
  EXPECT_FALSE(fs::exists(out)) << out;
  EXPECT_FALSE(fs::exists(out + ".tmp")) << out << ".tmp";
}

/// The chunk bytes HDF5 itself stores for `values` through its fletcher32 filter.
std::vector<uint8_t> chunk_written_by_hdf5(const std::string& path,
                                           const std::vector<float>& values) {
  const hsize_t dims[1] = {values.size()};
  const hid_t file = H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
  const hid_t space = H5Screate_simple(1, dims, nullptr);
  const hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
  H5Pset_chunk(dcpl, 1, dims);
  H5Pset_fletcher32(dcpl);
  const hid_t set = H5Dcreate2(file, "x", H5T_IEEE_F32LE, space, H5P_DEFAULT, dcpl, H5P_DEFAULT);
  H5Dwrite(set, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, values.data());
  const hsize_t origin[1] = {0};
  hsize_t bytes = 0;
  H5Dget_chunk_storage_size(set, origin, &bytes);
  std::vector<uint8_t> chunk(bytes);
  uint32_t mask = 0;
  H5Dread_chunk(set, H5P_DEFAULT, origin, &mask, chunk.data());
  H5Dclose(set);
  H5Pclose(dcpl);
  H5Sclose(space);
  H5Fclose(file);
  return chunk;
}

TEST(Checksum, Fletcher32EqualsHdf5sOwnFilter) {
  TempDir dir("fletcher");
  for (const size_t n : {size_t(1), size_t(3), size_t(1000), size_t(100003)}) {
    std::vector<float> values(n);
    for (size_t i = 0; i < n; ++i) values[i] = std::sin(float(i)) * 1000.0f + float(i % 7);
    const auto reference = chunk_written_by_hdf5(dir / "ref.h5", values);
    ASSERT_EQ(reference.size(), n * 4 + 4);
    Volume volume;
    volume.shape = {1, 1, 1, int64_t(n)};
    volume.data = values;
    ImagesLayout layout;
    EXPECT_EQ(encode_chunk(volume, layout), Bytes(reference.begin(), reference.end())) << n;
  }
  const uint8_t odd[3] = {0x12, 0x34, 0x56};  // an odd length: last byte is a word's high half
  EXPECT_EQ(fletcher32(odd, 3), ((0x1234u + 0x5600u + 0x1234u) << 16) | (0x1234u + 0x5600u));
}

TEST(Checksum, OneFlippedByteInAnUncompressedImageIsDetected) {
  TempDir dir("flip");
  const std::string caps = dir / "caps";
  for (int s = 1; s <= 2; ++s) write_subject(caps, s);
  SerialTransport serial;
  convert(test_options(caps, dir / "out.h5"), serial);  // compression 0: plain float32 chunks
  EXPECT_TRUE(validate(dir / "out.h5").empty());
  haddr_t address = 0;
  {
    const hid_t file = H5Fopen((dir / "out.h5").c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
    const hid_t images = H5Dopen2(file, fmt::kImages, H5P_DEFAULT);
    const hsize_t offset[5] = {1, 0, 0, 0, 0};
    unsigned mask = 0;
    hsize_t size = 0;
    ASSERT_GE(H5Dget_chunk_info_by_coord(images, offset, &mask, &address, &size), 0);
    address += size / 2;
    H5Dclose(images);
    H5Fclose(file);
  }
  std::fstream file(dir / "out.h5", std::ios::in | std::ios::out | std::ios::binary);
  file.seekg(std::streamoff(address));
  char byte = 0;
  file.read(&byte, 1);
  byte = char(byte ^ 0x10);
  file.seekp(std::streamoff(address));
  file.write(&byte, 1);
  file.close();
  const auto problems = validate(dir / "out.h5");
  ASSERT_FALSE(problems.empty());
  EXPECT_NE(problems[0].find("checksum"), std::string::npos) << problems[0];
  EXPECT_THROW(H5ImageReader(dir / "out.h5").read_image(1), DataError);
  EXPECT_NO_THROW(H5ImageReader(dir / "out.h5").read_image(0));
}

TEST(Convert, AllDatatypesRoundTripExactly) {
  TempDir dir("convert");
  const std::string caps = dir / "caps";
  for (int s = 1; s <= 5; ++s) write_subject(caps, s);
  SerialTransport serial;
  const ConvertSummary summary = convert(test_options(caps, dir / "out.h5"), serial);
  EXPECT_EQ(summary.images, 5);
  const H5ImageReader r(dir / "out.h5");
  EXPECT_EQ(r.string_attribute(fmt::kAttrFormat), fmt::kFormatName);
  EXPECT_EQ(r.int_attribute(fmt::kAttrFormatVersion), fmt::kFormatVersion);
  EXPECT_EQ(r.string_attribute(fmt::kAttrCohort), "single");
  EXPECT_EQ(r.string_attribute(fmt::kAttrCreatedBy).rfind("caps2h5 ", 0), 0u);
  const auto pre = nlohmann::json::parse(r.string_attribute(fmt::kAttrPreprocessing));
  EXPECT_EQ(pre["preprocessing"], "t1-linear");
  EXPECT_EQ(pre["mode"], "image");
  EXPECT_EQ(pre["file_type"]["pattern"],
            "*space-MNI152NLin2009cSym_desc-Crop_res-1x1x1_T1w.nii.gz");
  EXPECT_EQ(r.dtype(fmt::kImages), "float32");
  EXPECT_EQ(r.shape(fmt::kImages), (std::vector<int64_t>{5, 1, kX, kY, kZ}));
  EXPECT_EQ(r.read_strings(fmt::kParticipantId),
            (std::vector<std::string>{"sub-001", "sub-002", "sub-003", "sub-004", "sub-005"}));
  EXPECT_EQ(r.read_strings(fmt::kSessionId), std::vector<std::string>(5, "ses-M000"));
  for (int s = 1; s <= 5; ++s) {
    const std::vector<float> image = r.read_image(s - 1);
    size_t n = 0;
    for (int64_t i = 0; i < kX; ++i)
      for (int64_t j = 0; j < kY; ++j)
        for (int64_t k = 0; k < kZ; ++k, ++n) ASSERT_EQ(image[n], expected(s, i, j, k)) << s;
  }
  EXPECT_TRUE(r.mask_names().empty());
}

TEST(Convert, UncompressedNiftiThroughCustomSuffixAndCompression) {
  TempDir dir("custom");
  const std::string caps = dir / "caps";
  write_subject(caps, 1, ".nii");
  write_subject(caps, 2, ".nii.gz");
  ConvertOptions o = test_options(caps, dir / "out.h5");
  o.preprocessing.preprocessing = "custom";
  o.preprocessing.custom_suffix = "_T1w.nii*";
  o.compression = 6;
  SerialTransport serial;
  convert(o, serial);
  const H5ImageReader r(dir / "out.h5");
  EXPECT_EQ(r.filters(fmt::kImages), "shuffle+deflate(6)+fletcher32");
  for (int s = 1; s <= 2; ++s) {
    const auto image = r.read_image(s - 1);
    EXPECT_EQ(image[size_t((3 * kY + 4) * kZ + 5)], expected(s, 3, 4, 5));
    EXPECT_EQ(image.back(), expected(s, kX - 1, kY - 1, kZ - 1));
  }
}

TEST(Convert, Float16WithinHalfRounding) {
  TempDir dir("f16");
  const std::string caps = dir / "caps";
  for (int s = 0; s < 2; ++s) {
    Volume v = testing::ramp_volume(kX, kY, kZ, 0.0f);
    for (float& x : v.data) x = x * 0.013f + 0.001f * float(s) - 3.0f;
    write_nifti_volume(t1_path(caps, "sub-00" + std::to_string(s), "ses-M000"), v);
  }
  ConvertOptions o = test_options(caps, dir / "out.h5");
  o.float16 = true;
  o.compression = 3;
  SerialTransport serial;
  convert(o, serial);
  const H5ImageReader r(dir / "out.h5");
  EXPECT_EQ(r.dtype(fmt::kImages), "float16");
  for (int s = 0; s < 2; ++s) {
    Volume v = testing::ramp_volume(kX, kY, kZ, 0.0f);
    const auto image = r.read_image(s);
    for (size_t n = 0; n < v.data.size(); ++n) {
      const float x = v.data[n] * 0.013f + 0.001f * float(s) - 3.0f;
      ASSERT_LE(std::fabs(image[n] - x), std::ldexp(std::fabs(x), -11) + 1e-7f) << n;
    }
  }
}

TEST(Convert, MissingFilesAreAllListedBeforeWriting) {
  TempDir dir("missing");
  const std::string caps = dir / "caps";
  write_subject(caps, 1);
  fs::create_directories(fs::path(caps) / "subjects" / "sub-002" / "ses-M000");
  fs::create_directories(fs::path(caps) / "subjects" / "sub-003" / "ses-M006");
  const std::string out = dir / "out.h5";
  const std::string message = error_of(test_options(caps, out));
  EXPECT_NE(message.find("2 problem(s)"), std::string::npos) << message;
  EXPECT_NE(message.find("sub-002 ses-M000"), std::string::npos) << message;
  EXPECT_NE(message.find("sub-003 ses-M006"), std::string::npos) << message;
  expect_no_output(out);
}

TEST(Convert, TsvSelectsSessionsInItsOrderAndListsMissingRows) {
  TempDir dir("tsv");
  const std::string caps = dir / "caps";
  for (int s = 1; s <= 3; ++s) write_subject(caps, s);
  TsvTable tsv({"participant_id", "session_id", "diagnosis"});
  tsv.add_row({"sub-003", "ses-M000", "AD"});
  tsv.add_row({"sub-001", "ses-M000", "CN"});
  tsv.write(dir / "sel.tsv");
  ConvertOptions o = test_options(caps, dir / "out.h5");
  o.sessions_tsv = dir / "sel.tsv";
  SerialTransport serial;
  convert(o, serial);
  const H5ImageReader r(dir / "out.h5");
  EXPECT_EQ(r.read_strings(fmt::kParticipantId), (std::vector<std::string>{"sub-003", "sub-001"}));
  EXPECT_EQ(r.read_image(0)[0], expected(3, 0, 0, 0));

  tsv.add_row({"sub-009", "ses-M000", "AD"});
  tsv.add_row({"sub-008", "ses-M012", "CN"});
  tsv.write(dir / "sel2.tsv");
  o.sessions_tsv = dir / "sel2.tsv";
  o.output = dir / "out2.h5";
  const std::string message = error_of(o);
  EXPECT_NE(message.find("sub-009 ses-M000"), std::string::npos) << message;
  EXPECT_NE(message.find("sub-008 ses-M012"), std::string::npos) << message;
  expect_no_output(o.output);
}

TEST(Convert, ShapeMismatchNamesBothFilesAndShapes) {
  TempDir dir("shape");
  const std::string caps = dir / "caps";
  const std::string a = t1_path(caps, "sub-001", "ses-M000");
  const std::string b = t1_path(caps, "sub-002", "ses-M000");
  write_nifti_volume(a, testing::ramp_volume(kX, kY, kZ, 0));
  write_nifti_volume(b, testing::ramp_volume(kX, kY, kZ + 1, 0));
  const std::string out = dir / "out.h5";
  const std::string message = error_of(test_options(caps, out));
  EXPECT_NE(message.find(a), std::string::npos) << message;
  EXPECT_NE(message.find(b), std::string::npos) << message;
  EXPECT_NE(message.find("1x8x10x8"), std::string::npos) << message;
  EXPECT_NE(message.find("1x8x10x9"), std::string::npos) << message;
  expect_no_output(out);
}

TEST(Convert, TruncatedImageFailsWithItsNameAndLeavesNothing) {
  TempDir dir("truncated");
  const std::string caps = dir / "caps";
  for (int s = 1; s <= 3; ++s) write_subject(caps, s);
  const std::string bad = t1_path(caps, "sub-002", "ses-M000");
  Bytes gz = read_file_bytes(bad);
  gz.resize(gz.size() - 30);
  write_file_bytes(bad, gz.data(), gz.size());
  const std::string out = dir / "out.h5";
  const std::string message = error_of(test_options(caps, out));
  EXPECT_NE(message.find(bad), std::string::npos) << message;
  expect_no_output(out);
}

TEST(Convert, ExistingOutputNeedsOverwrite) {
  TempDir dir("exists");
  const std::string caps = dir / "caps";
  write_subject(caps, 1);
  const std::string out = dir / "out.h5";
  write_file_bytes(out, "keep", 4);
  SerialTransport serial;
  EXPECT_THROW(convert(test_options(caps, out), serial), ConfigError);
  EXPECT_EQ(fs::file_size(out), 4u);
  EXPECT_FALSE(fs::exists(out + ".tmp"));
  ConvertOptions o = test_options(caps, out);
  o.overwrite = true;
  convert(o, serial);
  EXPECT_EQ(H5ImageReader(out).shape(fmt::kImages)[0], 1);
}

TEST(Convert, BadOptionsAreConfigErrors) {
  TempDir dir("options");
  ConvertOptions o = test_options(dir / "nope", dir / "out.txt");
  o.compression = 12;
  o.preprocessing.preprocessing = "pet-linear";
  SerialTransport serial;
  try {
    convert(o, serial);
    FAIL();
  } catch (const ConfigError& e) {
    const std::string m = e.what();
    for (const char* part :
         {"--compression 12", "--tracer", "suvr_reference_region", "nope", ".h5"}) {
      EXPECT_NE(m.find(part), std::string::npos) << part << " in " << m;
    }
    EXPECT_EQ(e.exit_code(), 2);
  }
}

TEST(Convert, MasksAreStoredAndChecked) {
  TempDir dir("masks");
  const std::string caps = dir / "caps";
  write_subject(caps, 1);
  const fs::path masks = fs::path(caps) / "masks" / "tpl-MNI152NLin2009cSym";
  fs::create_directories(masks);
  std::vector<uint8_t> mask(size_t(kX * kY * kZ), 0);
  mask[5] = 3;
  write_nifti_mask(
      (masks / "tpl-MNI152NLin2009cSym_desc-Crop_res-1x1x1_roi-hippo_mask.nii.gz").string(),
      {kX, kY, kZ}, mask);
  write_nifti_mask((masks / "tpl-MNI152NLin2009cSym_res-1x1x1_roi-uncropped_mask.nii.gz").string(),
                   {kX + 2, kY, kZ}, std::vector<uint8_t>(size_t((kX + 2) * kY * kZ), 1));
  SerialTransport serial;
  convert(test_options(caps, dir / "out.h5"), serial);
  const H5ImageReader r(dir / "out.h5");
  ASSERT_EQ(r.mask_names(), std::vector<std::string>{"hippo"});
  const auto values = r.read_mask("hippo");
  EXPECT_EQ(values[5], 1);
  EXPECT_EQ(std::count(values.begin(), values.end(), 1), 1);

  write_nifti_mask(
      (masks / "tpl-MNI152NLin2009cSym_desc-Crop_res-1x1x1_roi-bad_mask.nii.gz").string(),
      {kX, kY, kZ + 1}, std::vector<uint8_t>(size_t(kX * kY * (kZ + 1)), 1));
  const std::string message = error_of(test_options(caps, dir / "out2.h5"));
  EXPECT_NE(message.find("roi-bad_mask"), std::string::npos) << message;
  expect_no_output(dir / "out2.h5");
}

TEST(Convert, ReadsClinicadlTensorFiles) {
  TempDir dir("pt");
  const std::string caps = dir / "caps";
  const fs::path folder = fs::path(caps) / "subjects" / "sub-001" / "ses-M000" /
                          "deeplearning_prepare_data" / "image_based" / "t1_linear";
  fs::create_directories(folder);
  const Volume v = testing::ramp_volume(kX, kY, kZ, 0.25f);
  write_pt_tensor(
      (folder / "sub-001_ses-M000_space-MNI152NLin2009cSym_desc-Crop_res-1x1x1_T1w.pt").string(),
      v);
  ConvertOptions o = test_options(caps, dir / "out.h5");
  o.from_tensors = true;
  SerialTransport serial;
  convert(o, serial);
  EXPECT_EQ(H5ImageReader(dir / "out.h5").read_image(0), v.data);
}

TEST(Convert, CohortsTsvWritesOneFilePerCohortAndAList) {
  TempDir dir("cohorts");
  write_subject(dir / "capsA", 1);
  write_subject(dir / "capsB", 2);
  write_subject(dir / "capsB", 3);
  TsvTable cohorts({"cohort", "path"});
  cohorts.add_row({"A", dir / "capsA"});
  cohorts.add_row({"B", dir / "capsB"});
  cohorts.write(dir / "cohorts.tsv");
  SerialTransport serial;
  convert(test_options(dir / "cohorts.tsv", dir / "data.h5"), serial);
  EXPECT_EQ(H5ImageReader(dir / "data_A.h5").shape(fmt::kImages)[0], 1);
  const H5ImageReader b(dir / "data_B.h5");
  EXPECT_EQ(b.shape(fmt::kImages)[0], 2);
  EXPECT_EQ(b.string_attribute(fmt::kAttrCohort), "B");
  const TsvTable list = TsvTable::read(dir / "data.tsv");
  ASSERT_EQ(list.rows().size(), 2u);
  EXPECT_EQ(list.rows()[1][1], dir / "data_B.h5");
}

}  // namespace
}  // namespace cdl::data_tools

// caps2h5 convert under mpirun: every rank decodes its share, rank 0 writes; the file must be
// identical in content to the serial conversion.
#include <gtest/gtest.h>
#include <mpi.h>
#include <unistd.h>

#include <filesystem>

#include "caps2h5/converter.hpp"
#include "caps2h5/h5_image_reader.hpp"
#include "caps2h5/synthetic.hpp"
#include "cdl/core/file_tree.hpp"
#include "cdl/h5/container_format.hpp"
#include "mpi_test_support.hpp"

namespace cdl::data_tools {
namespace {

namespace fs = std::filesystem;
namespace fmt = h5::format;

/// A folder shared by all ranks (named after rank 0's pid), removed at the end.
class SharedDir {
 public:
  SharedDir() {
    long pid = ::getpid();
    MPI_Bcast(&pid, 1, MPI_LONG, 0, MPI_COMM_WORLD);
    path_ = fs::temp_directory_path() / ("caps2h5_mpi_" + std::to_string(pid));
    if (cdl::testing::world_rank() == 0) {
      cdl::remove_tree(path_);
      fs::create_directories(path_);
    }
    MPI_Barrier(MPI_COMM_WORLD);
  }
  ~SharedDir() {
    MPI_Barrier(MPI_COMM_WORLD);
    std::error_code ec;
    if (cdl::testing::world_rank() == 0) cdl::remove_tree(path_, ec);
  }
  std::string operator/(const std::string& name) const { return (path_ / name).string(); }

 private:
  fs::path path_;
};

ConvertOptions options(const std::string& caps, const std::string& out, bool f16, int level) {
  ConvertOptions o;
  o.input = caps;
  o.output = out;
  o.float16 = f16;
  o.compression = level;
  o.threads = 1;
  o.progress = false;
  return o;
}

/// Compares everything but nothing else: attributes, images, ids, masks.
void expect_same_content(const std::string& a, const std::string& b) {
  const H5ImageReader x(a), y(b);
  EXPECT_EQ(x.attribute_names(), y.attribute_names());
  for (const char* attr : {fmt::kAttrFormat, fmt::kAttrPreprocessing, fmt::kAttrCohort,
                           fmt::kAttrCreatedBy, fmt::kAttrSource}) {
    EXPECT_EQ(x.string_attribute(attr), y.string_attribute(attr)) << attr;
  }
  EXPECT_EQ(x.dtype(fmt::kImages), y.dtype(fmt::kImages));
  EXPECT_EQ(x.filters(fmt::kImages), y.filters(fmt::kImages));
  const auto shape = x.shape(fmt::kImages);
  ASSERT_EQ(shape, y.shape(fmt::kImages));
  for (int64_t i = 0; i < shape[0]; ++i) ASSERT_EQ(x.read_image(i), y.read_image(i)) << i;
  EXPECT_EQ(x.read_strings(fmt::kParticipantId), y.read_strings(fmt::kParticipantId));
  EXPECT_EQ(x.read_strings(fmt::kSessionId), y.read_strings(fmt::kSessionId));
  ASSERT_EQ(x.mask_names(), y.mask_names());
  for (const auto& roi : x.mask_names()) EXPECT_EQ(x.read_mask(roi), y.read_mask(roi)) << roi;
}

TEST(ConvertMpi, SameContentAsSerial) {
  SharedDir dir;
  if (cdl::testing::world_rank() == 0) {
    SyntheticOptions s;
    s.output_dir = dir / "caps";
    s.subjects = 7;  // 7 images: uneven shares for 2 and 3 ranks
    s.size = {16, 20, 16};
    s.seed = 11;
    s.threads = 1;
    make_synthetic_caps(s);
  }
  MPI_Barrier(MPI_COMM_WORLD);
  for (const bool f16 : {false, true}) {
    const int level = f16 ? 4 : 0;
    const std::string serial_out = dir / (f16 ? "serial16.h5" : "serial.h5");
    const std::string mpi_out = dir / (f16 ? "mpi16.h5" : "mpi.h5");
    if (cdl::testing::world_rank() == 0) {
      SerialTransport serial;
      convert(options(dir / "caps", serial_out, f16, level), serial);
    }
    MPI_Barrier(MPI_COMM_WORLD);
    auto transport = make_mpi_transport();
    ASSERT_EQ(transport->size(), cdl::testing::world_size());
    const ConvertSummary summary = convert(options(dir / "caps", mpi_out, f16, level), *transport);
    if (cdl::testing::world_rank() == 0) {
      EXPECT_EQ(summary.images, 7);
      expect_same_content(serial_out, mpi_out);
      EXPECT_FALSE(fs::exists(mpi_out + ".tmp"));
    }
    MPI_Barrier(MPI_COMM_WORLD);
  }
}

}  // namespace
}  // namespace cdl::data_tools

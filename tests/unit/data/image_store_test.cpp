// Tests of ImageStore and DataSource on tiny HDF5 files written by the test itself.
#include "cdl/data/image_store.hpp"

#include <gtest/gtest.h>

#include <filesystem>

#include "cdl/core/error.hpp"
#include "cdl/data/data_source.hpp"
#include "test_files.hpp"

namespace cdl::data {
namespace {

using testing::arange_spec;
using testing::StoreSpec;
using testing::TempDir;
using testing::write_store;
using testing::write_text;

std::string error_of(const std::function<void()>& action) {
  try {
    action();
  } catch (const DataError& e) {
    return e.what();
  }
  return "<no DataError>";
}

TEST(ImageStoreTest, ReadsShapeIdsAttributesAndImages) {
  TempDir dir;
  const std::string path = dir.file("a.h5");
  const StoreSpec spec = arange_spec(3, 4, 5, 6);
  write_store(path, spec);
  const ImageStore store(path);
  EXPECT_EQ(store.num_images(), 3);
  EXPECT_EQ(store.sample_shape(), (std::vector<int64_t>{1, 4, 5, 6}));
  EXPECT_EQ(store.dtype(), StoredType::kFloat32);
  EXPECT_EQ(store.cohort(), "single");
  EXPECT_NE(store.preprocessing_json().find("t1-linear"), std::string::npos);
  EXPECT_EQ(store.participant_id(2), "sub-102");
  EXPECT_EQ(store.session_id(2), "ses-M000");
  EXPECT_EQ(store.row("sub-101", "ses-M000"), 1);
  EXPECT_EQ(store.find("sub-999", "ses-M000"), -1);
  EXPECT_THROW(store.row("sub-999", "ses-M000"), DataError);
  for (int64_t i = 0; i < 3; ++i) {
    const torch::Tensor image = store.read_image(i);
    EXPECT_EQ(image.scalar_type(), torch::kFloat);
    EXPECT_TRUE(torch::equal(image, spec.images[i])) << "image " << i;
  }
}

TEST(ImageStoreTest, Float16StoreIsConvertedOnRead) {
  TempDir dir;
  const std::string path = dir.file("half.h5");
  StoreSpec spec = arange_spec(2, 3, 4, 5);
  spec.images = spec.images / 7.0;  // values not exactly representable in half
  spec.float16 = true;
  write_store(path, spec);
  const ImageStore store(path);
  EXPECT_EQ(store.dtype(), StoredType::kFloat16);
  EXPECT_EQ(store.stored_image_bytes(), 2 * 3 * 4 * 5);
  const torch::Tensor image = store.read_image(1);
  EXPECT_EQ(image.scalar_type(), torch::kFloat);
  const torch::Tensor expected = spec.images[1].to(torch::kHalf).to(torch::kFloat);
  EXPECT_TRUE(torch::equal(image, expected));
  EXPECT_EQ(store.read_stored(1).scalar_type(), torch::kHalf);
}

TEST(ImageStoreTest, FormatVersionMismatchNamesFileValuesAndHint) {
  TempDir dir;
  const std::string path = dir.file("old.h5");
  StoreSpec spec = arange_spec(1, 2, 2, 2);
  spec.version = 2;
  write_store(path, spec);
  const std::string msg = error_of([&] { ImageStore store(path); });
  EXPECT_NE(msg.find(path), std::string::npos) << msg;
  EXPECT_NE(msg.find("format_version=2"), std::string::npos) << msg;
  EXPECT_NE(msg.find("expected 1"), std::string::npos) << msg;
  EXPECT_NE(msg.find("caps2h5 convert"), std::string::npos) << msg;
}

TEST(ImageStoreTest, WrongFormatNameAndMissingFileAreDataErrors) {
  TempDir dir;
  const std::string path = dir.file("other.h5");
  StoreSpec spec = arange_spec(1, 2, 2, 2);
  spec.format = "something-else";
  write_store(path, spec);
  const std::string msg = error_of([&] { ImageStore store(path); });
  EXPECT_NE(msg.find("'something-else'"), std::string::npos) << msg;
  EXPECT_NE(msg.find("expected 'clinicadl-hpc'"), std::string::npos) << msg;
  EXPECT_THROW(ImageStore(dir.file("absent.h5")), DataError);
  write_text(dir.file("text.h5"), "not hdf5");
  EXPECT_THROW(ImageStore(dir.file("text.h5")), DataError);
}

TEST(ImageStoreTest, IdsThatAreNotBidsLabelsAreRefusedNamingTheRow) {
  TempDir dir;
  StoreSpec spec = arange_spec(2, 2, 2, 2);
  spec.participants[1] = "../../x";  // would become a path (predict --save_tensor)
  write_store(dir.file("ids.h5"), spec);
  const std::string msg = error_of([&] { ImageStore store(dir.file("ids.h5")); });
  EXPECT_NE(msg.find("ids.h5' row 1: participant_id '../../x' is not a BIDS label"),
            std::string::npos)
      << msg;
}

TEST(ImageStoreTest, ImagesDeclaredButNeverWrittenAreRefused) {
  // A 9 KB file may declare many large images it never writes: reading them gives zeros (and
  // training on them costs the whole node). The chunks that hold data are counted.
  TempDir dir;
  StoreSpec spec = arange_spec(4, 2, 2, 2);
  spec.declared_dims = {4, 1, 8, 8, 8};
  write_store(dir.file("empty.h5"), spec);
  const std::string msg = error_of([&] { ImageStore store(dir.file("empty.h5")); });
  EXPECT_NE(msg.find("declares 4 images but only 0 of its 4 chunks were ever written"),
            std::string::npos)
      << msg;
}

TEST(ImageStoreTest, AbsurdDeclaredShapesAreRefusedNamingFileAndShape) {
  TempDir dir;
  StoreSpec spec = arange_spec(1, 2, 2, 2);
  spec.declared_dims = {1, 1, 4000, 4000, 4000};  // 256 GB per image: more than any node here
  write_store(dir.file("huge.h5"), spec);
  const std::string huge = error_of([&] { ImageStore store(dir.file("huge.h5")); });
  EXPECT_NE(huge.find("declares images of shape 1x4000x4000x4000"), std::string::npos) << huge;
  EXPECT_NE(huge.find("GB each as float32"), std::string::npos) << huge;
  spec.declared_dims = {1, 1, 70000, 2, 2};  // a side longer than any scanner's
  write_store(dir.file("long.h5"), spec);
  const std::string long_side = error_of([&] { ImageStore store(dir.file("long.h5")); });
  EXPECT_NE(long_side.find("outside the sane range"), std::string::npos) << long_side;
}

TEST(ImageStoreTest, ATruncatedFileIsCalledTruncated) {
  TempDir dir;
  write_store(dir.file("full.h5"), arange_spec(3, 4, 5, 6));
  const auto size = std::filesystem::file_size(dir.file("full.h5"));
  std::filesystem::copy_file(dir.file("full.h5"), dir.file("cut.h5"));
  std::filesystem::resize_file(dir.file("cut.h5"), size / 2);
  const std::string msg = error_of([&] { ImageStore store(dir.file("cut.h5")); });
  EXPECT_NE(msg.find("truncated"), std::string::npos) << msg;
  EXPECT_NE(msg.find("cut.h5"), std::string::npos) << msg;
}

TEST(ImageStoreTest, AFolderAsDataSaysHowToConvertIt) {
  TempDir dir;
  const std::string msg = error_of([&] { ImageStore store(dir.path()); });
  EXPECT_NE(msg.find("is a folder"), std::string::npos) << msg;
  EXPECT_NE(msg.find("caps2h5 convert"), std::string::npos) << msg;
}

TEST(ImageStoreTest, ReadsMasksAndListsThemWhenAbsent) {
  TempDir dir;
  const std::string path = dir.file("m.h5");
  StoreSpec spec = arange_spec(1, 3, 3, 3);
  spec.masks["hippocampus"] = torch::zeros({3, 3, 3}, torch::kUInt8);
  spec.masks["hippocampus"][1][1][1] = 1;
  write_store(path, spec);
  const ImageStore store(path);
  EXPECT_EQ(store.mask_names(), std::vector<std::string>{"hippocampus"});
  const torch::Tensor mask = store.read_mask("hippocampus");
  EXPECT_EQ(mask.sizes().vec(), (std::vector<int64_t>{3, 3, 3}));
  EXPECT_EQ(mask.sum().item<int64_t>(), 1);
  const std::string msg = error_of([&] { store.read_mask("amygdala"); });
  EXPECT_NE(msg.find("amygdala"), std::string::npos) << msg;
  EXPECT_NE(msg.find("hippocampus"), std::string::npos) << msg;
}

TEST(DataSourceTest, SingleFileAndCohortTsv) {
  TempDir dir;
  write_store(dir.file("adni.h5"), arange_spec(2, 2, 3, 4));
  StoreSpec aibl = arange_spec(1, 2, 3, 4);
  aibl.cohort = "AIBL";
  write_store(dir.file("aibl.h5"), aibl);
  const DataSource single = DataSource::open(dir.file("adni.h5"));
  EXPECT_FALSE(single.multi_cohort());
  EXPECT_EQ(single.cohorts(), std::vector<std::string>{"single"});
  EXPECT_EQ(single.store("single")->num_images(), 2);

  write_text(dir.file("data.tsv"),
             "cohort\tpath\nADNI\tadni.h5\nAIBL\t" + dir.file("aibl.h5") + "\n");
  const DataSource multi = DataSource::open(dir.file("data.tsv"));
  EXPECT_TRUE(multi.multi_cohort());
  EXPECT_EQ(multi.cohorts(), (std::vector<std::string>{"ADNI", "AIBL"}));
  EXPECT_EQ(multi.store("AIBL")->num_images(), 1);
  EXPECT_EQ(multi.sample_shape(), (std::vector<int64_t>{1, 2, 3, 4}));
  EXPECT_THROW(multi.store("OASIS"), ConfigError);
}

TEST(DataSourceTest, DifferentShapesAcrossCohortsAreRejected) {
  TempDir dir;
  write_store(dir.file("a.h5"), arange_spec(1, 2, 3, 4));
  write_store(dir.file("b.h5"), arange_spec(1, 2, 3, 5));
  write_text(dir.file("data.tsv"), "cohort\tpath\nA\ta.h5\nB\tb.h5\n");
  EXPECT_THROW(DataSource::open(dir.file("data.tsv")), DataError);
}

}  // namespace
}  // namespace cdl::data

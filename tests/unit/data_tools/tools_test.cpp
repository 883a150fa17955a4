// caps2h5 synthetic, validate, inspect and the command line.
#include <gtest/gtest.h>
#include <hdf5.h>

#include <fstream>

#include <cmath>
#include <filesystem>
#include <sstream>

#include "caps2h5/cli.hpp"
#include "caps2h5/converter.hpp"
#include "caps2h5/h5_image_reader.hpp"
#include "caps2h5/inspector.hpp"
#include "caps2h5/synthetic.hpp"
#include "cdl/core/error.hpp"
#include "cdl/core/tsv_table.hpp"
#include "cdl/h5/container_format.hpp"
#include "test_helpers.hpp"

namespace cdl::data_tools {
namespace {

namespace fs = std::filesystem;
using testing::TempDir;

SyntheticOptions small(const std::string& out, uint64_t seed) {
  SyntheticOptions o;
  o.output_dir = out;
  o.subjects = 8;
  o.sessions = 2;
  o.size = {24, 28, 24};
  o.seed = seed;
  o.threads = 2;
  return o;
}

/// Mean intensity inside the left hippocampus box mask.
double hippocampus_mean(const Volume& v, const Volume& mask) {
  double sum = 0;
  int n = 0;
  for (size_t i = 0; i < v.data.size(); ++i) {
    if (mask.data[i] != 0) {
      sum += v.data[i];
      ++n;
    }
  }
  return sum / std::max(1, n);
}

TEST(Synthetic, DeterministicAndClassesDiffer) {
  TempDir dir("synthetic");
  make_synthetic_caps(small(dir / "a", 3));
  make_synthetic_caps(small(dir / "b", 3));
  const TsvTable labels = TsvTable::read(dir / "a/labels.tsv");
  ASSERT_EQ(labels.rows().size(), 16u);
  EXPECT_EQ(labels.columns(),
            (std::vector<std::string>{"participant_id", "session_id", "diagnosis", "age", "sex"}));
  const Volume mask =
      read_nifti(dir /
                 "a/masks/tpl-MNI152NLin2009cSym/"
                 "tpl-MNI152NLin2009cSym_desc-Crop_res-1x1x1_roi-leftHippocampusBox_mask.nii.gz");
  double ad = 0, cn = 0;
  int n_ad = 0;
  for (const auto& row : labels.rows()) {
    const std::string path = testing::t1_path(dir / "a", row[0], row[1]);
    const Volume v = read_nifti(path);
    EXPECT_EQ(v.shape, (Shape4{1, 24, 28, 24}));
    EXPECT_EQ(v.data, read_nifti(testing::t1_path(dir / "b", row[0], row[1])).data) << path;
    const double m = hippocampus_mean(v, mask);
    (row[2] == "AD" ? ad : cn) += m;
    n_ad += row[2] == "AD";
  }
  EXPECT_EQ(n_ad, 8);
  EXPECT_LT(ad / 8, cn / 8 - 0.05) << "AD hippocampi must be darker";
  make_synthetic_caps(small(dir / "c", 4));
  EXPECT_NE(read_nifti(testing::t1_path(dir / "c", "sub-001", "ses-M000")).data,
            read_nifti(testing::t1_path(dir / "a", "sub-001", "ses-M000")).data);
  EXPECT_THROW(make_synthetic_caps(small(dir / "a", 3)), ConfigError);  // not empty
}

TEST(Validate, CleanFileThenEveryProblemListed) {
  TempDir dir("validate");
  make_synthetic_caps(small(dir / "caps", 1));
  SerialTransport serial;
  convert(testing::test_options(dir / "caps", dir / "ok.h5"), serial);
  EXPECT_TRUE(validate(dir / "ok.h5").empty());
  std::ostringstream text;
  inspect(dir / "ok.h5", text);
  EXPECT_NE(text.str().find("single=16"), std::string::npos) << text.str();
  EXPECT_NE(text.str().find("leftHippocampusBox"), std::string::npos);

  // A NaN image, and a split tree naming a session that is not in the file.
  Volume v = read_nifti(testing::t1_path(dir / "caps", "sub-002", "ses-M006"));
  v.data[7] = std::nanf("");
  v.data[8] = INFINITY;
  write_nifti_volume(testing::t1_path(dir / "caps", "sub-002", "ses-M006"), v);
  convert(testing::test_options(dir / "caps", dir / "bad.h5"), serial);
  fs::create_directories(dir / "tree/split-0");
  TsvTable t({"participant_id", "session_id", "diagnosis"});
  t.add_row({"sub-001", "ses-M000", "AD"});
  t.add_row({"sub-099", "ses-M000", "CN"});
  t.write(dir / "tree/split-0/train.tsv");
  const auto problems = validate(dir / "bad.h5", dir / "tree");
  ASSERT_EQ(problems.size(), 2u);
  EXPECT_NE(problems[0].find("sub-002 ses-M006) has 1 NaN and 1 Inf"), std::string::npos)
      << problems[0];
  EXPECT_NE(problems[1].find("sub-099 ses-M000"), std::string::npos) << problems[1];
  EXPECT_FALSE(validate(dir / "nothing.h5").empty());
}

int run(std::vector<std::string> args) {
  args.insert(args.begin(), "caps2h5");
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  return run_cli(int(argv.size()), argv.data());
}

TEST(Cli, DashesAndExitCodes) {
  TempDir dir("cli");
  const std::string caps = dir / "caps";
  EXPECT_EQ(run({"synthetic", caps, "--subjects", "4", "--size", "8x10x8", "--seed", "5"}), 0);
  EXPECT_EQ(run({"convert", caps, dir / "out.h5", "--no-progress", "--compression", "2", "--dtype",
                 "float16"}),
            0);
  EXPECT_EQ(run({"convert", caps, dir / "out.h5", "--no-progress"}), 2);  // exists
  EXPECT_EQ(run({"convert", caps, dir / "x.h5", "--dtype", "int8"}), 2);
  EXPECT_EQ(run({"convert", caps, dir / "x.h5", "--bogus"}), 2);
  EXPECT_EQ(run({"frobnicate"}), 2);
  EXPECT_EQ(run({"validate", dir / "out.h5"}), 0);
  EXPECT_EQ(run({"inspect", dir / "out.h5"}), 0);
  EXPECT_EQ(run({"kfold", caps + "/labels.tsv", "--n-splits", "2"}), 0);
  EXPECT_TRUE(fs::exists(fs::path(caps) / "2_fold" / "split-1" / "train_baseline.tsv"));
  EXPECT_EQ(run({"validate", dir / "out.h5", "--tsv-dir", caps + "/2_fold"}), 0);
  EXPECT_EQ(run({"split", caps + "/labels.tsv", "--n-test", "2", "--output-dir", dir / "s"}), 0);
  fs::remove(testing::t1_path(caps, "sub-001", "ses-M000"));
  EXPECT_EQ(run({"convert", caps, dir / "y.h5", "--no-progress"}), 1);  // missing file
  EXPECT_EQ(run({"synthetic", dir / "z", "--size", "8x10"}), 2);
}

TEST(Validate, ImagesDeclaredButNeverWrittenAreReported) {
  TempDir dir("unwritten");
  const std::string caps = dir / "caps";
  ASSERT_EQ(run({"synthetic", caps, "--subjects", "2", "--size", "8x10x8", "--seed", "5"}), 0);
  const std::string out = dir / "out.h5";
  ASSERT_EQ(run({"convert", caps, out, "--no-progress"}), 0);
  {  // the same /images, declared again and never written
    const hid_t file = H5Fopen(out.c_str(), H5F_ACC_RDWR, H5P_DEFAULT);
    ASSERT_GE(file, 0);
    const hid_t old = H5Dopen2(file, "/images", H5P_DEFAULT);
    const hid_t space = H5Dget_space(old);
    const hid_t type = H5Dget_type(old);
    const hid_t dcpl = H5Dget_create_plist(old);
    H5Dclose(old);
    ASSERT_GE(H5Ldelete(file, "/images", H5P_DEFAULT), 0);
    const hid_t fresh = H5Dcreate2(file, "/images", type, space, H5P_DEFAULT, dcpl, H5P_DEFAULT);
    ASSERT_GE(fresh, 0);
    H5Dclose(fresh);
    H5Pclose(dcpl);
    H5Tclose(type);
    H5Sclose(space);
    H5Fclose(file);
  }
  const auto problems = validate(out);
  bool named = false;
  for (const auto& problem : problems)
    named |= problem.find("chunks were ever written") != std::string::npos;
  EXPECT_TRUE(named) << "validate found " << problems.size() << " problem(s)";
  EXPECT_EQ(run({"validate", out}), 1);
}

TEST(Validate, AFolderIsNamedAsAFolder) {
  TempDir dir("folder");
  const auto problems = validate(dir.path().string());
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_NE(problems[0].find("is a folder, expected an HDF5 file made by caps2h5"),
            std::string::npos)
      << problems[0];
}

TEST(Cli, IdsThatWouldBePathsAreRefusedBeforeReadingAFile) {
  TempDir dir("ids");
  const std::string caps = dir / "caps";
  ASSERT_EQ(run({"synthetic", caps, "--subjects", "2", "--size", "8x10x8", "--seed", "5"}), 0);
  const std::string tsv = dir / "sessions.tsv";
  std::ofstream(tsv) << "participant_id\tsession_id\nsub-001\tses-M000\n../../../x\tses-M000\n";
  EXPECT_EQ(run({"convert", caps, dir / "out.h5", "--tsv", tsv, "--no-progress"}), 1);
  EXPECT_FALSE(fs::exists(dir / "out.h5"));
}

}  // namespace
}  // namespace cdl::data_tools

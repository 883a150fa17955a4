// Shared fixtures of the caps2h5 tests: temporary folders and tiny CAPS builders.
#pragma once

#include <unistd.h>

#include <filesystem>
#include <string>
#include <vector>

#include "caps2h5/converter.hpp"
#include "caps2h5/nifti_io.hpp"
#include "cdl/core/file_tree.hpp"

namespace cdl::data_tools::testing {

/// A fresh temporary folder, removed with its content at destruction.
class TempDir {
 public:
  explicit TempDir(const std::string& tag) {
    static int counter = 0;
    path_ = std::filesystem::temp_directory_path() /
            ("caps2h5_" + tag + "_" + std::to_string(::getpid()) + "_" + std::to_string(counter++));
    cdl::remove_tree(path_);
    std::filesystem::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    cdl::remove_tree(path_, ec);
  }
  /// `name` inside the folder.
  std::string operator/(const std::string& name) const { return (path_ / name).string(); }
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

/// Path of the t1-linear cropped image of (participant, session) inside `caps`, folders created.
inline std::string t1_path(const std::string& caps, const std::string& participant,
                           const std::string& session, const std::string& extension = ".nii.gz") {
  const auto dir = std::filesystem::path(caps) / "subjects" / participant / session / "t1_linear";
  std::filesystem::create_directories(dir);
  return (dir / (participant + "_" + session + "_space-MNI152NLin2009cSym_desc-Crop_res-1x1x1_T1w" +
                 extension))
      .string();
}

/// Writes a float32 image whose voxel (i, j, k) is `base + i + 10 j + 100 k` (C-order Volume).
inline Volume ramp_volume(int64_t x, int64_t y, int64_t z, float base) {
  Volume v;
  v.shape = {1, x, y, z};
  for (int64_t i = 0; i < x; ++i)
    for (int64_t j = 0; j < y; ++j)
      for (int64_t k = 0; k < z; ++k) v.data.push_back(base + float(i + 10 * j + 100 * k));
  return v;
}

/// Convert options for a test: no progress bar, two threads.
inline ConvertOptions test_options(const std::string& input, const std::string& output) {
  ConvertOptions o;
  o.input = input;
  o.output = output;
  o.threads = 2;
  o.progress = false;
  return o;
}

}  // namespace cdl::data_tools::testing

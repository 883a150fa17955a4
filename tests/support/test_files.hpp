// Test helpers shared by the suites: temporary folders, text files and tiny HDF5 image stores
// written with the HDF5 C API and the constants of h5/container_format.hpp (independent of
// data_tools/).
#pragma once

#include <torch/torch.h>

#include <map>
#include <string>
#include <vector>

#include "cdl/h5/container_format.hpp"

namespace cdl::data::testing {

/// A fresh folder under the system temp dir, removed with everything in it on destruction.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  /// The folder.
  const std::string& path() const { return path_; }
  /// path()/relative as a string (parent folders are created).
  std::string file(const std::string& relative) const;

 private:
  std::string path_;
};

/// Writes `content` to `path`, creating parent folders.
void write_text(const std::string& path, const std::string& content);

/// What write_store writes.
struct StoreSpec {
  torch::Tensor images;                   ///< float [N, C, D, H, W]
  std::vector<std::string> participants;  ///< N ids
  std::vector<std::string> sessions;      ///< N ids
  bool float16 = false;                   ///< store /images as IEEE half
  bool deflate = false;                   ///< gzip-compress the chunks
  std::string format = h5::format::kFormatName;
  int version = h5::format::kFormatVersion;
  std::string cohort = "single";
  std::string preprocessing = "{\"preprocessing\": \"t1-linear\", \"mode\": \"image\"}";
  std::map<std::string, torch::Tensor> masks;  ///< uint8 [D, H, W]
  /// When set: /images is declared with these dims [N, C, D, H, W] and never written (a sparse
  /// chunked dataset: a corrupt or hostile file that announces absurd shapes).
  std::vector<int64_t> declared_dims;
};

/// Writes a clinicadl-hpc container (format attributes, /images chunked one image per chunk,
/// variable-length UTF-8 id datasets, /masks/<roi>).
void write_store(const std::string& path, const StoreSpec& spec);

/// A spec of N images [1, D, H, W] where image i = i*1000 + arange, ids sub-00i / ses-M000.
StoreSpec arange_spec(int64_t n, int64_t d, int64_t h, int64_t w);

}  // namespace cdl::data::testing

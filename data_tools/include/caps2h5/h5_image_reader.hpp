// Reads a clinicadl-hpc HDF5 container (for inspect, validate and the tests).
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "cdl/h5/handle.hpp"
#include "cdl/h5/read.hpp"

namespace cdl::data_tools {

/// Read-only view of one container; every accessor throws DataError naming the file on failure.
class H5ImageReader {
 public:
  /// Opens `path` read-only.
  explicit H5ImageReader(const std::string& path);

  /// True when the root attribute exists.
  bool has_attribute(const std::string& name) const;
  /// Root string attribute (fixed or variable length).
  std::string string_attribute(const std::string& name) const;
  /// Root integer attribute.
  int64_t int_attribute(const std::string& name) const;
  /// Names of all root attributes.
  std::vector<std::string> attribute_names() const;

  /// True when the object (dataset or group) exists.
  bool exists(const std::string& name) const;
  /// Dimensions of a dataset.
  std::vector<int64_t> shape(const std::string& dataset) const;
  /// "float32", "float16", "float64", "uint8", "string" or "other".
  std::string dtype(const std::string& dataset) const;
  /// How many of a dataset's chunks were ever written, out of those its shape needs.
  h5::StorageCoverage coverage(const std::string& dataset) const;
  /// Filters of a dataset, e.g. "shuffle+deflate(4)" or "none".
  std::string filters(const std::string& dataset) const;
  /// Image `index` of /images as float32 (C*D*H*W values).
  std::vector<float> read_image(int64_t index) const;
  /// A 1-D string dataset.
  std::vector<std::string> read_strings(const std::string& dataset) const;
  /// ROI names under /masks (empty without masks).
  std::vector<std::string> mask_names() const;
  /// /masks/<roi> as uint8 values.
  std::vector<uint8_t> read_mask(const std::string& roi) const;
  /// The file path.
  const std::string& path() const { return path_; }

 private:
  h5::Dataset open_dataset(const std::string& name) const;

  std::string path_;
  h5::File file_;
};

}  // namespace cdl::data_tools

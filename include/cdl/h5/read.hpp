// Reading HDF5 attributes, string datasets and groups with the C API, for the engine's image
// store and caps2h5's inspector alike.
// Every function assumes the caller holds h5::global_mutex() (an h5::Lock).
#pragma once

#include <hdf5.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "cdl/h5/handle.hpp"

namespace cdl::h5 {

/// Opens `path` read-only as an image file of caps2h5, after telling apart what users give by
/// mistake: a folder (a CAPS folder not converted yet), a missing file, a file that is not HDF5.
/// Throws DataError naming the path, what it is, and how to make the file. The caller holds the
/// HDF5 lock where other threads use HDF5.
File open_image_file(const std::string& path);

/// True when object `loc` has an attribute `name`.
bool has_attribute(hid_t loc, const char* name);
/// Reads a string attribute (fixed or variable length); std::nullopt when absent or not a string.
std::optional<std::string> string_attribute(hid_t loc, const char* name);
/// Reads an integer scalar attribute; std::nullopt when absent or not an integer.
std::optional<int64_t> int_attribute(hid_t loc, const char* name);
/// Reads a 1-D string dataset (fixed or variable length). Throws DataError naming `file`.
std::vector<std::string> string_dataset(hid_t file_id, const char* path, const std::string& file);
/// Dimensions of a dataset's dataspace.
std::vector<int64_t> dataset_dims(hid_t dataset);
/// How much of a dataset's storage was ever written: a file may declare a shape it never filled
/// (a conversion that did not finish, a crafted file), and reading it gives fill values.
struct StorageCoverage {
  int64_t written = 0;  ///< chunks that hold data (contiguous layout: 1 when allocated)
  int64_t needed = 0;   ///< chunks the shape needs (contiguous or compact layout: 1)
  bool complete() const { return written >= needed; }
};
/// The storage coverage of `dataset` (HDF5 >= 1.10.5 counts the chunks of its index).
StorageCoverage storage_coverage(hid_t dataset);

/// True when `path` is a link in `loc` (does not check intermediate groups beyond one level).
bool link_exists(hid_t loc, const char* path);
/// Names of the members of group `path` in `loc` (empty if the group is absent).
std::vector<std::string> group_members(hid_t loc, const char* path);

}  // namespace cdl::h5

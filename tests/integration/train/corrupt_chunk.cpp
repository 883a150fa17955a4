// Test helper: overwrites, inside an HDF5 container written by caps2h5 with compression, the
// stored chunk of one image with garbage, so reading that image (and only it) fails.
// Usage: corrupt_chunk FILE.h5 PARTICIPANT_ID SESSION_ID
#include <hdf5.h>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

#include "cdl/h5/container_format.hpp"

namespace {

/// Row of (participant, session) in /participant_id and /session_id, or -1.
long find_row(hid_t file, const std::string& participant, const std::string& session) {
  auto read_strings = [&](const char* path) {
    hid_t dataset = H5Dopen2(file, path, H5P_DEFAULT);
    hid_t space = H5Dget_space(dataset);
    const hssize_t n = H5Sget_simple_extent_npoints(space);
    std::vector<char*> raw(static_cast<size_t>(n));
    hid_t type = H5Tcopy(H5T_C_S1);
    H5Tset_size(type, H5T_VARIABLE);
    H5Tset_cset(type, H5T_CSET_UTF8);
    H5Dread(dataset, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, raw.data());
    std::vector<std::string> values(raw.begin(), raw.end());
    H5Dvlen_reclaim(type, space, H5P_DEFAULT, raw.data());
    H5Tclose(type);
    H5Sclose(space);
    H5Dclose(dataset);
    return values;
  };
  const auto participants = read_strings(cdl::h5::format::kParticipantId);
  const auto sessions = read_strings(cdl::h5::format::kSessionId);
  for (size_t i = 0; i < participants.size(); ++i) {
    if (participants[i] == participant && sessions[i] == session) return static_cast<long>(i);
  }
  return -1;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 4) {
    std::cerr << "usage: corrupt_chunk FILE.h5 PARTICIPANT_ID SESSION_ID\n";
    return 2;
  }
  hid_t file = H5Fopen(argv[1], H5F_ACC_RDONLY, H5P_DEFAULT);
  const long row = find_row(file, argv[2], argv[3]);
  if (row < 0) {
    std::cerr << "no image " << argv[2] << " " << argv[3] << "\n";
    return 1;
  }
  hid_t images = H5Dopen2(file, cdl::h5::format::kImages, H5P_DEFAULT);
  hsize_t offset[5] = {static_cast<hsize_t>(row), 0, 0, 0, 0};
  haddr_t address = 0;
  hsize_t size = 0;
  unsigned filter_mask = 0;
  if (H5Dget_chunk_info_by_coord(images, offset, &filter_mask, &address, &size) < 0 || size == 0) {
    std::cerr << "cannot locate the chunk of row " << row << "\n";
    return 1;
  }
  H5Dclose(images);
  H5Fclose(file);
  std::fstream out(argv[1], std::ios::in | std::ios::out | std::ios::binary);
  out.seekp(static_cast<std::streamoff>(address));
  const std::vector<char> garbage(static_cast<size_t>(size), '\x5a');
  out.write(garbage.data(), static_cast<std::streamsize>(garbage.size()));
  std::cout << "corrupted row " << row << " (" << size << " bytes at " << address << ")\n";
  return out ? 0 : 1;
}

// Fuzz target: any bytes as a TSV table, read by both TSV readers (training and caps2h5).
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <fstream>
#include <string>

#include "caps2h5/tsv_table.hpp"
#include "cdl/core/error.hpp"
#include "cdl/data/tsv_table.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::string path = "/tmp/cdl_fuzz_tsv_" + std::to_string(getpid()) + ".tsv";
  std::ofstream(path, std::ios::binary)
      .write(reinterpret_cast<const char*>(data), std::streamsize(size));
  try {
    const auto table = cdl::data::TsvTable::read(path);
    for (int64_t r = 0; r < table.num_rows(); ++r) (void)table.location(r);
  } catch (const cdl::Error&) {
  }
  try {
    (void)cdl::data_tools::TsvTable::read(path);
  } catch (const cdl::Error&) {
  }
  return 0;
}

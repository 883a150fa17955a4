// Fuzz target: any bytes as a TSV file, read by the project's one TSV table. Whatever it reads,
// writing it back and reading that again must give the same table (the writer's quoting is the
// reader's), and errors are the table's typed exceptions only.
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <string>

#include "cdl/core/error.hpp"
#include "cdl/core/tsv_table.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::string path = "/tmp/cdl_fuzz_tsv_" + std::to_string(getpid()) + ".tsv";
  static const std::string again = path + ".again.tsv";
  std::ofstream(path, std::ios::binary)
      .write(reinterpret_cast<const char*>(data), std::streamsize(size));
  cdl::TsvTable table;
  try {
    table = cdl::TsvTable::read(path);
  } catch (const cdl::Error&) {
    return 0;
  }
  for (int64_t r = 0; r < table.num_rows(); ++r) (void)table.location(r);
  std::ofstream(again, std::ios::binary) << table.to_string();
  const auto back = cdl::TsvTable::read(again);  // must not throw
  if (back.columns() != table.columns() || back.rows() != table.rows()) std::abort();
  return 0;
}

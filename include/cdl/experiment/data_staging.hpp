// Node-local staging of a job's HDF5 files (--stage_data DIR): the first rank of each node copies
// the files into a folder of its own under DIR (a node-local disk such as $TMPDIR), and every rank
// of the node reads its images from there instead of from the shared file system, as MLPerf HPC's
// CosmoFlow does. Worth it when images are read more than once from a slow or busy parallel file
// system (--no_cache, --memory_saving, data larger than the image cache).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "cdl/comm/communicator.hpp"
#include "cdl/comm/runtime.hpp"
#include "cdl/data/data_source.hpp"

namespace cdl::experiment {

/// The staged copies of a job's HDF5 files on this node. The node's first rank made the folder
/// holding them and removes it, with everything in it, when this object goes.
class StagedData {
 public:
  /// Collective over `world`: the first rank of `world` on each node (topology.node) copies the
  /// file of every store of `source` into DIR/clinicadl-hpc-<host>-<job token>/ after checking
  /// that DIR exists and has room for them; then every rank opens the copies. Throws ConfigError
  /// on every rank alike (the first failing node's message) when DIR is missing, too small or a
  /// copy fails; nothing is left behind under DIR then.
  static std::unique_ptr<StagedData> stage(const data::DataSource& source, const std::string& dir,
                                           comm::Communicator& world,
                                           const comm::Topology& topology);
  ~StagedData();
  StagedData(const StagedData&) = delete;
  StagedData& operator=(const StagedData&) = delete;

  /// The stores of the staged copies: the cohorts of the source, in its order.
  const std::shared_ptr<const data::DataSource>& source() const { return source_; }
  /// The folder of this node's copies.
  const std::string& folder() const { return folder_; }

 private:
  StagedData(std::string folder, bool owner) : folder_(std::move(folder)), owner_(owner) {}

  std::string folder_;
  bool owner_;
  std::shared_ptr<const data::DataSource> source_;
};

/// Why `needed` bytes cannot be staged into `dir`, which has `available` bytes free (a tenth of
/// the free space, at least 64 MiB, is kept for the rest of the node); "" when they fit.
std::string staging_space_problem(const std::string& dir, uint64_t needed, uint64_t available);

}  // namespace cdl::experiment

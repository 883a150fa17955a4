// Implementation of node-local staging (see data_staging.hpp).
#include "cdl/experiment/data_staging.hpp"

#include <torch/torch.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <system_error>

#include "cdl/core/error.hpp"
#include "cdl/core/logging.hpp"
#include "cdl/core/node_memory.hpp"

namespace cdl::experiment {
namespace fs = std::filesystem;
namespace {

/// Free space left to the rest of the node at least (its logs, other jobs' scratch).
constexpr uint64_t kMinimumReserve = uint64_t{64} << 20;

/// Collective: true on the lowest rank of `world` on node `node` (topology.node; the ranks of a
/// rank group need not include the node's local rank 0).
bool first_on_node(comm::Communicator& world, int node) {
  auto nodes = torch::zeros({world.size()}, torch::kInt32);
  world.all_gather(torch::tensor({node}, torch::kInt32), nodes);
  const auto* all = nodes.data_ptr<int32_t>();
  return std::find(all, all + world.rank(), node) == all + world.rank();
}

/// The host name as a file name part.
std::string file_name_part(const std::string& host) {
  std::string part = host;
  for (char& c : part) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '.') c = '_';
  }
  return part.empty() ? "node" : part;
}

/// The staged name of store `index`: its position first, so that the files of two cohorts with
/// the same name do not collide.
std::string staged_name(size_t index, const std::string& path) {
  return std::to_string(index) + "-" + fs::path(path).filename().string();
}

/// Why `dir` cannot take `files` on this node, or "".
std::string destination_problem(const std::vector<std::string>& files, const std::string& dir,
                                const std::string& host) {
  std::error_code error;
  if (!fs::is_directory(dir, error)) {
    return "--stage_data '" + dir + "' " +
           (fs::exists(dir, error) ? "is not a folder" : "does not exist") + " on node " + host +
           "; expected an existing node-local folder (e.g. $TMPDIR)";
  }
  uint64_t needed = 0;
  for (const auto& file : files) {
    const auto size = fs::file_size(file, error);
    if (error) return "--stage_data: the size of '" + file + "' cannot be read: " + error.message();
    needed += size;
  }
  const auto space = fs::space(dir, error);
  if (error) {
    return "--stage_data '" + dir + "': the free space on node " + host +
           " cannot be read: " + error.message();
  }
  const auto problem = staging_space_problem(dir, needed, space.available);
  return problem.empty() ? "" : problem + " (node " + host + ")";
}

/// On the node's first rank: makes `folder` (`created` says whether it did) and copies `files`
/// into it; the problem, or "".
std::string copy_files(const std::vector<std::string>& files, const std::string& dir,
                       const std::string& folder, const std::string& host, bool& created) {
  if (auto problem = destination_problem(files, dir, host); !problem.empty()) return problem;
  std::error_code error;
  created = fs::create_directory(folder, error);
  if (!created) {
    return "--stage_data: the folder '" + folder + "' cannot be made on node " + host + ": " +
           (error ? error.message() : std::string("it exists already"));
  }
  for (size_t i = 0; i < files.size(); ++i) {
    const auto target = fs::path(folder) / staged_name(i, files[i]);
    if (!fs::copy_file(files[i], target, error)) {
      return "--stage_data: copying '" + files[i] + "' to '" + target.string() + "' on node " +
             host + " failed: " + error.message();
    }
  }
  return "";
}

}  // namespace

std::string staging_space_problem(const std::string& dir, uint64_t needed, uint64_t available) {
  const uint64_t reserve = std::max(kMinimumReserve, available / 10);
  if (needed <= available && available - needed >= reserve) return "";
  return "--stage_data '" + dir + "' has " + format_memory_size(static_cast<double>(available)) +
         " free; the HDF5 file(s) need " + format_memory_size(static_cast<double>(needed)) +
         " and " + format_memory_size(static_cast<double>(reserve)) +
         " stay free; expected a node-local folder with room for them, or no --stage_data";
}

std::unique_ptr<StagedData> StagedData::stage(const data::DataSource& source,
                                              const std::string& dir, comm::Communicator& world,
                                              const comm::Topology& topology) {
  const auto cohorts = source.cohorts();
  std::vector<std::string> files;
  for (const auto& cohort : cohorts) files.push_back(source.store(cohort)->path());
  const std::string folder =
      (fs::path(dir) / ("clinicadl-hpc-" + file_name_part(topology.host) + "-" + world.job_token()))
          .string();
  const auto start = std::chrono::steady_clock::now();
  std::unique_ptr<StagedData> staged(new StagedData(folder, false));
  std::string problem;
  if (first_on_node(world, topology.node)) {
    try {
      problem = copy_files(files, dir, folder, topology.host, staged->owner_);
    } catch (const std::exception& error) {  // e.g. bad_alloc: reported on every rank alike
      problem = std::string("--stage_data: staging on node ") + topology.host +
                " failed: " + error.what();
    }
  }
  problem = world.first_problem(problem);            // also waits for every node's copies
  if (!problem.empty()) throw ConfigError(problem);  // the owner's folder goes with `staged`
  std::vector<std::pair<std::string, std::shared_ptr<data::ImageStore>>> stores;
  for (size_t i = 0; i < files.size(); ++i) {
    const auto path = fs::path(folder) / staged_name(i, files[i]);
    stores.emplace_back(cohorts[i], std::make_shared<data::ImageStore>(path.string()));
  }
  staged->source_ =
      std::make_shared<const data::DataSource>(std::move(stores), source.multi_cohort());
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  log::info("--stage_data: ", files.size(), " HDF5 file(s) copied to ", folder,
            " (one folder per node, removed at the end) in ", std::round(seconds * 10) / 10, " s");
  return staged;
}

StagedData::~StagedData() {
  source_.reset();
  if (!owner_) return;
  std::error_code error;
  fs::remove_all(folder_, error);  // the folder and copies this object made, nothing else
  if (error) log::warn("--stage_data: '", folder_, "' could not be removed: ", error.message());
}

}  // namespace cdl::experiment

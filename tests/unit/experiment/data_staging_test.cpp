// Node-local staging (--stage_data): one copy per node made by its first rank, read back equal by
// every rank, removed at the end; a missing or full folder fails on every rank alike, leaving
// nothing behind. Nodes are emulated by rank threads that report different host names.
#include "cdl/experiment/data_staging.hpp"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <atomic>
#include <filesystem>
#include <mutex>
#include <set>
#include <string>

#include "cdl/core/error.hpp"
#include "test_files.hpp"
#include "thread_group.hpp"

namespace cdl::experiment {
namespace {
namespace fs = std::filesystem;
using cdl::data::testing::TempDir;
using cdl::testing::run_thread_group;

/// Rank r of 4 on node r / 2: two nodes of two ranks.
comm::Topology node_of(int rank) {
  comm::Topology topology;
  topology.rank = rank;
  topology.world_size = 4;
  topology.local_rank = rank % 2;
  topology.local_size = 2;
  topology.node = rank / 2 * 2;
  topology.host = "node" + std::to_string(rank / 2);
  return topology;
}

/// The entries of `dir`, by name.
std::set<std::string> entries(const std::string& dir) {
  std::set<std::string> names;
  for (const auto& entry : fs::directory_iterator(dir)) names.insert(entry.path().filename());
  return names;
}

TEST(DataStaging, EachNodeReadsItsOwnCopyRemovedAtTheEnd) {
  TempDir data, scratch;
  const auto original = data.path() + "/cohort.h5";
  data::testing::write_store(original, data::testing::arange_spec(3, 4, 5, 6));
  const auto source = data::DataSource::open(original);
  std::mutex mutex;
  std::set<std::string> folders;
  run_thread_group(4, [&](comm::Communicator& world) {
    const auto staged = StagedData::stage(source, scratch.path(), world, node_of(world.rank()));
    const auto& store = staged->source()->first();
    EXPECT_EQ(fs::path(store->path()).parent_path().string(), staged->folder());
    EXPECT_EQ(staged->source()->cohorts(), source.cohorts());
    for (int64_t row = 0; row < 3; ++row) {
      EXPECT_TRUE(torch::equal(store->read_image(row), source.first()->read_image(row)));
    }
    {
      std::lock_guard<std::mutex> lock(mutex);
      folders.insert(fs::path(staged->folder()).filename());
    }
    world.barrier();  // every rank has read before a node's first rank removes its copies
  });
  ASSERT_EQ(folders.size(), 2u) << "one folder per node";
  for (const auto& folder : folders) {
    EXPECT_EQ(folder.rfind("clinicadl-hpc-node", 0), 0u) << folder;
  }
  EXPECT_TRUE(entries(scratch.path()).empty()) << "the copies are removed with the job";
  EXPECT_TRUE(fs::exists(original));
}

TEST(DataStaging, AMissingFolderFailsOnEveryRankAndLeavesNothing) {
  TempDir data, scratch;
  const auto original = data.path() + "/cohort.h5";
  data::testing::write_store(original, data::testing::arange_spec(2, 4, 4, 4));
  const auto source = data::DataSource::open(original);
  std::atomic<int> refused{0};
  run_thread_group(4, [&](comm::Communicator& world) {
    try {
      StagedData::stage(source, scratch.path() + "/absent", world, node_of(world.rank()));
    } catch (const ConfigError& error) {
      EXPECT_NE(
          std::string(error.what())
              .find("--stage_data '" + scratch.path() + "/absent' does not exist on node node0"),
          std::string::npos)
          << error.what();
      ++refused;
    }
  });
  EXPECT_EQ(refused.load(), 4);
  EXPECT_TRUE(entries(scratch.path()).empty());
}

TEST(DataStaging, SpaceKeepsAReserveFree) {
  const uint64_t mib = uint64_t{1} << 20;
  EXPECT_EQ(staging_space_problem("/d", 100 * mib, 1000 * mib), "");
  EXPECT_EQ(staging_space_problem("/d", 900 * mib, 1000 * mib), "");  // 100 MiB stay free
  const auto problem = staging_space_problem("/scratch", 950 * mib, 1000 * mib);
  EXPECT_NE(problem.find("--stage_data '/scratch' has 1000.0 MiB free; the HDF5 file(s) need "
                         "950.0 MiB"),
            std::string::npos)
      << problem;
  EXPECT_NE(staging_space_problem("/d", 10 * mib, 20 * mib), "");  // 64 MiB at least stay free
  EXPECT_NE(staging_space_problem("/d", 2000 * mib, 1000 * mib), "");
}

}  // namespace
}  // namespace cdl::experiment

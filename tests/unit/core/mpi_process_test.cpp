// MPI process start-up: the launcher seen from the environment before MPI starts, MPI's lifetime
// as a single process, and ending "the other ranks" when there are none.
#include <gtest/gtest.h>
#include <mpi.h>

#include <cstdlib>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "cdl/core/mpi_process.hpp"

namespace cdl::mpi {
namespace {

/// Sets an environment variable for the scope, restoring what was there.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const char* value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old;
    if (value != nullptr) {
      setenv(name, value, 1);
    } else {
      unsetenv(name);
    }
  }
  ~ScopedEnv() {
    if (old_) {
      setenv(name_.c_str(), old_->c_str(), 1);
    } else {
      unsetenv(name_.c_str());
    }
  }

 private:
  std::string name_;
  std::optional<std::string> old_;
};

TEST(MpiProcess, TheLauncherIsReadFromTheEnvironment) {
  const char* launcher_variables[] = {"OMPI_COMM_WORLD_SIZE",
                                      "OMPI_COMM_WORLD_RANK",
                                      "PMI_SIZE",
                                      "PMI_RANK",
                                      "PMIX_RANK",
                                      "SLURM_PROCID",
                                      "MV2_COMM_WORLD_SIZE",
                                      "MPI_LOCALNRANKS",
                                      "HYDRA_CONTROL_FD"};
  std::vector<std::unique_ptr<ScopedEnv>> cleared;
  for (const char* name : launcher_variables)
    cleared.push_back(std::make_unique<ScopedEnv>(name, nullptr));
  EXPECT_FALSE(launched_by_mpi());
  EXPECT_EQ(launcher_rank(), 0);
  {
    ScopedEnv size("PMI_SIZE", "4");
    ScopedEnv rank("PMI_RANK", "3");
    EXPECT_TRUE(launched_by_mpi());
    EXPECT_EQ(launcher_rank(), 3);
  }
  ScopedEnv slurm("SLURM_PROCID", "2");  // srun without an MPI plugin still numbers its tasks
  EXPECT_EQ(launcher_rank(), 2);
}

TEST(MpiProcess, RunsAsASingleProcessAndEndsNothingElse) {
  abort_other_ranks(3);  // MPI not started: nothing to end, returns
  {
    Process process(ThreadLevel::kMultiple);
    EXPECT_EQ(process.rank(), 0);
    EXPECT_EQ(process.size(), 1);
    Process nested(ThreadLevel::kFunneled);  // MPI already started: neither starts nor ends it
    EXPECT_EQ(nested.size(), 1);
    abort_other_ranks(3);  // one rank: returns, the caller exits with the code itself
  }
  int finalized = 0;
  MPI_Finalized(&finalized);
  EXPECT_EQ(finalized, 1) << "the process that started MPI ended it";
}

}  // namespace
}  // namespace cdl::mpi

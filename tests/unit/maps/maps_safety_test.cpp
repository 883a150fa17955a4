// The MAPS folder is never corrupted by two jobs, and --overwrite never deletes what this program
// did not write (issue 10, items 3 and 4).
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "cdl/core/error.hpp"
#include "cdl/core/file_tree.hpp"
#include "cdl/maps/maps_claim.hpp"
#include "cdl/maps/maps_writer.hpp"

namespace cdl::maps {
namespace {
namespace fs = std::filesystem;

class MapsSafety : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = fs::temp_directory_path() / ("cdl_maps_safety_" + std::to_string(getpid()));
    remove_tree(root_);
    fs::create_directories(root_);
  }
  void TearDown() override { remove_tree(root_); }
  void touch(const fs::path& path, const std::string& text = "x") {
    fs::create_directories(path.parent_path());
    std::ofstream(path) << text;
  }
  std::string error_of(const std::string& maps, bool overwrite,
                       const std::vector<std::string>& inputs) {
    try {
      check_maps_destination(maps, overwrite, inputs);
    } catch (const ConfigError& error) {
      return error.what();
    }
    return "";
  }
  fs::path root_;
};

TEST_F(MapsSafety, OverwriteRefusesAFolderThatIsNotAMaps) {
  touch(root_ / "user" / "thesis.tex");
  const auto message = error_of((root_ / "user").string(), true, {});
  EXPECT_NE(message.find("not one (it has no maps.json)"), std::string::npos) << message;
  EXPECT_TRUE(fs::exists(root_ / "user" / "thesis.tex"));
}

TEST_F(MapsSafety, OverwriteRefusesAMapsThatHoldsAnInput) {
  touch(root_ / "maps" / "maps.json", "{}");
  touch(root_ / "maps" / "data" / "data.h5");
  const auto data = (root_ / "maps" / "data" / "data.h5").string();
  const auto message = error_of((root_ / "maps").string() + "/", true, {data, "elsewhere/split"});
  EXPECT_NE(message.find("would delete the input '" + data + "'"), std::string::npos) << message;
  EXPECT_EQ(error_of((root_ / "maps").string(), true, {(root_ / "other.h5").string()}), "");
}

TEST_F(MapsSafety, ExistingNonEmptyFolderNeedsOverwriteAndEmptyOrNewOnesAreFine) {
  touch(root_ / "maps" / "maps.json", "{}");
  EXPECT_NE(error_of((root_ / "maps").string(), false, {}).find("already exists"),
            std::string::npos);
  fs::create_directories(root_ / "empty");
  EXPECT_EQ(error_of((root_ / "empty").string(), false, {}), "");
  EXPECT_EQ(error_of((root_ / "new").string(), false, {}), "");
}

TEST_F(MapsSafety, ASecondClaimOnTheSameMapsFailsUntilTheFirstIsReleased) {
  const auto maps = (root_ / "maps").string();
  {
    MapsClaim first(maps, false);
    EXPECT_TRUE(fs::exists(first.lock_path()));
    try {
      MapsClaim second(maps, true);
      ADD_FAILURE() << "a second claim succeeded";
    } catch (const ConfigError& error) {
      EXPECT_NE(std::string(error.what()).find("being written by another job"), std::string::npos);
    }
    EXPECT_TRUE(fs::exists(first.lock_path()));  // the failed claim deleted nothing
  }
  EXPECT_FALSE(fs::exists(fs::path(maps) / kMapsLockName));
  MapsClaim again(maps, false);
}

TEST_F(MapsSafety, AStaleLockOfAVanishedProcessIsTakenOver) {
  const auto maps = root_ / "maps";
  char host[256] = {0};
  gethostname(host, sizeof(host) - 1);
  touch(maps / kMapsLockName, std::string(host) + " 2147483000\n");  // no such process
  touch(maps / "split-0" / "old.tsv");
  MapsClaim claim(maps.string(), /*clear_existing=*/true);
  EXPECT_FALSE(fs::exists(maps / "split-0"));  // --overwrite cleared the old content
  EXPECT_TRUE(fs::exists(claim.lock_path()));
}

TEST_F(MapsSafety, ALockOfAnEndedButUnreapedProcessIsTakenOver) {
  // A rank killed with its mpirun stays a zombie where init does not reap (containers).
  const pid_t child = fork();
  if (child == 0) _exit(0);
  ASSERT_GT(child, 0);
  usleep(200000);  // the child has exited; it stays a zombie until waitpid below
  const auto maps = root_ / "maps";
  char host[256] = {0};
  gethostname(host, sizeof(host) - 1);
  touch(maps / kMapsLockName, std::string(host) + " " + std::to_string(child) + "\n");
  EXPECT_NO_THROW(MapsClaim(maps.string(), /*clear_existing=*/false));
  waitpid(child, nullptr, 0);
}

TEST_F(MapsSafety, ALockOfARunningProcessIsKept) {
  const auto maps = root_ / "maps";
  char host[256] = {0};
  gethostname(host, sizeof(host) - 1);
  touch(maps / kMapsLockName, std::string(host) + " " + std::to_string(getppid()) + "\n");
  EXPECT_THROW(MapsClaim(maps.string(), false), ConfigError);
}

TEST_F(MapsSafety, APlainTrainOnAStoppedMapsPointsToResume) {
  const auto maps = root_ / "maps";
  touch(maps / "maps.json", "{}");
  touch(maps / "split-1" / "tmp" / "training_state.pt");
  const auto message = error_of(maps.string(), false, {});
  EXPECT_NE(message.find("did not finish (split-1 stopped"), std::string::npos) << message;
  EXPECT_NE(message.find("clinicadl-hpc resume " + maps.string()), std::string::npos) << message;
}

TEST_F(MapsSafety, ALockFromAnotherHostIsNeverTakenOver) {
  const auto maps = root_ / "maps";
  touch(maps / kMapsLockName, "some-other-node 12\n");
  EXPECT_THROW(MapsClaim(maps.string(), true), ConfigError);
  EXPECT_TRUE(fs::exists(maps / kMapsLockName));
}

}  // namespace
}  // namespace cdl::maps

// Task and Mode names: every enum value round-trips through its name, unknown names are refused
// with the accepted ones listed.
#include <gtest/gtest.h>

#include "cdl/core/error.hpp"
#include "cdl/data/mode.hpp"
#include "cdl/data/task.hpp"

namespace cdl::data {
namespace {

TEST(TaskTest, NamesRoundTripAndDefaultLabels) {
  for (auto task : {Task::kClassification, Task::kRegression, Task::kReconstruction}) {
    EXPECT_EQ(parse_task(task_name(task)), task);
  }
  EXPECT_EQ(task_name(Task::kRegression), "regression");
  EXPECT_EQ(default_label_column(Task::kClassification), "diagnosis");
  EXPECT_EQ(default_label_column(Task::kRegression), "age");
  EXPECT_EQ(default_label_column(Task::kReconstruction), "");
}

TEST(TaskTest, UnknownTaskNamesTheChoices) {
  try {
    parse_task("segmentation");
    FAIL() << "'segmentation' was accepted";
  } catch (const ConfigError& error) {
    EXPECT_NE(std::string(error.what()).find("'segmentation'"), std::string::npos);
    EXPECT_NE(std::string(error.what()).find("reconstruction"), std::string::npos);
  }
}

TEST(ModeTest, NamesRoundTripAndIdColumns) {
  for (auto mode : {Mode::kImage, Mode::kPatch, Mode::kSlice, Mode::kRoi}) {
    EXPECT_EQ(parse_mode(mode_name(mode)), mode);
  }
  EXPECT_EQ(id_column(Mode::kPatch), "patch_id");
  EXPECT_EQ(id_column(Mode::kRoi), "roi_id");
  EXPECT_THROW(parse_mode("voxel"), ConfigError);
}

}  // namespace
}  // namespace cdl::data

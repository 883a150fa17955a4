// The unit scheduler: the static order of ExperimentPlan, and dynamic claims where a group that
// finishes early takes the next free unit, each unit handed out exactly once, the claim folder
// made only once a group looks for a second unit.
#include "cdl/experiment/unit_scheduler.hpp"

#include <gtest/gtest.h>

#include <filesystem>

#include "cdl/comm/serial_communicator.hpp"
#include "cdl/experiment/experiment_plan.hpp"
#include "test_files.hpp"

namespace cdl::experiment {
namespace {

ExperimentPlan five_networks_on_two_ranks() {
  ExperimentOptions o;
  o.splits = {0};
  o.networks = 5;
  o.multi_network = true;
  o.world_size = 2;
  return ExperimentPlan(o);
}

TEST(UnitScheduler, StaticFollowsThePlan) {
  const auto plan = five_networks_on_two_ranks();
  comm::SerialCommunicator group;  // each group of one rank
  const auto units = static_cast<int64_t>(plan.units().size());
  UnitScheduler first(units, plan.group_count(), 0, false, ""),
      second(units, plan.group_count(), 1, false, "");
  EXPECT_EQ(first.next(group), 0);
  EXPECT_EQ(first.next(group), 2);
  EXPECT_EQ(first.next(group), 4);
  EXPECT_EQ(first.next(group), -1);
  EXPECT_EQ(second.next(group), 1);
  EXPECT_EQ(second.next(group), 3);
  EXPECT_EQ(second.next(group), -1);
}

TEST(UnitScheduler, DynamicHandsTheNextFreeUnitToWhicheverGroupAsks) {
  const auto plan = five_networks_on_two_ranks();
  data::testing::TempDir dir;
  const auto claims = UnitScheduler::claims_folder(dir.path(), "job");
  comm::SerialCommunicator group;
  const auto units = static_cast<int64_t>(plan.units().size());
  UnitScheduler first(units, plan.group_count(), 0, true, claims),
      second(units, plan.group_count(), 1, true, claims);
  EXPECT_EQ(first.next(group), 0);
  EXPECT_EQ(second.next(group), 1);
  EXPECT_FALSE(std::filesystem::exists(claims));  // no claim before a second unit
  EXPECT_EQ(second.next(group), 2);               // group 1 finished first: it takes unit 2
  EXPECT_EQ(second.next(group), 3);
  EXPECT_EQ(first.next(group), 4);
  EXPECT_EQ(first.next(group), -1);
  EXPECT_EQ(second.next(group), -1);
  EXPECT_TRUE(std::filesystem::exists(claims + "/unit-4"));
  UnitScheduler::remove_stale_claims(dir.path());
  EXPECT_FALSE(std::filesystem::exists(claims));
}

}  // namespace
}  // namespace cdl::experiment

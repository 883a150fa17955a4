// RetainBest decisions (reference 4.6): strict improvement per selection metric, ties and NaN
// never.
#include "cdl/eval/model_selection.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <nlohmann/json.hpp>

#include "cdl/core/error.hpp"

namespace cdl::eval {
namespace {

using Names = std::vector<std::string>;

TEST(RetainBestTest, LossAndBalancedAccuracyDecisions) {
  RetainBest selection({"loss", "BA"});
  EXPECT_EQ(selection.best("loss"), std::numeric_limits<double>::infinity());
  EXPECT_EQ(selection.best("BA"), -std::numeric_limits<double>::infinity());
  EXPECT_EQ(selection.step({{"BA", 0.6}, {"accuracy", 0.5}, {"loss", 1.0}}), (Names{"loss", "BA"}));
  EXPECT_EQ(selection.step({{"BA", 0.6}, {"loss", 0.8}}), (Names{"loss"}));  // BA tie
  EXPECT_EQ(selection.step({{"BA", 0.7}, {"loss", 0.8}}), (Names{"BA"}));    // loss tie
  EXPECT_EQ(selection.step({{"BA", std::nan("")}, {"loss", std::nan("")}}), Names{});
  EXPECT_EQ(selection.step({{"BA", 0.65}, {"loss", 0.9}}), Names{});  // both worse
  EXPECT_EQ(selection.best("loss"), 0.8);
  EXPECT_EQ(selection.best("BA"), 0.7);
}

TEST(RetainBestTest, MultiClassMetricUsesMeanOfClasses) {
  RetainBest selection({"BA"});
  EXPECT_EQ(selection.step({{"BA-0", 0.5}, {"BA-1", 0.7}, {"accuracy", 0.6}}), (Names{"BA"}));
  EXPECT_DOUBLE_EQ(selection.best("BA"), 0.6);
  EXPECT_EQ(selection.step({{"BA-0", 0.4}, {"BA-1", 0.7}}), Names{});
}

TEST(RetainBestTest, MetricsClinicaDlCannotSelect) {
  RetainBest selection({"R2_score", "LR_minus"});
  EXPECT_EQ(selection.step({{"R2_score", 0.1}, {"LR_minus", 0.5}}),
            (Names{"R2_score", "LR_minus"}));
  EXPECT_EQ(selection.step({{"R2_score", 0.2}, {"LR_minus", 0.6}}), (Names{"R2_score"}));
  EXPECT_EQ(selection.step({{"R2_score", 0.1}, {"LR_minus", 0.4}}), (Names{"LR_minus"}));
}

TEST(RetainBestTest, StateRoundTripKeepsInfiniteBest) {
  RetainBest selection({"loss", "PSNR"});
  selection.step({{"loss", 0.5}, {"PSNR", std::numeric_limits<double>::infinity()}});
  const auto text = selection.state().dump();
  RetainBest resumed({"loss", "PSNR"});
  resumed.load_state(nlohmann::json::parse(text));
  EXPECT_EQ(resumed.best("loss"), 0.5);
  EXPECT_EQ(resumed.best("PSNR"), std::numeric_limits<double>::infinity());
  EXPECT_EQ(resumed.step({{"loss", 0.5}, {"PSNR", 40.0}}), Names{});
  EXPECT_EQ(resumed.step({{"loss", 0.4}, {"PSNR", 40.0}}), (Names{"loss"}));
  RetainBest added({"loss", "SSIM"});  // a metric absent from the state keeps its start value
  added.load_state(nlohmann::json::parse(text));
  EXPECT_EQ(added.best("SSIM"), -std::numeric_limits<double>::infinity());
  EXPECT_THROW(added.load_state(nlohmann::json::array()), DataError);
}

TEST(RetainBestTest, RejectsBadSelections) {
  EXPECT_THROW(RetainBest({}), ConfigError);
  EXPECT_THROW(RetainBest({"loss", "loss"}), ConfigError);
  EXPECT_THROW(RetainBest({"foo"}), ConfigError);
  RetainBest selection({"loss", "BA"});
  EXPECT_THROW(selection.step({{"loss", 0.1}}), DataError);                    // BA missing
  EXPECT_EQ(selection.best("loss"), std::numeric_limits<double>::infinity());  // untouched
  EXPECT_THROW(selection.best("accuracy"), ConfigError);
}

}  // namespace
}  // namespace cdl::eval

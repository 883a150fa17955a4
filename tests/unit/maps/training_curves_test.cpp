// The training-curve drawing: epoch positions of inner and end-of-epoch evaluations, points
// placed by the panel's axes, missing values left out, best models marked at their epoch's end,
// text escaped. (plot_readback.sh reads a real MAPS's drawing back.)
#include "cdl/maps/training_curves.hpp"

#include <gtest/gtest.h>

#include "cdl/core/error.hpp"

namespace cdl::maps {
namespace {

TsvTable log_of(const std::vector<std::vector<std::string>>& rows) {
  TsvTable log({"epoch", "iteration", "time", "loss_train", "loss_valid", "BA_train", "BA_valid"});
  for (const auto& row : rows) log.add_row(std::vector<std::string>(row));
  return log;
}

size_t count(const std::string& text, const std::string& part) {
  size_t n = 0;
  for (auto at = text.find(part); at != std::string::npos; at = text.find(part, at + 1)) ++n;
  return n;
}

TEST(TrainingCurves, EvaluationsInsideAnEpochLieBeforeItsEnd) {
  const auto log = log_of({{"0", "1", "1", "1", "1", "0", "0"},
                           {"0", "3", "2", "1", "1", "0", "0"},
                           {"1", "3", "3", "1", "1", "0", "0"}});
  EXPECT_EQ(epoch_positions(log), (std::vector<double>{0.5, 1.0, 2.0}));
}

TEST(TrainingCurves, ADamagedEpochCellIsNamedNotCast) {
  auto log = log_of({{"0", "3", "1", "1", "1", "0", "0"}, {"x1", "3", "2", "1", "1", "0", "0"}});
  try {
    epoch_positions(log);
    FAIL() << "expected a DataError";
  } catch (const DataError& error) {
    EXPECT_NE(std::string(error.what()).find("column 'epoch' holds 'x1', expected an integer"),
              std::string::npos)
        << error.what();
  }
}

TEST(TrainingCurves, PointsFollowThePanelAxesAndMissingValuesAreLeftOut) {
  TrainingCurves curve{"split-0",
                       log_of({{"0", "3", "1", "0.8", "0.6", "0.5", "0.5"},
                               {"1", "3", "2", "0.4", "", "0.75", "1.0"}}),
                       {{"BA", 1}}};
  const std::string svg = training_curves_svg("maps <A&B>", {curve});
  EXPECT_NE(svg.find("maps &lt;A&amp;B&gt;"), std::string::npos);
  EXPECT_EQ(count(svg, "<g data-metric="), 2u);  // loss first, then BA
  EXPECT_LT(svg.find("<g data-metric=\"loss\""), svg.find("<g data-metric=\"BA\""));
  EXPECT_EQ(count(svg, "<polyline"), 4u);
  // loss: values 0.4 .. 0.8 padded by 5 % -> y range 0.38 .. 0.82; x range 0 .. 2; plot area
  // x 58 .. 346 (width 288), y 94 .. 268 (height 174) in the first panel.
  EXPECT_NE(svg.find("data-y-range=\"0.38 0.82\" data-area=\"58 94 288 174\""), std::string::npos)
      << svg.substr(0, 2000);
  // Training loss: (1, 0.8) -> (202, 94 + 0.02 / 0.44 x 174); (2, 0.4) -> (346, 94 + 0.42 / 0.44
  // x 174).
  EXPECT_NE(svg.find("data-set=\"train\" data-metric=\"loss\" fill=\"none\" stroke=\"#1f77b4\" "
                     "stroke-width=\"1.6\" stroke-dasharray=\"5 3\" points=\"202,101.909 "
                     "346,260.091\""),
            std::string::npos);
  // The missing validation loss of epoch 1 is left out: one point, (1, 0.6) -> (202, 94 + 87).
  EXPECT_NE(
      svg.find("data-set=\"validation\" data-metric=\"loss\" fill=\"none\" stroke=\"#1f77b4\" "
               "stroke-width=\"1.6\" points=\"202,181\""),
      std::string::npos);
  // best-BA of epoch 1: at the end of epoch 1 (x = 2) on the validation BA (1.0).
  EXPECT_EQ(count(svg, "<circle"), 1u);
  EXPECT_NE(svg.find("data-best=\"BA\" data-epoch=\"1\" cx=\"706\""), std::string::npos);
}

}  // namespace
}  // namespace cdl::maps

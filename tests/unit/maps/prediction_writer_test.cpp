// The prediction and metrics TSVs of a group against values computed here: probabilities as the
// softmax of the logits, image-level soft voting weighted by each part's validation balanced
// accuracy (a part that is always wrong gets no say), image-level metrics of the voted labels,
// and no metrics file for data without labels.
#include "cdl/maps/prediction_writer.hpp"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "cdl/core/tsv_table.hpp"
#include "cdl/data/data_source.hpp"
#include "cdl/eval/metrics.hpp"
#include "test_files.hpp"

namespace cdl::maps {
namespace {

constexpr int64_t kImages = 3;
constexpr int64_t kParts = 2;  // patches of 4 voxels, stride 2, in 1@4x5x6 images

/// softmax([a, b])[0].
double first_probability(double a, double b) {
  return std::exp(a) / (std::exp(a) + std::exp(b));
}

class PredictionWriterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto spec = data::testing::arange_spec(kImages, 4, 5, 6);
    data::testing::write_store(dir_.file("data.h5"), spec);
    source_ = std::make_shared<data::DataSource>(data::DataSource::open(dir_.file("data.h5")));
    table_ = TsvTable({"participant_id", "session_id", "diagnosis", "cohort"}, "t.tsv");
    for (int64_t i = 0; i < kImages; ++i) {
      table_.add_row({spec.participants[i], "ses-M000", i == 1 ? "AD" : "CN", "single"});
    }
    std::filesystem::create_directories(dir_.file("out"));
  }

  std::shared_ptr<data::CapsDataset> dataset(data::Mode mode) {
    data::DatasetOptions options;
    options.task = data::Task::kClassification;
    options.mode.mode = mode;
    options.mode.patch_size = 4;
    options.mode.stride_size = 2;
    return std::make_shared<data::CapsDataset>(source_, table_, options);
  }

  /// Predictions of every sample: part 0 favours the true class by 2, part 1 the other class by 1
  /// (image mode: part 0 only). Labels: AD = 0 for image 1, CN = 1 for the others.
  static GroupPredictions predictions(std::shared_ptr<data::CapsDataset> set) {
    const int64_t parts = set->parts_per_image();
    std::vector<double> losses, labels, logits;
    eval::Evaluation evaluation;
    for (int64_t sample = 0; sample < kImages * parts; ++sample) {
      const int64_t image = sample / parts, part = sample % parts;
      const int64_t label = image == 1 ? 0 : 1;
      const int64_t favoured = part == 0 ? label : 1 - label;
      const double margin = part == 0 ? 2.0 : 1.0;
      evaluation.sample_indices.push_back(sample);
      losses.push_back(0.1 * static_cast<double>(sample));
      labels.push_back(static_cast<double>(label));
      logits.push_back(favoured == 0 ? margin : 0.0);
      logits.push_back(favoured == 1 ? margin : 0.0);
    }
    const auto n = static_cast<int64_t>(losses.size());
    evaluation.rows = eval::EvaluationRows::assemble(torch::tensor(losses), torch::tensor(labels),
                                                     torch::tensor(logits).reshape({n, 2}));
    eval::EvaluationOptions options;
    evaluation.metrics = eval::evaluation_metrics(evaluation.rows, options);
    return {"validation", set, evaluation};
  }

  TsvTable read(const std::string& name) const { return TsvTable::read(dir_.file("out/" + name)); }

  data::testing::TempDir dir_;
  std::shared_ptr<data::DataSource> source_;
  TsvTable table_;
};

TEST_F(PredictionWriterTest, ImageModeProbabilitiesAreTheSoftmaxOfTheLogits) {
  const auto p = predictions(dataset(data::Mode::kImage));
  write_group_predictions(dir_.file("out"), p, p, 0.0, "data.h5", 1);
  const auto table = read("validation_image_level_prediction.tsv");
  ASSERT_EQ(table.num_rows(), kImages);
  for (int64_t i = 0; i < kImages; ++i) {
    const int64_t label = i == 1 ? 0 : 1;
    EXPECT_EQ(table.at(i, "participant_id"), p.dataset->meta(i).participant_id);
    EXPECT_EQ(std::stoll(table.at(i, "true_label")), label);
    EXPECT_EQ(std::stoll(table.at(i, "predicted_label")), label);
    const double p0 = label == 0 ? first_probability(2, 0) : first_probability(0, 2);
    EXPECT_NEAR(std::stod(table.at(i, "proba0")), p0, 1e-6);
    EXPECT_NEAR(std::stod(table.at(i, "proba1")), 1 - p0, 1e-6);
  }
  const auto metrics = read("validation_image_level_metrics.tsv");
  EXPECT_EQ(metrics.at(0, "Metrics"), "Values");
  EXPECT_NEAR(std::stod(metrics.at(0, "BA")), 1.0, 1e-12);
  EXPECT_TRUE(std::filesystem::is_regular_file(dir_.file("out/description.log")));
}

TEST_F(PredictionWriterTest, SoftVotingWeighsPartsByTheirValidationBalancedAccuracy) {
  const auto p = predictions(dataset(data::Mode::kPatch));
  write_group_predictions(dir_.file("out"), p, p, 0.0, "data.h5", 1);
  const auto parts = read("validation_patch_level_prediction.tsv");
  ASSERT_EQ(parts.num_rows(), kImages * kParts);
  EXPECT_EQ(std::stoll(parts.at(3, "patch_id")), 1);                             // image 1, part 1
  EXPECT_NEAR(std::stod(parts.at(3, "proba0")), first_probability(0, 1), 1e-6);  // wrong part
  // Part 1 is always wrong (validation BA 0) and part 0 always right (BA 1): the image-level
  // probabilities are part 0's alone, not the mean of both parts.
  const auto images = read("validation_image_level_prediction.tsv");
  ASSERT_EQ(images.num_rows(), kImages);
  for (int64_t i = 0; i < kImages; ++i) {
    const int64_t label = i == 1 ? 0 : 1;
    const double p0 = label == 0 ? first_probability(2, 0) : first_probability(0, 2);
    EXPECT_NEAR(std::stod(images.at(i, "proba0")), p0, 1e-6) << "image " << i;
    EXPECT_EQ(std::stoll(images.at(i, "predicted_label")), label);
  }
  EXPECT_NEAR(std::stod(read("validation_image_level_metrics.tsv").at(0, "BA")), 1.0, 1e-12);
  // The part-level metrics are those of the evaluation: half the parts are wrong.
  EXPECT_NEAR(std::stod(read("validation_patch_level_metrics.tsv").at(0, "BA")), 0.5, 1e-12);
}

TEST_F(PredictionWriterTest, WithoutLabelsOnlyPredictionsAreWritten) {
  auto p = predictions(dataset(data::Mode::kImage));
  p.has_labels = false;
  write_group_predictions(dir_.file("out"), p, p, 0.0, "data.h5", 1);
  EXPECT_TRUE(
      std::filesystem::is_regular_file(dir_.file("out/validation_image_level_prediction.tsv")));
  EXPECT_FALSE(std::filesystem::exists(dir_.file("out/validation_image_level_metrics.tsv")));
}

}  // namespace
}  // namespace cdl::maps

// The distributed evaluation: its rows against losses and logits computed here from the network
// itself, its metrics against the rows, and 2- and 3-rank evaluations (threads of this process,
// uneven blocks, one rank without samples) against the 1-rank one.
#include "cdl/eval/evaluator.hpp"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>
#include <memory>
#include <vector>

#include "cdl/data/caps_dataset.hpp"
#include "cdl/data/data_source.hpp"
#include "cdl/data/transforms.hpp"
#include "test_files.hpp"
#include "thread_group.hpp"

namespace cdl::eval {
namespace {

using data::testing::arange_spec;
using data::testing::TempDir;
using data::testing::write_store;

constexpr int64_t kImages = 7;

/// A small CNN for 1@4x5x6 images: one convolution, then a linear layer to two logits.
model::NetworkPtr make_network() {
  torch::manual_seed(5);
  torch::nn::Sequential convolutions(torch::nn::Conv3d(torch::nn::Conv3dOptions(1, 2, 3)),
                                     torch::nn::ReLU());
  torch::nn::Sequential fc(torch::nn::Flatten(), torch::nn::Linear(2 * 2 * 3 * 4, 2));
  return std::make_shared<model::Cnn>("TinyCnn", convolutions, fc);
}

class EvaluatorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto spec = arange_spec(kImages, 4, 5, 6);
    spec.images = torch::randn({kImages, 1, 4, 5, 6}, at::detail::createCPUGenerator(3));
    write_store(dir_.file("data.h5"), spec);
    auto source = std::make_shared<data::DataSource>(data::DataSource::open(dir_.file("data.h5")));
    TsvTable table({"participant_id", "session_id", "diagnosis", "cohort"}, "t.tsv");
    for (int64_t i = 0; i < kImages; ++i) {
      table.add_row({spec.participants[i], "ses-M000", i % 3 == 0 ? "AD" : "CN", "single"});
    }
    data::DatasetOptions options;
    options.task = data::Task::kClassification;
    dataset_ = std::make_shared<data::CapsDataset>(source, table, options);
    options_.task = data::Task::kClassification;
    options_.loss_name = "CrossEntropyLoss";
    options_.num_classes = 2;
    options_.batch_size = 3;  // blocks of 7 samples end in partial batches
  }

  /// Evaluation on `ranks` threads, rank r holding the samples blocks[r].
  std::vector<Evaluation> evaluate_on(const std::vector<std::vector<int64_t>>& blocks) {
    const int ranks = static_cast<int>(blocks.size());
    std::vector<model::NetworkPtr> networks;
    for (int r = 0; r < ranks; ++r) networks.push_back(make_network());
    std::vector<Evaluation> results(ranks);
    testing::run_thread_group(ranks, [&](comm::Communicator& comm) {
      results[comm.rank()] =
          evaluate(*networks[comm.rank()], dataset_, blocks[comm.rank()], options_, comm);
    });
    return results;
  }

  TempDir dir_;
  std::shared_ptr<data::CapsDataset> dataset_;
  EvaluationOptions options_;
};

TEST_F(EvaluatorTest, RowsHoldTheLossTheLabelAndTheLogitsOfEachSample) {
  const auto evaluation = evaluate_on({{0, 1, 2, 3, 4, 5, 6}}).front();
  ASSERT_EQ(evaluation.sample_indices, (std::vector<int64_t>{0, 1, 2, 3, 4, 5, 6}));
  const auto rows = evaluation.view();
  ASSERT_EQ(rows.size(), kImages);
  auto network = make_network();
  network->eval();
  torch::NoGradGuard no_grad;
  for (int64_t i = 0; i < kImages; ++i) {
    const auto sample = dataset_->get(i);
    const auto logits = network->forward(sample.input.unsqueeze(0)).to(torch::kFloat64);
    const auto label = sample.label.item<int64_t>();
    const double loss =
        -torch::log_softmax(logits, 1)[0][label].item<double>();  // cross-entropy by hand
    EXPECT_NEAR(rows.losses()[i].item<double>(), loss, 1e-5) << "sample " << i;
    EXPECT_EQ(rows.label(i), static_cast<double>(label));
    EXPECT_NEAR(rows.output(i, 0), logits[0][0].item<double>(), 1e-5);
    EXPECT_NEAR(rows.output(i, 1), logits[0][1].item<double>(), 1e-5);
  }
}

TEST_F(EvaluatorTest, MetricsAreThoseOfTheRows) {
  const auto evaluation = evaluate_on({{0, 1, 2, 3, 4, 5, 6}}).front();
  const auto rows = evaluation.view();
  std::vector<int64_t> truth, predicted;
  for (int64_t i = 0; i < rows.size(); ++i) {
    truth.push_back(static_cast<int64_t>(rows.label(i)));
    predicted.push_back(rows.output(i, 1) > rows.output(i, 0) ? 1 : 0);
  }
  const auto expected = classification_metrics(truth, predicted, 2);
  for (const auto& [name, value] : expected) {
    EXPECT_NEAR(metric_value(evaluation.metrics, name), value, 1e-12) << name;
  }
  EXPECT_NEAR(metric_value(evaluation.metrics, "loss"), rows.losses().mean().item<double>(), 1e-12);
  EXPECT_EQ(evaluation.metrics.back().first, "loss");
}

TEST_F(EvaluatorTest, AnyShareOfTheSamplesGivesTheOneRankEvaluation) {
  const auto alone = evaluate_on({{0, 1, 2, 3, 4, 5, 6}}).front();
  const std::vector<std::vector<std::vector<int64_t>>> shares{
      {{0, 1, 2, 3}, {4, 5, 6}},    // blocks in order
      {{5, 6}, {0, 1, 2}, {3, 4}},  // blocks out of order: rows come back in dataset order
      {{0, 1, 2, 3, 4, 5, 6}, {}},  // a rank without samples
  };
  for (const auto& blocks : shares) {
    const auto results = evaluate_on(blocks);
    const auto& main = results.front();
    EXPECT_EQ(main.sample_indices, alone.sample_indices);
    EXPECT_TRUE(torch::allclose(main.rows, alone.rows, 1e-6, 1e-6));
    for (const auto& evaluation : results) {  // every rank gets the metrics
      ASSERT_EQ(evaluation.metrics.size(), alone.metrics.size());
      for (size_t m = 0; m < alone.metrics.size(); ++m) {
        EXPECT_EQ(evaluation.metrics[m].first, alone.metrics[m].first);
        // float32 forward passes over other batch compositions: same values up to rounding
        EXPECT_NEAR(evaluation.metrics[m].second, alone.metrics[m].second, 1e-6);
      }
    }
  }
}

TEST_F(EvaluatorTest, WithoutLabelsLossesAreNanAndNoMetricIsComputed) {
  options_.has_labels = false;
  const auto evaluation = evaluate_on({{0, 1, 2}, {3, 4, 5, 6}}).front();
  EXPECT_TRUE(evaluation.metrics.empty());
  const auto rows = evaluation.view();
  ASSERT_EQ(rows.size(), kImages);
  for (int64_t i = 0; i < kImages; ++i) EXPECT_TRUE(std::isnan(rows.losses()[i].item<double>()));
}

TEST(EvaluationRowsTest, ColumnsComeBackAsAssembled) {
  const auto losses = torch::tensor({0.5, 1.5});
  const auto labels = torch::tensor({1, 0});
  const auto outputs = torch::tensor({{0.1, 0.9}, {0.8, 0.2}});
  const EvaluationRows rows(EvaluationRows::assemble(losses, labels, outputs));
  EXPECT_EQ(rows.size(), 2);
  EXPECT_TRUE(torch::allclose(rows.losses(), losses.to(torch::kFloat64)));
  EXPECT_EQ(rows.label(0), 1.0);
  EXPECT_NEAR(rows.output(1, 0), 0.8, 1e-7);
  EXPECT_EQ(rows.outputs().sizes(), (torch::IntArrayRef{2, 2}));
}

}  // namespace
}  // namespace cdl::eval

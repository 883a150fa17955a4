// The multi-network merge: rows of networks spread over ranks (threads of this process) come
// back as the part-level evaluation one network would give, in sample order (image x parts +
// part), with metrics computed from those rows; missing or doubled rows are refused.
#include "cdl/experiment/network_merge.hpp"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <memory>
#include <vector>

#include "cdl/core/error.hpp"
#include "cdl/data/data_source.hpp"
#include "test_files.hpp"
#include "thread_group.hpp"

namespace cdl::experiment {
namespace {

constexpr int64_t kImages = 3;
constexpr int64_t kParts = 2;  // patches of 4 voxels, stride 2, in 1@4x5x6 images

class NetworkMergeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto spec = data::testing::arange_spec(kImages, 4, 5, 6);
    data::testing::write_store(dir_.file("data.h5"), spec);
    auto source = std::make_shared<data::DataSource>(data::DataSource::open(dir_.file("data.h5")));
    TsvTable table({"participant_id", "session_id", "diagnosis", "cohort"}, "t.tsv");
    for (int64_t i = 0; i < kImages; ++i) {
      table.add_row({spec.participants[i], "ses-M000", i == 1 ? "AD" : "CN", "single"});
    }
    data::DatasetOptions options;
    options.task = data::Task::kClassification;
    options.mode.mode = data::Mode::kPatch;
    options.mode.patch_size = 4;
    options.mode.stride_size = 2;
    full_ = std::make_shared<data::CapsDataset>(source, table, options);
    ASSERT_EQ(full_->parts_per_image(), kParts);
    for (int network = 0; network < kParts; ++network) evaluations_.push_back(evaluation(network));
  }

  /// Network n's evaluation on its part-level set: image i gets loss 10 n + i, its label, and
  /// logits that predict class (i + n) % 2; rows listed in a shuffled image order.
  static eval::Evaluation evaluation(int network) {
    eval::Evaluation e;
    e.sample_indices = {2, 0, 1};
    std::vector<torch::Tensor> losses, labels, logits;
    for (const int64_t image : e.sample_indices) {
      losses.push_back(torch::tensor(10.0 * network + image));
      labels.push_back(torch::tensor(image == 1 ? 0.0 : 1.0));  // AD = 0, CN = 1
      const bool one = (image + network) % 2 == 1;
      logits.push_back(torch::tensor({one ? 0.0 : 2.0, one ? 2.0 : 0.0}));
    }
    e.rows = eval::EvaluationRows::assemble(torch::stack(losses), torch::stack(labels),
                                            torch::stack(logits));
    return e;
  }

  /// Gathers `owner[n]`'s network n on that rank of `ranks` threads; returns rank 0's gather.
  torch::Tensor gather(int ranks, const std::vector<int>& owner) {
    torch::Tensor gathered;
    testing::run_thread_group(ranks, [&](comm::Communicator& comm) {
      std::vector<NetworkEvaluation> mine;
      for (int n = 0; n < kParts; ++n) {
        if (owner[n] == comm.rank()) mine.push_back({n, &evaluations_[n]});
      }
      auto rows = gather_network_rows(comm, mine);
      if (comm.is_main()) gathered = rows;
    });
    return gathered;
  }

  data::testing::TempDir dir_;
  std::shared_ptr<data::CapsDataset> full_;
  std::vector<eval::Evaluation> evaluations_;
};

TEST_F(NetworkMergeTest, RowsComeBackInSampleOrderWithTheirMetrics) {
  for (const auto& [ranks, owner] : std::vector<std::pair<int, std::vector<int>>>{
           {1, {0, 0}}, {2, {0, 1}}, {2, {1, 1}}, {3, {2, 0}}}) {
    const auto merged = merge_network_rows(gather(ranks, owner), *full_, "CrossEntropyLoss");
    ASSERT_EQ(merged.sample_indices, (std::vector<int64_t>{0, 1, 2, 3, 4, 5}));
    const auto rows = merged.view();
    int64_t correct = 0;
    for (int64_t sample = 0; sample < kImages * kParts; ++sample) {
      const int64_t image = sample / kParts, network = sample % kParts;
      EXPECT_EQ(rows.losses()[sample].item<double>(), 10.0 * network + image) << ranks;
      EXPECT_EQ(rows.label(sample), image == 1 ? 0.0 : 1.0);
      const int64_t predicted = rows.output(sample, 1) > rows.output(sample, 0) ? 1 : 0;
      EXPECT_EQ(predicted, (image + network) % 2);
      correct += predicted == static_cast<int64_t>(rows.label(sample));
    }
    EXPECT_NEAR(eval::metric_value(merged.metrics, "accuracy"), correct / 6.0, 1e-12);
    EXPECT_NEAR(eval::metric_value(merged.metrics, "loss"), (0 + 1 + 2 + 10 + 11 + 12) / 6.0,
                1e-12);
  }
}

TEST_F(NetworkMergeTest, MissingOrDoubledRowsAreRefused) {
  const auto one_network = gather(1, {0, 1});  // network 1 belongs to no rank
  EXPECT_THROW(merge_network_rows(one_network, *full_, "CrossEntropyLoss"), DataError);
  torch::Tensor doubled;
  testing::run_thread_group(2, [&](comm::Communicator& comm) {
    auto rows = gather_network_rows(comm, {{0, &evaluations_[0]}});  // network 0 on both ranks
    if (comm.is_main()) doubled = rows;
  });
  EXPECT_THROW(merge_network_rows(doubled, *full_, "CrossEntropyLoss"), DataError);
}

}  // namespace
}  // namespace cdl::experiment

// Implementation of the multi-network merge.
#include "cdl/experiment/network_merge.hpp"

#include <torch/torch.h>

#include <algorithm>

#include "cdl/core/error.hpp"

namespace cdl::experiment {
namespace {

// The gathered rows carry two columns before the EvaluationRows: the network (= part) and the
// sample's index in that network's part-level set (= the image).
constexpr int64_t kNetworkColumn = 0;
constexpr int64_t kSampleColumn = 1;
constexpr int64_t kMergeColumns = 2;

}  // namespace

torch::Tensor gather_network_rows(comm::Communicator& world,
                                  const std::vector<NetworkEvaluation>& mine) {
  std::vector<torch::Tensor> pieces;
  for (const auto& [network, evaluation] : mine) {
    const auto rows = evaluation->rows.to(torch::kFloat64);
    auto indices = torch::tensor(evaluation->sample_indices, torch::kInt64).to(torch::kFloat64);
    auto tag = torch::full({rows.size(0), 1}, static_cast<double>(network), torch::kFloat64);
    pieces.push_back(torch::cat({tag, indices.unsqueeze(1), rows}, 1));
  }
  auto width = torch::tensor({pieces.empty() ? int64_t{0} : pieces.front().size(1)});
  world.all_reduce(width, comm::ReduceOp::kMax);
  const auto local = pieces.empty() ? torch::zeros({0, width.item<int64_t>()}, torch::kFloat64)
                                    : torch::cat(pieces);
  return world.gather_rows(local, 0);
}

eval::Evaluation merge_network_rows(const torch::Tensor& gathered, const data::CapsDataset& full,
                                    const std::string& loss_name) {
  const int64_t parts = full.parts_per_image();
  if (gathered.size(0) != full.size()) {
    CDL_THROW(DataError, "multi-network merge: ", gathered.size(0), " part-level rows for ",
              full.size(), " samples (", full.num_images(), " images x ", parts,
              " parts); expected one row per sample");
  }
  const auto full_index = gathered.select(1, kSampleColumn).to(torch::kInt64) * parts +
                          gathered.select(1, kNetworkColumn).to(torch::kInt64);
  const auto order = full_index.argsort();
  const auto sorted = full_index.index_select(0, order).contiguous();
  if (!torch::equal(sorted, torch::arange(full.size(), torch::kInt64))) {
    CDL_THROW(DataError, "multi-network merge: the networks' rows do not cover every part of ",
              "every image once (a network reported twice, or a part is missing)");
  }
  eval::Evaluation merged;
  merged.sample_indices.assign(sorted.data_ptr<int64_t>(),
                               sorted.data_ptr<int64_t>() + sorted.numel());
  merged.rows = gathered.narrow(1, kMergeColumns, gathered.size(1) - kMergeColumns)
                    .index_select(0, order)
                    .contiguous();
  eval::EvaluationOptions options;
  options.task = full.task();
  options.loss_name = loss_name;
  options.num_classes = std::max<int64_t>(1, full.label_code().num_classes());
  merged.metrics = eval::evaluation_metrics(merged.rows, options);
  return merged;
}

}  // namespace cdl::experiment

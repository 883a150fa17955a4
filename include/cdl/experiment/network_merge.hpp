// The multi-network merge: each network of a split trained on one part (patch, slice, ROI) of
// every image, and evaluated its best models on its part only. World rank 0 gathers every
// network's rows and makes of them one part-level evaluation of the whole set, as a single
// network would have produced, for the prediction TSVs and soft voting.
#pragma once

#include <string>
#include <vector>

#include <torch/types.h>

#include "cdl/comm/communicator.hpp"
#include "cdl/data/caps_dataset.hpp"
#include "cdl/eval/evaluator.hpp"

namespace cdl::experiment {

/// One network's evaluation on its part-level set (sample index = image index).
struct NetworkEvaluation {
  int network = 0;                               ///< = the part it trained on
  const eval::Evaluation* evaluation = nullptr;  ///< its rows and sample indices
};

/// Collective over `world`: every rank's `mine` (any number, none included) gathered on rank 0
/// as rows [network, sample index, EvaluationRows...] (float64); other ranks get an undefined
/// tensor.
torch::Tensor gather_network_rows(comm::Communicator& world,
                                  const std::vector<NetworkEvaluation>& mine);

/// World rank 0: the gathered rows as one evaluation of `full` (every part of every image), in
/// its sample order (image x parts + part), with the task's metrics for `loss_name`. Throws
/// DataError unless there is exactly one row per sample of `full`.
eval::Evaluation merge_network_rows(const torch::Tensor& gathered, const data::CapsDataset& full,
                                    const std::string& loss_name);

}  // namespace cdl::experiment

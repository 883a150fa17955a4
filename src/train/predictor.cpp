// Implementation of prediction with the best models of a MAPS.
#include "cdl/train/predictor.hpp"

#include <torch/torch.h>

#include <algorithm>

#include "cdl/core/error.hpp"
#include "cdl/core/logging.hpp"
#include "cdl/data/data_source.hpp"
#include "cdl/data/part_extractor.hpp"
#include "cdl/data/shard_plan.hpp"
#include "cdl/train/checkpoint.hpp"
#include "cdl/train/evaluator.hpp"
#include "cdl/train/prediction_writer.hpp"
#include "cdl/train/pytorch_checkpoint.hpp"
#include "cdl/train/trainer.hpp"

namespace cdl::train {
namespace {

/// This rank's block of `dataset` for an evaluation (every sample once over the ranks).
std::vector<int64_t> evaluation_block(const data::CapsDataset& dataset,
                                      const comm::Communicator& control, int64_t batch_size) {
  data::ShardPlanOptions plan;
  plan.rank = control.rank();
  plan.world_size = control.size();
  plan.batch_size = batch_size;
  plan.sampler = data::SamplerKind::kRandom;
  return data::ShardPlan(dataset.num_images(), dataset.parts_per_image(), plan).eval_indices();
}

/// Collective: the predictions of `network` on `dataset`, gathered on the main rank.
Evaluation predict_set(model::Network& network,
                       const std::shared_ptr<const data::CapsDataset>& dataset,
                       const PredictionJob& job, bool has_labels) {
  const auto& c = *job.config;
  EvaluationOptions options{
      dataset->task(), c.loss,      std::max<int64_t>(1, dataset->label_code().num_classes()),
      c.batch_size,    job.compute, make_batch_stager(job.compute),
      has_labels};
  return evaluate(network, dataset, evaluation_block(*dataset, *job.control, c.batch_size), options,
                  *job.control);
}

/// Soft voting needs the parts' validation accuracy: true for classification with several parts.
bool needs_validation(const data::CapsDataset& dataset) {
  return dataset.task() == data::Task::kClassification && dataset.parts_per_image() > 1;
}

/// Writes the input and output tensors of this rank's samples (reconstruction, --save_tensor):
/// distinct files per sample, so every rank writes its own.
void save_sample_tensors(model::Network& network, const PredictionJob& job,
                         const std::string& dir) {
  const auto& dataset = *job.dataset;
  const auto mode = data::mode_name(dataset.extractor().config().mode);
  torch::NoGradGuard no_grad;
  network.eval();
  for (const auto index : evaluation_block(dataset, *job.control, job.config->batch_size)) {
    const auto sample = dataset.get(index);
    const auto input = prepare_inputs(sample.input.unsqueeze(0), job.compute);
    const auto output = forward_in_float(network, input, job.compute);
    const auto stem = dir + "/tensors/" + sample.meta.participant_id + "_" +
                      sample.meta.session_id + "_" + mode + "-" +
                      std::to_string(sample.meta.part_id);
    save_tensor_file(stem + "_input.pt", input[0]);
    save_tensor_file(stem + "_output.pt", output[0]);
  }
  network.train();
}

}  // namespace

void predict_split(const PredictionJob& job, int split, const std::vector<std::string>& metrics) {
  const auto& c = *job.config;
  auto network = build_network(c, SplitData{job.dataset, job.dataset});
  network->to(job.compute.device);
  apply_memory_format(*network, job.compute);
  std::shared_ptr<const data::CapsDataset> validation;
  if (needs_validation(*job.dataset)) {
    auto source = std::make_shared<const data::DataSource>(data::DataSource::open(c.data_path));
    validation = load_split(c, source, split, 0, !job.compute.transform_on_device).validation;
  }
  for (const auto& metric : metrics) {
    const auto path = job.layout.best_model(split, metric);
    load_state_dict(*network, read_checkpoint_file(path).model, path);  // ours or ClinicaDL's
    auto evaluation = predict_set(*network, job.dataset, job, job.has_labels);
    Evaluation validation_evaluation;
    if (validation) validation_evaluation = predict_set(*network, validation, job, true);
    const auto dir = job.layout.group_dir(split, metric, job.group);
    if (job.save_tensors && job.dataset->task() == data::Task::kReconstruction) {
      save_sample_tensors(*network, job, dir);
    }
    if (job.control->is_main()) {
      GroupPredictions predictions{job.group, job.dataset, std::move(evaluation), job.has_labels};
      GroupPredictions reference =
          validation ? GroupPredictions{"validation", validation, std::move(validation_evaluation)}
                     : predictions;
      write_group_predictions(dir, predictions, reference, c.selection_threshold, job.data_path,
                              static_cast<uint64_t>(c.seed));
      log::info("split ", split, ", best-", metric, ": ", job.dataset->num_images(),
                " session(s) of group ", job.group, " predicted into ",
                job.layout.group_dir(split, metric, job.group));
    }
    job.control->barrier();
  }
}

}  // namespace cdl::train

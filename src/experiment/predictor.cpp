// Implementation of prediction with the best models of a MAPS.
#include "cdl/experiment/predictor.hpp"

#include <torch/torch.h>

#include <algorithm>
#include <functional>
#include <utility>

#include "cdl/core/bids_id.hpp"
#include "cdl/core/error.hpp"
#include "cdl/core/logging.hpp"
#include "cdl/data/data_source.hpp"
#include "cdl/data/part_extractor.hpp"
#include "cdl/data/shard_plan.hpp"
#include "cdl/eval/evaluator.hpp"
#include "cdl/experiment/split_loading.hpp"
#include "cdl/formats/checkpoint.hpp"
#include "cdl/formats/pytorch_checkpoint.hpp"
#include "cdl/maps/prediction_writer.hpp"
#include "cdl/train/trainer.hpp"

namespace cdl::experiment {
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

eval::EvaluationOptions evaluation_options(const data::CapsDataset& dataset,
                                           const PredictionJob& job, bool has_labels) {
  const auto& c = *job.config;
  return {dataset.task(), c.loss,      std::max<int64_t>(1, dataset.label_code().num_classes()),
          c.batch_size,   job.compute, device::make_batch_stager(job.compute),
          has_labels};
}

/// Collective: the predictions of `network` on `dataset`, gathered on the main rank.
eval::Evaluation predict_set(model::Network& network,
                             const std::shared_ptr<const data::CapsDataset>& dataset,
                             const PredictionJob& job, bool has_labels) {
  return eval::evaluate(network, dataset,
                        evaluation_block(*dataset, *job.control, job.config->batch_size),
                        evaluation_options(*dataset, job, has_labels), *job.control);
}

/// Collective, multi-network MAPS: part n of every image predicted by network n (loaded from
/// `model_of(n)`), the parts of all networks in one evaluation of the whole set (main rank).
eval::Evaluation predict_set_per_part(model::Network& network,
                                      const std::function<std::string(int)>& model_of,
                                      const std::shared_ptr<const data::CapsDataset>& dataset,
                                      const PredictionJob& job, bool has_labels) {
  const int64_t parts = dataset->parts_per_image();
  data::ShardPlanOptions plan;
  plan.rank = job.control->rank();
  plan.world_size = job.control->size();
  const auto images = data::ShardPlan(dataset->num_images(), 1, plan).eval_indices();
  const auto options = evaluation_options(*dataset, job, has_labels);
  std::vector<torch::Tensor> rows;
  std::vector<int64_t> indices;
  for (int64_t part = 0; part < parts; ++part) {
    const auto path = model_of(static_cast<int>(part));
    formats::load_state_dict(network, formats::read_checkpoint_file(path).model, path);
    std::vector<int64_t> samples;
    for (const auto image : images) samples.push_back(image * parts + part);
    auto evaluation = eval::evaluate(network, dataset, samples, options, *job.control);
    if (!job.control->is_main()) continue;
    rows.push_back(evaluation.rows);
    indices.insert(indices.end(), evaluation.sample_indices.begin(),
                   evaluation.sample_indices.end());
  }
  eval::Evaluation merged;
  if (!job.control->is_main()) return merged;
  const auto all = torch::cat(rows);
  const auto order = torch::tensor(indices, torch::kInt64).argsort();
  merged.rows = all.index_select(0, order).contiguous();
  const auto* position = order.data_ptr<int64_t>();
  for (int64_t i = 0; i < order.numel(); ++i) {
    merged.sample_indices.push_back(indices[static_cast<size_t>(position[i])]);
  }
  merged.metrics = eval::evaluation_metrics(merged.rows, options);
  return merged;
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
    const auto input = device::prepare_inputs(sample.input.unsqueeze(0), job.compute);
    const auto output = device::forward_in_float(network, input, job.compute);
    // The ids are BIDS labels (data::CapsDataset checks them): the name stays in tensors/.
    CDL_CHECK(session_ids_problem(sample.meta.participant_id, sample.meta.session_id).empty(),
              "a sample id reached --save_tensor unchecked");
    const auto stem = dir + "/tensors/" + sample.meta.participant_id + "_" +
                      sample.meta.session_id + "_" + mode + "-" +
                      std::to_string(sample.meta.part_id);
    formats::save_tensor_file(stem + "_input.pt", input[0]);
    formats::save_tensor_file(stem + "_output.pt", output[0]);
  }
  network.train();
}

/// Collective: the evaluations of the group (and of the split's validation set, when given) by
/// the best model(s) of `metric`.
std::pair<eval::Evaluation, eval::Evaluation> evaluate_best_models(
    model::Network& network, const PredictionJob& job, int split, const std::string& metric,
    const std::shared_ptr<const data::CapsDataset>& validation) {
  eval::Evaluation evaluation, validation_evaluation;
  if (job.config->multi_network) {
    const auto model_of = [&](int network_index) {
      return job.layout.best_model(split, metric, network_index);
    };
    evaluation = predict_set_per_part(network, model_of, job.dataset, job, job.has_labels);
    if (validation) {
      validation_evaluation = predict_set_per_part(network, model_of, validation, job, true);
    }
  } else {
    const auto path = job.layout.best_model(split, metric);
    formats::load_state_dict(network, formats::read_checkpoint_file(path).model,
                             path);  // ours or ClinicaDL's
    evaluation = predict_set(network, job.dataset, job, job.has_labels);
    if (validation) validation_evaluation = predict_set(network, validation, job, true);
  }
  return {std::move(evaluation), std::move(validation_evaluation)};
}

/// Main rank: the group's predictions and metrics under split-<k>/best-<metric>/<group>/.
void write_predictions(const PredictionJob& job, int split, const std::string& metric,
                       const std::shared_ptr<const data::CapsDataset>& validation,
                       std::pair<eval::Evaluation, eval::Evaluation> evaluations) {
  const auto& c = *job.config;
  const auto dir = job.layout.group_dir(split, metric, job.group);
  maps::GroupPredictions predictions{job.group, job.dataset, std::move(evaluations.first),
                                     job.has_labels};
  maps::GroupPredictions reference =
      validation ? maps::GroupPredictions{"validation", validation, std::move(evaluations.second)}
                 : predictions;
  predictions.metrics_per_part = reference.metrics_per_part = c.multi_network;
  maps::write_group_predictions(dir, predictions, reference, c.selection_threshold, job.data_path,
                                static_cast<uint64_t>(c.seed));
  log::info("split ", split, ", best-", metric, ": ", job.dataset->num_images(),
            " session(s) of group ", job.group, " predicted into ", dir);
}

}  // namespace

void predict_split(const PredictionJob& job, int split, const std::vector<std::string>& metrics) {
  const auto& c = *job.config;
  auto network = train::build_network(c, data::SplitData{job.dataset, job.dataset});
  network->to(job.compute.device);
  device::apply_memory_format(*network, job.compute);
  std::shared_ptr<const data::CapsDataset> validation;
  if (needs_validation(*job.dataset)) {
    auto source = std::make_shared<const data::DataSource>(data::DataSource::open(c.data_path));
    validation = load_split(c, source, split, 0, !job.compute.transform_on_device).validation;
  }
  for (const auto& metric : metrics) {
    auto evaluations = evaluate_best_models(*network, job, split, metric, validation);
    if (job.save_tensors && job.dataset->task() == data::Task::kReconstruction) {
      save_sample_tensors(*network, job, job.layout.group_dir(split, metric, job.group));
    }
    if (job.control->is_main()) {
      write_predictions(job, split, metric, validation, std::move(evaluations));
    }
    job.control->barrier();
  }
}

}  // namespace cdl::experiment

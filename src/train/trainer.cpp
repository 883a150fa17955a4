// Implementation of the split trainer: the epoch loop reads like ClinicaDL's (reference 4.2) with
// the deliberate differences of design section 6.
#include "cdl/train/trainer.hpp"

#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <iostream>
#include <map>
#include <tuple>

#include "cdl/core/atomic_file.hpp"
#include "cdl/core/error.hpp"
#include "cdl/core/file_tree.hpp"
#include "cdl/core/logging.hpp"
#include "cdl/core/node_memory.hpp"
#include "cdl/core/progress.hpp"
#include "cdl/core/random.hpp"
#include "cdl/core/stop_request.hpp"
#include "cdl/data/augmentation.hpp"
#include "cdl/data/batch_loader.hpp"
#include "cdl/data/label_code.hpp"
#include "cdl/data/part_extractor.hpp"
#include "cdl/data/shard_plan.hpp"
#include "cdl/data/split_reader.hpp"
#include "cdl/eval/evaluator.hpp"
#include "cdl/eval/model_selection.hpp"
#include "cdl/formats/checkpoint.hpp"
#include "cdl/formats/pytorch_checkpoint.hpp"
#include "cdl/formats/training_state.hpp"
#include "cdl/maps/prediction_writer.hpp"
#include "cdl/model/architectures/random_architecture.hpp"
#include "cdl/model/grad_scaler.hpp"
#include "cdl/model/model_registry.hpp"
#include "cdl/train/adaptive_lr.hpp"
#include "cdl/train/divergence_guard.hpp"
#include "cdl/train/early_stopping.hpp"
#include "cdl/train/energy_report.hpp"
#include "cdl/train/gradient_sync.hpp"
#include "cdl/train/optimizers.hpp"
#include "cdl/train/phase_profiler.hpp"
#include "cdl/train/running_statistics.hpp"
#include "cdl/train/sharded_optimizer.hpp"
#include "cdl/train/throughput.hpp"
#include "cdl/train/training_log.hpp"
#include "cdl/train/transfer.hpp"
#include "cdl/train/update_step.hpp"

namespace cdl::train {
namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

/// Seconds since the Unix epoch (the wall time of TensorBoard events).
double unix_seconds() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

/// The seed of the random streams (dropout) during weight update `update` of `epoch`: re-seeding
/// at every update makes a resumed run draw what the uninterrupted run drew, with no generator
/// state to save.
uint64_t update_seed(int64_t seed, int64_t epoch, int64_t update) {
  return mix_bits(mix_bits(mix_bits(static_cast<uint64_t>(seed)) ^ static_cast<uint64_t>(epoch)) ^
                  static_cast<uint64_t>(update));
}

/// The parameters the optimizer updates (frozen ones are left out, as in ClinicaDL).
std::vector<torch::Tensor> trainable_parameters(torch::nn::Module& module) {
  std::vector<torch::Tensor> trainable;
  for (const auto& parameter : module.parameters()) {
    if (parameter.requires_grad()) trainable.push_back(parameter);
  }
  return trainable;
}

void set_learning_rate(torch::optim::Optimizer& optimizer, double lr) {
  for (auto& group : optimizer.param_groups()) group.options().set_lr(lr);
}

/// Collective over the gradient communicator with --fully_sharded_data_parallel: while it lives,
/// `full` holds the whole optimizer state on the main rank, gathered from the shards, so that the
/// files hold what a replicated optimizer holds; cleared afterwards. Without sharding: nothing.
class FullOptimizerState {
 public:
  FullOptimizerState(ShardedOptimizer* sharded, torch::optim::Optimizer& full)
      : sharded_(sharded), full_(full) {
    if (sharded_ != nullptr) sharded_->gather_state(full_);
  }
  ~FullOptimizerState() {
    if (sharded_ != nullptr) full_.state().clear();
  }
  FullOptimizerState(const FullOptimizerState&) = delete;
  FullOptimizerState& operator=(const FullOptimizerState&) = delete;

 private:
  ShardedOptimizer* sharded_;
  torch::optim::Optimizer& full_;
};

std::vector<TsvCell> log_cells(const eval::MetricList& metrics,
                               const std::vector<std::string>& names) {
  std::vector<TsvCell> cells;
  for (const auto& [name, value] : eval::aggregate_class_metrics(metrics, names))
    cells.emplace_back(value);
  return cells;
}

}  // namespace

model::NetworkPtr build_network(const config::TrainConfig& c, const data::SplitData& data) {
  model::NetworkOptions options;
  options.input_size = InputSize::from_sample_shape(data.train->input_shape());
  options.dropout = c.dropout;
  options.latent_space_size = c.latent_space_size;
  if (c.architecture == "RandomArchitecture") {
    options.random_architecture =
        std::make_shared<model::RandomArchitectureSpec>(model::random_architecture_from_json(
            c.convolutions_dict, c.n_fcblocks,
            c.network_normalization == "None" ? nlohmann::json(nullptr)
                                              : nlohmann::json(c.network_normalization),
            "maps.json"));
  }
  options.output_size = data.train->task() == data::Task::kClassification
                            ? data.train->label_code().num_classes()
                            : 1;
  auto network = model::builtin_registry().create(c.architecture, options);
  // The first two Conv-BatchNorm-ReLU-PadMaxPool blocks of Conv4_FC3 and Conv5_FC3 run fused
  // (pooling before the normalisation: no full-resolution normalised or rectified maps kept for
  // backward), one sample at a time in slabs (bench/conv_block_bench on t1-linear images, batch 4,
  // LibTorch 2.15: 0.29x the separate layers' peak memory at 0.79x their step time).
  if (auto cnn = std::dynamic_pointer_cast<model::Cnn>(network)) {
    cnn->use_training_fusion(c.memory_saving);
  }
  return network;
}

/// The state and the steps of one split's training.
class SplitTrainer::Impl {
 public:
  Impl(TrainerContext context, int split, data::SplitData data)
      : ctx_(context),
        c_(*context.config),
        split_(split),
        network_index_(context.network),
        unit_("split " + std::to_string(split) +
              (context.network >= 0 ? " network " + std::to_string(context.network) : "")),
        data_(std::move(data)) {}

  SplitSummary run();

 private:
  void setup();
  void print_plan() const;
  void train_epoch(int64_t epoch, int64_t first_update);
  std::unique_ptr<data::BatchLoader> make_train_loader(
      int64_t epoch, const std::vector<data::PlannedUpdate>& updates, int64_t first_update) const;
  int64_t train_update(int64_t epoch, const data::PlannedUpdate& update, data::BatchLoader& loader);
  void after_update(int64_t epoch, int64_t update);
  void write_state(int64_t epoch, int64_t next_update);
  int stop_requested_anywhere();
  void restore_state();
  void start_from_transfer_source();
  void end_epoch(int64_t epoch, int64_t last_iteration);
  std::unique_ptr<TrainingLog> make_training_log() const;
  std::unique_ptr<PhaseProfiler> make_profiler() const;
  void write_profile();
  void write_emissions();
  static constexpr int kProfiledEpochs = 2;
  int epochs_profiled_ = 0;
  void log_row(int64_t epoch, int64_t iteration, const eval::Evaluation& train,
               const eval::Evaluation& valid);
  std::pair<eval::Evaluation, eval::Evaluation> evaluate_both();
  void save_checkpoints(int64_t epoch, const std::vector<std::string>& improved);
  void apply_learning_rate(double learning_rate);
  void log_sharding() const;
  bool decide_stop(double validation_loss);
  void final_evaluations();
  void record_throughput();
  void load_best(const std::string& metric);

  TrainerContext ctx_;
  const config::TrainConfig& c_;
  int split_;
  int network_index_;  // multi-network: the part this network trains on; -1: single network
  std::string unit_;   // "split <k>" or "split <k> network <n>", for messages
  data::SplitData data_;
  model::NetworkPtr network_;
  // With --fully_sharded_data_parallel, optimizer_ steps nothing: it holds the full state only
  // while it is saved or restored, and sharded_ steps this rank's shard.
  std::unique_ptr<torch::optim::Optimizer> optimizer_;
  std::unique_ptr<ShardedOptimizer> sharded_;
  std::unique_ptr<GradientSync> sync_;
  std::unique_ptr<RunningStatistics> running_;  // BatchNorm statistics independent of the ranks
  std::unique_ptr<data::ShardPlan> train_plan_, valid_eval_plan_;
  std::unique_ptr<model::GradScaler> scaler_;
  std::unique_ptr<DivergenceGuard> divergence_;
  std::unique_ptr<UpdateStep> step_;
  std::unique_ptr<eval::RetainBest> retain_best_;
  std::unique_ptr<EarlyStopping> early_stopping_;
  std::unique_ptr<AdaptiveLearningRate> adaptive_lr_;
  std::unique_ptr<TrainingLog> log_;
  std::unique_ptr<PhaseProfiler> profiler_;        // --profiler: the first epochs of this run
  std::unique_ptr<EnergyReport> energy_;           // --emissions_calculator: this run
  std::vector<data::Augmentation> augmentations_;  // --data_augmentation, training samples only
  eval::EvaluationOptions eval_options_;
  Clock::time_point start_ = Clock::now();
  SplitSummary summary_;
  Throughput throughput_;               // of this run's epochs
  formats::TrainingProgress progress_;  // where the training stands (saved in the training state)
  // The evaluations (train, validation) that selected each best model in this run.
  std::map<std::string, std::pair<eval::Evaluation, eval::Evaluation>> selected_evaluations_;
  // The next epoch's training loader, started before this epoch's evaluation so that its first
  // batches (read and augmented on its I/O threads) are ready when the epoch starts. Declared
  // last: destroyed (its threads stopped) before what its transform reads.
  std::unique_ptr<data::BatchLoader> next_loader_;
  int64_t next_loader_epoch_ = -1;
};

void SplitTrainer::Impl::setup() {
  torch::manual_seed(static_cast<uint64_t>(c_.seed));
  network_ = build_network(c_, data_);
  network_->to(ctx_.compute.device);
  if (!c_.transfer_path.empty() && !ctx_.evaluate_only) start_from_transfer_source();
  device::apply_memory_format(*network_, ctx_.compute);
  network_->train();
  sync_ = std::make_unique<GradientSync>(*network_, *ctx_.gradients);
  sync_->broadcast_state(*network_);
  running_ = std::make_unique<RunningStatistics>(*network_);
  optimizer_ = make_optimizer(c_.optimizer, c_.learning_rate, c_.weight_decay,
                              trainable_parameters(*network_));
  data::ShardPlanOptions plan;
  plan.rank = ctx_.control->rank();
  plan.world_size = ctx_.control->size();
  plan.seed = static_cast<uint64_t>(c_.seed);
  plan.batch_size = c_.batch_size;
  plan.accumulation_steps = c_.accumulation_steps;
  plan.data_parallel_width = ctx_.data_parallel_width;  // the virtual batch ignores the rank count
  plan.sampler = c_.sampler;
  const auto& train = *data_.train;
  const bool weighted = plan.sampler == data::SamplerKind::kWeighted;
  train_plan_ =
      std::make_unique<data::ShardPlan>(train.num_images(), train.parts_per_image(), plan,
                                        weighted ? train.sampler_weights() : std::vector<double>{});
  plan.sampler = data::SamplerKind::kRandom;
  valid_eval_plan_ = std::make_unique<data::ShardPlan>(data_.validation->num_images(),
                                                       data_.validation->parts_per_image(), plan);
  scaler_ = std::make_unique<model::GradScaler>(device::needs_loss_scaling(ctx_.compute));
  divergence_ = std::make_unique<DivergenceGuard>(ctx_.control->rank());
  if (c_.fully_sharded_data_parallel) {
    sharded_ = std::make_unique<ShardedOptimizer>(
        *sync_, *ctx_.gradients,
        c_.optimizer == config::Optimizer::kAdamW ? ShardedKind::kAdamW : ShardedKind::kAdam,
        c_.learning_rate, c_.weight_decay, /*reduce_scatter=*/!scaler_->enabled());
    log_sharding();
  }
  step_ = std::make_unique<UpdateStep>(*optimizer_, *sync_, scaler_.get(), c_.deterministic,
                                       sharded_.get());
  retain_best_ = std::make_unique<eval::RetainBest>(c_.selection_metrics);
  early_stopping_ = std::make_unique<EarlyStopping>(static_cast<int>(c_.patience), c_.tolerance);
  if (c_.adaptive_learning_rate)
    adaptive_lr_ = std::make_unique<AdaptiveLearningRate>(c_.learning_rate);
  eval_options_ = {
      train.task(),  c_.loss,      std::max<int64_t>(1, train.label_code().num_classes()),
      c_.batch_size, ctx_.compute, device::make_batch_stager(ctx_.compute)};
  log_ = make_training_log();
  profiler_ = make_profiler();
  augmentations_ = data::parse_augmentations(c_.data_augmentation);
  if (ctx_.resume) restore_state();
}

/// Not collective: every rank reads the source model (so that every rank finds the same fault),
/// except on resume, where the training state holds the weights; then freezes all but the last
/// --nb_unfrozen_layer layers (also on resume: the optimizer state has only their moments).
void SplitTrainer::Impl::start_from_transfer_source() {
  if (!ctx_.resume) {
    const auto source = transfer_source_file(c_, split_, network_index_);
    const auto copied =
        transfer_weights(*network_, formats::read_checkpoint_file(source).model, source);
    if (ctx_.control->is_main()) {
      log::info(unit_, ": ", copied, " tensors transferred from ", source);
    }
  }
  const auto trainable = freeze_all_but_last_layers(*network_, c_.nb_unfrozen_layer);
  if (c_.nb_unfrozen_layer > 0 && ctx_.control->is_main()) {
    log::info(unit_, ": ", trainable, " parameter tensors trainable (--nb_unfrozen_layer ",
              c_.nb_unfrozen_layer, "), the others frozen");
  }
}

/// Collective: the main rank reads the training state and sends it to every rank, which restores
/// weights, optimizer, scaler, selection, early-stopping and learning-rate state from it.
void SplitTrainer::Impl::restore_state() {
  const auto path = ctx_.layout.training_state(split_, network_index_);
  std::string bytes;
  if (ctx_.control->is_main()) bytes = read_text_file(path);
  ctx_.control->broadcast_string(bytes, 0);
  progress_ = formats::restore_training_state(bytes, path, *network_, *optimizer_, scaler_.get(),
                                              ctx_.compute.device);
  if (sharded_) {
    sharded_->rebind_parameters();      // loading gave the parameters storage of their own
    sharded_->take_state(*optimizer_);  // this rank's shard of the full state
  }
  const int64_t virtual_batch = train_plan_->virtual_batch_size();
  if (progress_.inside_epoch() &&
      (progress_.batch_size != c_.batch_size || progress_.virtual_batch != virtual_batch)) {
    CDL_THROW(ConfigError, "the training state '", path, "' was written inside epoch ",
              progress_.epoch, " with micro-batches of ", progress_.batch_size, " and ",
              progress_.virtual_batch, " samples per weight update (", progress_.world_size,
              " rank(s)); this run has ", c_.batch_size, " and ", virtual_batch,
              " (batch_size x accumulation_steps x ", train_plan_->options().data_parallel_width,
              " ranks); it continues only with the same virtual batch\n  hint: resume with --np ",
              "and --accumulation_steps whose product is ",
              progress_.virtual_batch / std::max<int64_t>(1, progress_.batch_size));
  }
  retain_best_->load_state(progress_.retain_best);
  early_stopping_->load_state(progress_.early_stopping);
  if (adaptive_lr_ && !progress_.adaptive_lr.is_null()) {
    adaptive_lr_->load_state(progress_.adaptive_lr);
    apply_learning_rate(adaptive_lr_->learning_rate());
  }
  start_ = Clock::now() - std::chrono::duration_cast<Clock::duration>(
                              std::chrono::duration<double>(progress_.elapsed_seconds));
  if (ctx_.control->is_main()) {
    log_->trim_to(progress_, unix_seconds() - progress_.elapsed_seconds);
    log::info(unit_, ": resuming at epoch ", progress_.epoch, ", weight update ",
              progress_.next_update, " (", progress_.updates, " weight updates done)");
  }
}

/// Collective: the largest stop signal number received by any rank (0: none). Throws
/// TrainingError on every rank when any rank has seen its loss diverge (one reduction for both).
int SplitTrainer::Impl::stop_requested_anywhere() {
  auto flags = torch::tensor({stop_signal(), divergence_->diverged() ? 1 : 0}, torch::kInt32);
  ctx_.control->all_reduce(flags, comm::ReduceOp::kMax);
  divergence_->throw_if(flags[1].item<int>() != 0);
  return flags[0].item<int>();
}

/// Collective: writes the training state that continues at update `next_update` of `epoch`.
/// Every rank holds the same weights and BatchNorm statistics (RunningStatistics), so the main
/// rank's copy serves every rank on resume.
void SplitTrainer::Impl::write_state(int64_t epoch, int64_t next_update) {
  const PhaseProfiler::Scope checkpoint(profiler_.get(), Phase::kCheckpoint);
  divergence_->check(*ctx_.control);  // never save weights after a loss that was not finite
  progress_.epoch = epoch;
  progress_.next_update = next_update;
  progress_.next_micro_batch =
      next_update > 0 ? train_plan_->last_micro_batch(next_update - 1) + 1 : 0;
  progress_.world_size = ctx_.control->size();
  progress_.batch_size = c_.batch_size;
  progress_.virtual_batch = train_plan_->virtual_batch_size();
  progress_.elapsed_seconds = seconds_since(start_);
  progress_.retain_best = retain_best_->state();
  progress_.early_stopping = early_stopping_->state();
  progress_.adaptive_lr = adaptive_lr_ ? adaptive_lr_->state() : nlohmann::json(nullptr);
  const FullOptimizerState full(sharded_.get(), *optimizer_);
  if (ctx_.control->is_main()) {
    formats::save_training_state(ctx_.layout.training_state(split_, network_index_), *network_,
                                 *optimizer_, scaler_.get(), progress_);
  }
  ctx_.control->barrier();  // the state is on disk before any rank goes on (or stops)
}

/// Collective, after weight update `update` of `epoch`: writes the training state every
/// --checkpoint_steps updates and when a rank received a stop signal (then every rank throws
/// Interrupted). The last update of an epoch is left to the epoch end.
void SplitTrainer::Impl::after_update(int64_t epoch, int64_t update) {
  if (update + 1 >= train_plan_->updates_per_epoch()) return;
  const int signal = stop_requested_anywhere();
  const bool due = c_.checkpoint_steps > 0 && progress_.updates % c_.checkpoint_steps == 0;
  if (signal == 0 && !due) return;
  write_state(epoch, update + 1);
  if (signal != 0) {
    CDL_THROW(Interrupted, unit_, ": stopped by ", signal_text(signal), " in epoch ", epoch,
              " after weight update ", update, "; the training state is saved");
  }
}

std::pair<eval::Evaluation, eval::Evaluation> SplitTrainer::Impl::evaluate_both() {
  const PhaseProfiler::Scope evaluation(profiler_.get(), Phase::kEvaluation);
  auto train = eval::evaluate(*network_, data_.train, train_plan_->eval_indices(), eval_options_,
                              *ctx_.control);
  auto valid = eval::evaluate(*network_, data_.validation, valid_eval_plan_->eval_indices(),
                              eval_options_, *ctx_.control);
  return {std::move(train), std::move(valid)};
}

void SplitTrainer::Impl::log_row(int64_t epoch, int64_t iteration, const eval::Evaluation& train,
                                 const eval::Evaluation& valid) {
  if (!ctx_.control->is_main()) return;
  auto names = eval::task_metric_names(eval_options_.task);
  names.push_back("loss");
  std::vector<TsvCell> row{epoch, iteration, seconds_since(start_)};
  for (const auto& cell : log_cells(train.metrics, names)) row.push_back(cell);
  for (const auto& cell : log_cells(valid.metrics, names)) row.push_back(cell);
  log_->append(row, unix_seconds() - seconds_since(start_));
}

/// --profiler: the phases of this run's first kProfiledEpochs epochs, with the device
/// synchronised at the end of each phase on GPUs (so that its time lands in its phase).
std::unique_ptr<PhaseProfiler> SplitTrainer::Impl::make_profiler() const {
  std::function<void()> synchronize;
  if (ctx_.compute.device.is_cuda()) {
    const auto index = ctx_.compute.device.index();
    synchronize = [index] { torch::cuda::synchronize(index); };
  }
  return std::make_unique<PhaseProfiler>(c_.profiler, synchronize);
}

/// Collective, once: ends the profile, writes the trace of every rank of the group
/// (profiler/<unit>.pt.trace.json in the MAPS) and logs its summary.
void SplitTrainer::Impl::write_profile() {
  if (!profiler_->recording()) return;
  profiler_->stop();
  const auto path = ctx_.layout.profiler_trace(split_, network_index_);
  const auto table = profiler_->write(*ctx_.control, path, unit_);
  if (ctx_.control->is_main()) {
    log::info(unit_, " profile of its first ", epochs_profiled_, " epoch(s) of this run (", path,
              ", opens in chrome://tracing or ui.perfetto.dev):\n", table);
  }
}

/// Collective: --emissions_calculator's row of this run (and its log line).
void SplitTrainer::Impl::write_emissions() {
  if (!energy_) return;
  const std::string run_id =
      maps::MapsLayout::split_dir_name(split_) +
      (network_index_ >= 0 ? "-" + maps::MapsLayout::network_name(network_index_) : "");
  const auto line = energy_->finish(
      *ctx_.control, ctx_.layout.emissions_csv(split_, network_index_),
      std::filesystem::path(ctx_.layout.root()).lexically_normal().filename().string(), run_id,
      carbon_intensity());
  if (ctx_.control->is_main()) log::info(line);
}

/// The log of this split's training: training.tsv and its trackers (TensorBoard steps are
/// micro-batches of a 1-rank run, as the log's iteration column counts them).
std::unique_ptr<TrainingLog> SplitTrainer::Impl::make_training_log() const {
  TrainingLog::Options options;
  options.layout = ctx_.layout;
  options.split = split_;
  options.network = network_index_;
  options.metric_names = eval::task_metric_names(eval_options_.task);
  options.batches_per_epoch =
      train_plan_->last_micro_batch(train_plan_->updates_per_epoch() - 1) + 1;
  options.mlflow = c_.track_exp == config::Tracker::kMlflow;
  return std::make_unique<TrainingLog>(options);
}

/// Collective: runs this rank's micro-batches of one weight update (maybe none), then the
/// update. Returns the samples this rank trained on.
int64_t SplitTrainer::Impl::train_update(int64_t epoch, const data::PlannedUpdate& update,
                                         data::BatchLoader& loader) {
  data::Batch batch;
  int64_t samples = 0;
  running_->begin_update();
  for (const int64_t micro_batch_id : update.micro_batch_ids) {
    {
      const PhaseProfiler::Scope wait(profiler_.get(), Phase::kDataWait);
      CDL_CHECK(loader.next(batch), "the loader ran out of micro-batches in epoch ", epoch);
    }
    torch::Tensor loss;
    {
      const PhaseProfiler::Scope forward(profiler_.get(), Phase::kForward);
      // Dropout masks depend on the micro-batch, not on the rank that runs it (nor on a resume).
      torch::manual_seed(update_seed(c_.seed, epoch, micro_batch_id));
      auto inputs = device::prepare_inputs(batch.inputs, ctx_.compute);
      running_->before_micro_batch();
      auto outputs = device::forward_in_float(*network_, inputs, ctx_.compute);
      running_->after_micro_batch(micro_batch_id - update.first_micro_batch_id,
                                  update.micro_batch_count);
      auto targets =
          eval::loss_targets(eval_options_.task, inputs, batch.labels.to(ctx_.compute.device));
      loss = eval::per_sample_loss(c_.loss, outputs, targets).mean();
    }
    // watch() only remembers a non-finite loss: the group stops together at its next check.
    divergence_->watch(loss, epoch, micro_batch_id);
    const bool last = micro_batch_id == update.micro_batch_ids.back();
    const PhaseProfiler::Scope backward(profiler_.get(), Phase::kBackward);
    step_->backward(loss, batch.size(), update.virtual_batch_samples, last);
    samples += batch.size();
  }
  {
    const PhaseProfiler::Scope reduction(profiler_.get(), Phase::kReduction);
    step_->reduce_gradients();
    running_->finish_update(*ctx_.gradients, update.micro_batch_count);
  }
  const PhaseProfiler::Scope optimizer(profiler_.get(), Phase::kOptimizer);
  step_->apply_update();
  return samples;
}

/// The training loader of `epoch`, from `first_update` of its `updates` on.
std::unique_ptr<data::BatchLoader> SplitTrainer::Impl::make_train_loader(
    int64_t epoch, const std::vector<data::PlannedUpdate>& updates, int64_t first_update) const {
  std::vector<std::vector<int64_t>> micro_batches;  // this rank's, from the first update to run
  for (size_t u = static_cast<size_t>(first_update); u < updates.size(); ++u) {
    for (const auto& micro_batch : updates[u].micro_batches) micro_batches.push_back(micro_batch);
  }
  data::LoaderOptions options{c_.batch_size, 2, eval_options_.stager, {}, ctx_.compute.io_threads};
  if (!augmentations_.empty()) {
    // On the I/O threads; draws from (seed, epoch, sample index) only: independent of the
    // number of ranks and of I/O threads.
    options.transform = [this, epoch](const torch::Tensor& input, int64_t index) {
      data::SampleRandom random(static_cast<uint64_t>(c_.seed), epoch, index);
      return data::augment(input, augmentations_, random);
    };
  }
  return std::make_unique<data::BatchLoader>(data_.train, std::move(micro_batches), options);
}

void SplitTrainer::Impl::train_epoch(int64_t epoch, int64_t first_update) {
  const auto epoch_start = Clock::now();
  const auto updates = train_plan_->train_updates(epoch);
  const int64_t num_updates = static_cast<int64_t>(updates.size());
  const bool prefetched = next_loader_ && next_loader_epoch_ == epoch && first_update == 0;
  const auto owned_loader =
      prefetched ? std::move(next_loader_) : make_train_loader(epoch, updates, first_update);
  next_loader_.reset();
  data::BatchLoader& loader = *owned_loader;
  // A progress line on rank 0 when stderr is a terminal (never in logs and batch jobs).
  ProgressLine progress(ctx_.control->is_main() && log::is_tty() ? &std::cerr : nullptr,
                        unit_ + " epoch " + std::to_string(epoch), num_updates);
  int64_t all_samples = 0;  // over all ranks
  for (int64_t u = first_update; u < num_updates; ++u) {
    train_update(epoch, updates[u], loader);
    all_samples += updates[u].virtual_batch_samples;
    ++progress_.updates;
    if (c_.evaluation_steps > 0 && (u + 1) % c_.evaluation_steps == 0 && u + 1 < num_updates) {
      auto [train, valid] = evaluate_both();
      log_row(epoch, train_plan_->last_micro_batch(u), train, valid);
    }
    after_update(epoch, u);
    progress.update(u + 1, all_samples);
  }
  progress.finish();
  divergence_->check(*ctx_.control);
  if (ctx_.compute.device.is_cuda()) torch::cuda::synchronize(ctx_.compute.device.index());
  throughput_.add_epoch(all_samples, seconds_since(epoch_start), loader.wait_seconds());
  if (epoch + 1 < c_.epochs) {  // its first batches are built during this epoch's evaluation
    next_loader_ = make_train_loader(epoch + 1, train_plan_->train_updates(epoch + 1), 0);
    next_loader_epoch_ = epoch + 1;
  }
  end_epoch(epoch, train_plan_->last_micro_batch(num_updates - 1));
}

void SplitTrainer::Impl::apply_learning_rate(double learning_rate) {
  set_learning_rate(*optimizer_, learning_rate);
  if (sharded_) sharded_->set_learning_rate(learning_rate);
}

/// Main rank: how much optimizer state --fully_sharded_data_parallel keeps per rank.
void SplitTrainer::Impl::log_sharding() const {
  if (!ctx_.control->is_main()) return;
  const auto ranks = ctx_.gradients->size();
  const double replicated = 4.0 * static_cast<double>(sharded_->replicated_state_values());
  log::info(unit_, ": ", choice_name(c_.optimizer), " state sharded over ", ranks,
            " rank(s): ", format_memory_size(replicated / ranks), " per rank instead of ",
            format_memory_size(replicated));
}

/// Collective: the main rank writes the epoch's model files and optimizer state.
void SplitTrainer::Impl::save_checkpoints(int64_t epoch, const std::vector<std::string>& improved) {
  const FullOptimizerState full(sharded_.get(), *optimizer_);
  if (!ctx_.control->is_main()) return;
  const PhaseProfiler::Scope checkpoint(profiler_.get(), Phase::kCheckpoint);
  const auto& name = network_->architecture();
  formats::save_model_checkpoint(ctx_.layout.checkpoint(split_, network_index_), *network_, epoch,
                                 name);
  if (c_.save_all_models)
    formats::save_model_checkpoint(ctx_.layout.all_models(split_, epoch, network_index_), *network_,
                                   epoch, name);
  for (const auto& metric : improved) {
    formats::save_model_checkpoint(ctx_.layout.best_model(split_, metric, network_index_),
                                   *network_, epoch, name);
  }
  formats::save_optimizer_state(ctx_.layout.optimizer(split_, network_index_), *optimizer_, epoch,
                                scaler_.get());
}

void SplitTrainer::Impl::end_epoch(int64_t epoch, int64_t last_iteration) {
  auto [train, valid] = evaluate_both();
  log_row(epoch, last_iteration, train, valid);
  const double loss = eval::metric_value(valid.metrics, "loss");
  log::info(unit_, " epoch ", epoch, ": train loss ", eval::metric_value(train.metrics, "loss"),
            ", validation loss ", loss);
  // Every rank holds the same validation metrics, so every rank's RetainBest agrees.
  const auto improved = retain_best_->step(valid.metrics);
  save_checkpoints(epoch, improved);
  // The final TSVs of a best model are these evaluations: keep them instead of evaluating again.
  for (const auto& metric : improved) selected_evaluations_[metric] = {train, valid};
  if (adaptive_lr_) apply_learning_rate(adaptive_lr_->step(loss));
  summary_.final_validation = valid.metrics;
  ctx_.control->barrier();
}

bool SplitTrainer::Impl::decide_stop(double validation_loss) {
  int stop = 0;
  if (ctx_.control->is_main()) stop = early_stopping_->step(validation_loss) ? 1 : 0;
  auto decision = torch::tensor({stop}, torch::kInt32);
  ctx_.control->broadcast(decision, 0);
  return decision.item<int>() == 1;
}

void SplitTrainer::Impl::load_best(const std::string& metric) {
  if (ctx_.control->is_main()) {
    formats::load_state_dict(
        *network_,
        formats::load_model_checkpoint(ctx_.layout.best_model(split_, metric, network_index_))
            .model,
        ctx_.layout.best_model(split_, metric, network_index_));
  }
  sync_->broadcast_state(*network_);
}

/// Collective: the prediction and metrics TSVs of every best model (multi-network: their
/// evaluations, kept in the summary for the experiment to merge). A best model selected in this
/// run is written from the evaluation that selected it; one selected before a resume is loaded
/// and evaluated again (every rank holds the same selections, so all take the same branch).
void SplitTrainer::Impl::final_evaluations() {
  for (const auto& metric : c_.selection_metrics) {
    eval::Evaluation train, valid;
    const auto selected = selected_evaluations_.find(metric);
    if (selected != selected_evaluations_.end()) {
      std::tie(train, valid) = selected->second;
      if (ctx_.control->is_main()) {
        log::info(unit_, " best-", metric,
                  ": TSVs written from the evaluation that selected it (no second pass)");
      }
    } else {
      load_best(metric);
      std::tie(train, valid) = evaluate_both();
    }
    if (!ctx_.control->is_main()) continue;
    if (network_index_ >= 0) {  // multi-network: the experiment merges the networks' results
      summary_.best_evaluations[metric] = {std::move(train), std::move(valid)};
      continue;
    }
    maps::GroupPredictions train_group{"train", data_.train, std::move(train)};
    maps::GroupPredictions valid_group{"validation", data_.validation, std::move(valid)};
    const auto dir = [&](const std::string& group) {
      return ctx_.layout.group_dir(split_, metric, group);
    };
    maps::write_group_predictions(dir("train"), train_group, valid_group, c_.selection_threshold,
                                  c_.data_path, static_cast<uint64_t>(c_.seed));
    maps::write_group_predictions(dir("validation"), valid_group, valid_group,
                                  c_.selection_threshold, c_.data_path,
                                  static_cast<uint64_t>(c_.seed));
  }
}

void SplitTrainer::Impl::print_plan() const {
  if (!ctx_.control->is_main()) return;
  const auto& train = *data_.train;
  const int64_t ranks = ctx_.control->size();
  const int64_t width = train_plan_->options().data_parallel_width;
  const char* unit = train.parts_per_image() > 1 ? " samples (parts)" : " images";
  log::info(unit_, ": ", train.num_images(), " training and ", data_.validation->num_images(),
            " validation images, ", train.parts_per_image(), " part(s) per image (",
            data::mode_name(c_.mode), " mode)");
  log::info(unit_, ": batch ", c_.batch_size, " x ", c_.accumulation_steps,
            " accumulation step(s) x ", width,
            " (data-parallel width) = ", train_plan_->virtual_batch_size(), unit,
            " per weight update, ", train_plan_->updates_per_epoch(),
            " updates per epoch, shared by ", ranks, " rank(s)");
  log::info(unit_, ": ", network_->architecture(), ", ", model::count_parameters(*network_),
            " parameters, on ", ctx_.compute.device.str(), ctx_.compute.amp ? " with --amp" : "",
            ctx_.compute.device.is_cpu()
                ? ", " + std::to_string(torch::get_num_threads()) + " thread(s) per rank"
                : "",
            ", gradients through ", comm::backend_name(ctx_.gradients->backend()));
}

SplitSummary SplitTrainer::Impl::run() {
  setup();
  if (ctx_.evaluate_only) {  // a network that finished before a resume: its best models only
    if (ctx_.on_start) ctx_.on_start();
    if (ctx_.control->is_main())
      log::info(unit_, " finished before: its best models are evaluated");
    final_evaluations();
    ctx_.control->barrier();
    return summary_;
  }
  print_plan();
  if (ctx_.on_start) ctx_.on_start();
  if (ctx_.control->is_main()) log_->open(unix_seconds());  // the MAPS has its final name now
  if (c_.emissions_calculator) {
    const auto& device = ctx_.compute.device;
    energy_ = std::make_unique<EnergyReport>(
        device.is_cuda() ? nvml_device_of_cuda_device(device.index()) : std::string());
  }
  set_stop_mode(StopMode::kAtNextUpdate);  // from now on, a stop saves the state first
  double last_valid_loss = progress_.last_valid_loss;
  int64_t epoch = progress_.epoch;
  // A state taken inside an epoch continues it: its stop decision was already taken.
  bool inside_epoch = progress_.inside_epoch();
  for (; epoch < c_.epochs; ++epoch) {
    if (epoch > 0 && !inside_epoch && decide_stop(last_valid_loss)) {
      summary_.stopped_early = true;
      log::info(unit_, ": early stopping after epoch ", epoch - 1);
      break;
    }
    train_epoch(epoch, inside_epoch ? progress_.next_update : 0);
    if (++epochs_profiled_ == kProfiledEpochs) write_profile();
    inside_epoch = false;
    last_valid_loss = eval::metric_value(summary_.final_validation, "loss");
    progress_.last_valid_loss = last_valid_loss;
    write_state(epoch + 1, 0);
    if (const int signal = stop_requested_anywhere()) {
      CDL_THROW(Interrupted, unit_, ": stopped by ", signal_text(signal), " after epoch ", epoch,
                "; the training state is saved");
    }
  }
  summary_.epochs_run = epoch;
  write_profile();  // a training shorter than the profiled epochs
  final_evaluations();
  if (ctx_.control->is_main()) log_->close(unix_seconds());
  write_emissions();
  if (ctx_.control->is_main()) cdl::remove_tree(ctx_.layout.tmp_dir(split_, network_index_));
  record_throughput();
  ctx_.control->barrier();
  return summary_;
}

/// The split's throughput counters, into its summary.
void SplitTrainer::Impl::record_throughput() {
  summary_.images_per_second = throughput_.samples_per_second();
  summary_.steady_images_per_second = throughput_.steady_samples_per_second();
  summary_.samples_are_parts = data_.train->extractor().config().mode != data::Mode::kImage;
  summary_.data_wait_fraction = throughput_.data_wait_fraction();
  summary_.allreduce_seconds = sync_->reduction_seconds();
  summary_.exposed_allreduce_seconds = sync_->seconds();
  summary_.exposed_allreduce_fraction =
      throughput_.seconds() > 0 ? sync_->seconds() / throughput_.seconds() : 0.0;
}

SplitTrainer::SplitTrainer(TrainerContext context, int split, data::SplitData data)
    : impl_(std::make_unique<Impl>(context, split, std::move(data))) {}

SplitTrainer::~SplitTrainer() = default;

SplitSummary SplitTrainer::run() {
  return impl_->run();
}

}  // namespace cdl::train

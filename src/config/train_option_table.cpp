// The train option table (see train_option_table.hpp).
#include "train_option_table.hpp"

#include <map>

namespace cdl::config {
namespace {
const std::vector<std::string> kSections{
    "Model",          "Architecture",  "Classification",   "Regression",
    "Reconstruction", "Computational", "Reproducibility",  "Transfer_learning",
    "Mode",           "Data",          "Cross_validation", "Optimization",
    "Informations"};
}  // namespace

std::vector<OptionSpec> option_specs(TrainConfig& c) {
  return {
      {"architecture", "Model", &c.architecture, "network (default: the task's default)", "", "a"},
      {"multi_network", "Model", &c.multi_network,
       "one network per part (patch, slice, roi), trained on rank groups", "single_network"},
      {"ssda_network", "Model", &c.ssda_network, "domain adaptation (not supported)"},
      {"dropout", "Architecture", &c.dropout, "dropout probability of the CNN head (0.0)"},
      {"latent_space_size", "Architecture", &c.latent_space_size, "CAE_half code length (128)"},
      {"feature_size", "Architecture", &c.feature_size, "VAE feature size (stored only)"},
      {"n_conv", "Architecture", &c.n_conv, "VAE convolutions (stored only)"},
      {"io_layer_channels", "Architecture", &c.io_layer_channels, "VAE channels (stored only)"},
      {"recons_weight", "Architecture", &c.recons_weight, "VAE weight (stored only)"},
      {"kl_weight", "Architecture", &c.kl_weight, "VAE weight (stored only)"},
      {"normalization", "Architecture", &c.normalization, "VAE normalisation (stored only)"},
      {"selection_metrics", "Classification", &c.selection_metrics,
       "metrics selecting best models (loss)", "", ""},
      {"label", "Classification", &c.label, "label column (diagnosis / age)"},
      {"selection_threshold", "Classification", &c.selection_threshold,
       "soft-voting part threshold (0.0)"},
      {"loss", "Classification", &c.loss, "loss (CrossEntropyLoss / MSELoss)", "", "l"},
      {"gpu", "Computational", choice_field(c.gpu),
       "auto, true or false (auto: CUDA when available)"},
      {"n_proc", "Computational", &c.n_proc,
       "I/O threads building training batches per rank, ClinicaDL's loader workers (2; at "
       "most the CPUs of the rank's share that computing leaves)"},
      {"batch_size", "Computational", &c.batch_size, "micro-batch size per rank (8)"},
      {"evaluation_steps", "Computational", &c.evaluation_steps,
       "evaluate every N weight updates (0: off)"},
      {"fully_sharded_data_parallel", "Computational", &c.fully_sharded_data_parallel,
       "shard the Adam/AdamW state over the data-parallel ranks (same weights, 1/ranks of its "
       "memory)"},
      {"amp", "Computational", &c.amp,
       "mixed precision: bf16 autocast (fp16 + loss scaling on GPUs without bf16)", "no_amp"},
      {"comm_backend", "Computational", choice_field(c.comm_backend),
       "gradient back end: auto, mpi, nccl or serial"},
      {"threads", "Computational", &c.threads,
       "LibTorch threads per rank (0: the rank's share of the node)"},
      {"channels_last", "Computational", choice_field(c.channels_last),
       "channels_last_3d layout: auto (on for CUDA with --amp), true or false"},
      {"checkpoint_steps", "Computational", &c.checkpoint_steps,
       "also write the resumable training state every N weight updates (0: at epoch ends only)"},
      {"split_parallel", "Computational", &c.split_parallel,
       "train the requested k-fold splits side by side on rank groups (same results)",
       "split_sequential"},
      {"unit_scheduling", "Computational", choice_field(c.unit_scheduling),
       "with several rank groups: dynamic (a group takes the next free unit when it finishes "
       "one) or static (unit u on group u mod G); same results"},
      {"memory_saving", "Computational", &c.memory_saving,
       "Conv4_FC3/Conv5_FC3: no image cache, and the fused first two convolution blocks (the "
       "default for t1-linear images) for every input size (less than half ClinicaDL's memory, "
       "same results)",
       "no_memory_saving"},
      {"stage_data", "Computational", &c.stage_data,
       "node-local folder (e.g. $TMPDIR) the HDF5 file(s) are copied to once per node before "
       "training, and read from there (removed at the end; not recorded in maps.json)",
       "", "", /*in_maps_json=*/false},
      {"seed", "Reproducibility", &c.seed, "random seed (0)"},
      {"deterministic", "Reproducibility", &c.deterministic, "deterministic algorithms",
       "nondeterministic"},
      {"compensation", "Reproducibility", choice_field(c.compensation),
       "memory or time (deterministic CUDA)"},
      {"save_all_models", "Reproducibility", &c.save_all_models, "keep every epoch's weights",
       "save_only_best_model"},
      {"track_exp", "Reproducibility", choice_field(c.track_exp),
       "mlflow: an MLflow store in <MAPS>/mlruns, or none (TensorBoard files are always written)"},
      {"transfer_path", "Transfer_learning", &c.transfer_path,
       "transfer learning: the MAPS (ours or ClinicaDL's) whose best model initialises the "
       "network"},
      {"transfer_selection_metric", "Transfer_learning", &c.transfer_selection_metric,
       "source best model"},
      {"nb_unfrozen_layer", "Transfer_learning", &c.nb_unfrozen_layer,
       "layers left trainable after transfer"},
      {"use_extracted_features", "Mode", &c.use_extracted_features, "stored only"},
      {"mode", "Mode", choice_field(c.mode), "image, patch, roi or slice (image)"},
      {"patch_size", "Mode", &c.patch_size, "patch mode: edge length (50)"},
      {"stride_size", "Mode", &c.stride_size, "patch mode: stride (50)"},
      {"slice_direction", "Mode", &c.slice_direction, "slice mode: 0 sagittal, 1 coronal, 2 axial"},
      {"slice_mode", "Mode", choice_field(c.slice_mode), "slice mode: rgb or single"},
      {"discarded_slices", "Mode", &c.discarded_slices,
       "slice mode: slices dropped at the start [and end]"},
      {"roi_list", "Mode", &c.roi_list, "roi mode: ROI names (masks stored in the HDF5)"},
      {"uncropped_roi", "Mode", &c.uncropped_roi, "roi mode: keep the whole image size"},
      {"multi_cohort", "Data", &c.multi_cohort, "DATA and TSV_DIR are cohort TSVs",
       "single_cohort"},
      {"diagnoses", "Data", &c.diagnoses, "diagnoses kept (AD CN)", "", "d"},
      {"baseline", "Data", &c.baseline, "train on baseline sessions only", "longitudinal"},
      {"valid_longitudinal", "Data", &c.valid_longitudinal, "validate on all sessions",
       "valid_baseline"},
      {"normalize", "Data", &c.normalize, "MinMax normalisation (on)", "unnormalize"},
      {"data_augmentation", "Data", &c.data_augmentation,
       "augmentations of training samples: Noise Erasing CropPad Smoothing Motion Ghosting Spike "
       "BiasField RandomBlur RandomSwap"},
      {"sampler", "Data", choice_field(c.sampler), "random or weighted"},
      {"size_reduction", "Data", &c.size_reduction,
       "ClinicaDL's SizeReduction of t1-linear images after MinMax (image mode)"},
      {"size_reduction_factor", "Data", &c.size_reduction_factor, "2 to 5"},
      {"caps_target", "Data", &c.caps_target, "SSDA only (stored)"},
      {"tsv_target_lab", "Data", &c.tsv_target_lab, "SSDA only (stored)"},
      {"tsv_target_unlab", "Data", &c.tsv_target_unlab, "SSDA only (stored)"},
      {"preprocessing_dict_target", "Data", &c.preprocessing_dict_target, "SSDA only (stored)"},
      {"cache", "Data", &c.cache, "keep this rank's images in memory when they fit", "no_cache"},
      {"n_splits", "Cross_validation", &c.n_splits, "k-fold splits (0: single split)"},
      {"split", "Cross_validation", &c.split, "splits to train (all)"},
      {"optimizer", "Optimization", choice_field(c.optimizer),
       "Adam (default), AdamW, SGD, Adagrad, RMSprop, Adadelta, Adamax, ASGD, NAdam or RAdam "
       "(torch.optim's update rules and defaults)"},
      {"epochs", "Optimization", &c.epochs, "maximum number of epochs (20)"},
      {"learning_rate", "Optimization", &c.learning_rate, "learning rate (1e-4)"},
      {"adaptive_learning_rate", "Optimization", &c.adaptive_learning_rate, "reduce on plateau"},
      {"weight_decay", "Optimization", &c.weight_decay, "weight decay (1e-4)"},
      {"patience", "Optimization", &c.patience, "early-stopping patience (0: off)"},
      {"tolerance", "Optimization", &c.tolerance, "early-stopping relative tolerance (0.0)"},
      {"accumulation_steps", "Optimization", &c.accumulation_steps,
       "micro-batches per weight update (1)"},
      {"profiler", "Optimization", &c.profiler,
       "phase profile of the first 2 epochs (MAPS/profiler/*.pt.trace.json)"},
      {"emissions_calculator", "Informations", &c.emissions_calculator,
       "energy from RAPL/NVML counters, CodeCarbon emissions.csv per split"},
  };
}

bool is_known_section(const std::string& section) {
  for (const auto& s : kSections) {
    if (s == section) return true;
  }
  return false;
}

std::string known_sections() {
  std::string text;
  for (const auto& s : kSections) text += (text.empty() ? "" : ", ") + s;
  return text;
}

std::vector<std::string> expand_short_aliases(const std::vector<std::string>& args) {
  static const std::map<std::string, std::string> aliases{{"-lr", "--learning_rate"},
                                                          {"-wd", "--weight_decay"},
                                                          {"-esteps", "--evaluation_steps"},
                                                          {"-asteps", "--accumulation_steps"},
                                                          {"-alr", "--adaptive_learning_rate"},
                                                          {"-np", "--n_proc"},
                                                          {"-sm", "--selection_metrics"},
                                                          {"-tp", "--transfer_path"},
                                                          {"-tsm", "--transfer_selection_metric"},
                                                          {"-nul", "--nb_unfrozen_layer"},
                                                          {"-te", "--track_exp"},
                                                          {"-da", "--data_augmentation"}};
  std::vector<std::string> result;
  for (const auto& arg : args) {
    auto found = aliases.find(arg);
    result.push_back(found == aliases.end() ? arg : found->second);
  }
  return result;
}

}  // namespace cdl::config

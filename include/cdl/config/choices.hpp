// The typed values of the train options that take one of a fixed set of names, with the names
// the command line, TOML files and maps.json use (core/choice.hpp). An option is read into its
// type once, by the option table; past config/, no one compares option names. The task, mode and
// sampler types are data's (data/task.hpp, data/mode.hpp, data/shard_plan.hpp).
#pragma once

#include <array>

#include "cdl/core/choice.hpp"

namespace cdl::config {

/// --optimizer: ClinicaDL's torch.optim classes (train/optimizers.hpp).
enum class Optimizer {
  kAdam,
  kAdamW,
  kSGD,
  kAdagrad,
  kRMSprop,
  kAdadelta,
  kAdamax,
  kASGD,
  kNAdam,
  kRAdam
};
constexpr std::array<ChoiceName<Optimizer>, 10> choice_names(Optimizer) {
  return {{{Optimizer::kAdam, "Adam"},
           {Optimizer::kAdamW, "AdamW"},
           {Optimizer::kSGD, "SGD"},
           {Optimizer::kAdagrad, "Adagrad"},
           {Optimizer::kRMSprop, "RMSprop"},
           {Optimizer::kAdadelta, "Adadelta"},
           {Optimizer::kAdamax, "Adamax"},
           {Optimizer::kASGD, "ASGD"},
           {Optimizer::kNAdam, "NAdam"},
           {Optimizer::kRAdam, "RAdam"}}};
}

/// A choice left to the engine (auto) or forced on or off: --gpu, --channels_last.
enum class Toggle { kAuto, kOn, kOff };
constexpr std::array<ChoiceName<Toggle>, 3> choice_names(Toggle) {
  return {{{Toggle::kAuto, "auto"}, {Toggle::kOn, "true"}, {Toggle::kOff, "false"}}};
}

/// --comm_backend: what carries the gradients (auto: NCCL for CUDA models when compiled in, MPI
/// otherwise).
enum class CommBackend { kAuto, kMpi, kNccl, kSerial };
constexpr std::array<ChoiceName<CommBackend>, 4> choice_names(CommBackend) {
  return {{{CommBackend::kAuto, "auto"},
           {CommBackend::kMpi, "mpi"},
           {CommBackend::kNccl, "nccl"},
           {CommBackend::kSerial, "serial"}}};
}

/// --compensation: ClinicaDL's trade of deterministic CUDA algorithms (stored).
enum class Compensation { kMemory, kTime };
constexpr std::array<ChoiceName<Compensation>, 2> choice_names(Compensation) {
  return {{{Compensation::kMemory, "memory"}, {Compensation::kTime, "time"}}};
}

/// --track_exp: the experiment tracker besides TensorBoard's event files. ClinicaDL writes "" for
/// none; "none" is read as well.
enum class Tracker { kNone, kMlflow, kWandb };
constexpr std::array<ChoiceName<Tracker>, 4> choice_names(Tracker) {
  return {{{Tracker::kNone, ""},
           {Tracker::kNone, "none"},
           {Tracker::kMlflow, "mlflow"},
           {Tracker::kWandb, "wandb"}}};
}

/// --unit_scheduling: how rank groups share units (networks, splits, runs).
enum class UnitScheduling { kDynamic, kStatic };
constexpr std::array<ChoiceName<UnitScheduling>, 2> choice_names(UnitScheduling) {
  return {{{UnitScheduling::kDynamic, "dynamic"}, {UnitScheduling::kStatic, "static"}}};
}

/// --slice_mode: a slice as 3 identical channels (rgb) or one.
enum class SliceMode { kRgb, kSingle };
constexpr std::array<ChoiceName<SliceMode>, 2> choice_names(SliceMode) {
  return {{{SliceMode::kRgb, "rgb"}, {SliceMode::kSingle, "single"}}};
}

}  // namespace cdl::config

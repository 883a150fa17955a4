// Checkpoints in ClinicaDL's layout, written with LibTorch's pickler so Python's torch.load reads
// them: {"model": state dict with ClinicaDL's key names, "epoch": int, "name": architecture}.
#pragma once

#include "cdl/model/grad_scaler.hpp"

#include <ATen/core/Dict.h>
#include <torch/nn/module.h>
#include <torch/optim/optimizer.h>
#include <torch/serialize/output-archive.h>

#include <string>

namespace cdl::formats {

/// A state dict: parameter and buffer names -> tensors, in PyTorch's order (for each module in
/// pre-order: its parameters, then its buffers).
using StateDict = c10::Dict<std::string, at::Tensor>;

/// The state dict of `module` (CPU copies, detached).
StateDict state_dict(const torch::nn::Module& module);

/// Copies `state` into `module`. Strict: same key set and shapes, else DataError naming `source`,
/// the missing/unexpected keys or the first shape mismatch.
void load_state_dict(torch::nn::Module& module, const StateDict& state, const std::string& source);

/// The content of a model checkpoint file.
struct ModelCheckpoint {
  StateDict model;
  int64_t epoch = 0;
  std::string name;
};

/// Writes {"model", "epoch", "name"} to `path` atomically (temporary file + rename), as plain
/// dicts: Python's torch.load reads it also with weights_only=True (its default since torch 2.6,
/// which ClinicaDL's own predict uses).
void save_model_checkpoint(const std::string& path, const torch::nn::Module& module, int64_t epoch,
                           const std::string& name);

/// Reads a file written by save_model_checkpoint (or torch.save of the same dict: ClinicaDL's
/// model.pth.tar) through read_checkpoint_file. Throws DataError naming the file when it is
/// missing, malformed, or lacks its epoch or name.
ModelCheckpoint load_model_checkpoint(const std::string& path);

/// Writes one tensor (a contiguous CPU copy) to `path` atomically, readable by Python's torch.load
/// (as ClinicaDL's torch.save(tensor) files).
void save_tensor_file(const std::string& path, const at::Tensor& tensor);

/// Writes the optimizer state (LibTorch archive) with its epoch, and the loss scaler's state
/// when `scaler` is enabled, atomically.
void save_optimizer_state(const std::string& path, torch::optim::Optimizer& optimizer,
                          int64_t epoch, const model::GradScaler* scaler = nullptr);

/// Writes a LibTorch archive to `path` atomically: serialised in memory first (LibTorch's file
/// writer aborts the process from a destructor when the disk fills), then written by the checked
/// writer (core/atomic_file.hpp), which names a full disk and leaves nothing behind.
void write_archive(const std::string& path, torch::serialize::OutputArchive& archive);

/// Restores an optimizer state written by save_optimizer_state (and the scaler's, when both the
/// file and `scaler` have one); returns its epoch.
int64_t load_optimizer_state(const std::string& path, torch::optim::Optimizer& optimizer,
                             model::GradScaler* scaler = nullptr);

}  // namespace cdl::formats

// Reader of checkpoints written by Python's torch.save (PyTorch's zip format, e.g. ClinicaDL's
// model.pth.tar) or by torch::pickle_save (ours), without Python and without depending on what
// LibTorch's own unpickler of the installed version accepts: the zip records are read with
// LibTorch's PyTorchStreamReader, the pickle with a small unpickler of our own that understands
// what torch.save emits (dicts, OrderedDicts with their _metadata, tensors rebuilt from typed
// storages) and nothing else is ever executed.
#pragma once

#include "cdl/formats/checkpoint.hpp"

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <optional>
#include <string>

namespace cdl::formats {

/// The entries of a checkpoint file, whatever wrote it.
struct CheckpointContent {
  /// The "model" entry (parameter and buffer names -> contiguous CPU tensors), in file order; the
  /// whole file when its top level is itself a state dict.
  StateDict model;
  /// The "epoch" entry, when the file has one (not None).
  std::optional<int64_t> epoch;
  /// The "name" entry (ClinicaDL's architecture name), when the file has one (not None).
  std::optional<std::string> name;
};

/// Reads a checkpoint written by Python's torch.save (zip format: ClinicaDL's model.pth.tar) or by
/// torch::pickle_save (ours). The top level must be a dict with a "model" entry holding a dict of
/// tensors (other entries than "model", "epoch" and "name" are ignored, whatever they hold), or a
/// state dict itself. Tensors keep their dtype, and their storage offset, sizes and strides are
/// honoured; whatever device they were saved from, they are returned on the CPU. Throws DataError
/// naming the file and what is wrong: not a regular file, not a zip archive (or the legacy pre-1.6
/// torch.save format), no pickle inside, an unsupported pickle opcode, a class or function other
/// than the few torch.save uses where the value is needed, no "model" entry, a storage of an
/// unsupported dtype, a big-endian file, a tensor reaching out of its storage, a truncated or
/// corrupt file (every stored record's CRC-32 is checked: one flipped byte is named, never loaded).
CheckpointContent read_checkpoint_file(const std::string& path);

/// Reads a file written by torch.save(tensor) (Python, ClinicaDL's .pt images) or by
/// torch::pickle_save(tensor): the tensor, contiguous, on the CPU, in its dtype. The same reader
/// and checks as read_checkpoint_file; throws DataError naming the file when it holds anything
/// but a tensor.
at::Tensor read_tensor_file(const std::string& path);

}  // namespace cdl::formats

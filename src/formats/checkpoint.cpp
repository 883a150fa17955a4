// Implementation of ClinicaDL-compatible checkpoints.
#include "cdl/formats/checkpoint.hpp"

#include <caffe2/serialize/inline_container.h>
#include <torch/csrc/jit/serialization/export.h>
#include <torch/csrc/jit/serialization/pickler.h>
#include <torch/serialize.h>
#include <torch/torch.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <set>
#include <sstream>

#include "cdl/core/atomic_file.hpp"
#include "cdl/core/error.hpp"
#include "cdl/formats/pytorch_checkpoint.hpp"
#include "zip_records.hpp"

namespace cdl::formats {
namespace {

/// A contiguous host copy (weights may live on a GPU or in channels_last_3d layout): what a CPU
/// and Python's torch.load read back.
torch::Tensor on_host(const torch::Tensor& tensor) {
  return tensor.detach().to(torch::kCPU).clone(torch::MemoryFormat::Contiguous);
}

void collect(const torch::nn::Module& module, const std::string& prefix, StateDict& state) {
  for (const auto& p : module.named_parameters(/*recurse=*/false)) {
    state.insert(prefix + p.key(), on_host(p.value()));
  }
  for (const auto& b : module.named_buffers(/*recurse=*/false)) {
    state.insert(prefix + b.key(), on_host(b.value()));
  }
  for (const auto& child : module.named_children()) {
    collect(*child.value(), prefix + child.key() + ".", state);
  }
}

/// PyTorch's zip checkpoint of `value` (archive "data": data.pkl + one record per tensor) whose
/// pickle holds plain dicts. torch::pickle_save tags every dict with its TorchScript type through
/// a call to torch.jit._pickle.restore_type_tag, a global that torch.load refuses under
/// weights_only=True, its default since torch 2.6 and what ClinicaDL's own loading gets.
std::vector<char> pickle_plain(const c10::IValue& value) {
  std::vector<char> pickle;
  torch::jit::Pickler pickler(
      [&](const char* bytes, size_t size) { pickle.insert(pickle.end(), bytes, bytes + size); },
      /*tensor_table=*/nullptr, /*type_renamer=*/nullptr, /*memoized_class_types=*/nullptr,
      /*get_tensor_id=*/nullptr, /*tag_aggregates=*/false);
  pickler.protocol();
  pickler.pushIValue(value);
  pickler.stop();
  std::vector<char> archive;
  caffe2::serialize::PyTorchStreamWriter writer([&](const void* bytes, size_t size) {
    const auto* begin = static_cast<const char*>(bytes);
    archive.insert(archive.end(), begin, begin + size);
    return size;
  });
  torch::jit::writeArchiveAndTensors("data", pickle.data(), pickle.size(), pickler.tensorData(),
                                     writer);
  writer.writeEndOfFile();
  return archive;
}

void write_bytes(const std::string& path, const std::vector<char>& bytes) {
  write_bytes_atomically(path, bytes.data(), bytes.size());
}

}  // namespace

StateDict state_dict(const torch::nn::Module& module) {
  StateDict state;
  collect(module, "", state);
  return state;
}

void load_state_dict(torch::nn::Module& module, const StateDict& state, const std::string& source) {
  torch::NoGradGuard no_grad;
  const auto own = state_dict(module);
  std::set<std::string> missing, unexpected;
  for (const auto& entry : own) {
    if (!state.contains(entry.key())) missing.insert(entry.key());
  }
  for (const auto& entry : state) {
    if (!own.contains(entry.key())) unexpected.insert(entry.key());
  }
  if (!missing.empty() || !unexpected.empty()) {
    CDL_THROW(DataError, "checkpoint '", source, "' does not match the network: ", missing.size(),
              " missing key(s) (e.g. ", missing.empty() ? "-" : *missing.begin(), "), ",
              unexpected.size(), " unexpected key(s) (e.g. ",
              unexpected.empty() ? "-" : *unexpected.begin(), ")");
  }
  auto params = module.named_parameters();
  auto buffers = module.named_buffers();
  for (const auto& entry : state) {
    auto* target = params.find(entry.key());
    if (target == nullptr) target = buffers.find(entry.key());
    if (!target->sizes().equals(entry.value().sizes())) {
      CDL_THROW(DataError, "checkpoint '", source, "': '", entry.key(), "' has shape ",
                entry.value().sizes(), ", the network expects ", target->sizes());
    }
    target->copy_(entry.value());
  }
}

void save_model_checkpoint(const std::string& path, const torch::nn::Module& module, int64_t epoch,
                           const std::string& name) {
  c10::impl::GenericDict content(c10::StringType::get(), c10::AnyType::get());
  content.insert("model", state_dict(module));
  content.insert("epoch", epoch);
  content.insert("name", name);
  write_bytes(path, pickle_plain(content));
}

void write_archive(const std::string& path, torch::serialize::OutputArchive& archive) {
  // Streamed to the file record by record through the checked appender: no copy of the archive
  // in memory (for a training state, the weights and the optimizer state over again, in a
  // string stream that grows by doubling, then copied once more).
  write_file_atomically(path, [&](const std::string& tmp) {
    if (!std::ofstream(tmp, std::ios::binary | std::ios::trunc)) {
      CDL_THROW(DataError, "cannot create ", tmp, ": ", std::strerror(errno),
                "\nhint: check that the directory is writable and the disk not full");
    }
    // A failed write is remembered and reported after the writer finished: LibTorch's writer
    // reports a short write by throwing, also from its destructor (SIGABRT on a full disk).
    std::string failure;
    archive.save_to([&](const void* data, size_t size) -> size_t {
      if (failure.empty()) {
        try {
          append_bytes(tmp, data, size);
        } catch (const DataError& error) {
          failure = error.what();  // names the file and a full disk
        }
      }
      return size;
    });
    if (!failure.empty()) CDL_THROW(DataError, failure);
  });
}

void save_tensor_file(const std::string& path, const at::Tensor& tensor) {
  write_bytes(path, torch::pickle_save(on_host(tensor)));
}

ModelCheckpoint load_model_checkpoint(const std::string& path) {
  // One reader for every checkpoint the engine reads (formats/pytorch_checkpoint.hpp): it checks
  // what it reads and runs nothing a file asks for.
  auto content = read_checkpoint_file(path);
  if (!content.epoch.has_value() || !content.name.has_value()) {
    CDL_THROW(DataError, "checkpoint '", path, "' lacks its ",
              content.epoch.has_value() ? "\"name\"" : "\"epoch\"",
              " entry; expected a model checkpoint {model, epoch, name} written by clinicadl-hpc "
              "or ClinicaDL");
  }
  return {std::move(content.model), *content.epoch, std::move(*content.name)};
}

void save_optimizer_state(const std::string& path, torch::optim::Optimizer& optimizer,
                          int64_t epoch, const model::GradScaler* scaler) {
  torch::serialize::OutputArchive archive;
  optimizer.save(archive);
  archive.write("epoch", torch::tensor(epoch));
  if (scaler != nullptr && scaler->enabled()) {
    archive.write("grad_scaler_scale", torch::tensor(scaler->scale_value(), torch::kFloat64));
    archive.write("grad_scaler_growth_tracker", torch::tensor(scaler->growth_tracker()));
  }
  write_archive(path, archive);
}

int64_t load_optimizer_state(const std::string& path, torch::optim::Optimizer& optimizer,
                             model::GradScaler* scaler) {
  const std::string bytes = read_text_file(path);
  check_zip_records(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(), path);
  torch::serialize::InputArchive archive;
  try {
    std::istringstream stream(bytes);
    archive.load_from(stream, torch::kCPU);  // a state written on a GPU loads anywhere
    optimizer.load(archive);
  } catch (const c10::Error& error) {
    CDL_THROW(DataError, "optimizer state '", path,
              "' cannot be read: ", error.what_without_backtrace());
  }
  torch::Tensor epoch, scale, tracker;
  archive.read("epoch", epoch);
  if (scaler != nullptr && archive.try_read("grad_scaler_scale", scale) &&
      archive.try_read("grad_scaler_growth_tracker", tracker)) {
    scaler->restore(scale.item<double>(), tracker.item<int64_t>());
  }
  return epoch.item<int64_t>();
}

}  // namespace cdl::formats

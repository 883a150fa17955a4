// Implementation of the resumable training state.
#include "cdl/formats/training_state.hpp"

#include <torch/serialize.h>
#include <torch/torch.h>

#include <cmath>
#include <filesystem>
#include <functional>
#include <sstream>

#include "cdl/core/atomic_file.hpp"
#include "cdl/core/error.hpp"
#include "cdl/formats/checkpoint.hpp"
#include "cdl/maps/tsv_writer.hpp"
#include "zip_records.hpp"

namespace cdl::formats {
namespace {

constexpr const char* kFormat = "clinicadl-hpc training state";
constexpr int kFormatVersion = 2;

/// JSON has no NaN: null stands for it.
nlohmann::json number_or_null(double value) {
  return std::isfinite(value) ? nlohmann::json(value) : nlohmann::json(nullptr);
}

template <typename T>
T field(const nlohmann::json& json, const char* key, const std::string& source) {
  const auto it = json.find(key);
  if (it == json.end()) CDL_THROW(DataError, "training state '", source, "' lacks '", key, "'");
  try {
    return it->get<T>();
  } catch (const nlohmann::json::exception&) {
    CDL_THROW(DataError, "training state '", source, "': '", key, "' is ", it->dump(),
              ", which has the wrong type");
  }
}

/// Runs `read`, turning LibTorch's errors (c10::Error, TorchScript's parser reports) into a
/// DataError that names the training state `source` and what is wrong with it.
void as_data_error(const std::string& source, const char* problem,
                   const std::function<void()>& read) {
  try {
    read();
  } catch (const Error&) {
    throw;
  } catch (const c10::Error& error) {
    CDL_THROW(DataError, "training state '", source, "' ", problem, ": ",
              error.what_without_backtrace(),
              "\n  hint: it was not written by clinicadl-hpc, or the file is damaged");
  } catch (const std::exception& error) {
    CDL_THROW(DataError, "training state '", source, "' ", problem, ": ", error.what(),
              "\n  hint: it was not written by clinicadl-hpc, or the file is damaged");
  }
}

TrainingProgress read_progress(const c10::IValue& text, const std::string& source) {
  nlohmann::json json;
  try {
    json = nlohmann::json::parse(text.isString() ? text.toStringRef() : std::string());
  } catch (const nlohmann::json::exception& error) {
    CDL_THROW(DataError, "training state '", source, "': progress is not JSON (", error.what(),
              ")");
  }
  return TrainingProgress::from_json(json, source);
}

}  // namespace

nlohmann::json TrainingProgress::to_json() const {
  return {{"format", kFormat},
          {"format_version", kFormatVersion},
          {"epoch", epoch},
          {"next_update", next_update},
          {"next_micro_batch", next_micro_batch},
          {"updates", updates},
          {"world_size", world_size},
          {"batch_size", batch_size},
          {"virtual_batch", virtual_batch},
          {"elapsed_seconds", elapsed_seconds},
          {"last_valid_loss", number_or_null(last_valid_loss)},
          {"retain_best", retain_best},
          {"early_stopping", early_stopping},
          {"adaptive_lr", adaptive_lr}};
}

TrainingProgress TrainingProgress::from_json(const nlohmann::json& json,
                                             const std::string& source) {
  if (!json.is_object() || json.value("format", "") != kFormat) {
    CDL_THROW(DataError, "'", source, "' is not a clinicadl-hpc training state");
  }
  const int version = field<int>(json, "format_version", source);
  if (version != kFormatVersion) {
    CDL_THROW(DataError, "training state '", source, "' has format version ", version,
              ", this build reads version ", kFormatVersion,
              "\n  hint: resume with the clinicadl-hpc version that started the training");
  }
  TrainingProgress p;
  p.epoch = field<int64_t>(json, "epoch", source);
  p.next_update = field<int64_t>(json, "next_update", source);
  p.next_micro_batch = field<int64_t>(json, "next_micro_batch", source);
  p.updates = field<int64_t>(json, "updates", source);
  p.world_size = field<int>(json, "world_size", source);
  p.batch_size = field<int64_t>(json, "batch_size", source);
  p.virtual_batch = field<int64_t>(json, "virtual_batch", source);
  p.elapsed_seconds = field<double>(json, "elapsed_seconds", source);
  const auto& loss = json.at("last_valid_loss");
  p.last_valid_loss =
      loss.is_null() ? std::numeric_limits<double>::quiet_NaN() : loss.get<double>();
  p.retain_best = json.at("retain_best");
  p.early_stopping = json.at("early_stopping");
  p.adaptive_lr = json.at("adaptive_lr");
  if (p.epoch < 0 || p.next_update < 0 || p.next_micro_batch < 0 || p.world_size < 1 ||
      p.batch_size < 0 || p.virtual_batch < 0) {
    CDL_THROW(DataError, "training state '", source, "' is inconsistent: epoch ", p.epoch,
              ", next_update ", p.next_update, ", next_micro_batch ", p.next_micro_batch,
              ", world_size ", p.world_size, ", batch_size ", p.batch_size, ", virtual_batch ",
              p.virtual_batch);
  }
  return p;
}

void save_training_state(const std::string& path, const torch::nn::Module& module,
                         torch::optim::Optimizer& optimizer, const model::GradScaler* scaler,
                         const TrainingProgress& progress) {
  torch::serialize::OutputArchive archive;
  archive.write("model", c10::IValue(state_dict(module)));
  torch::serialize::OutputArchive optimizer_archive;
  optimizer.save(optimizer_archive);
  archive.write("optimizer", optimizer_archive);
  if (scaler != nullptr && scaler->enabled()) {
    archive.write("grad_scaler_scale", torch::tensor(scaler->scale_value(), torch::kFloat64));
    archive.write("grad_scaler_growth_tracker", torch::tensor(scaler->growth_tracker()));
  }
  archive.write("progress", c10::IValue(progress.to_json().dump()));
  write_archive(path, archive);
}

TrainingProgress restore_training_state(const std::string& bytes, const std::string& source,
                                        torch::nn::Module& module,
                                        torch::optim::Optimizer& optimizer,
                                        model::GradScaler* scaler, torch::Device device) {
  check_zip_records(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(), source);
  torch::serialize::InputArchive archive;
  c10::IValue model, progress_text;
  as_data_error(source, "cannot be read", [&] {
    std::istringstream stream(bytes);
    archive.load_from(stream, device);
    archive.read("progress", progress_text);
    archive.read("model", model);
  });
  auto progress = read_progress(progress_text, source);
  StateDict weights;
  as_data_error(source, "has no state dict under \"model\"", [&] {
    for (const auto& entry : model.toGenericDict()) {
      weights.insert(entry.key().toStringRef(), entry.value().toTensor());
    }
  });
  load_state_dict(module, weights, source);
  as_data_error(source, "has an optimizer state that does not match", [&] {
    torch::serialize::InputArchive optimizer_archive;
    archive.read("optimizer", optimizer_archive);
    optimizer.load(optimizer_archive);
  });
  torch::Tensor scale, tracker;
  if (scaler != nullptr && archive.try_read("grad_scaler_scale", scale) &&
      archive.try_read("grad_scaler_growth_tracker", tracker)) {
    scaler->restore(scale.item<double>(), tracker.item<int64_t>());
  }
  return progress;
}

size_t trim_training_log(const std::string& path, const TrainingProgress& progress) {
  if (!std::filesystem::exists(path)) return 0;
  auto table = TsvTable::read(path);
  const size_t epoch_column = table.column_index("epoch");
  const size_t iteration_column = table.column_index("iteration");
  const size_t removed = table.remove_rows_if([&](const std::vector<std::string>& row) {
    const int64_t epoch = std::stoll(row.at(epoch_column));
    const int64_t iteration = std::stoll(row.at(iteration_column));
    return epoch > progress.epoch ||
           (epoch == progress.epoch && iteration >= progress.next_micro_batch);
  });
  if (removed > 0) table.write(path);
  return removed;
}

}  // namespace cdl::formats

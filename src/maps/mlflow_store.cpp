// Implementation of the MLflow file store run: meta.yaml of the experiment and the run, params/,
// tags/ and metrics/ files, in the layout of MLflow's FileStore.
#include "cdl/maps/mlflow_store.hpp"

#include <pwd.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <map>

#include "cdl/core/atomic_file.hpp"
#include "cdl/maps/tsv_writer.hpp"

namespace cdl::maps {
namespace {

namespace fs = std::filesystem;

constexpr const char* kExperimentId = "1";  // "0" is MLflow's Default experiment
constexpr int kRunning = 1, kFinished = 3;  // mlflow.entities.RunStatus
constexpr int kLocalSource = 4;             // mlflow.entities.SourceType.LOCAL

/// `text` as a single-quoted YAML scalar (control characters, which YAML would fold, become '_').
std::string yaml_string(const std::string& text) {
  std::string quoted = "'";
  for (const char c : text) {
    if (c == '\'') {
      quoted += "''";
    } else {
      quoted += static_cast<unsigned char>(c) < 0x20 ? '_' : c;
    }
  }
  return quoted + "'";
}

int64_t milliseconds(double seconds) {
  return static_cast<int64_t>(std::llround(seconds * 1000.0));
}

std::string user_name() {
  if (const passwd* entry = getpwuid(geteuid())) return entry->pw_name;
  return "unknown";
}

/// A parameter's text as Python's str() gives it for the JSON value (ClinicaDL logs str(value)).
std::string parameter_text(const nlohmann::ordered_json& value) {
  if (value.is_string()) return value.get<std::string>();
  if (value.is_boolean()) return value.get<bool>() ? "True" : "False";
  if (value.is_null()) return "None";
  return value.dump();
}

/// True for a name made of letters, digits, '_', '-' and '.', not starting with '.': a file name
/// inside its folder (MLflow's parameter names are a superset).
bool plain_name(const std::string& name) {
  if (name.empty() || name.size() > 250 || name[0] == '.') return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.';
  });
}

/// A metric value as Python's float() reads it back (NaN and infinities included).
std::string metric_text(double value) {
  if (std::isnan(value)) return "nan";
  if (std::isinf(value)) return value > 0 ? "inf" : "-inf";
  char text[32];
  std::snprintf(text, sizeof(text), "%.17g", value);
  return text;
}

/// The start_time of the run's meta.yaml at `path`, or `otherwise` when it has none (a new run)
/// or an unreadable one.
int64_t recorded_start(const std::string& path, int64_t otherwise);

/// A meta.yaml field of `path` ("" when the file or field is absent).
std::string yaml_field(const std::string& path, const std::string& field) {
  if (!fs::exists(path)) return "";
  const std::string text = read_text_file(path);
  const std::string key = "\n" + field + ": ";
  const auto at = ("\n" + text).find(key);
  if (at == std::string::npos) return "";
  const auto start = at + key.size() - 1;
  return text.substr(start, text.find('\n', start) - start);
}

int64_t recorded_start(const std::string& path, int64_t otherwise) {
  try {
    const std::string text = yaml_field(path, "start_time");
    return text.empty() ? otherwise : std::stoll(text);
  } catch (const std::exception&) {
    return otherwise;
  }
}

}  // namespace

std::string file_uri(const std::string& path) {
  static const char* const kHex = "0123456789ABCDEF";
  std::string uri = "file://";
  for (const char c : fs::absolute(path).lexically_normal().string()) {
    const auto byte = static_cast<unsigned char>(c);
    if (std::isalnum(byte) || c == '-' || c == '.' || c == '_' || c == '~' || c == '/') {
      uri += c;
    } else {
      uri += '%';
      uri += kHex[byte >> 4];
      uri += kHex[byte & 0xF];
    }
  }
  return uri;
}

MlflowRun::MlflowRun(const MapsLayout& layout, int split, int network)
    : store_(layout.mlruns_dir()),
      experiment_name_("clinicadl-" +
                       fs::path(layout.root()).lexically_normal().filename().string()),
      run_id_(MapsLayout::split_dir_name(split) +
              (network >= 0 ? "-" + MapsLayout::network_name(network) : "")) {}

std::string MlflowRun::run_dir() const {
  return store_ + "/" + kExperimentId + "/" + run_id_;
}

void MlflowRun::write_run_meta(int status, int64_t start_ms, const std::string& end_ms) const {
  const std::string experiment = std::string("'") + kExperimentId + "'";
  write_text_atomically(run_dir() + "/meta.yaml",
                        "artifact_uri: " + yaml_string(file_uri(run_dir() + "/artifacts")) +
                            "\nend_time: " + end_ms + "\nentry_point_name: ''\nexperiment_id: " +
                            experiment + "\nlifecycle_stage: active\nrun_id: " + run_id_ +
                            "\nrun_name: " + run_id_ + "\nrun_uuid: " + run_id_ +
                            "\nsource_name: ''\nsource_type: " + std::to_string(kLocalSource) +
                            "\nsource_version: ''\nstart_time: " + std::to_string(start_ms) +
                            "\nstatus: " + std::to_string(status) +
                            "\ntags: []\nuser_id: " + yaml_string(user_name()) + "\n");
}

void MlflowRun::start(const nlohmann::ordered_json& parameters, double wall_time) const {
  const std::string experiment_dir = store_ + "/" + kExperimentId;
  const std::string now = std::to_string(milliseconds(wall_time));
  if (!fs::exists(experiment_dir + "/meta.yaml")) {
    write_text_atomically(
        experiment_dir + "/meta.yaml",
        "artifact_location: " + yaml_string(file_uri(experiment_dir)) + "\ncreation_time: " + now +
            "\nexperiment_id: '" + kExperimentId + "'\nlast_update_time: " + now +
            "\nlifecycle_stage: active\nname: " + yaml_string(experiment_name_) + "\n");
  }
  write_run_meta(kRunning, recorded_start(run_dir() + "/meta.yaml", milliseconds(wall_time)),
                 "null");
  ensure_directory(run_dir() + "/artifacts");
  for (const auto& [key, value] : parameters.items()) {
    // A key becomes a file name: only a plain name (maps.json is read back from the MAPS).
    if (key == "preprocessing_dict" || !plain_name(key)) continue;
    write_text_atomically(run_dir() + "/params/" + key, parameter_text(value));
  }
  write_text_atomically(run_dir() + "/tags/mlflow.runName", run_id_);
  write_text_atomically(run_dir() + "/tags/mlflow.source.name", "clinicadl-hpc");
  write_text_atomically(run_dir() + "/tags/mlflow.user", user_name());
}

void MlflowRun::write_metrics(const TsvTable& training_log, double origin) const {
  const int64_t epoch_column = training_log.column_index("epoch");
  const int64_t time_column = training_log.column_index("time");
  std::map<int64_t, int64_t> last_row_of_epoch;
  for (int64_t r = 0; r < training_log.num_rows(); ++r) {
    last_row_of_epoch[log_integer(training_log.at(r, epoch_column), "epoch",
                                  training_log.location(r))] = r;
  }
  const auto& columns = training_log.columns();
  for (size_t c = 0; c < columns.size(); ++c) {
    if (columns[c] == "epoch" || columns[c] == "iteration" || columns[c] == "time") continue;
    std::string lines;
    for (const auto& [epoch, row] : last_row_of_epoch) {
      const double time = log_number(training_log.at(row, time_column));
      lines += std::to_string(milliseconds(origin + (std::isfinite(time) ? time : 0.0))) + " " +
               metric_text(log_number(training_log.at(row, static_cast<int64_t>(c)))) + " " +
               std::to_string(epoch) + "\n";
    }
    write_text_atomically(run_dir() + "/metrics/" + columns[c], lines);
  }
}

void MlflowRun::finish(double wall_time) const {
  const int64_t end = milliseconds(wall_time);
  write_run_meta(kFinished, recorded_start(run_dir() + "/meta.yaml", end), std::to_string(end));
}

}  // namespace cdl::maps

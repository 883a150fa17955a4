// Implementation of random search as one job.
#include "cdl/experiment/random_search_job.hpp"

#include <chrono>
#include <cmath>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>

#include <torch/torch.h>

#include "cdl/core/atomic_file.hpp"
#include "cdl/core/error.hpp"
#include "cdl/core/file_tree.hpp"
#include "cdl/core/logging.hpp"
#include "cdl/core/stop_request.hpp"
#include "cdl/core/tsv_table.hpp"
#include "cdl/eval/metrics.hpp"
#include "cdl/experiment/experiment_plan.hpp"
#include "cdl/experiment/resume_plan.hpp"
#include "cdl/experiment/training_job.hpp"
#include "cdl/experiment/unit_scheduler.hpp"
#include "cdl/maps/maps_claim.hpp"
#include "cdl/maps/maps_config.hpp"
#include "cdl/maps/maps_layout.hpp"
#include "cdl/maps/maps_writer.hpp"

namespace cdl::experiment {
namespace fs = std::filesystem;
namespace {

constexpr const char* kRecordName = "random_search.json";
constexpr const char* kSummaryName = "random_search.tsv";

std::string run_folder(const SearchRequest& request, int64_t run) {
  return search_folder(request) + "/run-" + std::to_string(run);
}

/// How one run ended, as its group's main rank saw it.
struct RunOutcome {
  std::string status;  ///< finished or failed
  double seconds = 0;
  std::string message;  ///< why it failed (first line of the error)
};

std::string first_line(const std::string& text) {
  std::string line = text.substr(0, text.find('\n'));
  for (char& c : line) {
    if (c == '\t') c = ' ';
  }
  return line;
}

/// Collective over the group: continues a run that an earlier job of the search started, as
/// `clinicadl-hpc resume` would (stopped splits continue, finished ones are kept).
void continue_run(const std::string& maps_dir, comm::Runtime& group) {
  auto c = maps::read_maps_config(maps_dir);
  config::resolve_and_validate(c);
  const auto plan = plan_resume(c, group.control());
  if (!plan.empty()) run_training_job(c, group, plan, /*new_maps=*/false);
}

/// Collective over the group: trains run `run` into its own MAPS (or continues it). A run whose
/// options are invalid or whose training diverges fails alike on every rank of the group: it is
/// recorded, and the group goes on with its next run. Other errors end the job, as in `train`.
RunOutcome train_run(const config::SearchSpace& space, const SearchRequest& request, int64_t run,
                     comm::Runtime& group) {
  const auto start = std::chrono::steady_clock::now();
  RunOutcome outcome{"finished", 0, ""};
  const std::string name = "run-" + std::to_string(run);
  try {
    auto sampled = config::sample_run(space, run, run_folder(request, run));
    log::set_speaks(group.control().is_main());
    if (group.control().is_main()) {
      std::string values;
      for (const auto& [key, value] : sampled.values) values += " " + key + "=" + value;
      log::info("random search ", name, ":", values);
    }
    if (fs::exists(maps::MapsLayout(sampled.config.maps_dir).maps_json())) {
      continue_run(sampled.config.maps_dir, group);  // an earlier job of the search started it
    } else {
      check_new_training(sampled.config);
      std::vector<SplitRun> plan;
      for (const auto split : requested_splits(sampled.config)) plan.push_back({split, false});
      run_training_job(sampled.config, group, plan, /*new_maps=*/true);
    }
  } catch (const ConfigError& error) {
    outcome = {"failed", 0, first_line(error.what())};
  } catch (const TrainingError& error) {
    outcome = {"failed", 0, first_line(error.what())};
  }
  outcome.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  log::set_speaks(group.control().is_main());
  if (outcome.status == "failed") {
    log::info("random search ", name, " failed (the other runs go on): ", outcome.message);
  }
  return outcome;
}

std::string outcome_file(const SearchRequest& request, int64_t run) {
  return search_folder(request) + "/outcomes/run-" + std::to_string(run) + ".json";
}

/// The group's main rank records how a run ended (atomically): the summary is made of these
/// files, and a resumed search skips the runs that have one.
void write_outcome(const SearchRequest& request, int64_t run, const RunOutcome& outcome) {
  const nlohmann::ordered_json json{
      {"status", outcome.status}, {"seconds", outcome.seconds}, {"message", outcome.message}};
  write_text_atomically(outcome_file(request, run), json.dump() + "\n");
}

/// How run `run` ended, from its outcome file ("not run" without one).
RunOutcome read_outcome(const SearchRequest& request, int64_t run) {
  const auto path = outcome_file(request, run);
  if (!fs::exists(path)) return {"not run", 0, "the search stopped before this run finished"};
  try {
    const auto json = nlohmann::json::parse(read_text_file(path));
    return {json.at("status").get<std::string>(), json.at("seconds").get<double>(),
            json.at("message").get<std::string>()};
  } catch (const std::exception& error) {
    return {"unknown", 0, path + " is unreadable: " + error.what()};
  }
}

/// The validation value of `metric` for the best-`metric` model of `split` in a run's MAPS, from
/// its image-level metrics (or the part level's when there is no image level); NaN when absent.
double best_validation_value(const config::TrainConfig& c, int split, const std::string& metric) {
  const maps::MapsLayout layout(c.maps_dir);
  std::string path = layout.metrics_tsv(split, metric, "validation", "image");
  if (!fs::exists(path))
    path = layout.metrics_tsv(split, metric, "validation", data::mode_name(c.mode));
  if (!fs::exists(path)) return std::nan("");
  const auto table = TsvTable::read(path);
  if (!table.has_column(metric) || table.num_rows() == 0) return std::nan("");
  int64_t row = 0;  // ClinicaDL's layout: a Metrics column whose "Values" row holds the values
  if (table.has_column("Metrics")) {
    for (; row < table.num_rows() && table.at(row, "Metrics") != "Values"; ++row) {
    }
    if (row == table.num_rows()) return std::nan("");
  }
  try {
    return std::stod(table.at(row, metric));
  } catch (const std::exception&) {
    return std::nan("");
  }
}

std::string number_cell(double value) {
  if (std::isnan(value)) return "";
  std::ostringstream out;
  out.precision(10);
  out << value;
  return out.str();
}

/// World main rank: random_search.tsv, one row per run; returns the table.
TsvTable write_summary(const config::SearchSpace& space, const SearchRequest& request,
                       const std::vector<RunOutcome>& outcomes) {
  const auto first = config::sample_run(space, 0, run_folder(request, 0));
  const auto splits = requested_splits(first.config);
  const auto& metrics = first.config.selection_metrics;
  std::vector<std::string> columns{"run", "status", "seconds"};
  for (const auto& [key, value] : first.values) columns.push_back(key);
  for (const auto& metric : metrics) columns.push_back("validation_" + metric);
  if (splits.size() > 1) {
    for (const auto split : splits) {
      for (const auto& metric : metrics) {
        columns.push_back("split-" + std::to_string(split) + "_validation_" + metric);
      }
    }
  }
  columns.push_back("message");
  TsvTable table(columns, kSummaryName);
  for (int64_t run = 0; run < static_cast<int64_t>(outcomes.size()); ++run) {
    const auto& outcome = outcomes[run];
    const auto sampled = config::sample_run(space, run, run_folder(request, run));
    std::vector<TsvCell> row{"run-" + std::to_string(run), outcome.status,
                             number_cell(outcome.seconds)};
    for (const auto& [key, value] : sampled.values) row.emplace_back(value);
    std::map<std::pair<int64_t, std::string>, double> values;
    for (const auto& metric : metrics) {
      double sum = 0;
      for (const auto split : splits) {
        const double value =
            outcome.status == "finished"
                ? best_validation_value(sampled.config, static_cast<int>(split), metric)
                : std::nan("");
        values[{split, metric}] = value;
        sum += value;
      }
      row.emplace_back(number_cell(sum / static_cast<double>(splits.size())));
    }
    if (splits.size() > 1) {
      for (const auto split : splits) {
        for (const auto& metric : metrics) row.emplace_back(number_cell(values[{split, metric}]));
      }
    }
    row.emplace_back(outcome.message);
    table.add_row(row);
  }
  table.write(search_folder(request) + "/" + kSummaryName);
  return table;
}

/// World main rank: random_search.json, the record of the search (what was asked, every run's
/// sampled values): it also marks the folder as a search folder for --overwrite.
void write_record(const config::SearchSpace& space, const SearchRequest& request) {
  nlohmann::ordered_json record;
  record["random_search_toml"] = fs::absolute(space.file).lexically_normal().string();
  record["n_runs"] = request.runs;
  record["seed"] = space.fixed.seed;
  record["runs"] = nlohmann::ordered_json::object();
  for (int64_t run = 0; run < request.runs; ++run) {
    nlohmann::ordered_json values;
    for (const auto& [key, value] : config::sample_run(space, run, "").values) {
      values[key] = value;
    }
    record["runs"]["run-" + std::to_string(run)] = values;
  }
  write_text_atomically(search_folder(request) + "/random_search.toml", read_text_file(space.file));
  write_text_atomically(search_folder(request) + "/" + kRecordName, record.dump(2) + "\n");
}

/// The finished run whose mean validation `metric` is best ("" when none has a value).
std::pair<std::string, double> best_run(const TsvTable& summary, const std::string& metric) {
  std::pair<std::string, double> best{"", std::nan("")};
  const auto column = "validation_" + metric;
  for (int64_t row = 0; row < summary.num_rows(); ++row) {
    if (summary.at(row, "status") != "finished" || summary.at(row, column).empty()) continue;
    const double value = std::stod(summary.at(row, column));
    if (eval::is_better(metric, value, best.second)) best = {summary.at(row, "run"), value};
  }
  return best;
}

void log_result(const SearchRequest& request, const TsvTable& summary,
                const std::vector<std::string>& metrics) {
  int64_t finished = 0;
  for (int64_t row = 0; row < summary.num_rows(); ++row) {
    finished += summary.at(row, "status") == "finished";
  }
  log::info("random search: ", finished, " of ", summary.num_rows(), " runs finished (",
            summary.num_rows() - finished, " failed or not run); summary: ", search_folder(request),
            "/", kSummaryName);
  for (const auto& metric : metrics) {
    const auto [run, value] = best_run(summary, metric);
    if (!run.empty())
      log::info("random search: best run by validation ", metric, ": ", run, " (", value, ")");
  }
}

}  // namespace

std::string search_folder(const SearchRequest& request) {
  return (fs::path(request.launch_dir) / request.name).string();
}

void check_search_destination(const SearchRequest& request, const config::SearchSpace& space) {
  const std::string folder = search_folder(request);
  if (request.name.empty() || request.name.find('/') != std::string::npos || request.name == "." ||
      request.name == "..") {
    CDL_THROW(ConfigError, "random-search NAME '", request.name,
              "' is not a folder name; expected a plain name (the search folder is created in "
              "LAUNCH_DIR)");
  }
  if (request.runs < 1 || request.runs > 100000) {
    CDL_THROW(ConfigError, "--n_runs ", request.runs, " is invalid; expected 1 to 100000");
  }
  if (request.resume) {
    if (!fs::is_regular_file(folder + "/" + kRecordName)) {
      CDL_THROW(ConfigError, "--resume continues a search, and '", folder,
                "' is not a search folder (it has no ", kRecordName, ")");
    }
    return;
  }
  if (!fs::exists(folder)) return;
  if (!fs::is_directory(folder)) {
    CDL_THROW(ConfigError, "the search folder '", folder,
              "' exists and is a file; expected a new or empty folder");
  }
  if (fs::is_empty(folder)) return;
  if (!request.overwrite) {
    CDL_THROW(ConfigError, "the search folder '", folder,
              "' already exists and is not empty; existing results are never replaced "
              "silently.\n  hint: choose another NAME, or add --overwrite to delete it first");
  }
  if (!fs::exists(folder + "/" + kRecordName)) {
    CDL_THROW(ConfigError, "--overwrite replaces only a search folder, and '", folder,
              "' is not one (it has no ", kRecordName, "); nothing was deleted");
  }
  for (const auto& input :
       {space.file, space.fixed.data_path, space.fixed.tsv_path, space.fixed.transfer_path}) {
    if (!input.empty() && fs::exists(input) && maps::lies_within(input, folder)) {
      CDL_THROW(ConfigError, "--overwrite would delete the input '", input,
                "', which lies in the search folder '", folder, "'; nothing was deleted");
    }
  }
}

config::SearchSpace recorded_search(SearchRequest& request) {
  const std::string folder = search_folder(request);
  const std::string record_path = folder + "/" + kRecordName;
  if (!fs::is_regular_file(record_path)) {
    CDL_THROW(ConfigError, "--resume continues a search, and '", folder,
              "' is not a search folder (it has no ", kRecordName, ")");
  }
  int64_t runs = 0;
  try {
    runs = nlohmann::json::parse(read_text_file(record_path)).at("n_runs").get<int64_t>();
  } catch (const std::exception& error) {
    CDL_THROW(ConfigError, record_path, " is unreadable (", error.what(),
              "); expected the record random-search wrote");
  }
  if (request.runs != 0 && request.runs != runs) {
    CDL_THROW(ConfigError, "--n_runs ", request.runs, " differs from the ", runs,
              " runs of the search in '", folder, "'; expected no --n_runs with --resume");
  }
  request.runs = runs;
  return config::read_search_space(folder);  // the copy of random_search.toml the search used
}

void run_random_search(const config::SearchSpace& space, const SearchRequest& request,
                       comm::Runtime& runtime) {
  auto& world = runtime.control();
  const std::string folder = search_folder(request);
  std::unique_ptr<maps::MapsClaim> claim;  // one job at a time in the search folder
  if (world.is_main()) {
    claim = std::make_unique<maps::MapsClaim>(folder, request.overwrite);
    if (!request.resume) write_record(space, request);
    UnitScheduler::remove_stale_claims(folder);  // of a job that was killed
    log::info(request.resume ? "random search continued: " : "random search of ", request.runs,
              " run(s) from ", space.file, " into ", folder);
  }
  const std::string token = world.job_token();
  const RankGroups groups(world.size(),
                          static_cast<int>(std::min<int64_t>(world.size(), request.runs)));
  const int group = groups.group_of_rank(world.rank());
  comm::Runtime view(runtime, group);
  UnitScheduler scheduler(request.runs, groups.count(), group, /*dynamic=*/true,
                          UnitScheduler::claims_folder(folder, token));
  std::string stopped;
  try {
    for (int64_t run = scheduler.next(view.control()); run >= 0;
         run = scheduler.next(view.control())) {
      // A group that was asked to stop between two runs takes no new one.
      if (view.control().any_of(stop_signal() != 0)) {
        CDL_THROW(Interrupted, "stopped by a signal between two runs");
      }
      if (request.resume && fs::exists(outcome_file(request, run))) continue;  // done before
      const auto outcome = train_run(space, request, run, view);
      if (view.control().is_main()) write_outcome(request, run, outcome);
    }
  } catch (const Interrupted& stop) {
    stopped = stop.what();
  }
  const bool interrupted = world.any_of(!stopped.empty());
  if (world.is_main()) remove_tree(UnitScheduler::claims_folder(folder, token));
  if (interrupted) {
    CDL_THROW(Interrupted, stopped.empty() ? "another rank group was stopped" : stopped,
              "; every run's state is saved");
  }
  if (world.is_main()) {
    std::vector<RunOutcome> outcomes;
    for (int64_t run = 0; run < request.runs; ++run) {
      outcomes.push_back(read_outcome(request, run));
    }
    const auto summary = write_summary(space, request, outcomes);
    log::set_speaks(true);
    log_result(request, summary, space.fixed.selection_metrics);
  }
  world.barrier();
}

}  // namespace cdl::experiment

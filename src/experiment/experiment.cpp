// Implementation of the experiment level.
#include "cdl/experiment/experiment.hpp"

#include <torch/torch.h>

#include <filesystem>

#include "cdl/core/error.hpp"
#include "cdl/core/file_tree.hpp"
#include "cdl/core/logging.hpp"
#include "cdl/eval/evaluator.hpp"
#include "cdl/experiment/network_merge.hpp"
#include "cdl/experiment/split_loading.hpp"
#include "cdl/experiment/unit_scheduler.hpp"
#include "cdl/maps/prediction_writer.hpp"

namespace cdl::experiment {
namespace fs = std::filesystem;
namespace {

/// How a unit starts.
enum class UnitStart { kFromScratch, kResume, kEvaluateOnly };

/// On resume: continue from the unit's training state; a multi-network unit whose best models
/// all exist finished before the interruption and is only evaluated again (for the merge).
UnitStart unit_start(const ExperimentContext& ctx, const WorkUnit& unit, bool split_resumed) {
  if (!split_resumed) return UnitStart::kFromScratch;
  if (fs::exists(ctx.layout.training_state(unit.split, unit.network))) return UnitStart::kResume;
  if (unit.network < 0) return UnitStart::kFromScratch;
  for (const auto& metric : ctx.config->selection_metrics) {
    if (!fs::is_regular_file(ctx.layout.best_model(unit.split, metric, unit.network))) {
      return UnitStart::kFromScratch;
    }
  }
  return UnitStart::kEvaluateOnly;
}

/// Main rank of the unit's group: removes what an interrupted multi-network unit without a
/// training state left (its log rows and models would otherwise mix with the new ones).
void clear_unit(const maps::MapsLayout& layout, const config::TrainConfig& c,
                const WorkUnit& unit) {
  remove_tree(layout.tmp_dir(unit.split, unit.network));
  std::error_code ignored;
  fs::remove(layout.training_tsv(unit.split, unit.network), ignored);
  for (const auto& metric : c.selection_metrics) {
    fs::remove(layout.best_model(unit.split, metric, unit.network), ignored);
  }
}

/// Collective over the group: trains (or resumes, or evaluates) one unit.
UnitSummary run_unit(const ExperimentPlan& plan, ExperimentContext& ctx, const WorkUnit& unit,
                     bool first_of_group, bool split_resumed) {
  const auto& c = *ctx.config;
  const auto start = unit_start(ctx, unit, split_resumed);
  if (start == UnitStart::kFromScratch && split_resumed && unit.network >= 0 &&
      ctx.control->is_main()) {
    clear_unit(ctx.layout, c, unit);
  }
  auto data = load_split(c, ctx.source, unit.split, ctx.cache_bytes,
                         /*host_transforms=*/!ctx.compute.transform_on_device, unit.network);
  train::TrainerContext trainer;
  trainer.config = &c;
  trainer.control = ctx.control;
  trainer.gradients = ctx.gradients;
  trainer.compute = ctx.compute;
  trainer.layout = ctx.layout;
  trainer.data_parallel_width = plan.data_parallel_width();
  trainer.network = unit.network;
  trainer.resume = start == UnitStart::kResume;
  trainer.evaluate_only = start == UnitStart::kEvaluateOnly;
  if (first_of_group) trainer.on_start = ctx.on_start;
  return {unit, train::SplitTrainer(trainer, unit.split, std::move(data)).run()};
}

/// This rank's evaluations of `split`'s best-`metric` models on one set (its group's main rank
/// holds them; other ranks none), tagged with their networks.
std::vector<NetworkEvaluation> network_evaluations(bool group_main,
                                                   const std::vector<UnitSummary>& done, int split,
                                                   const std::string& metric, bool validation) {
  std::vector<NetworkEvaluation> mine;
  for (const auto& [unit, summary] : done) {
    if (!group_main || unit.split != split) continue;
    const auto& pair = summary.best_evaluations.at(metric);
    mine.push_back({unit.network, validation ? &pair.second : &pair.first});
  }
  return mine;
}

/// Collective over the world: the merged prediction TSVs of every best model of `split`.
void merge_split(const ExperimentContext& ctx, bool group_main,
                 const std::vector<UnitSummary>& done, int split) {
  const auto& c = *ctx.config;
  const bool main = ctx.world->is_main();
  data::SplitData full;
  if (main) full = load_split(c, ctx.source, split, 0);
  for (const auto& metric : c.selection_metrics) {
    const auto train_rows = gather_network_rows(
        *ctx.world, network_evaluations(group_main, done, split, metric, false));
    const auto valid_rows =
        gather_network_rows(*ctx.world, network_evaluations(group_main, done, split, metric, true));
    if (!main) continue;
    maps::GroupPredictions train{"train", full.train,
                                 merge_network_rows(train_rows, *full.train, c.loss)};
    maps::GroupPredictions valid{"validation", full.validation,
                                 merge_network_rows(valid_rows, *full.validation, c.loss)};
    train.metrics_per_part = valid.metrics_per_part = true;
    const auto dir = [&](const std::string& group) {
      return ctx.layout.group_dir(split, metric, group);
    };
    maps::write_group_predictions(dir("train"), train, valid, c.selection_threshold, c.data_path,
                                  static_cast<uint64_t>(c.seed));
    maps::write_group_predictions(dir("validation"), valid, valid, c.selection_threshold,
                                  c.data_path, static_cast<uint64_t>(c.seed));
  }
  if (main) {
    remove_tree(ctx.layout.tmp_dir(split));
    log::info("split ", split, ": the part-level results of ", full.train->parts_per_image(),
              " networks are merged and soft-voted into the image-level TSVs");
  }
}

/// Collective over the world: with several rank groups and --unit_scheduling dynamic, the claim
/// folder of this job (the claims of killed jobs removed first); "" for a static schedule.
std::string claims_folder(const ExperimentPlan& plan, const ExperimentContext& ctx) {
  if (plan.group_count() < 2 || ctx.config->unit_scheduling != config::UnitScheduling::kDynamic) {
    return "";
  }
  if (ctx.world->is_main()) UnitScheduler::remove_stale_claims(ctx.layout.root());
  return UnitScheduler::claims_folder(ctx.layout.root(), ctx.world->job_token());
}

}  // namespace

std::vector<UnitSummary> run_experiment(const ExperimentPlan& plan, ExperimentContext& ctx) {
  const int group = plan.group_of_rank(ctx.world->rank());
  const std::string claims = claims_folder(plan, ctx);
  if (ctx.world->is_main()) {
    if (claims.empty()) {
      for (const auto& line : plan.describe()) log::info(line);
    } else {
      std::string groups;
      for (int g = 0; g < plan.group_count(); ++g) {
        const auto ranks = plan.ranks_of_group(g);
        groups += (g ? ", group " : "group ") + std::to_string(g) + " ranks " +
                  std::to_string(ranks.front()) + "-" + std::to_string(ranks.back());
      }
      log::info(plan.units().size(),
                " units handed out as rank groups free up (--unit_scheduling "
                "dynamic; group g starts with unit g): ",
                groups);
    }
  }
  UnitScheduler scheduler(static_cast<int64_t>(plan.units().size()), plan.group_count(), group,
                          !claims.empty(), claims);
  log::set_speaks(ctx.control->is_main());  // every group's main rank reports its units
  std::vector<UnitSummary> done;
  std::string stopped;  // a stop request ended this group's units (its states are saved)
  try {
    for (bool first = true;; first = false) {
      const int64_t index = scheduler.next(*ctx.control);
      if (index < 0) break;
      const auto& unit = plan.units()[static_cast<size_t>(index)];
      const bool resumed = ctx.resumed_splits.count(unit.split) > 0;
      done.push_back(run_unit(plan, ctx, unit, first, resumed));
    }
  } catch (const Interrupted& stop) {
    stopped = stop.what();
  }
  log::set_speaks(false);
  // Every group has finished or stopped. A group decides on its own when to stop (groups are at
  // different steps), so a signal that reached some groups only lets the others run on to the
  // end of their units; then the whole job stops together (the merge waits for the resume).
  if (ctx.world->any_of(!stopped.empty())) {
    CDL_THROW(Interrupted, stopped.empty() ? "another rank group was stopped" : stopped);
  }
  if (plan.units().front().network >= 0) {
    std::vector<int> splits;
    for (const auto& unit : plan.units()) {
      if (splits.empty() || splits.back() != unit.split) splits.push_back(unit.split);
    }
    for (const int split : splits) merge_split(ctx, ctx.control->is_main(), done, split);
  }
  ctx.world->barrier();
  if (ctx.world->is_main() && !claims.empty()) remove_tree(claims);
  return done;
}

}  // namespace cdl::experiment

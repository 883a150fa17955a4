// Checks of the MAPS folders written by the integration runs (tests/integration/CMakeLists.txt):
// file tree, TSV columns, learning, sample coverage with uneven ranks, checkpoint round trip.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "cdl/config/train_config.hpp"
#include "cdl/core/tsv_table.hpp"
#include "cdl/data/split_reader.hpp"
#include "cdl/experiment/split_loading.hpp"
#include "cdl/formats/checkpoint.hpp"
#include "cdl/model/mixed_precision.hpp"
#include "cdl/train/trainer.hpp"

namespace cdl {
namespace {
namespace fs = std::filesystem;

std::string tiny(const std::string& relative) {
  const char* root = std::getenv("CDL_TINY_DIR");
  return std::string(root ? root : "tiny") + "/" + relative;
}

TsvTable read(const std::string& relative) {
  return TsvTable::read(tiny(relative));
}

std::set<std::pair<std::string, std::string>> sessions(const TsvTable& table) {
  std::set<std::pair<std::string, std::string>> result;
  for (int64_t r = 0; r < table.num_rows(); ++r) {
    result.emplace(table.at(r, "participant_id"), table.at(r, "session_id"));
  }
  return result;
}

/// Metric row of a ClinicaDL metrics TSV ("Metrics" header, "Values" row).
double metric(const std::string& relative, const std::string& name) {
  const auto table = read(relative);
  return std::stod(table.at(0, name));
}

const std::vector<std::string> kClassificationMetrics{
    "BA",  "accuracy", "F1_score", "sensitivity", "specificity", "PPV",
    "NPV", "MCC",      "MK",       "LR_plus",     "LR_minus"};

std::vector<std::string> expected_training_columns(const std::vector<std::string>& metrics) {
  std::vector<std::string> columns{"epoch", "iteration", "time"};
  for (const char* suffix : {"_train", "_valid"}) {
    for (const auto& m : metrics) columns.push_back(m + suffix);
    columns.push_back(std::string("loss") + suffix);
  }
  return columns;
}

TEST(ClassificationMaps, TreeMatchesClinicaDL) {
  for (const char* file :
       {"maps.json", "environment.txt", "information.log", "groups/train+validation.tsv",
        "groups/train/split-0/data.tsv", "groups/train/split-0/maps.json",
        "groups/validation/split-0/data.tsv", "split-0/training_logs/training.tsv",
        "split-0/best-loss/model.pth.tar", "split-0/best-BA/model.pth.tar",
        "split-0/best-loss/validation/validation_image_level_prediction.tsv",
        "split-0/best-loss/validation/validation_image_level_metrics.tsv",
        "split-0/best-loss/train/train_image_level_prediction.tsv",
        "split-0/best-BA/validation/description.log"}) {
    EXPECT_TRUE(fs::exists(tiny("maps_classification/") + file)) << file;
  }
  EXPECT_FALSE(fs::exists(tiny("maps_classification/split-0/tmp"))) << "tmp/ is removed at the end";
}

TEST(ClassificationMaps, MapsJsonHasClinicaDLKeysInOrder) {
  std::ifstream in(tiny("maps_classification/maps.json"));
  const auto json = nlohmann::ordered_json::parse(in);
  EXPECT_EQ(json.begin().key(), "architecture");
  EXPECT_EQ(json["architecture"], "Conv5_FC3");
  EXPECT_EQ(json["label_code"]["AD"], 0);
  EXPECT_EQ(json["label_code"]["CN"], 1);
  EXPECT_EQ(json["output_size"], 2);
  EXPECT_EQ(json["input_size"], (std::vector<int64_t>{1, 32, 40, 32}));
  EXPECT_EQ(json["validation"], "SingleSplit");
  EXPECT_EQ(json["network_task"], "classification");
  EXPECT_EQ(json["gpu"], false);
  EXPECT_EQ(json["engine"]["world_size"], 2);
}

TEST(ClassificationMaps, TrainingLogHasEpochAndInnerRows) {
  const auto log = read("maps_classification/split-0/training_logs/training.tsv");
  EXPECT_EQ(log.columns(), expected_training_columns(kClassificationMetrics));
  // 30 training images, batch 2 on 2 ranks: 8 updates of 4 images per epoch, i.e. 15
  // micro-batches of 2 as a 1-rank run with accumulation 2 counts them (the iteration column);
  // evaluation_steps 4 gives one inner row (after update 3: iteration 7) and the end row (14).
  ASSERT_EQ(log.num_rows(), 20);
  EXPECT_EQ(log.at(0, "epoch"), "0");
  EXPECT_EQ(log.at(0, "iteration"), "7");
  EXPECT_EQ(log.at(1, "iteration"), "14");
  EXPECT_EQ(log.at(19, "epoch"), "9");
}

TEST(ClassificationMaps, ValidationBalancedAccuracyIsWellAboveChance) {
  const double ba = metric(
      "maps_classification/split-0/best-loss/validation/"
      "validation_image_level_metrics.tsv",
      "BA");
  EXPECT_GT(ba, 0.75);
}

/// Calls `compare(value, reference, column, epoch)` for the train and validation losses of every
/// epoch of two split-0 training logs, after checking that both hold `epochs` rows.
template <typename Compare>
void compare_losses(const std::string& maps, const std::string& reference_maps, int64_t epochs,
                    Compare compare) {
  const auto log = read(maps + "/split-0/training_logs/training.tsv");
  const auto reference = read(reference_maps + "/split-0/training_logs/training.tsv");
  ASSERT_EQ(log.num_rows(), epochs);
  ASSERT_EQ(reference.num_rows(), epochs);
  for (int64_t row = 0; row < epochs; ++row) {
    for (const std::string column : {"loss_train", "loss_valid"}) {
      compare(log.at(row, column), reference.at(row, column), column, row);
    }
  }
}

TEST(AmpCpuMaps, LearnsWithLossesNearTheFloat32Run) {
  const bool bf16 = model::cpu_supports_bf16();
  int64_t differing = 0;
  compare_losses("maps_amp", "maps_amp_fp32", 10,
                 [&](const std::string& amp, const std::string& fp32, const std::string& column,
                     int64_t epoch) {
                   if (!bf16) {
                     EXPECT_EQ(amp, fp32) << "float32 training, " << column << ", epoch " << epoch;
                   }
                   if (amp != fp32) ++differing;
                   // The first epoch's losses, before training paths part: within bfloat16's reach.
                   if (epoch == 0) {
                     EXPECT_NEAR(std::stod(amp), std::stod(fp32), 0.05) << column;
                   }
                 });
  if (bf16) {
    EXPECT_GT(differing, 0) << "--amp on a bfloat16 CPU must compute in bfloat16";
  }
  // It learns: the validation set of the tiny data is separable, as in float32.
  const auto log = read("maps_amp/split-0/training_logs/training.tsv");
  EXPECT_LT(std::stod(log.at(9, "loss_valid")), 0.3 * std::stod(log.at(0, "loss_valid")));
  EXPECT_GT(
      metric("maps_amp/split-0/best-loss/validation/validation_image_level_metrics.tsv", "BA"),
      0.75);
  const auto json = nlohmann::json::parse(std::ifstream(tiny("maps_amp/maps.json")));
  EXPECT_EQ(json.at("amp"), true);
  const auto checkpoint =
      formats::load_model_checkpoint(tiny("maps_amp/split-0/best-loss/model.pth.tar"));
  for (const auto& entry : checkpoint.model) {
    if (entry.value().is_floating_point()) {
      EXPECT_EQ(entry.value().scalar_type(), torch::kFloat) << entry.key();  // weights stay float32
    }
  }
}

TEST(MemorySavingMaps, LossesEqualTheRunWithoutItUpToRounding) {
  compare_losses("maps_memory_saving", "maps_fp32", 3,
                 [](const std::string& saving, const std::string& plain, const std::string& column,
                    int64_t epoch) {
                   const double a = std::stod(saving), b = std::stod(plain);
                   EXPECT_NEAR(a, b, 1e-3 * std::max(1.0, std::abs(b)))
                       << column << ", epoch " << epoch;
                 });
}

TEST(ClassificationMaps, CheckpointLoadsBackAndPredictsIdentically) {
  config::TrainConfig config;
  config.network_task = data::Task::kClassification;
  config.data_path = tiny("data.h5");
  config.tsv_path = tiny("splits");
  config::resolve_and_validate(config);
  auto source = std::make_shared<const data::DataSource>(data::DataSource::open(config.data_path));
  const auto split = experiment::load_split(config, source, 0, 0);
  auto network = train::build_network(config, split);
  const auto checkpoint =
      formats::load_model_checkpoint(tiny("maps_classification/split-0/best-loss/model.pth.tar"));
  EXPECT_EQ(checkpoint.name, "Conv5_FC3");
  formats::load_state_dict(*network, checkpoint.model, "best-loss");
  network->eval();
  torch::NoGradGuard no_grad;
  const auto predictions = read(
      "maps_classification/split-0/best-loss/validation/validation_image_level_prediction.tsv");
  ASSERT_EQ(predictions.num_rows(), split.validation->num_images());
  for (int64_t i = 0; i < split.validation->num_images(); ++i) {
    const auto sample = split.validation->get(i);
    ASSERT_EQ(sample.meta.participant_id, predictions.at(i, "participant_id"));
    const auto probabilities = torch::softmax(network->forward(sample.input.unsqueeze(0)), 1);
    EXPECT_NEAR(probabilities[0][0].item<double>(), std::stod(predictions.at(i, "proba0")), 1e-5);
    EXPECT_NEAR(probabilities[0][1].item<double>(), std::stod(predictions.at(i, "proba1")), 1e-5);
  }
}

TEST(RegressionMaps, ColumnsAndFiniteMetrics) {
  const auto log = read("maps_regression/split-0/training_logs/training.tsv");
  EXPECT_EQ(log.columns(), expected_training_columns({"R2_score", "MAE", "RMSE"}));
  EXPECT_EQ(log.num_rows(), 3);
  const auto predictions =
      read("maps_regression/split-0/best-loss/validation/validation_image_level_prediction.tsv");
  EXPECT_EQ(predictions.columns(),
            (std::vector<std::string>{"participant_id", "session_id", "image_id", "true_label",
                                      "predicted_label"}));
  EXPECT_TRUE(std::isfinite(metric(
      "maps_regression/split-0/best-loss/validation/validation_image_level_metrics.tsv", "MAE")));
}

TEST(ReconstructionMaps, RanWithoutMpirunAndWroteReconstructionMetrics) {
  const auto log = read("maps_reconstruction/split-0/training_logs/training.tsv");
  EXPECT_EQ(log.columns(), expected_training_columns({"MAE", "RMSE", "PSNR", "SSIM"}));
  const auto predictions =
      read("maps_reconstruction/split-0/best-loss/train/train_image_level_prediction.tsv");
  EXPECT_EQ(predictions.columns(),
            (std::vector<std::string>{"participant_id", "session_id", "image_id", "MAE", "RMSE",
                                      "PSNR", "SSIM"}));
  EXPECT_EQ(predictions.num_rows(), read("splits/train.tsv").num_rows());
  std::ifstream in(tiny("maps_reconstruction/maps.json"));
  EXPECT_EQ(nlohmann::json::parse(in)["engine"]["world_size"], 1);
}

TEST(UnevenThreeRanksMaps, EverySampleEvaluatedExactlyOnce) {
  const auto expected = sessions(read("splits/validation_baseline.tsv"));
  ASSERT_EQ(expected.size() % 3 != 0, true) << "the validation set must not divide by 3";
  const auto predictions =
      read("maps_uneven/split-0/best-loss/validation/validation_image_level_prediction.tsv");
  EXPECT_EQ(static_cast<size_t>(predictions.num_rows()), expected.size());
  EXPECT_EQ(sessions(predictions), expected);
  EXPECT_EQ(read("maps_uneven/split-0/training_logs/training.tsv").num_rows(), 2);
  // The train set is evaluated by each rank on its own shard: still every session exactly once.
  const auto train = read("maps_uneven/split-0/best-loss/train/train_image_level_prediction.tsv");
  const auto train_expected = sessions(read("splits/train.tsv"));
  EXPECT_EQ(static_cast<size_t>(train.num_rows()), train_expected.size());
  EXPECT_EQ(sessions(train), train_expected);
}

TEST(PatchesMaps, PartAndImageLevelFiles) {
  // 32x40x32 with 16/16 patches: 2 x 2 x 2 = 8 parts per image.
  const std::string dir = "maps_patch/split-0/best-loss/validation/";
  const auto images = read("splits/validation_baseline.tsv").num_rows();
  const auto parts = read(dir + "validation_patch_level_prediction.tsv");
  EXPECT_EQ(parts.num_rows(), 8 * images);
  EXPECT_EQ(parts.columns()[2], "patch_id");
  const auto ensemble = read(dir + "validation_image_level_prediction.tsv");
  EXPECT_EQ(ensemble.num_rows(), images);
  EXPECT_TRUE(fs::exists(tiny(dir + "validation_image_level_metrics.tsv")));
  std::ifstream in(tiny("maps_patch/maps.json"));
  EXPECT_EQ(nlohmann::json::parse(in)["num_networks"], 8);
}

/// Part ids of the rows of the first image of a part-level prediction table.
std::vector<std::string> first_image_part_ids(const TsvTable& table, const std::string& column) {
  std::vector<std::string> ids;
  for (int64_t r = 0;
       r < table.num_rows() && table.at(r, "participant_id") == table.at(0, "participant_id");
       ++r) {
    ids.push_back(table.at(r, column));
  }
  return ids;
}

TEST(RoisMaps, OnePartPerRoiAndSoftVotedImages) {
  const std::string dir = "maps_roi/split-0/best-loss/validation/";
  const auto parts = read(dir + "validation_roi_level_prediction.tsv");
  EXPECT_EQ(first_image_part_ids(parts, "roi_id"), (std::vector<std::string>{"0", "1"}));
  EXPECT_EQ(read(dir + "validation_image_level_prediction.tsv").num_rows(),
            read("splits/validation_baseline.tsv").num_rows());
}

TEST(SlicesMaps, AbsoluteSliceIdsAfterDiscardedSlices) {
  // Axial direction of 32x40x32 with 10 slices discarded at each end: slices 10..21.
  const std::string dir = "maps_slice/split-0/best-loss/validation/";
  const auto parts = read(dir + "validation_slice_level_prediction.tsv");
  std::vector<std::string> expected;
  for (int s = 10; s <= 21; ++s) expected.push_back(std::to_string(s));
  EXPECT_EQ(first_image_part_ids(parts, "slice_id"), expected);
  std::ifstream in(tiny("maps_slice/maps.json"));
  const auto json = nlohmann::json::parse(in);
  EXPECT_EQ(json["input_size"], (std::vector<int64_t>{3, 32, 40}));
  EXPECT_EQ(json["num_networks"], 12);
}

/// Two TSVs of the same shape: text cells equal, numeric cells within `tolerance`.
void expect_same_table(const std::string& expected, const std::string& actual, double tolerance,
                       const std::set<std::string>& skipped_columns = {}) {
  const auto a = read(expected), b = read(actual);
  ASSERT_EQ(a.columns(), b.columns()) << actual;
  ASSERT_EQ(a.num_rows(), b.num_rows()) << actual;
  for (int64_t r = 0; r < a.num_rows(); ++r) {
    for (int64_t c = 0; c < static_cast<int64_t>(a.columns().size()); ++c) {
      if (skipped_columns.count(a.columns()[c]) > 0) continue;
      const auto &x = a.at(r, c), &y = b.at(r, c);
      char* end = nullptr;
      const double value = std::strtod(x.c_str(), &end);
      if (!x.empty() && *end == '\0') {
        EXPECT_NEAR(value, std::stod(y), tolerance)
            << actual << " row " << r << " column " << a.columns()[c];
      } else {
        EXPECT_EQ(x, y) << actual << " row " << r << " column " << a.columns()[c];
      }
    }
  }
}

/// The files of group `group` predicted by best-<metric> of split 0 of `maps`.
std::string predicted(const std::string& maps, const std::string& metric, const std::string& group,
                      const std::string& file) {
  return maps + "/split-0/best-" + metric + "/" + group + "/" + group + "_" + file;
}

TEST(PredictClassificationMaps, ANewGroupOfTheValidationSessionsReproducesItsTsvs) {
  for (const std::string metric : {"loss", "BA"}) {
    for (const std::string file : {"image_level_prediction.tsv", "image_level_metrics.tsv"}) {
      expect_same_table(predicted("maps_classification", metric, "validation", file),
                        predicted("maps_classification", metric, "again", file), 1e-6);
    }
  }
  EXPECT_TRUE(fs::exists(tiny("maps_classification/groups/again/maps.json")));
}

TEST(PredictClassificationMaps, WithoutLabelsTheSamePredictionsAndNoMetrics) {
  const auto labelled =
      read(predicted("maps_classification", "loss", "again", "image_level_prediction.tsv"));
  const auto unlabelled =
      read(predicted("maps_classification", "loss", "unlabelled", "image_level_prediction.tsv"));
  ASSERT_EQ(labelled.num_rows(), unlabelled.num_rows());
  for (int64_t r = 0; r < labelled.num_rows(); ++r) {
    EXPECT_EQ(unlabelled.at(r, "true_label"), "-1");
    EXPECT_EQ(unlabelled.at(r, "predicted_label"), labelled.at(r, "predicted_label"));
    EXPECT_NEAR(std::stod(unlabelled.at(r, "proba1")), std::stod(labelled.at(r, "proba1")), 1e-6);
  }
  EXPECT_FALSE(fs::exists(
      tiny(predicted("maps_classification", "loss", "unlabelled", "image_level_metrics.tsv"))));
}

TEST(PredictPatchesMaps, PartAndSoftVotedImageLevelsReproduceTheValidationTsvs) {
  for (const std::string file : {"patch_level_prediction.tsv", "patch_level_metrics.tsv",
                                 "image_level_prediction.tsv", "image_level_metrics.tsv"}) {
    expect_same_table(predicted("maps_patch", "loss", "validation", file),
                      predicted("maps_patch", "loss", "again", file), 1e-6);
  }
}

/// The parameters (not the buffers) of a best model, by name.
std::map<std::string, torch::Tensor> best_parameters(const std::string& maps) {
  const auto checkpoint =
      formats::load_model_checkpoint(tiny(maps + "/split-0/best-loss/model.pth.tar"));
  std::map<std::string, torch::Tensor> result;
  for (const auto& entry : checkpoint.model) {
    const auto& key = entry.key();
    const bool buffer = key.find("running_") != std::string::npos ||
                        key.find("num_batches_tracked") != std::string::npos;
    if (!buffer) result[key] = entry.value();
  }
  return result;
}

TEST(TransferCnnMaps, FrozenLayersKeepTheSourceWeightsAndTheLastLayerLearns) {
  const auto source = best_parameters("maps_classification");
  const auto target = best_parameters("maps_transfer_cnn");
  ASSERT_EQ(source.size(), target.size());
  int trained = 0;
  for (const auto& [key, tensor] : target) {
    const bool last_layer = key == "fc.6.weight" || key == "fc.6.bias";  // Conv5_FC3's last Linear
    if (last_layer) {
      trained += !torch::equal(tensor, source.at(key));
    } else {
      EXPECT_TRUE(torch::equal(tensor, source.at(key))) << key << " changed although frozen";
    }
  }
  EXPECT_GE(trained, 1) << "the unfrozen last layer did not learn";
  // ClinicaDL's leak protection: the source's sessions count as training sessions.
  EXPECT_EQ(sessions(read("maps_transfer_cnn/groups/train+validation.tsv")),
            sessions(read("maps_classification/groups/train+validation.tsv")));
  const auto json = nlohmann::json::parse(std::ifstream(tiny("maps_transfer_cnn/maps.json")));
  EXPECT_EQ(json.at("nb_unfrozen_layer"), 1);
}

TEST(TransferAeMaps, TheConvolutionsAreTheSourceEncoder) {
  const auto source = best_parameters("maps_reconstruction");
  const auto target = best_parameters("maps_transfer_ae");
  int compared = 0;
  for (const auto& [key, tensor] : target) {
    if (key.rfind("convolutions.", 0) != 0) continue;
    const auto encoder_key = "encoder." + key.substr(std::string("convolutions.").size());
    ASSERT_TRUE(source.count(encoder_key)) << encoder_key;
    EXPECT_TRUE(torch::equal(tensor, source.at(encoder_key))) << key;
    ++compared;
  }
  EXPECT_EQ(compared, 20);  // 5 blocks x (conv weight, bias, BN gamma, beta)
}

TEST(ClassificationMaps, MapsJsonHasClinicaDLsKeysOrderAndTypes) {
  // Reference 7.2: ClinicaDL's keys first, in its order (`clinicadl predict` reads this file).
  const std::vector<std::string> clinicadl{"architecture",
                                           "multi_network",
                                           "ssda_network",
                                           "dropout",
                                           "latent_space_size",
                                           "feature_size",
                                           "n_conv",
                                           "io_layer_channels",
                                           "recons_weight",
                                           "kl_weight",
                                           "normalization",
                                           "selection_metrics",
                                           "label",
                                           "label_code",
                                           "selection_threshold",
                                           "loss",
                                           "gpu",
                                           "n_proc",
                                           "batch_size",
                                           "evaluation_steps",
                                           "fully_sharded_data_parallel",
                                           "amp",
                                           "seed",
                                           "deterministic",
                                           "compensation",
                                           "track_exp",
                                           "transfer_path",
                                           "transfer_selection_metric",
                                           "nb_unfrozen_layer",
                                           "use_extracted_features",
                                           "multi_cohort",
                                           "diagnoses",
                                           "baseline",
                                           "valid_longitudinal",
                                           "normalize",
                                           "data_augmentation",
                                           "sampler",
                                           "size_reduction",
                                           "size_reduction_factor",
                                           "caps_target",
                                           "tsv_target_lab",
                                           "tsv_target_unlab",
                                           "preprocessing_dict_target",
                                           "n_splits",
                                           "optimizer",
                                           "epochs",
                                           "learning_rate",
                                           "adaptive_learning_rate",
                                           "weight_decay",
                                           "patience",
                                           "tolerance",
                                           "accumulation_steps",
                                           "profiler",
                                           "save_all_models",
                                           "emissions_calculator",
                                           "network_task",
                                           "caps_directory",
                                           "tsv_path",
                                           "preprocessing_dict",
                                           "mode",
                                           "split",
                                           "validation",
                                           "num_networks",
                                           "output_size",
                                           "input_size"};
  const auto json =
      nlohmann::ordered_json::parse(std::ifstream(tiny("maps_classification/maps.json")));
  std::vector<std::string> keys;
  for (auto it = json.begin(); it != json.end(); ++it) keys.push_back(it.key());
  ASSERT_GE(keys.size(), clinicadl.size());
  EXPECT_EQ(std::vector<std::string>(keys.begin(), keys.begin() + clinicadl.size()), clinicadl);
  EXPECT_EQ(json.at("transfer_path"), false);
  EXPECT_EQ(json.at("data_augmentation"), false);
  EXPECT_EQ(json.at("split"), nlohmann::ordered_json::array());  // every split
  EXPECT_TRUE(json.at("gpu").is_boolean());
  EXPECT_TRUE(json.at("selection_metrics").is_array());
  EXPECT_TRUE(json.at("label_code").is_object());
  EXPECT_TRUE(json.at("input_size").is_array());
  // The conversion's preprocessing dict (caps2h5 stores ClinicaDL's in the .h5), with the mode.
  const auto& dict = json.at("preprocessing_dict");
  EXPECT_EQ(dict.at("preprocessing"), "t1-linear");
  EXPECT_EQ(dict.at("mode"), "image");
  EXPECT_TRUE(dict.at("file_type").contains("pattern"));
  EXPECT_EQ(dict.at("use_uncropped_image"), false);
  // The options of ours come after ClinicaDL's keys and read back.
  EXPECT_EQ(json.at("engine").at("name"), "clinicadl-hpc");
  const auto back = config::config_from_maps_json(json, "maps.json");
  EXPECT_TRUE(back.transfer_path.empty());
  EXPECT_TRUE(back.data_augmentation.empty());
  EXPECT_TRUE(back.split.empty());
}

TEST(PatchesMaps, PreprocessingDictHoldsThePatchKeys) {
  const auto json = nlohmann::json::parse(std::ifstream(tiny("maps_patch/maps.json")));
  const auto& dict = json.at("preprocessing_dict");
  EXPECT_EQ(dict.at("mode"), "patch");
  EXPECT_EQ(dict.at("patch_size"), 16);
  EXPECT_EQ(dict.at("stride_size"), 16);
  EXPECT_EQ(dict.at("preprocessing"), "t1-linear");
  EXPECT_EQ(json.at("mode"), "patch");
}

TEST(RegressionMaps, MetricsCarryBootstrapRowsAroundTheValues) {
  const auto table =
      read("maps_regression/split-0/best-loss/validation/validation_image_level_metrics.tsv");
  ASSERT_EQ(table.num_rows(), 4);
  EXPECT_EQ(table.at(1, "Metrics"), "Lower bound CI");
  EXPECT_EQ(table.at(2, "Metrics"), "Upper bound CI");
  EXPECT_EQ(table.at(3, "Metrics"), "SE");
  for (const std::string name : {"R2_score", "MAE", "RMSE"}) {
    const double value = std::stod(table.at(0, name));
    EXPECT_LE(std::stod(table.at(1, name)), value) << name;
    EXPECT_GE(std::stod(table.at(2, name)), value) << name;
    EXPECT_GT(std::stod(table.at(3, name)), 0.0) << name;
  }
  EXPECT_EQ(table.at(1, "loss"), "N/A");
  EXPECT_EQ(table.at(3, "loss"), "N/A");
}

TEST(PredictReconstructionMaps, SavedTensorsAreWhatTheMetricsMeasured) {
  const std::string dir = "maps_reconstruction/split-0/best-loss/validation/";
  const auto rows = read(dir + "validation_image_level_prediction.tsv");
  ASSERT_GT(rows.num_rows(), 0);
  const auto load = [&](const std::string& name) {
    std::ifstream in(tiny(dir + "tensors/" + name), std::ios::binary);
    EXPECT_TRUE(in) << name;
    const std::vector<char> bytes((std::istreambuf_iterator<char>(in)),
                                  std::istreambuf_iterator<char>());
    return torch::pickle_load(bytes).toTensor();
  };
  for (int64_t r = 0; r < rows.num_rows(); ++r) {
    const auto stem = rows.at(r, "participant_id") + "_" + rows.at(r, "session_id") + "_image-0";
    const auto input = load(stem + "_input.pt"), output = load(stem + "_output.pt");
    EXPECT_EQ(output.sizes(), input.sizes());
    EXPECT_EQ(input.dim(), 4);  // [C, D, H, W]
    const double mae = (output - input).abs().mean().item<double>();
    EXPECT_NEAR(mae, std::stod(rows.at(r, "MAE")), 1e-5) << stem;
  }
}

/// The final validation metrics of best-<metric> are those logged by the epoch that selected it,
/// digit for digit: they come from that evaluation, not from a second one.
void expect_final_metrics_from_the_selecting_epoch(const std::string& maps,
                                                   const std::string& metric) {
  const auto best =
      formats::load_model_checkpoint(tiny(maps + "/split-0/best-" + metric + "/model.pth.tar"));
  const auto log = read(maps + "/split-0/training_logs/training.tsv");
  int64_t end_row = -1;  // the epoch's last row is its end-of-epoch evaluation
  for (int64_t r = 0; r < log.num_rows(); ++r) {
    if (std::stoll(log.at(r, "epoch")) == best.epoch) end_row = r;
  }
  ASSERT_GE(end_row, 0) << maps << ": no row of epoch " << best.epoch;
  const auto final_metrics =
      read(maps + "/split-0/best-" + metric + "/validation/validation_image_level_metrics.tsv");
  for (const std::string name : {"loss", "BA", "accuracy"}) {
    EXPECT_EQ(final_metrics.at(0, name), log.at(end_row, name + "_valid"))
        << maps << " best-" << metric << " " << name << " (epoch " << best.epoch << ")";
  }
}

TEST(ClassificationMaps, FinalMetricsAreThoseOfTheSelectingEpoch) {
  expect_final_metrics_from_the_selecting_epoch("maps_classification", "loss");
  expect_final_metrics_from_the_selecting_epoch("maps_classification", "BA");
}

TEST(UnevenThreeRanksMaps, FinalMetricsAreThoseOfTheSelectingEpoch) {
  expect_final_metrics_from_the_selecting_epoch("maps_uneven", "loss");
}

/// Every tensor (parameters and BatchNorm statistics) of a checkpoint file, by name.
std::map<std::string, torch::Tensor> checkpoint_tensors(const std::string& relative) {
  std::map<std::string, torch::Tensor> result;
  for (const auto& entry : formats::load_model_checkpoint(tiny(relative)).model) {
    result[entry.key()] = entry.value();
  }
  return result;
}

/// Two checkpoints hold the same tensor names and values within `tolerance`.
void expect_same_model(const std::string& expected, const std::string& actual, double tolerance) {
  const auto a = checkpoint_tensors(expected), b = checkpoint_tensors(actual);
  ASSERT_EQ(a.size(), b.size()) << actual;
  for (const auto& [name, tensor] : a) {
    ASSERT_EQ(b.count(name), 1u) << actual << ": " << name;
    const double difference =
        (tensor.to(torch::kDouble) - b.at(name).to(torch::kDouble)).abs().max().item<double>();
    EXPECT_LE(difference, tolerance) << actual << ": " << name;
  }
}

/// The runs `<prefix>1`, `<prefix>2`, `<prefix>3` (1, 2 and 3 ranks, same virtual batch) end with
/// the same models at every epoch and the same training log (but its time column).
void expect_rank_count_invariance(const std::string& prefix, int epochs) {
  for (const char* ranks : {"2", "3"}) {
    const std::string one = prefix + "1/split-0/", other = prefix + ranks + "/split-0/";
    for (int epoch = 0; epoch < epochs; ++epoch) {
      const auto model = "all_models/model_epoch_" + std::to_string(epoch) + ".pth.tar";
      expect_same_model(one + model, other + model, 1e-5);
    }
    expect_same_table(one + "training_logs/training.tsv", other + "training_logs/training.tsv",
                      1e-5, {"time"});
  }
}

TEST(RankInvarianceMaps, ImageModeTrainsTheSameAtOneTwoAndThreeRanks) {
  expect_rank_count_invariance("maps_invariance_image_", 2);
}

TEST(RankInvarianceMaps, PatchModeTrainsTheSameAtOneTwoAndThreeRanks) {
  expect_rank_count_invariance("maps_invariance_patch_", 1);
}

TEST(ResumeRankCountMaps, ResumedOnOneRankWithTheSameVirtualBatchEqualsTwoRanks) {
  const std::string reference = "kill_and_resume/reference_np2/split-0/";
  const std::string resumed = "kill_and_resume/sigterm_np1/split-0/";
  for (int epoch = 0; epoch < 4; ++epoch) {
    const auto model = "all_models/model_epoch_" + std::to_string(epoch) + ".pth.tar";
    expect_same_model(reference + model, resumed + model, 1e-5);
  }
  expect_same_table(reference + "training_logs/training.tsv",
                    resumed + "training_logs/training.tsv", 1e-5, {"time"});
}

TEST(SplitParallelMaps, EachSplitEqualsTheSequentialRun) {
  for (const std::string ranks : {"2", "3"}) {
    const std::string sequential = "maps_splits_sequential_" + ranks + "/";
    const std::string parallel = "maps_splits_parallel_" + ranks + "/";
    for (const std::string split : {"split-0/", "split-1/"}) {
      for (int epoch = 0; epoch < 2; ++epoch) {
        const auto model = "all_models/model_epoch_" + std::to_string(epoch) + ".pth.tar";
        expect_same_model(sequential + split + model, parallel + split + model, 1e-6);
      }
      expect_same_table(sequential + split + "training_logs/training.tsv",
                        parallel + split + "training_logs/training.tsv", 1e-6, {"time"});
      const std::string tsv = "best-loss/validation/validation_image_level_prediction.tsv";
      expect_same_table(sequential + split + tsv, parallel + split + tsv, 1e-6);
      EXPECT_FALSE(fs::exists(tiny(parallel + split + "tmp")));
    }
  }
}

TEST(MultiNetworkMaps, ClinicaDLsMultiNetworkLayout) {
  const std::string maps = "maps_multi_network_3/split-0/";
  for (int n = 0; n < 4; ++n) {
    const auto network = "network-" + std::to_string(n);
    for (const auto& file :
         {"training_logs/" + network + "/training.tsv", "best-loss/" + network + "_model.pth.tar",
          "best-BA/" + network + "_model.pth.tar"}) {
      EXPECT_TRUE(fs::exists(tiny(maps + file))) << file;
    }
    EXPECT_EQ(read(maps + "training_logs/" + network + "/training.tsv").num_rows(), 2);
  }
  EXPECT_FALSE(fs::exists(tiny(maps + "best-loss/model.pth.tar")));
  EXPECT_FALSE(fs::exists(tiny(maps + "tmp")));
  // Part level: every part of every validation image, one metrics block of 5 rows per network.
  const auto validation = sessions(read("splits/validation_baseline.tsv"));
  const auto parts = read(maps + "best-loss/validation/validation_patch_level_prediction.tsv");
  EXPECT_EQ(static_cast<size_t>(parts.num_rows()), 4 * validation.size());
  const auto metrics = read(maps + "best-loss/validation/validation_patch_level_metrics.tsv");
  ASSERT_EQ(metrics.num_rows(), 4 * 5 - 1);  // the first block's name row is the header
  EXPECT_EQ(metrics.columns().back(), "patch_id");
  EXPECT_EQ(metrics.at(5, "Metrics"), "Values");
  EXPECT_EQ(metrics.at(5, "patch_id"), "1");
  EXPECT_EQ(metrics.at(18, "Metrics"), "SE");
  EXPECT_EQ(metrics.at(18, "patch_id"), "3");
  // Image level: soft voting over the 4 networks.
  const auto images = read(maps + "best-BA/validation/validation_image_level_prediction.tsv");
  EXPECT_EQ(sessions(images), validation);
  EXPECT_TRUE(fs::exists(tiny(maps + "best-BA/train/train_image_level_metrics.tsv")));
}

/// Two multi-network MAPS (4 networks, 2 epochs) hold the same networks at every epoch, the same
/// logs and the same part- and image-level TSVs, within 1e-5.
void expect_same_multi_network(const std::string& expected, const std::string& actual) {
  const std::string one = expected + "/split-0/", other = actual + "/split-0/";
  for (int n = 0; n < 4; ++n) {
    const auto network = "network-" + std::to_string(n);
    for (int epoch = 0; epoch < 2; ++epoch) {
      const auto model =
          "all_models/" + network + "/model_epoch_" + std::to_string(epoch) + ".pth.tar";
      expect_same_model(one + model, other + model, 1e-5);
    }
    expect_same_table(one + "training_logs/" + network + "/training.tsv",
                      other + "training_logs/" + network + "/training.tsv", 1e-5, {"time"});
  }
  for (const std::string metric : {"loss", "BA"}) {
    for (const std::string group : {"train", "validation"}) {
      for (const std::string level : {"image_level_prediction", "image_level_metrics",
                                      "patch_level_prediction", "patch_level_metrics"}) {
        const auto file = "best-" + metric + "/" + group + "/" + group + "_" + level + ".tsv";
        expect_same_table(one + file, other + file, 1e-5);
      }
    }
  }
}

TEST(MultiNetworkMaps, EveryNetworkAndTheVotesDoNotDependOnTheRankCount) {
  for (const std::string ranks : {"2", "3", "5"}) {
    expect_same_multi_network("maps_multi_network_1", "maps_multi_network_" + ranks);
  }
}

TEST(MultiNetworkResumeMaps, StoppedOnTwoRanksAndResumedOnThreeEqualsTheUninterruptedRun) {
  expect_same_multi_network("maps_multi_network_1", "maps_multi_network_resumed");
}

TEST(TransferMultiMaps, EachNetworkStartsFromItsCounterpartInTheSource) {
  for (int n = 0; n < 4; ++n) {
    const auto name = "network-" + std::to_string(n) + "_model.pth.tar";
    const auto source = checkpoint_tensors("maps_multi_network_1/split-0/best-loss/" + name);
    const auto target = checkpoint_tensors("maps_transfer_multi/split-0/best-loss/" + name);
    const auto other = checkpoint_tensors("maps_multi_network_1/split-0/best-loss/network-" +
                                          std::to_string((n + 1) % 4) + "_model.pth.tar");
    // Frozen: every convolution weight is the source network's own (not another network's).
    const std::string key = "convolutions.0.weight";
    EXPECT_TRUE(torch::equal(source.at(key), target.at(key))) << name;
    EXPECT_FALSE(torch::equal(other.at(key), target.at(key))) << name;
    // The last layer (left trainable) learnt.
    EXPECT_FALSE(torch::equal(source.at("fc.6.weight"), target.at("fc.6.weight"))) << name;
  }
}

TEST(PredictMultiNetwork1Maps, EveryNetworkPredictsItsPartAndTheVotesReproduceValidation) {
  for (const std::string metric : {"loss", "BA"}) {
    for (const std::string file : {"patch_level_prediction.tsv", "patch_level_metrics.tsv",
                                   "image_level_prediction.tsv", "image_level_metrics.tsv"}) {
      expect_same_table(predicted("maps_multi_network_1", metric, "validation", file),
                        predicted("maps_multi_network_1", metric, "again", file), 1e-6);
    }
  }
}

TEST(TransferMultiMaps, EveryNetworkStartsFromTheSingleSource) {
  const auto source =
      checkpoint_tensors("maps_single_patch_source/split-0/best-loss/model.pth.tar");
  for (int n = 0; n < 4; ++n) {
    const auto name = "network-" + std::to_string(n) + "_model.pth.tar";
    const auto target =
        checkpoint_tensors("maps_transfer_single_to_multi/split-0/best-loss/" + name);
    EXPECT_TRUE(
        torch::equal(source.at("convolutions.0.weight"), target.at("convolutions.0.weight")))
        << name;
    EXPECT_FALSE(torch::equal(source.at("fc.6.weight"), target.at("fc.6.weight"))) << name;
  }
}

}  // namespace
}  // namespace cdl

// Train options: command line, ClinicaDL's TOML layout, precedence, validation of combinations
// and maps.json order.
#include <gtest/gtest.h>

#include <tuple>

#include <cstdio>
#include <filesystem>
#include <fstream>

#include "cdl/config/train_config.hpp"
#include "cdl/core/command_line.hpp"
#include "cdl/core/error.hpp"

namespace cdl::config {
namespace {

std::vector<std::string> args(std::vector<std::string> options) {
  std::vector<std::string> all{"classification", "data.h5", "splits", "maps"};
  all.insert(all.end(), options.begin(), options.end());
  return all;
}

std::string write_toml(const std::string& text) {
  const auto path = std::filesystem::temp_directory_path() /
                    ("cdl_config_test_" + std::to_string(::getpid()) + ".toml");
  std::ofstream(path) << text;
  return path.string();
}

std::string error_of(const std::vector<std::string>& arguments) {
  try {
    auto config = parse_train_arguments(arguments);
    resolve_and_validate(config);
  } catch (const ConfigError& error) {
    return error.what();
  }
  return "";
}

TEST(TrainConfigTest, DefaultsAreClinicaDLs) {
  auto c = parse_train_arguments(args({}));
  resolve_and_validate(c);
  EXPECT_EQ(c.architecture, "Conv5_FC3");
  EXPECT_EQ(c.label, "diagnosis");
  EXPECT_EQ(c.loss, "CrossEntropyLoss");
  EXPECT_EQ(c.batch_size, 8);
  EXPECT_EQ(c.epochs, 20);
  EXPECT_DOUBLE_EQ(c.learning_rate, 1e-4);
  EXPECT_DOUBLE_EQ(c.weight_decay, 1e-4);
  EXPECT_EQ(c.diagnoses, (std::vector<std::string>{"AD", "CN"}));
  EXPECT_EQ(c.selection_metrics, (std::vector<std::string>{"loss"}));
  EXPECT_TRUE(c.normalize);
}

TEST(TrainConfigTest, TaskDefaultsForRegressionAndReconstruction) {
  auto regression = parse_train_arguments({"regression", "d.h5", "s", "m"});
  resolve_and_validate(regression);
  EXPECT_EQ(regression.label, "age");
  EXPECT_EQ(regression.loss, "MSELoss");
  auto reconstruction = parse_train_arguments({"reconstruction", "d.h5", "s", "m"});
  resolve_and_validate(reconstruction);
  EXPECT_EQ(reconstruction.architecture, "AE_Conv5_FC3");
}

TEST(TrainConfigTest, CommandLineValuesListsFlagsAndAliases) {
  auto c = parse_train_arguments(
      args({"--batch_size", "4", "-lr", "0.001", "--diagnoses", "AD", "MCI", "CN", "--unnormalize",
            "--baseline", "-a", "ResNet3D", "--discarded_slices", "3", "4"}));
  EXPECT_EQ(c.batch_size, 4);
  EXPECT_DOUBLE_EQ(c.learning_rate, 0.001);
  EXPECT_EQ(c.diagnoses, (std::vector<std::string>{"AD", "MCI", "CN"}));
  EXPECT_FALSE(c.normalize);
  EXPECT_TRUE(c.baseline);
  EXPECT_EQ(c.architecture, "ResNet3D");
  EXPECT_EQ(c.discarded_slices, (std::vector<int64_t>{3, 4}));
}

TEST(TrainConfigTest, DashesAreAcceptedForUnderscores) {
  const char* argv[] = {
      "clinicadl-hpc",   "train", "classification", "d.h5", "s", "m", "--batch-size=3",
      "--learning-rate", "0.5"};
  const auto c = parse_train_arguments(cli::normalize_option_names(9, argv, 2));
  EXPECT_EQ(c.batch_size, 3);
  EXPECT_DOUBLE_EQ(c.learning_rate, 0.5);
  EXPECT_EQ(c.maps_dir, "m");
}

TEST(TrainConfigTest, AMissingConfigFileIsNamedAsMissing) {
  try {
    parse_train_arguments(args({"--config_file", "/nonexistent/train.toml"}));
    FAIL() << "a missing TOML file was accepted";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("'/nonexistent/train.toml' does not exist"),
              std::string::npos)
        << e.what();
  }
}

TEST(TrainConfigTest, SplitsAndThreadsAreBoundedBeforeAnythingIsAllocated) {
  for (const auto& [option, value, expected] :
       {std::tuple{"--n_splits", "2147483648", "expected at most 1000"},
        std::tuple{"--threads", "100000", "cores of this node"}}) {
    try {
      auto c = parse_train_arguments(args({option, value}));
      resolve_and_validate(c);
      FAIL() << option << " " << value << " was accepted";
    } catch (const ConfigError& e) {
      EXPECT_NE(std::string(e.what()).find(expected), std::string::npos) << e.what();
    }
  }
}

TEST(TrainConfigTest, UnknownAndGuessedOptionsAreRefusedWithAHint) {
  for (const char* option : {"--epoch", "--nproc"}) {  // a prefix is not guessed
    try {
      parse_train_arguments(args({"--batch_size", "4", option, "2"}));
      FAIL() << option << " was accepted";
    } catch (const ConfigError& e) {
      const std::string message = e.what();
      EXPECT_NE(message.find(std::string("unknown option '") + option + "'"), std::string::npos)
          << message;
      EXPECT_NE(message.find("hint:"), std::string::npos) << message;
    }
  }
}

TEST(TrainConfigTest, TomlIsReadAndCommandLineWins) {
  const auto file = write_toml(
      "[Computational]\nbatch_size = 16\n[Optimization]\nepochs = 7\nlearning_rate = 0.01\n"
      "[Data]\ndiagnoses = [\"AD\", \"MCI\"]\nnormalize = false\n"
      "[Classification]\nselection_metrics = [\"BA\", \"loss\"]\nlabel_code = { AD = 1, MCI = 0 }\n"
      "[Regression]\nlabel = \"age\"\n");
  auto c = parse_train_arguments(args({"--config_file", file, "--epochs", "3"}));
  EXPECT_EQ(c.batch_size, 16);
  EXPECT_EQ(c.epochs, 3);  // command line beats the file
  EXPECT_DOUBLE_EQ(c.learning_rate, 0.01);
  EXPECT_EQ(c.diagnoses, (std::vector<std::string>{"AD", "MCI"}));
  EXPECT_FALSE(c.normalize);
  EXPECT_EQ(c.selection_metrics, (std::vector<std::string>{"BA", "loss"}));
  EXPECT_EQ(c.label_code, (std::map<std::string, int64_t>{{"AD", 1}, {"MCI", 0}}));
  EXPECT_EQ(c.label, "default") << "the [Regression] section does not apply to classification";
  std::remove(file.c_str());
}

TEST(TrainConfigTest, EveryProblemIsReportedAtOnce) {
  const auto file = write_toml("[Optimization]\nepoks = 3\n[Nonsense]\nx = 1\n");
  const auto message =
      error_of(args({"--config_file", file, "--batch_size", "many", "--epochs", "x"}));
  EXPECT_NE(message.find("4 problem(s)"), std::string::npos) << message;
  EXPECT_NE(message.find("[Optimization] epoks is not a known key"), std::string::npos) << message;
  EXPECT_NE(message.find("'Nonsense' is not a known section"), std::string::npos) << message;
  EXPECT_NE(message.find("--batch_size 'many' is invalid: expected an integer"), std::string::npos);
  std::remove(file.c_str());
}

TEST(TrainConfigTest, InvalidCombinationsAreRefusedTogether) {
  const auto message =
      error_of(args({"--optimizer", "Adamm", "--selection_metrics", "R2_score", "--mode", "roi",
                     "--accumulation_steps", "0", "--dropout", "1.5"}));
  EXPECT_NE(message.find("5 problem(s)"), std::string::npos) << message;
  EXPECT_NE(message.find("--optimizer 'Adamm' is not one of"), std::string::npos);
  EXPECT_NE(message.find("--selection_metrics 'R2_score'"), std::string::npos);
  EXPECT_NE(message.find("--mode roi needs --roi_list"), std::string::npos);
  EXPECT_NE(message.find("--accumulation_steps"), std::string::npos);
  EXPECT_NE(message.find("--dropout"), std::string::npos);
}

TEST(TrainConfigTest, ContradictingFlagsAndUnsupportedFeatures) {
  EXPECT_NE(error_of(args({"--normalize", "--unnormalize"})).find("contradict"), std::string::npos);
  EXPECT_NE(error_of(args({"--ssda_network"})).find("not supported yet"), std::string::npos);
  EXPECT_EQ(error_of(args({"--track_exp", "mlflow"})), "");
  EXPECT_EQ(error_of(args({"--size_reduction", "--size_reduction_factor", "5"})), "");
  EXPECT_EQ(error_of(args({"--unit_scheduling", "static"})), "");
  EXPECT_NE(error_of(args({"--unit_scheduling", "greedy"})).find("--unit_scheduling 'greedy'"),
            std::string::npos);
  EXPECT_NE(error_of(args({"--size_reduction", "--size_reduction_factor", "6"}))
                .find("--size_reduction_factor 6 is invalid; expected 2, 3, 4 or 5"),
            std::string::npos);
  EXPECT_NE(error_of(args({"--size_reduction", "--mode", "patch"}))
                .find("applies to whole images (--mode image)"),
            std::string::npos);
  EXPECT_NE(error_of(args({"--track_exp", "wandb"})).find("wandb is not supported"),
            std::string::npos);
  EXPECT_NE(error_of(args({"--track_exp", "tensorboard"}))
                .find("--track_exp 'tensorboard' is not one of \"\", none, mlflow or wandb"),
            std::string::npos);
  EXPECT_NE(error_of(args({"--multi_network"})).find("one network per part; --mode image"),
            std::string::npos);
  EXPECT_EQ(error_of(args({"--multi_network", "--mode", "patch"})), "");
  // ClinicaDL's spellings get a hint to ours.
  EXPECT_NE(error_of(args({"--no_gpu"})).find("--gpu false"), std::string::npos)
      << error_of(args({"--no_gpu"}));
  EXPECT_NE(error_of(args({"--gpu"})).find("--gpu true"), std::string::npos)
      << error_of(args({"--gpu"}));
  // A malformed TOML file names the line.
  const auto bad_toml = write_toml("[Computational]\nbatch_size = 4\nepochs = = 3\n");
  EXPECT_NE(error_of(args({"--config_file", bad_toml})).find("line 3"), std::string::npos)
      << error_of(args({"--config_file", bad_toml}));
  // Integer limits print as integers, not as 0.000000.
  EXPECT_NE(error_of(args({"--batch_size", "0"})).find("--batch_size is 0, expected at least 1"),
            std::string::npos)
      << error_of(args({"--batch_size", "0"}));
  EXPECT_NE(
      error_of(args({"--tolerance", "-0.5"})).find("--tolerance is -0.5, expected at least 0"),
      std::string::npos);
  EXPECT_NE(error_of(args({"--n_proc", "-1"})).find("--n_proc is -1, expected at least 0"),
            std::string::npos);
  // Prefixes are not guessed (ClinicaDL does not guess): --epoch is not --epochs.
  EXPECT_NE(error_of(args({"--epoch", "3"})).find("epoch"), std::string::npos);
  EXPECT_NE(error_of(args({"--batch", "3"})), "");
  EXPECT_EQ(error_of(args({"--epochs", "3", "--batch_size", "3"})), "");
  EXPECT_NE(error_of({"classification", "d.h5", "s"}).find("expects 4 arguments"),
            std::string::npos);
  EXPECT_NE(error_of({"segmentation", "d.h5", "s", "m"})
                .find("TASK 'segmentation' is not one of classification, regression or "
                      "reconstruction"),
            std::string::npos);
  EXPECT_EQ(error_of(args({"--sampler", "weighted"})), "");
  EXPECT_NE(
      error_of({"reconstruction", "d.h5", "s", "m", "--sampler", "weighted"}).find("needs labels"),
      std::string::npos);
}

TEST(TrainConfigTest, MapsJsonFollowsClinicaDLKeyOrder) {
  auto c = parse_train_arguments(args({"--gpu", "false"}));
  resolve_and_validate(c);
  const auto json = c.to_json();
  std::vector<std::string> keys;
  for (auto it = json.begin(); it != json.end(); ++it) keys.push_back(it.key());
  ASSERT_GE(keys.size(), 20u);
  EXPECT_EQ(std::vector<std::string>(keys.begin(), keys.begin() + 6),
            (std::vector<std::string>{"architecture", "multi_network", "ssda_network", "dropout",
                                      "latent_space_size", "feature_size"}));
  const auto position = [&](const std::string& key) {
    return std::find(keys.begin(), keys.end(), key) - keys.begin();
  };
  EXPECT_EQ(position("label_code"), position("label") + 1);
  EXPECT_LT(position("batch_size"), position("seed"));
  EXPECT_LT(position("n_splits"), position("epochs"));
  EXPECT_EQ(json["gpu"], false);
  EXPECT_EQ(json["network_task"], "classification");
}

TEST(TrainConfigTest, MapsJsonReadsBackIntoTheSameOptions) {
  auto c = parse_train_arguments(args({"--gpu",
                                       "false",
                                       "--mode",
                                       "patch",
                                       "--patch_size",
                                       "16",
                                       "--selection_metrics",
                                       "loss",
                                       "BA",
                                       "--learning_rate",
                                       "3e-4",
                                       "--checkpoint_steps",
                                       "5",
                                       "--n_splits",
                                       "3",
                                       "--split",
                                       "1",
                                       "2",
                                       "--discarded_slices",
                                       "3",
                                       "4",
                                       "--adaptive_learning_rate",
                                       "--no_cache"}));
  c.label_code = {{"AD", 1}, {"CN", 0}};  // from a TOML file or a source MAPS
  resolve_and_validate(c);
  const nlohmann::json json = nlohmann::json::parse(c.to_json().dump());
  auto back = config_from_maps_json(json, "maps.json");
  resolve_and_validate(back);
  back.maps_dir = c.maps_dir;
  EXPECT_EQ(back.to_json().dump(), c.to_json().dump());
  EXPECT_EQ(back.gpu, Toggle::kOff);
  EXPECT_EQ(back.checkpoint_steps, 5);
  EXPECT_EQ(back.label_code.at("AD"), 1);
  EXPECT_EQ(back.data_path, "data.h5");
}

TEST(TrainConfigTest, MapsJsonWithWrongTypesNamesTheKeys) {
  auto c = parse_train_arguments(args({}));
  resolve_and_validate(c);
  nlohmann::json json = nlohmann::json::parse(c.to_json().dump());
  json["batch_size"] = "eight";
  json["amp"] = 1;
  json["some_other_tool_key"] = {1, 2};  // ignored
  try {
    config_from_maps_json(json, "/x/maps.json");
    FAIL() << "wrong types were accepted";
  } catch (const ConfigError& error) {
    const std::string message = error.what();
    EXPECT_NE(message.find("'/x/maps.json': 2 problem(s)"), std::string::npos) << message;
    EXPECT_NE(message.find("'batch_size' is \"eight\""), std::string::npos) << message;
    EXPECT_NE(message.find("'amp' is 1"), std::string::npos) << message;
  }
  json.erase("caps_directory");
  EXPECT_THROW(config_from_maps_json(json, "m.json"), ConfigError);
}

TEST(TrainConfigTest, ChoiceOptionsAreTypedOnceFromTheirNames) {
  const auto file =
      write_toml("[Optimization]\noptimizer = \"RMSprop\"\n[Mode]\nmode = \"slice\"\n");
  auto c = parse_train_arguments(
      {"regression",     "data.h5", "split",           "maps",    "--config_file",     file,
       "--gpu",          "true",    "--channels_last", "false",   "--comm_backend",    "nccl",
       "--compensation", "time",    "--track_exp",     "mlflow",  "--unit_scheduling", "static",
       "--slice_mode",   "single",  "--sampler",       "weighted"});
  EXPECT_EQ(c.network_task, data::Task::kRegression);
  EXPECT_EQ(c.optimizer, Optimizer::kRMSprop);  // from the TOML file
  EXPECT_EQ(c.mode, data::Mode::kSlice);
  EXPECT_EQ(c.gpu, Toggle::kOn);
  EXPECT_EQ(c.channels_last, Toggle::kOff);
  EXPECT_EQ(c.comm_backend, CommBackend::kNccl);
  EXPECT_EQ(c.compensation, Compensation::kTime);
  EXPECT_EQ(c.track_exp, Tracker::kMlflow);
  EXPECT_EQ(c.unit_scheduling, UnitScheduling::kStatic);
  EXPECT_EQ(c.slice_mode, SliceMode::kSingle);
  EXPECT_EQ(c.sampler, data::SamplerKind::kWeighted);
  resolve_and_validate(c);
  const auto json = c.to_json();  // names, as ClinicaDL writes them
  EXPECT_EQ(json["optimizer"], "RMSprop");
  EXPECT_EQ(json["mode"], "slice");
  EXPECT_EQ(json["network_task"], "regression");
  EXPECT_EQ(json["gpu"], true);
  EXPECT_EQ(json["track_exp"], "mlflow");
  auto back = config_from_maps_json(nlohmann::json::parse(json.dump()), "maps.json");
  EXPECT_EQ(back.optimizer, Optimizer::kRMSprop);
  EXPECT_EQ(back.comm_backend, CommBackend::kNccl);
  EXPECT_EQ(back.slice_mode, SliceMode::kSingle);
  // ClinicaDL writes "" for no tracker; "none" reads as well.
  EXPECT_EQ(parse_train_arguments(args({"--track_exp", "none"})).track_exp, Tracker::kNone);
  EXPECT_EQ(TrainConfig().to_json()["track_exp"], "");
  std::remove(file.c_str());
}

TEST(TrainConfigTest, StageDataBelongsToTheAllocationNotToMapsJson) {
  auto c = parse_train_arguments(args({"--stage_data", "/scratch/local"}));
  EXPECT_EQ(c.stage_data, "/scratch/local");
  resolve_and_validate(c);
  auto json = nlohmann::json::parse(c.to_json().dump());
  EXPECT_FALSE(json.contains("stage_data")) << "a node-local folder of this allocation";
  json["stage_data"] = "/scratch/of/an/old/allocation";
  auto resumed = config_from_maps_json(json, "maps.json");
  EXPECT_EQ(resumed.stage_data, "") << "a resumed training reads in place unless told";
  apply_train_options(resumed, {{"--stage_data", {"/scratch/new"}}}, "resume");
  EXPECT_EQ(resumed.stage_data, "/scratch/new");
}

TEST(TrainConfigTest, MapsJsonWithUnknownNamesNamesTheKeys) {
  auto c = parse_train_arguments(args({}));
  resolve_and_validate(c);
  nlohmann::json json = nlohmann::json::parse(c.to_json().dump());
  json["optimizer"] = "LBFGS";
  json["mode"] = 3;
  try {
    config_from_maps_json(json, "/x/maps.json");
    FAIL() << "unknown names were accepted";
  } catch (const ConfigError& error) {
    const std::string message = error.what();
    EXPECT_NE(message.find("'/x/maps.json': 2 problem(s)"), std::string::npos) << message;
    EXPECT_NE(message.find("'optimizer' is \"LBFGS\", which has the wrong type or name: expected "
                           "Adam, AdamW, SGD, Adagrad, RMSprop, Adadelta, Adamax, ASGD, NAdam or "
                           "RAdam"),
              std::string::npos)
        << message;
    EXPECT_NE(message.find("'mode' is 3"), std::string::npos) << message;
  }
  json["optimizer"] = "Adam";
  json["mode"] = "image";
  json["network_task"] = "segmentation";
  try {
    config_from_maps_json(json, "/x/maps.json");
    FAIL() << "an unknown task was accepted";
  } catch (const ConfigError& error) {
    EXPECT_NE(std::string(error.what())
                  .find("'network_task' is 'segmentation'; expected "
                        "classification, regression or reconstruction"),
              std::string::npos)
        << error.what();
  }
}

TEST(TrainConfigTest, MemorySavingOnlyForPooledConvTrunks) {
  EXPECT_EQ(error_of(args({"--memory_saving"})), "");  // default architecture: Conv5_FC3
  EXPECT_EQ(error_of(args({"--memory_saving", "-a", "Conv4_FC3"})), "");
  auto c = parse_train_arguments(args({"--memory_saving"}));
  EXPECT_TRUE(c.memory_saving);
  const auto message = error_of(args({"--memory_saving", "-a", "resnet18"}));
  EXPECT_NE(message.find("--memory_saving applies to Conv4_FC3 and Conv5_FC3"), std::string::npos)
      << message;
  EXPECT_NE(message.find("--architecture resnet18"), std::string::npos) << message;
}

TEST(TrainConfigTest, OtherCommandsChangeOptionsThroughTheTable) {
  TrainConfig c;
  apply_train_options(
      c, {{"--split", {"1", "3"}}, {"--threads", {"4"}}, {"--amp", {}}, {"--gpu", {"false"}}},
      "resume");
  EXPECT_EQ(c.split, (std::vector<int64_t>{1, 3}));
  EXPECT_EQ(c.threads, 4);
  EXPECT_TRUE(c.amp);  // a boolean switch without a value sets it
  EXPECT_EQ(c.gpu, Toggle::kOff);
  EXPECT_EQ(train_option_arity("amp"), 0);
  EXPECT_EQ(train_option_arity("batch_size"), 1);
  EXPECT_EQ(train_option_arity("split"), -1);
  EXPECT_THROW(train_option_arity("no_such_option"), InternalError);
}

TEST(TrainConfigTest, OtherCommandsGetEveryProblemOfTheirOptionsAtOnce) {
  TrainConfig c;
  try {
    apply_train_options(c, {{"--threads", {"many"}}, {"--split", {"1", "x"}}, {"--bogus", {"1"}}},
                        "predict");
    FAIL() << "bad values were accepted";
  } catch (const ConfigError& error) {
    const std::string message = error.what();
    EXPECT_NE(message.find("3 problem(s) with the predict options"), std::string::npos) << message;
    EXPECT_NE(message.find("--threads 'many' is invalid: expected an integer"), std::string::npos)
        << message;
    EXPECT_NE(message.find("--split '1 x' is invalid: expected integers"), std::string::npos)
        << message;
    EXPECT_NE(message.find("'--bogus' is not a train option"), std::string::npos) << message;
    EXPECT_NE(message.find("clinicadl-hpc predict --help"), std::string::npos) << message;
  }
}

TEST(TrainConfigTest, HelpIsNotAnError) {
  EXPECT_THROW(parse_train_arguments({"--help"}), HelpRequested);
  EXPECT_NE(train_usage().find("--accumulation_steps"), std::string::npos);
}

}  // namespace
}  // namespace cdl::config

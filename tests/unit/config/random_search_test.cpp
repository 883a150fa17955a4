// Random search's space: ClinicaDL's keys and sampling rules (randint, choice, uniform, 10^-x),
// the architecture drawn as ClinicaDL draws it (widths doubled up to channels_limit), runs
// reproducible from (seed, run) alone, and every problem of a random_search.toml named at once.
#include "cdl/config/random_search.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <set>

#include "cdl/core/error.hpp"
#include "test_files.hpp"

namespace cdl::config {
namespace {

using data::testing::TempDir;
using data::testing::write_text;

const char* const kMandatory = R"(
network_task = "classification"
caps_directory = "data.h5"
tsv_path = "split"
)";

SearchSpace space_of(const TempDir& dir, const std::string& random_search,
                     const std::string& sections = "") {
  write_text(dir.file("random_search.toml"),
             sections + "[Random_Search]\n" + kMandatory + random_search);
  return read_search_space(dir.path());
}

std::string value_of(const SampledRun& run, const std::string& key) {
  for (const auto& [name, value] : run.values) {
    if (name == key) return value;
  }
  return "<absent>";
}

TEST(RandomSearch, DrawsFollowClinicaDLsSamplingRules) {
  TempDir dir;
  const auto space = space_of(dir, R"(
n_convblocks = [1, 3]
first_conv_width = [4, 8, 16]
n_fcblocks = [1, 2]
learning_rate = [3, 5]
weight_decay = 4
dropout = [0.1, 0.4]
optimizer = ["Adam", "SGD"]
accumulation_steps = [1, 3]
epochs = 7
)");
  std::set<int64_t> blocks, widths, accumulation;
  std::set<std::string> optimizers;
  for (int64_t run = 0; run < 200; ++run) {
    const auto sampled = sample_run(space, run, "MAPS");
    const auto& c = sampled.config;
    EXPECT_GE(c.learning_rate, 1e-5);
    EXPECT_LE(c.learning_rate, 1e-3);
    EXPECT_NEAR(c.weight_decay, 1e-4, 1e-18);  // a single value x of an exponent key: 10^-x
    EXPECT_GE(c.dropout, 0.1);
    EXPECT_LT(c.dropout, 0.4);
    EXPECT_EQ(c.epochs, 7);
    EXPECT_EQ(c.architecture, "RandomArchitecture");
    EXPECT_EQ(c.network_task, data::Task::kClassification);
    EXPECT_EQ(c.data_path, "data.h5");
    EXPECT_EQ(c.maps_dir, "MAPS");
    EXPECT_GE(c.n_fcblocks, 1);
    EXPECT_LE(c.n_fcblocks, 2);
    optimizers.insert(choice_name(c.optimizer));
    accumulation.insert(c.accumulation_steps);
    blocks.insert(static_cast<int64_t>(c.convolutions_dict.size()));
    widths.insert(c.convolutions_dict["conv0"]["out_channels"].get<int64_t>());
    EXPECT_EQ(value_of(sampled, "optimizer"), choice_name(c.optimizer));
  }
  EXPECT_EQ(blocks, (std::set<int64_t>{1, 2, 3}));  // randint includes both ends
  EXPECT_EQ(widths, (std::set<int64_t>{4, 8, 16}));
  EXPECT_EQ(accumulation, (std::set<int64_t>{1, 2, 3}));
  EXPECT_EQ(optimizers, (std::set<std::string>{"Adam", "SGD"}));
}

// first_conv_width 8, channels_limit 16, 4 blocks of 2 convolutions, stride: 8-16-16-16 (ClinicaDL
// doubles a width below the limit only), each block's in_channels the previous out_channels.
TEST(RandomSearch, ArchitectureIsDrawnAsClinicaDLDrawsIt) {
  TempDir dir;
  const auto space = space_of(dir, R"(
n_convblocks = 4
first_conv_width = [8]
n_fcblocks = 2
channels_limit = 16
n_conv = [2]
d_reduction = ["stride"]
network_normalization = ["None"]
wd_bool = [false]
)");
  const auto sampled = sample_run(space, 0, "MAPS");
  const auto& convolutions = sampled.config.convolutions_dict;
  ASSERT_EQ(convolutions.size(), 4u);
  const int64_t expected_out[] = {8, 16, 16, 16};
  for (int i = 0; i < 4; ++i) {
    const auto& block = convolutions["conv" + std::to_string(i)];
    EXPECT_EQ(block["out_channels"].get<int64_t>(), expected_out[i]) << i;
    EXPECT_EQ(block["n_conv"].get<int64_t>(), 2);
    EXPECT_EQ(block["d_reduction"], "stride");
    if (i == 0) {
      EXPECT_TRUE(block["in_channels"].is_null());
    } else {
      EXPECT_EQ(block["in_channels"].get<int64_t>(), expected_out[i - 1]);
    }
  }
  EXPECT_EQ(value_of(sampled, "channels"), "8-16-16-16");
  EXPECT_EQ(sampled.config.network_normalization, "None");
  EXPECT_EQ(sampled.config.weight_decay, 0.0);                            // wd_bool false
  EXPECT_EQ(sampled.config.to_json()["network_normalization"], nullptr);  // ClinicaDL's None
}

TEST(RandomSearch, RunsAreReproducibleAndIndependentOfOtherKeys) {
  TempDir first, second;
  const std::string common = "n_convblocks = [1, 5]\nfirst_conv_width = [4, 8]\nn_fcblocks = 1\n";
  const auto a = space_of(first, common + "learning_rate = [2, 6]\n");
  const auto b = space_of(second, common + "learning_rate = [2, 6]\ndropout = [0.0, 0.5]\n");
  std::set<double> rates;
  for (int64_t run = 0; run < 20; ++run) {
    const auto x = sample_run(a, run, "M"), y = sample_run(b, run, "M");
    EXPECT_EQ(x.config.learning_rate, sample_run(a, run, "M").config.learning_rate);
    EXPECT_EQ(x.config.learning_rate, y.config.learning_rate) << "a new key changed a draw";
    EXPECT_EQ(x.config.convolutions_dict, y.config.convolutions_dict);
    rates.insert(x.config.learning_rate);
  }
  EXPECT_EQ(rates.size(), 20u);  // runs differ
}

TEST(RandomSearch, TrainSectionsGiveFixedValuesThatRandomSearchOverrides) {
  TempDir dir;
  const auto space = space_of(dir,
                              "n_convblocks = 1\nfirst_conv_width = 4\nn_fcblocks = 1\n"
                              "batch_size = 3\n",
                              "[Optimization]\nepochs = 9\n[Computational]\nbatch_size = 5\n\n");
  const auto c = sample_run(space, 0, "M").config;
  EXPECT_EQ(c.epochs, 9);
  EXPECT_EQ(c.batch_size, 3);
}

void expect_problems(const std::string& random_search, const std::vector<std::string>& expected,
                     const std::string& header = "") {
  TempDir dir;
  write_text(dir.file("random_search.toml"), header + random_search);
  try {
    read_search_space(dir.path());
    ADD_FAILURE() << "expected a ConfigError";
  } catch (const ConfigError& error) {
    const std::string message = error.what();
    for (const auto& text : expected) {
      EXPECT_NE(message.find(text), std::string::npos) << text << "\n" << message;
    }
  }
}

TEST(RandomSearch, EveryProblemOfTheFileIsNamed) {
  expect_problems(
      "[Random_Search]\nn_convblocks = [3, 1]\nfirst_conv_width = [0, 4]\n"
      "learning_rate = [1]\noptimizer = [\"Adam\", \"Bogus\"]\nfoo = 1\n"
      "architecture = \"Conv5_FC3\"\nd_reduction = [\"AvgPooling\"]\n",
      {"random_search.toml: [Random_Search] n_convblocks is [3, 1]; expected [low, "
       "high] with low <= high",
       "first_conv_width value '0' is invalid; expected a positive integer", "learning_rate is [1]",
       "foo is not a train option nor a random-search key", "always samples RandomArchitecture",
       "d_reduction value 'AvgPooling' is invalid", "has no 'n_fcblocks'", "has no 'network_task'",
       "has no 'caps_directory'", "has no 'tsv_path'"});
  expect_problems("[Model]\narchitecture = 1\n", {"has no [Random_Search] section"});
  expect_problems(
      std::string("[Random_Search]\n") + kMandatory +
          "n_convblocks = 1\nfirst_conv_width = 4\nn_fcblocks = 1\n"
          "batch_size = [\"four\"]\n",
      {"batch_size value 'four' is refused: --batch_size 'four' is invalid: expected an integer"});
  // Choices are checked as `train` checks them once the file has no other problem.
  expect_problems(std::string("[Random_Search]\n") + kMandatory +
                      "n_convblocks = 1\nfirst_conv_width = 4\nn_fcblocks = 1\n"
                      "optimizer = [\"Adam\", \"Bogus\"]\n",
                  {"optimizer value 'Bogus' is refused: --optimizer 'Bogus' is not one of Adam"});
  expect_problems("[Random_Search\n", {"is not valid TOML"});
}

TEST(RandomSearch, AMissingFileIsNamed) {
  TempDir dir;
  EXPECT_THROW(read_search_space(dir.path()), ConfigError);
}

}  // namespace
}  // namespace cdl::config

// The command-line rules shared by clinicadl-hpc and caps2h5: dashes for underscores, no prefix
// guessing, positional arguments, and parse errors in the project's words.
#include <gtest/gtest.h>

#include <boost/program_options/value_semantic.hpp>

#include "cdl/core/command_line.hpp"

namespace cdl::cli {
namespace {
namespace po = boost::program_options;

TEST(CommandLine, DashesBecomeUnderscoresInOptionNamesOnly) {
  EXPECT_EQ(normalize_option_names({"--n-test=3-4", "--use-uncropped-image", "a-b", "-h", "--"}),
            (std::vector<std::string>{"--n_test=3-4", "--use_uncropped_image", "a-b", "-h", "--"}));
  const char* argv[] = {"prog", "train", "--batch-size", "3"};
  EXPECT_EQ(normalize_option_names(4, argv, 2), (std::vector<std::string>{"--batch_size", "3"}));
  EXPECT_TRUE(normalize_option_names(1, argv, 2).empty());
}

struct Parser {
  po::options_description options;
  po::positional_options_description positional;
  Parser() {
    options.add_options()("epochs", po::value<int>())(
        "split", po::value<std::vector<int>>()->multitoken())("amp", po::bool_switch())(
        "rest", po::value<std::vector<std::string>>());
    positional.add("rest", -1);
  }
  po::variables_map parse(const std::vector<std::string>& args) const {
    return parse_options(args, options, positional);
  }
};

TEST(CommandLine, ParsesValuesListsSwitchesAndPositionals) {
  const auto values = Parser().parse({"a", "--epochs", "7", "--split", "0", "2", "--amp", "b"});
  EXPECT_EQ(values["epochs"].as<int>(), 7);
  EXPECT_EQ(values["split"].as<std::vector<int>>(), (std::vector<int>{0, 2}));
  EXPECT_TRUE(values["amp"].as<bool>());
  EXPECT_EQ(values["rest"].as<std::vector<std::string>>(), (std::vector<std::string>{"a", "b"}));
}

TEST(CommandLine, NeverGuessesAPrefixAndNamesTheUnknownOption) {
  try {
    Parser().parse({"--epoch", "7"});
    FAIL() << "--epoch was taken for --epochs";
  } catch (const po::error& e) {
    EXPECT_EQ(describe_parse_error(e), "unknown option '--epoch'");
  }
  try {
    Parser().parse({"--epochs"});
    FAIL() << "--epochs without a value was accepted";
  } catch (const po::error& e) {
    EXPECT_NE(describe_parse_error(e).find("epochs"), std::string::npos) << describe_parse_error(e);
  }
}

}  // namespace
}  // namespace cdl::cli

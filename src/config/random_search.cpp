// Implementation of random search's space: reading random_search.toml and sampling runs.
#include "cdl/config/random_search.hpp"

#include <toml++/toml.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <map>

#include "cdl/core/error.hpp"
#include "cdl/core/problems.hpp"
#include "cdl/core/random.hpp"
#include "toml_values.hpp"
#include "train_option_table.hpp"

namespace cdl::config {
namespace {

using Problems = std::vector<std::string>;
constexpr const char* kSection = "Random_Search";

/// How ClinicaDL 1.6.1 samples each key of [Random_Search] (random_search_utils.py); train
/// options it does not list are taken as fixed values here (ClinicaDL drops them).
const std::map<std::string, std::string>& sampling_types() {
  static const std::map<std::string, std::string> types{
      {"accumulation_steps", "randint"},
      {"baseline", "choice"},
      {"dropout", "uniform"},
      {"learning_rate", "exponent"},
      {"normalize", "choice"},
      {"multi_network", "choice"},
      {"optimizer", "choice"},
      {"sampler", "choice"},
      {"transfer_path", "choice"},
      {"transfer_selection_metric", "choice"},
      {"weight_decay", "exponent"},
      // The architecture's keys.
      {"n_convblocks", "randint"},
      {"first_conv_width", "choice"},
      {"n_fcblocks", "randint"},
      {"d_reduction", "choice"},
      {"network_normalization", "choice"},
      {"channels_limit", "fixed"},
      {"n_conv", "choice"},
      {"wd_bool", "choice"},
  };
  return types;
}

/// The keys that describe the architecture, with ClinicaDL's defaults ("" = mandatory).
const std::vector<std::pair<std::string, std::string>>& architecture_keys() {
  static const std::vector<std::pair<std::string, std::string>> keys{
      {"n_convblocks", ""},
      {"first_conv_width", ""},
      {"n_fcblocks", ""},
      {"d_reduction", "MaxPooling"},
      {"network_normalization", "BatchNorm"},
      {"channels_limit", "512"},
      {"n_conv", "1"},
      {"wd_bool", "true"}};
  return keys;
}

bool parse_integer(const std::string& text, int64_t& value) {
  char* end = nullptr;
  errno = 0;
  const long long parsed = std::strtoll(text.c_str(), &end, 10);
  if (errno != 0 || end == text.c_str() || *end != '\0') return false;
  value = parsed;
  return true;
}

bool parse_real(const std::string& text, double& value) {
  char* end = nullptr;
  value = std::strtod(text.c_str(), &end);
  return end != text.c_str() && *end == '\0' && std::isfinite(value);
}

std::string real_text(double value) {
  char buffer[32];
  std::snprintf(buffer, sizeof(buffer), "%.17g", value);
  return buffer;
}

std::string where(const SearchSpace& space, const std::string& key) {
  return space.file + ": [" + kSection + "] " + key;
}

/// The values an entry may take are of the right kind for its sampling: two numbers (integers
/// for randint) in increasing order for a range, at least one value for a choice.
void check_entry(const SearchSpace& space, const SearchEntry& entry, Problems& problems) {
  const std::string at = where(space, entry.key);
  if (!entry.is_list) {
    double number = 0;
    if (entry.sampling == "exponent" && !parse_real(entry.values[0], number)) {
      problems.push_back(at + " is '" + entry.values[0] + "'; expected a number x (10^-x)");
    }
    return;
  }
  if (entry.sampling == "choice") {
    if (entry.values.empty()) problems.push_back(at + " is an empty list; expected choices");
    return;
  }
  if (entry.sampling == "fixed") return;
  bool ok = entry.values.size() == 2;
  double low = 0, high = 0;
  if (entry.sampling == "randint") {
    int64_t a = 0, b = 0;
    ok = ok && parse_integer(entry.values[0], a) && parse_integer(entry.values[1], b) && a <= b;
  } else {
    ok = ok && parse_real(entry.values[0], low) && parse_real(entry.values[1], high) && low <= high;
  }
  if (!ok) {
    std::string seen;
    for (const auto& v : entry.values) seen += (seen.empty() ? "" : ", ") + v;
    problems.push_back(at + " is [" + seen + "]; expected [low, high] with low <= high (" +
                       (entry.sampling == "randint" ? "integers, drawn uniformly"
                        : entry.sampling == "uniform"
                            ? "numbers, drawn uniformly"
                            : "numbers x, the value is 10^-x for x drawn uniformly") +
                       ")");
  }
}

/// The line of a ConfigError's message that names --`key` ("--optimizer 'X' is not one of ..."),
/// or "" when none does.
std::string problem_naming(const ConfigError& error, const std::string& key) {
  const std::string message = error.what();
  const auto named = message.find("--" + key + " ");
  if (named == std::string::npos) return "";
  const auto end = message.find('\n', named);
  return message.substr(named, end == std::string::npos ? end : end - named);
}

/// Every value a train option's entry can take reads as that option (as the command line
/// would give it): a bad choice is found now, not in the middle of the search.
void check_train_values(const SearchSpace& space, const SearchEntry& entry, Problems& problems) {
  std::vector<std::vector<std::string>> candidates;
  if (entry.sampling == "fixed" || !entry.is_list) {
    candidates.push_back(entry.values);
  } else if (entry.sampling == "choice") {
    for (const auto& value : entry.values) candidates.push_back({value});
  } else {
    return;  // ranges: numbers, checked by check_entry
  }
  for (const auto& values : candidates) {
    TrainConfig scratch;
    try {
      apply_train_options(scratch, {{"--" + entry.key, values}}, "random-search");
    } catch (const ConfigError& error) {
      std::string seen;
      for (const auto& v : values) seen += (seen.empty() ? "" : " ") + v;
      problems.push_back(where(space, entry.key) + " value '" + seen +
                         "' is refused: " + problem_naming(error, entry.key));
    }
  }
}

/// Each choice of a sampled option passes the checks of `train` on the fixed options (an unknown
/// optimizer is found now, not when its run starts). Only the problems that name the option count:
/// a problem of the fixed options is left to each run's own check.
void check_choices_validate(const SearchSpace& space, Problems& problems) {
  for (const auto& entry : space.sampled) {
    if (entry.sampling != "choice" || !entry.is_list) continue;
    for (const auto& value : entry.values) {
      TrainConfig scratch = space.fixed;
      try {
        apply_train_options(scratch, {{"--" + entry.key, {value}}}, "random-search");
        resolve_and_validate(scratch);
      } catch (const ConfigError& error) {
        const auto problem = problem_naming(error, entry.key);
        if (problem.empty()) continue;
        problems.push_back(where(space, entry.key) + " value '" + value +
                           "' is refused: " + problem);
      }
    }
  }
}

bool is_train_option(const std::string& key) {
  TrainConfig scratch;
  for (const auto& spec : option_specs(scratch)) {
    if (spec.name == key) return true;
  }
  return false;
}

/// Reads [Random_Search] into `space`: the positional keys into space.fixed, train options
/// (fixed scalars applied, the others kept for sampling), the architecture keys.
void read_random_search_section(const toml::table& section, SearchSpace& space,
                                Problems& problems) {
  std::map<std::string, SearchEntry> architecture;
  for (const auto& [key_view, node] : section) {
    const std::string key(key_view.str());
    SearchEntry entry{key, toml_values(node), node.is_array(), "fixed"};
    const auto type = sampling_types().find(key);
    if (type != sampling_types().end()) entry.sampling = type->second;
    const auto positional = [&](std::string& field) {
      if (entry.is_list || entry.values[0].empty()) {
        problems.push_back(where(space, key) + " must be one text value");
      } else {
        field = entry.values[0];
      }
    };
    if (key == "network_task") {
      std::string task;
      positional(task);
      const auto parsed = parse_choice<data::Task>(task);
      if (parsed) space.fixed.network_task = *parsed;
      if (!parsed && !task.empty()) {
        problems.push_back(where(space, key) + " '" + task + "' is not one of " +
                           choice_list<data::Task>());
      }
    } else if (key == "caps_directory") {
      positional(space.fixed.data_path);
    } else if (key == "tsv_path") {
      positional(space.fixed.tsv_path);
    } else if (key == "preprocessing_json") {
      // ClinicaDL's extraction JSON: the mode comes from the mode keys and the HDF5 file here.
    } else if (key == "architecture") {
      problems.push_back(where(space, key) +
                         ": random search always samples RandomArchitecture; remove the key");
    } else if (std::any_of(architecture_keys().begin(), architecture_keys().end(),
                           [&](const auto& known) { return known.first == key; })) {
      architecture[key] = entry;
    } else if (!is_train_option(key)) {
      problems.push_back(where(space, key) + " is not a train option nor a random-search key");
    } else {
      const size_t before = problems.size();
      check_entry(space, entry, problems);
      check_train_values(space, entry, problems);
      const bool drawn = entry.is_list && entry.sampling != "fixed";
      if (problems.size() > before) continue;
      if (drawn || entry.sampling == "exponent") {
        space.sampled.push_back(entry);
      } else {
        apply_train_options(space.fixed, {{"--" + key, entry.values}}, "random-search");
      }
    }
  }
  for (const auto& [key, fallback] : architecture_keys()) {
    auto found = architecture.find(key);
    if (found == architecture.end()) {
      if (fallback.empty()) {
        problems.push_back(space.file + ": [" + kSection + "] has no '" + key +
                           "'; random search needs n_convblocks, first_conv_width and "
                           "n_fcblocks");
        continue;
      }
      found = architecture.emplace(key, SearchEntry{key, {fallback}, false, "fixed"}).first;
      found->second.sampling = sampling_types().at(key);
    }
    check_entry(space, found->second, problems);
    space.architecture.push_back(found->second);
  }
}

/// The architecture values are in range: positive counts and widths, known reductions and
/// normalisations, booleans for wd_bool.
void check_architecture_values(const SearchSpace& space, Problems& problems) {
  for (const auto& entry : space.architecture) {
    for (const auto& value : entry.values) {
      int64_t number = 0;
      bool ok = true;
      std::string expected;
      if (entry.key == "d_reduction") {
        ok = value == "MaxPooling" || value == "stride";
        expected = "MaxPooling or stride";
      } else if (entry.key == "network_normalization") {
        ok = value == "BatchNorm" || value == "InstanceNorm" || value == "None";
        expected = "BatchNorm, InstanceNorm or None";
      } else if (entry.key == "wd_bool") {
        ok = value == "true" || value == "false";
        expected = "true or false";
      } else {
        ok = parse_integer(value, number) && number >= 1;
        expected = "a positive integer";
      }
      if (!ok) {
        problems.push_back(where(space, entry.key) + " value '" + value +
                           "' is invalid; expected " + expected);
      }
    }
  }
}

/// The random source of (seed, run, key): a key's draw does not depend on the other keys.
SplitMix64 stream(int64_t seed, int64_t run, const std::string& key) {
  return SplitMix64(
      mix_bits(mix_bits(mix_bits(static_cast<uint64_t>(seed)) ^ static_cast<uint64_t>(run)) ^
               text_hash(key)));
}

/// One draw of `entry` as a command-line text (ClinicaDL's sampling_fn).
std::string draw(const SearchEntry& entry, SplitMix64 random) {
  if (!entry.is_list || entry.sampling == "fixed") {
    if (entry.sampling != "exponent") return entry.values[0];
    double x = 0;
    parse_real(entry.values[0], x);
    return real_text(std::pow(10.0, -x));
  }
  if (entry.sampling == "choice") return entry.values[random.below(entry.values.size())];
  if (entry.sampling == "randint") {
    int64_t low = 0, high = 0;
    parse_integer(entry.values[0], low);
    parse_integer(entry.values[1], high);
    return std::to_string(
        low + static_cast<int64_t>(random.below(static_cast<uint64_t>(high - low) + 1)));
  }
  double low = 0, high = 0;
  parse_real(entry.values[0], low);
  parse_real(entry.values[1], high);
  const double x = low + (high - low) * random.uniform();
  return real_text(entry.sampling == "exponent" ? std::pow(10.0, -x) : x);
}

const SearchEntry& architecture_entry(const SearchSpace& space, const std::string& key) {
  for (const auto& entry : space.architecture) {
    if (entry.key == key) return entry;
  }
  CDL_THROW(InternalError, "random-search architecture key '", key, "' was not read");
}

int64_t draw_integer(const SearchSpace& space, const std::string& key, int64_t run,
                     const std::string& stream_key) {
  int64_t value = 0;
  parse_integer(draw(architecture_entry(space, key), stream(space.fixed.seed, run, stream_key)),
                value);
  return value;
}

}  // namespace

SearchSpace read_search_space(const std::string& launch_dir) {
  SearchSpace space;
  space.file = (std::filesystem::path(launch_dir) / "random_search.toml").string();
  std::error_code error;
  if (!std::filesystem::is_regular_file(space.file, error)) {
    CDL_THROW(ConfigError, "random-search needs the file ", space.file,
              " (a [Random_Search] section of fixed values and sampled ranges); it does not exist");
  }
  Problems problems;
  toml::table root;
  bool parsed = true;
  try {
    root = toml::parse_file(space.file);
  } catch (const toml::parse_error&) {
    parsed = false;  // apply_config_file names the error
  }
  // The task selects which task section of the other sections applies, as for train; a bad task
  // is reported with the section's other problems.
  if (const auto task = parse_choice<data::Task>(root[kSection]["network_task"].value_or(""))) {
    space.fixed.network_task = *task;
  }
  apply_config_file(space.file, space.fixed, problems, kSection);
  if (!parsed) throw_if_problems<ConfigError>(problems, "", " in random_search.toml");
  const auto* section = root[kSection].as_table();
  if (section == nullptr) {
    problems.push_back(space.file + " has no [" + kSection +
                       "] section; expected the random-search keys and options in it");
  } else {
    read_random_search_section(*section, space, problems);
    for (const char* key : {"network_task", "caps_directory", "tsv_path"}) {
      if (!section->contains(key)) {
        problems.push_back(space.file + ": [" + kSection + "] has no '" + key + "'");
      }
    }
  }
  check_architecture_values(space, problems);
  if (problems.empty()) check_choices_validate(space, problems);
  throw_if_problems<ConfigError>(problems, "", " in random_search.toml");
  return space;
}

SampledRun sample_run(const SearchSpace& space, int64_t run, const std::string& maps_dir) {
  SampledRun sampled;
  auto& c = sampled.config;
  c = space.fixed;
  c.maps_dir = maps_dir;
  const int64_t seed = space.fixed.seed;
  std::map<std::string, std::vector<std::string>> options;
  for (const auto& entry : space.sampled) {
    const auto text = draw(entry, stream(seed, run, entry.key));
    options["--" + entry.key] = {text};
    sampled.values.emplace_back(entry.key, text);
  }
  apply_train_options(c, options, "random-search");  // values checked when the space was read
  // The architecture (ClinicaDL's random_conv_sampling): widths doubled up to channels_limit.
  const int64_t blocks = draw_integer(space, "n_convblocks", run, "n_convblocks");
  int64_t width = draw_integer(space, "first_conv_width", run, "first_conv_width");
  const int64_t limit = draw_integer(space, "channels_limit", run, "channels_limit");
  const auto reduction =
      draw(architecture_entry(space, "d_reduction"), stream(seed, run, "d_reduction"));
  c.convolutions_dict = nlohmann::ordered_json::object();
  std::string widths, convolutions;
  int64_t in = -1;
  for (int64_t i = 0; i < blocks; ++i) {
    const std::string name = "conv" + std::to_string(i);
    const int64_t n_conv = draw_integer(space, "n_conv", run, "n_conv/" + name);
    nlohmann::ordered_json block = nlohmann::ordered_json::object();
    block["in_channels"] = in < 0 ? nlohmann::ordered_json(nullptr) : nlohmann::ordered_json(in);
    block["out_channels"] = width;
    block["n_conv"] = n_conv;
    block["d_reduction"] = reduction;
    c.convolutions_dict[name] = block;
    widths += (i ? "-" : "") + std::to_string(width);
    convolutions += (i ? "-" : "") + std::to_string(n_conv);
    in = width;
    if (width < limit) width *= 2;
  }
  c.architecture = "RandomArchitecture";
  c.n_fcblocks = draw_integer(space, "n_fcblocks", run, "n_fcblocks");
  c.network_normalization = draw(architecture_entry(space, "network_normalization"),
                                 stream(seed, run, "network_normalization"));
  const auto weight_decay =
      draw(architecture_entry(space, "wd_bool"), stream(seed, run, "wd_bool"));
  if (weight_decay == "false") c.weight_decay = 0;
  sampled.values.insert(sampled.values.end(), {{"n_convblocks", std::to_string(blocks)},
                                               {"channels", widths},
                                               {"n_conv", convolutions},
                                               {"d_reduction", reduction},
                                               {"n_fcblocks", std::to_string(c.n_fcblocks)},
                                               {"network_normalization", c.network_normalization},
                                               {"wd_bool", weight_decay}});
  return sampled;
}

}  // namespace cdl::config

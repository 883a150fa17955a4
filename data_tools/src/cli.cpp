// Command-line parsing and dispatch of caps2h5.
#include "caps2h5/cli.hpp"

#include <boost/program_options.hpp>
#include <functional>
#include <iostream>
#include <map>
#include <thread>

#include "caps2h5/converter.hpp"
#include "caps2h5/inspector.hpp"
#include "caps2h5/splitter.hpp"
#include "caps2h5/synthetic.hpp"
#include "cdl/core/command_line.hpp"
#include "cdl/core/error.hpp"
#include "cdl/core/logging.hpp"
#include "cdl/core/mpi_process.hpp"
#include "cdl/core/problems.hpp"

namespace cdl::data_tools {
namespace po = boost::program_options;
namespace {

using Args = std::vector<std::string>;

const char* const kUsage =
    "usage: caps2h5 <command> [options]   (option names accept '-' for '_')\n"
    "  convert   CAPS_DIR|COHORTS.tsv OUT.h5 [--preprocessing t1-linear|pet-linear|custom]\n"
    "            [--use_uncropped_image] [--tracer T --suvr_reference_region R]\n"
    "            [--custom_suffix S] [--tsv participants.tsv] [--from_tensors]\n"
    "            [--dtype float32|float16] [--compression 0-9] [--threads N] [--overwrite]\n"
    "  inspect   OUT.h5|DATA.tsv\n"
    "  validate  OUT.h5 [--tsv_dir SPLIT_DIR]\n"
    "  synthetic OUT_CAPS --subjects N --size DxHxW --seed S [--sessions K] [--overwrite]\n"
    "  split     LABELS.tsv [--subset_name validation] [--n_test N|fraction] [--seed S]\n"
    "            [--output_dir DIR]\n"
    "  kfold     LABELS.tsv [--n_splits 5] [--subset_name validation] [--seed S] [--output_dir "
    "DIR]\n"
    "Run 'caps2h5 <command> --help' for the options of one command.\n";

/// Parses `args` against named options + positionals; prints help and returns false on --help.
bool parse(const Args& args, po::options_description& named,
           const std::vector<std::string>& positional, po::variables_map& vm,
           const std::string& command) {
  po::options_description hidden;
  po::positional_options_description pos;
  for (const auto& name : positional) {
    hidden.add_options()(name.c_str(), po::value<std::string>()->required(), "");
    pos.add(name.c_str(), 1);
  }
  named.add_options()("help,h", "show this help");
  po::options_description all;
  all.add(named).add(hidden);
  vm = cli::parse_options(cli::normalize_option_names(args), all, pos);
  if (vm.count("help")) {
    std::cout << "caps2h5 " << command;
    for (const auto& name : positional) std::cout << " " << name;
    std::cout << " [options]\n" << named << "\n";
    return false;
  }
  po::notify(vm);
  return true;
}

/// --threads, bounded by this node's cores (0: automatic): a typo must not start 100,000 threads.
int thread_count(const po::variables_map& vm) {
  const int threads = vm["threads"].as<int>();
  const int cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  if (threads < 0 || threads > cores) {
    CDL_THROW(ConfigError, "--threads ", threads, " is outside 0..", cores,
              "; expected 0 (automatic) or at most the ", cores, " cores of this node");
  }
  return threads;
}

ConvertOptions convert_options(const po::variables_map& vm) {
  ConvertOptions o;
  o.input = vm["INPUT"].as<std::string>();
  o.output = vm["OUTPUT"].as<std::string>();
  o.preprocessing.preprocessing = vm["preprocessing"].as<std::string>();
  o.preprocessing.use_uncropped_image = vm.count("use_uncropped_image") > 0;
  o.preprocessing.tracer = vm["tracer"].as<std::string>();
  o.preprocessing.suvr_reference_region = vm["suvr_reference_region"].as<std::string>();
  o.preprocessing.custom_suffix = vm["custom_suffix"].as<std::string>();
  o.sessions_tsv = vm["tsv"].as<std::string>();
  o.from_tensors = vm.count("from_tensors") > 0;
  const std::string dtype = vm["dtype"].as<std::string>();
  if (dtype != "float32" && dtype != "float16") {
    CDL_THROW(ConfigError, "--dtype '", dtype, "' is invalid; expected float32 or float16");
  }
  o.float16 = dtype == "float16";
  o.compression = vm["compression"].as<int>();
  o.threads = thread_count(vm);
  o.overwrite = vm.count("overwrite") > 0;
  o.progress = vm.count("no_progress") == 0;
  return o;
}

/// Plans on every rank (identical errors, reported by rank 0), then converts collectively.
int run_convert(const ConvertOptions& options) {
  std::unique_ptr<ImageTransport> transport;
  if (mpi::launched_by_mpi()) transport = make_mpi_transport();
  SerialTransport serial;
  ImageTransport& t = transport ? *transport : serial;
  log::set_rank(t.rank(), t.size());
  std::vector<CohortJob> jobs;
  int code = 0;
  try {
    jobs = plan_conversion(options);
  } catch (const Error& e) {  // identical on every rank: rank 0 reports it
    if (t.rank() == 0) std::cerr << "caps2h5 convert: error: " << e.what() << std::endl;
    code = e.exit_code();
  }
  code = t.max_over_ranks(code);
  if (code != 0) return code;
  try {
    const ConvertSummary summary = convert(options, jobs, t);
    std::string outputs;
    for (const auto& out : summary.outputs) outputs += " " + out;
    log::info("caps2h5 convert: ", summary.line, " ->", outputs);
  } catch (const Error& e) {
    log::error("caps2h5 convert: ", e.what());
    mpi::abort_other_ranks(e.exit_code());
    return e.exit_code();
  }
  return 0;
}

int cmd_convert(const Args& args) {
  po::options_description d("convert options");
  d.add_options()("preprocessing", po::value<std::string>()->default_value("t1-linear"),
                  "t1-linear | pet-linear | custom")("use_uncropped_image",
                                                     "use the uncropped images (and masks)")(
      "tracer", po::value<std::string>()->default_value(""), "pet-linear tracer, e.g. 18FFDG")(
      "suvr_reference_region", po::value<std::string>()->default_value(""),
      "pet-linear SUVR region")("custom_suffix", po::value<std::string>()->default_value(""),
                                "custom: file name suffix")(
      "tsv", po::value<std::string>()->default_value(""),
      "TSV of (participant_id, session_id) to convert")(
      "from_tensors", "read deeplearning_prepare_data/image_based/*.pt instead of NIfTI")(
      "dtype", po::value<std::string>()->default_value("float32"), "float32 | float16")(
      "compression", po::value<int>()->default_value(0),
      "0 (none) or 1-9: shuffle + deflate level")("threads", po::value<int>()->default_value(0),
                                                  "decoding threads per rank (0 = auto)")(
      "overwrite", "replace an existing output")("no_progress", "never draw the progress bar");
  po::variables_map vm;
  if (!parse(args, d, {"INPUT", "OUTPUT"}, vm, "convert")) return 0;
  return run_convert(convert_options(vm));
}

int cmd_inspect(const Args& args) {
  po::options_description d("inspect options");
  po::variables_map vm;
  if (!parse(args, d, {"FILE"}, vm, "inspect")) return 0;
  inspect(vm["FILE"].as<std::string>(), std::cout);
  return 0;
}

int cmd_validate(const Args& args) {
  po::options_description d("validate options");
  d.add_options()("tsv_dir", po::value<std::string>()->default_value(""),
                  "split tree whose sessions must be present");
  po::variables_map vm;
  if (!parse(args, d, {"FILE"}, vm, "validate")) return 0;
  const std::string file = vm["FILE"].as<std::string>();
  const auto problems = validate(file, vm["tsv_dir"].as<std::string>());
  if (problems.empty()) {
    std::cout << file << ": valid\n";
    return 0;
  }
  std::cout << problems_message(problems, file + ": ", "") << "\n";
  return 1;
}

int cmd_synthetic(const Args& args) {
  po::options_description d("synthetic options");
  d.add_options()("subjects", po::value<int>()->default_value(10),
                  "number of participants (half AD, half CN)")(
      "sessions", po::value<int>()->default_value(1),
      "sessions per participant (ses-M000, ses-M006, ...)")(
      "size", po::value<std::string>()->default_value("169x208x179"), "image size DxHxW")(
      "seed", po::value<uint64_t>()->default_value(0), "random seed")(
      "threads", po::value<int>()->default_value(0), "writer threads (0 = auto)")(
      "overwrite", "write into an existing non-empty folder");
  po::variables_map vm;
  if (!parse(args, d, {"OUTPUT"}, vm, "synthetic")) return 0;
  SyntheticOptions o;
  o.output_dir = vm["OUTPUT"].as<std::string>();
  o.subjects = vm["subjects"].as<int>();
  o.sessions = vm["sessions"].as<int>();
  o.size = parse_size(vm["size"].as<std::string>());
  o.seed = vm["seed"].as<uint64_t>();
  o.threads = thread_count(vm);
  o.overwrite = vm.count("overwrite") > 0;
  make_synthetic_caps(o);
  std::cout << "caps2h5 synthetic: wrote " << o.subjects * o.sessions << " images to "
            << o.output_dir << "\n";
  return 0;
}

int cmd_split(const Args& args, bool kfold) {
  po::options_description d(kfold ? "kfold options" : "split options");
  d.add_options()("subset_name", po::value<std::string>()->default_value("validation"),
                  "name of the held-out subset")("seed", po::value<uint64_t>()->default_value(2),
                                                 "random seed")(
      "output_dir", po::value<std::string>()->default_value(""), "output folder (must not exist)");
  if (kfold) d.add_options()("n_splits", po::value<int>()->default_value(5), "number of folds");
  if (!kfold)
    d.add_options()("n_test", po::value<std::string>()->default_value("100"),
                    "held-out subjects: count or fraction < 1");
  po::variables_map vm;
  if (!parse(args, d, {"LABELS"}, vm, kfold ? "kfold" : "split")) return 0;
  SplitOptions o;
  o.labels_tsv = vm["LABELS"].as<std::string>();
  o.subset_name = vm["subset_name"].as<std::string>();
  o.seed = vm["seed"].as<uint64_t>();
  o.output_dir = vm["output_dir"].as<std::string>();
  if (kfold) o.n_splits = vm["n_splits"].as<int>();
  if (!kfold) o.n_test = vm["n_test"].as<std::string>();
  const std::string dir = kfold ? write_kfold(o) : write_split(o);
  std::cout << "caps2h5 " << (kfold ? "kfold" : "split") << ": wrote " << dir << "\n";
  return 0;
}

int dispatch(const std::string& command, const Args& args) {
  static const std::map<std::string, std::function<int(const Args&)>> commands{
      {"convert", cmd_convert},
      {"inspect", cmd_inspect},
      {"validate", cmd_validate},
      {"synthetic", cmd_synthetic},
      {"split", [](const Args& a) { return cmd_split(a, false); }},
      {"kfold", [](const Args& a) { return cmd_split(a, true); }}};
  const auto it = commands.find(command);
  if (it == commands.end()) {
    std::cerr << "caps2h5: unknown command '" << command << "'\n" << kUsage;
    return 2;
  }
  return it->second(args);
}

}  // namespace

int run_cli(int argc, char** argv) {
  if (argc < 2 || std::string(argv[1]) == "--help" || std::string(argv[1]) == "-h") {
    (argc < 2 ? std::cerr : std::cout) << kUsage;
    return argc < 2 ? 2 : 0;
  }
  const std::string command = argv[1];
  try {
    return dispatch(command, Args(argv + 2, argv + argc));
  } catch (const po::error& e) {
    std::cerr << "caps2h5 " << command << ": error: " << cli::describe_parse_error(e)
              << "\nhint: caps2h5 " << command << " --help\n";
    return 2;
  } catch (const Error& e) {
    std::cerr << "caps2h5 " << command << ": error: " << e.what() << std::endl;
    return e.exit_code();
  } catch (const std::exception& e) {
    std::cerr << "caps2h5 " << command << ": error: " << e.what() << std::endl;
    return 1;
  }
}

}  // namespace cdl::data_tools

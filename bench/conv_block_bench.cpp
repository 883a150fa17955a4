// Convolution-block benchmark: Conv5_FC3 (or Conv4_FC3) training steps on the CPU with its
// Conv-BatchNorm-ReLU-PadMaxPool blocks computed three ways, each in a process of its own so that
// each has its own peak memory:
//   layers   the separate LibTorch layers (what ClinicaDL's PyTorch runs)
//   1,2,96   the first block fused, 2 samples at a time in slabs of 96 MB (the former default)
//   default  clinicadl-hpc's training: the first two blocks fused, 1 sample at a time in slabs of
//            48 MB, for inputs of at least 2^21 values per sample ("memory": the same for every
//            input size, as --memory_saving)
// CONV_BLOCK_BENCH_MODES="1,2,96 2,1,48 ..." compares other settings instead: fused blocks, samples
// per chunk, megabytes of convolution output per slab (0: no slabs). A mode ending in "+amp"
// ("layers+amp", "default+amp") runs the forward pass under CPU bfloat16 autocast, as --amp does.
// A step is forward, cross-entropy loss, backward and an Adam update (the trainer's work without
// data loading). Prints each mode's median step time and peak resident memory, then the ratios
// against "layers" and of the default against the former default.
//   conv_block_bench [STEPS=4] [BATCH=4] [INPUT_SIZE=1@169x208x179] [THREADS=2] [ARCHITECTURE]
// Internally it runs itself with a mode argument first: conv_block_bench --mode M ...
#include <sys/resource.h>
#include <sys/wait.h>
#include <torch/torch.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <sstream>
#include <string>
#include <vector>

#include "cdl/core/allocator.hpp"
#include "cdl/core/input_size.hpp"
#include "cdl/model/mixed_precision.hpp"
#include "cdl/model/model_registry.hpp"
#include "cdl/model/network.hpp"

namespace {

struct Settings {
  int steps = 4;
  int64_t batch = 4;
  std::string input_size = "1@169x208x179";
  int threads = 2;
  std::string architecture = "Conv5_FC3";
};

Settings parse_settings(const std::vector<std::string>& args) {
  Settings s;
  if (args.size() > 0) s.steps = std::max(1, std::stoi(args[0]));
  if (args.size() > 1) s.batch = std::max<int64_t>(2, std::stoll(args[1]));
  if (args.size() > 2) s.input_size = args[2];
  if (args.size() > 3) s.threads = std::max(1, std::stoi(args[3]));
  if (args.size() > 4) s.architecture = args[4];
  return s;
}

/// Peak resident memory of this process in MB.
double peak_mb() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<double>(usage.ru_maxrss) / 1024.0;
}

/// One mode's median step time (one untimed warm-up step first); prints "seconds peak_mb".
int run_mode(const std::string& mode_and_precision, const Settings& s) {
  const std::string suffix = "+amp";
  const bool amp = mode_and_precision.size() > suffix.size() &&
                   mode_and_precision.compare(mode_and_precision.size() - suffix.size(),
                                              suffix.size(), suffix) == 0;
  const std::string mode =
      amp ? mode_and_precision.substr(0, mode_and_precision.size() - suffix.size())
          : mode_and_precision;
  torch::set_num_threads(s.threads);
  torch::manual_seed(0);
  cdl::model::NetworkOptions options;
  options.input_size = cdl::parse_input_size(s.input_size);
  auto network = std::dynamic_pointer_cast<cdl::model::Cnn>(
      cdl::model::builtin_registry().create(s.architecture, options));
  if (!network) throw std::runtime_error(s.architecture + " is not a CNN");
  if (mode == "default" || mode == "memory") {
    network->use_training_fusion(mode == "memory");
  } else if (mode != "layers") {  // "BLOCKS,CHUNK[,MB]": the first BLOCKS blocks fused, CHUNK
    // samples at a time, in slabs of at most MB megabytes of convolution output
    std::vector<int64_t> numbers;
    std::istringstream fields(mode);
    for (std::string field; std::getline(fields, field, ',');) numbers.push_back(std::stoll(field));
    numbers.resize(3, 0);
    network->set_fused_blocks(static_cast<int>(numbers[0]), numbers[1], numbers[2] << 20);
  }
  network->train();
  torch::optim::Adam optimizer(network->parameters(), torch::optim::AdamOptions(1e-4));
  const auto input = torch::randn(options.input_size.batch_shape(s.batch));
  const auto target = torch::randint(0, 2, {s.batch}, torch::kInt64);
  std::vector<double> seconds;
  for (int step = 0; step <= s.steps; ++step) {
    const auto start = std::chrono::steady_clock::now();
    optimizer.zero_grad();
    cdl::model::set_autocast(c10::DeviceType::CPU, amp, torch::kBFloat16);
    auto logits = network->forward(input).to(torch::kFloat);
    cdl::model::set_autocast(c10::DeviceType::CPU, false, torch::kBFloat16);
    torch::nn::functional::cross_entropy(logits, target).backward();
    optimizer.step();
    const std::chrono::duration<double> took = std::chrono::steady_clock::now() - start;
    if (step > 0) seconds.push_back(took.count());
  }
  std::sort(seconds.begin(), seconds.end());
  std::printf("%.4f %.0f\n", seconds[seconds.size() / 2], peak_mb());
  return 0;
}

/// Runs `self --mode mode args...` and reads its "seconds peak" line.
bool measure(const std::string& self, const std::string& mode, const std::vector<std::string>& args,
             double& seconds, double& peak) {
  std::string command = "'" + self + "' --mode " + mode;
  for (const auto& a : args) command += " '" + a + "'";
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) return false;
  const int read = std::fscanf(pipe, "%lf %lf", &seconds, &peak);
  return pclose(pipe) == 0 && read == 2;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    std::vector<std::string> args(argv + 1, argv + argc);
    if (args.size() >= 2 && args[0] == "--mode") {
      const std::string mode = args[1];
      return run_mode(mode, parse_settings({args.begin() + 2, args.end()}));
    }
    const auto s = parse_settings(args);
    std::printf("conv_block_bench: %s, batch %lld of %s, %d threads, median of %d steps, %s\n",
                s.architecture.c_str(), static_cast<long long>(s.batch), s.input_size.c_str(),
                s.threads, s.steps, cdl::allocator_description().c_str());
    std::vector<std::string> modes{"layers", "1,2,96", "default"};
    if (const char* chosen = std::getenv("CONV_BLOCK_BENCH_MODES")) {  // e.g. "1,1 2,1"
      modes = {"layers"};  // other modes compared with the separate layers
      std::istringstream words(chosen);
      for (std::string word; words >> word;) modes.push_back(word);
    }
    std::vector<double> seconds(modes.size()), peak(modes.size());
    for (size_t m = 0; m < modes.size(); ++m) {
      if (!measure(argv[0], modes[m], args, seconds[m], peak[m])) {
        std::fprintf(stderr, "conv_block_bench: mode %s failed\n", modes[m].c_str());
        return 1;
      }
      std::printf("  %-7s step %8.3f s   peak %7.0f MB\n", modes[m].c_str(), seconds[m], peak[m]);
    }
    for (size_t m = 1; m < modes.size(); ++m) {
      std::printf("ratio %s / layers: step time %.2f, peak memory %.2f\n", modes[m].c_str(),
                  seconds[m] / seconds[0], peak[m] / peak[0]);
    }
    if (modes.size() == 3 && modes[1] == "1,2,96" && modes[2] == "default") {
      std::printf("ratio default / former default (1,2,96): step time %.2f, peak memory %.2f\n",
                  seconds[2] / seconds[1], peak[2] / peak[1]);
    }
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "conv_block_bench: %s\n", e.what());
    return 1;
  }
}

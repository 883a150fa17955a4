// What each --data_augmentation transform costs per sample on one thread: the mean time of
// augment() with that transform alone over DRAWS samples (each its own random draws), beside
// the time of copying the sample (the unit of the ratios, which makes them comparable across
// machines of different speeds), then ClinicaDL's four and all ten in a row.
//   augmentation_cost [SIZE=96x112x96] [DRAWS=20]
#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include "cdl/core/input_size.hpp"
#include "cdl/data/augmentation.hpp"

namespace {

using Clock = std::chrono::steady_clock;

/// Mean milliseconds of `run(draw)` over `draws` calls, after two untimed ones.
template <typename Run>
double mean_ms(int draws, Run run) {
  run(-1);
  run(-2);
  const auto start = Clock::now();
  for (int draw = 0; draw < draws; ++draw) run(draw);
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count() / draws;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string size = argc > 1 ? argv[1] : "96x112x96";
  const int draws = argc > 2 ? std::max(1, std::stoi(argv[2])) : 20;
  torch::set_num_threads(1);
  torch::manual_seed(0);
  const auto sample = torch::rand(cdl::parse_input_size("1@" + size).sample_shape());
  const double copy = mean_ms(draws, [&](int) { return sample.clone(); });
  std::printf("augmentation_cost: 1@%s, %d draws, 1 thread; a copy of the sample takes %.3f ms\n",
              size.c_str(), draws, copy);
  const auto time = [&](const std::vector<std::string>& names) {
    const auto augmentations = cdl::data::parse_augmentations(names);
    return mean_ms(draws, [&](int draw) {
      cdl::data::SampleRandom random(0, 0, draw);
      return cdl::data::augment(sample, augmentations, random);
    });
  };
  const std::vector<std::string> four{"Noise", "Erasing", "CropPad", "Smoothing"};
  std::vector<std::string> ten = four;
  for (const char* name : {"Motion", "Ghosting", "Spike", "BiasField", "RandomBlur", "RandomSwap"})
    ten.emplace_back(name);
  for (const auto& name : ten) {
    const double ms = time({name});
    std::printf("%-10s %8.2f ms per sample, %7.1f sample copies\n", name.c_str(), ms, ms / copy);
  }
  const double four_ms = time(four), ten_ms = time(ten);
  std::printf("ClinicaDL's four %8.2f ms per sample, %7.1f sample copies\n", four_ms,
              four_ms / copy);
  std::printf("all ten          %8.2f ms per sample, %7.1f sample copies\n", ten_ms, ten_ms / copy);
  return 0;
}

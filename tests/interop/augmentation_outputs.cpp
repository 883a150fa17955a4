// Writes the input and outputs of each deterministic augmentation, with fixed parameters, for
// tests/interop/augmentation_reference.sh to recompute with SciPy and TorchIO: raw float32
// files (C order) and a JSON index of the transforms, their parameters and files.
// Usage: augmentation_outputs OUTPUT_DIR
#include <cstdio>
#include <fstream>
#include <iostream>
#include <string>

#include <nlohmann/json.hpp>

#include "cdl/data/augmentation.hpp"
#include "cdl/data/kspace_artifacts.hpp"
#include "cdl/data/volume_filters.hpp"

namespace {

void write_raw(const std::string& path, const torch::Tensor& tensor) {
  const auto data = tensor.contiguous().to(torch::kFloat);
  std::ofstream(path, std::ios::binary)
      .write(static_cast<const char*>(data.data_ptr()),
             static_cast<std::streamsize>(data.nbytes()));
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: augmentation_outputs OUTPUT_DIR\n";
    return 2;
  }
  using namespace cdl::data;
  const std::string dir = argv[1];
  torch::manual_seed(11);
  nlohmann::json index = {{"transforms", nlohmann::json::array()}};
  // Even and odd lengths: the spectral transforms work on half spectra, whose last axis keeps
  // W / 2 + 1 frequencies, with a Nyquist plane only when W is even.
  for (const auto& [input, shape] : std::vector<std::pair<std::string, std::vector<int64_t>>>{
           {"even", {1, 20, 24, 18}}, {"odd", {1, 19, 23, 17}}}) {
    const auto x = torch::rand(shape);
    write_raw(dir + "/" + input + ".f32", x);
    const auto add = [&](const std::string& name, const nlohmann::json& parameters,
                         const torch::Tensor& out) {
      write_raw(dir + "/" + name + "_" + input + ".f32", out);
      index["transforms"].push_back(
          {{"name", name}, {"input", input}, {"shape", shape}, {"parameters", parameters}});
    };
    add("Smoothing", {{"sigma", 0.7}}, gaussian_filter(x, {0.7, 0.7, 0.7, 0.7}));
    add("RandomBlur", {{"std", {0.5, 1.3, 1.9}}}, gaussian_filter(x, {0.0, 0.5, 1.3, 1.9}));
    add("Spike", {{"positions", {{0.3, 0.6, 0.2}}}, {"intensity", 2.0}},
        spike(x, torch::tensor({{0.3, 0.6, 0.2}}, torch::kDouble), 2.0));
    add("Spike2", {{"positions", {{0.9, 0.1, 0.55}, {0.5, 0.5, 0.99}}}, {"intensity", 1.4}},
        spike(x, torch::tensor({{0.9, 0.1, 0.55}, {0.5, 0.5, 0.99}}, torch::kDouble), 1.4));
    for (int axis = 0; axis < 3; ++axis) {
      for (const int64_t ghosts : {2, 5}) {
        add("Ghosting" + std::to_string(axis) + "_" + std::to_string(ghosts),
            {{"num_ghosts", ghosts}, {"axis", axis}, {"intensity", 0.7}},
            ghosting(x, ghosts, axis, 0.7));
      }
    }
    std::vector<double> coefficients;
    for (int i = 0; i < 20; ++i) coefficients.push_back(0.05 * (i % 7) - 0.15);
    add("BiasField", {{"coefficients", coefficients}, {"order", 3}},
        bias_field(x, coefficients, 3));
    const auto corners = torch::tensor({{0, 0, 0, 4, 5, 2}, {3, 1, 2, 0, 8, 1}}, torch::kLong);
    add("Swap", {{"patch", 15}, {"corners", {{0, 0, 0, 4, 5, 2}, {3, 1, 2, 0, 8, 1}}}},
        swap_patches(x, 15, corners));
    // Cubes apart (exchanged directly), then overlapping (through tensor copies), in turn.
    const auto small = torch::tensor(
        {{0, 0, 0, 10, 12, 9}, {2, 3, 4, 4, 6, 5}, {9, 1, 3, 1, 14, 11}}, torch::kLong);
    add("Swap5",
        {{"patch", 5},
         {"corners", {{0, 0, 0, 10, 12, 9}, {2, 3, 4, 4, 6, 5}, {9, 1, 3, 1, 14, 11}}}},
        swap_patches(x, 5, small));
    const auto degrees = torch::tensor({{2.5, 3.0, 3.5}, {2.2, 3.9, 2.8}}, torch::kDouble);
    const auto translations = torch::tensor({{2.1, 3.2, 2.7}, {3.3, 2.4, 3.6}}, torch::kDouble);
    // The original image in the middle segment, then in the first.
    for (const auto& times : std::vector<std::vector<double>>{{0.31, 0.72}, {0.62, 0.83}}) {
      add("Motion" + std::to_string(static_cast<int>(times[0] * 100)),
          {{"degrees", {{2.5, 3.0, 3.5}, {2.2, 3.9, 2.8}}},
           {"translation", {{2.1, 3.2, 2.7}, {3.3, 2.4, 3.6}}},
           {"times", times}},
          motion(x, degrees, translations, times));
    }
  }
  std::ofstream(dir + "/index.json") << index.dump(2);
  return 0;
}

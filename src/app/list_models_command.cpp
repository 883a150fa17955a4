// Implementation of `clinicadl-hpc list_models`.
#include "list_models_command.hpp"

#include <torch/torch.h>

#include <boost/program_options.hpp>
#include <iomanip>
#include <iostream>
#include <thread>

#include "cdl/core/error.hpp"
#include "cdl/model/model_registry.hpp"

namespace cdl::app {
namespace po = boost::program_options;
namespace {

struct ListModelsOptions {
  std::string architecture;
  std::string input_size;
  bool model_layers = false;
};

std::string join(const std::vector<std::string>& items, const std::string& separator) {
  std::string text;
  for (const auto& item : items) text += (text.empty() ? "" : separator) + item;
  return text;
}

void print_catalogue() {
  const auto& registry = model::builtin_registry();
  std::cout << "The list of currently available models is:\n";
  std::cout << "  " << std::left << std::setw(22) << "architecture" << std::setw(10) << "input"
            << "tasks\n";
  for (const auto& name : registry.names()) {
    const auto& info = registry.get(name);
    std::cout << "  " << std::setw(22) << name << std::setw(10) << info.dimension
              << join(info.tasks, ", ") << "\n";
  }
  std::cout << "Use `clinicadl-hpc list_models --architecture NAME [--input_size C@DxHxW]` to see "
               "its layers.\n";
}

std::vector<model::LayerRecord> trace(const model::ArchitectureInfo& info, const InputSize& size) {
  model::NetworkOptions options;
  options.input_size = size;
  auto network = info.factory(options);
  return model::trace_layers(*network, size);
}

void print_layers(const std::vector<model::LayerRecord>& records, const InputSize& size) {
  std::cout << "Input size: " << size.to_string() << "\nModel layers:\n";
  std::cout << "  " << std::left << std::setw(20) << "layer" << std::setw(24) << "output shape"
            << std::right << std::setw(12) << "parameters"
            << "  type\n";
  int64_t total = 0;
  for (const auto& r : records) {
    std::cout << "  " << std::left << std::setw(20) << r.name << std::setw(24)
              << format_shape(r.output_shape) << std::right << std::setw(12) << r.parameters << "  "
              << r.description << "\n";
    total += r.parameters;
  }
  std::cout << "Total parameters: " << total << "\n";
}

void print_architecture(const ListModelsOptions& options) {
  const auto& info = model::builtin_registry().get(options.architecture);
  const std::string size_text =
      options.input_size.empty() ? info.example_input : options.input_size;
  const auto size = parse_input_size(size_text, "--input_size");
  const auto records = trace(info, size);  // validates the size before anything is printed
  std::cout << "Information about '" << info.name << "' network:\n" << info.description << "\n";
  std::cout << "This model can deal with " << info.dimension << " inputs.\n";
  std::cout << "This model can be used for " << join(info.tasks, " or ") << ".\n";
  print_layers(records, size);
}

}  // namespace

int run_list_models(const std::vector<std::string>& args) {
  ListModelsOptions options;
  po::options_description description("list_models options");
  description.add_options()("help,h", "print this help")(
      "architecture,a", po::value(&options.architecture), "architecture to describe")(
      "input_size,i", po::value(&options.input_size),
      "input size C@DxHxW or C@HxW (default: the architecture's example)")(
      "model_layers,m", po::bool_switch(&options.model_layers),
      "print the layers (always done with --architecture; kept for ClinicaDL compatibility)");
  po::variables_map values;
  try {
    po::store(
        po::command_line_parser(args)
            .options(description)
            .style(po::command_line_style::default_style & ~po::command_line_style::allow_guessing)
            .run(),
        values);
    po::notify(values);
  } catch (const po::error& error) {
    CDL_THROW(ConfigError, "list_models: ", error.what(), "\n", description);
  }
  if (values.count("help")) {
    std::cout << "Usage: clinicadl-hpc list_models [options]\n" << description;
    return 0;
  }
  if (!options.input_size.empty() && options.architecture.empty()) {
    CDL_THROW(ConfigError, "list_models: --input_size needs --architecture");
  }
  torch::set_num_threads(static_cast<int>(std::max(1u, std::thread::hardware_concurrency())));
  if (options.architecture.empty()) {
    print_catalogue();
  } else {
    print_architecture(options);
  }
  return 0;
}

}  // namespace cdl::app

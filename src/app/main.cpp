// clinicadl-hpc: entry point. Parses the subcommand and hands over; every error ends with a
// clear message and a non-zero status (2 for usage/configuration errors).
#include <hdf5.h>

#include <exception>
#include <iostream>
#include <string>

#include "cdl/config.hpp"
#include "cdl/core/allocator.hpp"
#include "cdl/core/command_line.hpp"
#include "cdl/core/error.hpp"
#include "list_models_command.hpp"
#include "plot_command.hpp"
#include "predict_command.hpp"
#include "random_search_command.hpp"
#include "resume_command.hpp"
#include "train_command.hpp"

namespace {

void print_usage() {
  std::cout << "clinicadl-hpc " << CDL_VERSION << " (" << CDL_GIT_SHA << ")\n"
            << "Usage:\n"
            << "  mpirun -np N clinicadl-hpc train {classification|regression|reconstruction} "
               "DATA.h5 SPLIT_DIR MAPS_DIR [options]\n"
            << "  mpirun -np N clinicadl-hpc resume MAPS_DIR [--split K ...]\n"
            << "  mpirun -np N clinicadl-hpc predict MAPS_DIR DATA_GROUP [--data DATA.h5 --tsv "
               "FILE]\n"
            << "  mpirun -np N clinicadl-hpc random-search LAUNCH_DIR NAME [--n_runs R]\n"
            << "  clinicadl-hpc list_models [--architecture A] [--input_size C@DxHxW]\n"
            << "  clinicadl-hpc plot MAPS_DIR [--output FILE.svg]\n"
            << "Run a command with --help for its options.\n";
}

int dispatch(int argc, char** argv) {
  if (argc < 2 || std::string(argv[1]) == "--help" || std::string(argv[1]) == "-h") {
    print_usage();
    return argc < 2 ? 2 : 0;
  }
  const std::string command = argv[1];
  if (command == "--version") {
    std::cout << "clinicadl-hpc " << CDL_VERSION << " (" << CDL_GIT_SHA << ")\n"
              << "allocator: " << cdl::allocator_description() << "\n";
    return 0;
  }
  const auto args = cdl::cli::normalize_option_names(argc, argv, 2);
  if (command == "list_models") return cdl::app::run_list_models(args);
  if (command == "train") return cdl::app::run_train(args, &argc, &argv);
  if (command == "resume") return cdl::app::run_resume(args, &argc, &argv);
  if (command == "predict") return cdl::app::run_predict(args, &argc, &argv);
  if (command == "plot") return cdl::app::run_plot(args);
  if (command == "random-search" || command == "random_search") {
    return cdl::app::run_random_search(args, &argc, &argv);
  }
  CDL_THROW(cdl::ConfigError, "unknown command '", command,
            "'; expected train, resume, predict, random-search, list_models or plot");
}

}  // namespace

int main(int argc, char** argv) {
  H5dont_atexit();  // as in caps2h5: no HDF5 shutdown hook that could crash after a failed write
  try {
    return dispatch(argc, argv);
  } catch (const cdl::Error& error) {
    std::cerr << "ERROR: " << error.what() << std::endl;
    return error.exit_code();
  } catch (const std::exception& error) {
    std::cerr << "ERROR: " << error.what() << std::endl;
    return 1;
  }
}

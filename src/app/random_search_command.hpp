// `clinicadl-hpc random-search`: ClinicaDL's random search, N sampled trainings in one job.
#pragma once

#include <string>
#include <vector>

namespace cdl::app {

/// Runs random-search with its (normalised) arguments; returns the exit status.
int run_random_search(const std::vector<std::string>& args, int* argc, char*** argv);

}  // namespace cdl::app

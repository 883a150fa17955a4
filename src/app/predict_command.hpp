// `clinicadl-hpc predict MAPS_DIR DATA_GROUP`: the best models of a trained MAPS predict a data
// group, with ClinicaDL's group rules and output files (reference 7.6).
#pragma once

#include <string>
#include <vector>

namespace cdl::app {

/// Runs `predict` with its (normalised) arguments; returns the exit status (as run_train).
int run_predict(const std::vector<std::string>& args, int* argc, char*** argv);

}  // namespace cdl::app

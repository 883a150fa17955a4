// `clinicadl-hpc list_models`: the architecture zoo, and one architecture layer by layer.
#pragma once

#include <string>
#include <vector>

namespace cdl::app {

/// Runs list_models with its (normalised) arguments; returns the exit status.
int run_list_models(const std::vector<std::string>& args);

}  // namespace cdl::app

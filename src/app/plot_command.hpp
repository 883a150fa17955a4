// `clinicadl-hpc plot`: the training curves of a MAPS as an SVG drawing.
#pragma once

#include <string>
#include <vector>

namespace cdl::app {

/// Runs plot with its (normalised) arguments; returns the exit status.
int run_plot(const std::vector<std::string>& args);

}  // namespace cdl::app

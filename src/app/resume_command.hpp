// `clinicadl-hpc resume MAPS_DIR`: continues the interrupted training of a MAPS exactly where its
// training states left it (reference 7.7 for ClinicaDL's semantics, design section 6 for ours).
#pragma once

#include <string>
#include <vector>

namespace cdl::app {

/// Runs `resume` with its (normalised) arguments; returns the exit status (as run_train).
/// Splits with a training state continue from it, finished splits are left alone, and requested
/// splits with neither train from scratch.
int run_resume(const std::vector<std::string>& args, int* argc, char*** argv);

}  // namespace cdl::app

// `clinicadl-hpc train`: options, MPI runtime, then one SplitTrainer per split.
#pragma once

#include <string>
#include <vector>

namespace cdl::app {

/// Runs `train` with its (normalised) arguments; returns the exit status. Options are checked on
/// every rank before MPI starts (a bad option exits 2 everywhere); after that any error on any
/// rank aborts the whole job with MPI_Abort, and a stop signal ends it with status 4 once the
/// training state is saved.
int run_train(const std::vector<std::string>& args, int* argc, char*** argv);

}  // namespace cdl::app

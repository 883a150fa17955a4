// Stop requests by signal: SLURM sends SIGTERM (or the signal given to `sbatch --signal`) before a
// job's time limit, and Open MPI's mpirun forwards SIGUSR1/SIGUSR2 to the ranks. The handlers only
// record the request; the trainer polls it at weight-update boundaries, where the ranks agree to
// write their training state and stop together.
#pragma once

namespace cdl {

/// Installs handlers for SIGTERM, SIGUSR1 and SIGUSR2 that record a stop request (and nothing
/// else). Not collective; call once per process, before training starts.
void install_stop_handlers();

/// The signal number of the first stop request received by this process, or 0 when none was.
int stop_signal();

/// Records a stop request as if `signal_number` had arrived (tests, and signals forwarded by
/// another mechanism).
void request_stop(int signal_number);

/// Forgets any recorded stop request (tests).
void clear_stop_request();

/// "SIGTERM", "SIGUSR1", ... for a signal number.
const char* signal_text(int signal_number);

}  // namespace cdl

// Stop requests by signal: SLURM sends SIGTERM (or the signal given to `sbatch --signal`) before a
// job's time limit, and Open MPI's mpirun forwards SIGUSR1/SIGUSR2 to the ranks. Before training
// starts there is nothing to save, so a request ends the process at once; once the trainer runs,
// the handlers only record the request, and the trainer polls it at weight-update boundaries, where
// the ranks agree to write their training state and stop together.
#pragma once

namespace cdl {

/// What a stop request does when it arrives.
enum class StopMode {
  kEndNow,           ///< set-up: a line on stderr, then the process ends with status 4 (stopped)
  kAtNextUpdate,     ///< training: recorded only, read by the trainer at its next weight update
  kEndingWithError,  ///< an error is being reported: the process ends silently (128 + signal)
};

/// Installs handlers for SIGTERM, SIGUSR1 and SIGUSR2, in mode kEndNow. Not collective; call once
/// per process, before the job's set-up.
void install_stop_handlers();

/// Sets what a stop request does from now on (the trainer sets kAtNextUpdate when its loop
/// starts). A request recorded before stays recorded.
void set_stop_mode(StopMode mode);

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

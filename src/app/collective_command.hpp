// How a command runs on every rank of a job: its options checked before MPI starts (every rank
// reaches the same verdict), then its body, whose errors and stop requests become one exit
// status for the whole job.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "cdl/comm/runtime.hpp"

namespace cdl::app {

/// Status returned by check_before_mpi when the command goes on.
inline constexpr int kGoOn = -1;

/// Runs `check` (option parsing and validation) on every rank before MPI starts. Every rank
/// reaches the same verdict from the same arguments, so the launcher's rank 0 alone prints:
/// --help gives its text and 0, a ConfigError its message and status 2, on every rank. Returns
/// kGoOn when `check` succeeded.
int check_before_mpi(const std::function<void()>& check);

/// Runs `body` on every rank and turns what it throws into the job's exit status: a stop request
/// (Interrupted) returns kInterruptedExitCode on every rank after printing `continue_with`, the
/// command that continues the job; any other error ends the whole job (see end_with_error). With
/// `stoppable` (train, resume, random-search), SIGTERM/SIGUSR1/SIGUSR2 become stop requests that
/// the trainer honours at the next weight update; otherwise they keep their default action.
int run_collectively(comm::Runtime& runtime, const std::string& continue_with, bool stoppable,
                     const std::function<void()>& body);

/// Reports an error raised after MPI started and ends the job. One process: a plain message and
/// exit status (no MPI_Abort banner). Several: MPI_Abort, so that no rank waits forever in a
/// collective; an input error (ConfigError) is found alike by every rank, so the other ranks
/// give rank 0 a moment to print it once, and print it themselves only if rank 0 did not.
int end_with_error(comm::Runtime& runtime, const std::string& message, int code, bool same_on_all);

}  // namespace cdl::app

// ThreadGroup: N "ranks" as threads of one test process, each with a Communicator whose
// collectives meet in shared memory. Unit tests use it to check distributed code (gathers,
// reductions) against its 1-rank result without mpiexec.
#pragma once

#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <vector>

#include "cdl/comm/communicator.hpp"

namespace cdl::testing {

/// Runs `body(comm)` on `ranks` threads, each with the communicator of its rank, and joins them.
/// An exception on any thread is rethrown here (the others must not wait for it in a collective:
/// tests call the same collectives on every rank).
void run_thread_group(int ranks, const std::function<void(comm::Communicator&)>& body);

}  // namespace cdl::testing

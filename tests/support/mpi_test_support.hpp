// Helpers for GoogleTest suites that run under mpiexec (see mpi_gtest_main.cpp).
#pragma once

#include <gtest/gtest.h>

namespace cdl::testing {

/// Rank of this process in MPI_COMM_WORLD.
int world_rank();
/// Number of processes in MPI_COMM_WORLD.
int world_size();

/// Collective: true on every rank when the predicate holds on every rank.
bool all_ranks_agree(bool local_ok);

}  // namespace cdl::testing

/// Skips the current test (on every rank alike) unless the world has between min and max ranks.
#define CDL_REQUIRE_RANKS(min_ranks, max_ranks)                                         \
  do {                                                                                  \
    const int cdl_size_ = ::cdl::testing::world_size();                                 \
    if (cdl_size_ < (min_ranks) || cdl_size_ > (max_ranks)) {                           \
      GTEST_SKIP() << "needs " << (min_ranks) << ".." << (max_ranks) << " ranks, have " \
                   << cdl_size_;                                                        \
    }                                                                                   \
  } while (false)

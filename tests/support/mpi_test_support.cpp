// Implementation of the MPI test helpers.
#include "mpi_test_support.hpp"

#include <mpi.h>

namespace cdl::testing {

int world_rank() {
  int rank = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  return rank;
}

int world_size() {
  int size = 1;
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  return size;
}

bool all_ranks_agree(bool local_ok) {
  int ok = local_ok ? 1 : 0;
  int all_ok = 0;
  MPI_Allreduce(&ok, &all_ok, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD);
  return all_ok == 1;
}

}  // namespace cdl::testing

// GoogleTest main for suites launched under mpiexec: only rank 0 prints results, every test's
// verdict is agreed by all ranks (a failure on any rank fails the test everywhere and names the
// ranks), and every rank exits with the same status.
#include <mpi.h>

#include <iostream>
#include <string>
#include <vector>

#include "mpi_test_support.hpp"

namespace {

/// At the end of each test, tells rank 0 which ranks failed it.
class RankAgreementListener : public ::testing::EmptyTestEventListener {
 public:
  void OnTestEnd(const ::testing::TestInfo& info) override {
    const int failed = info.result()->Failed() ? 1 : 0;
    const int size = cdl::testing::world_size();
    std::vector<int> all(static_cast<size_t>(size), 0);
    MPI_Gather(&failed, 1, MPI_INT, all.data(), 1, MPI_INT, 0, MPI_COMM_WORLD);
    if (cdl::testing::world_rank() != 0) return;
    std::string ranks;
    for (int r = 0; r < size; ++r) {
      if (all[static_cast<size_t>(r)] != 0) ranks += " " + std::to_string(r);
    }
    if (!ranks.empty()) {
      std::cerr << "[  RANKS   ] " << info.test_suite_name() << "." << info.name()
                << " failed on rank(s):" << ranks << std::endl;
    }
  }
};

}  // namespace

int main(int argc, char** argv) {
  int provided = 0;
  MPI_Init_thread(&argc, &argv, MPI_THREAD_MULTIPLE, &provided);  // as clinicadl-hpc
  ::testing::InitGoogleTest(&argc, argv);
  auto& listeners = ::testing::UnitTest::GetInstance()->listeners();
  if (cdl::testing::world_rank() != 0) {
    delete listeners.Release(listeners.default_result_printer());
    delete listeners.Release(listeners.default_xml_generator());
  }
  listeners.Append(new RankAgreementListener);
  const int local_status = RUN_ALL_TESTS();
  int status = 0;
  MPI_Allreduce(&local_status, &status, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
  MPI_Finalize();
  return status;
}

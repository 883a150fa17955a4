// Communicators on CUDA tensors: the MPI back end (ranks may share a GPU) and NCCL (one GPU per
// rank), with analytic results. Skips where no CUDA device is visible (CPU builds, CI).
#include <gtest/gtest.h>
#include <mpi.h>
#include <torch/cuda.h>
#include <torch/torch.h>

#include "cdl/comm/mpi_communicator.hpp"
#include "cdl/comm/runtime.hpp"
#include "cdl/config.hpp"
#include "cdl/core/error.hpp"
#include "mpi_test_support.hpp"

namespace cdl::comm {
namespace {

#define CDL_SKIP_WITHOUT_CUDA() \
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device visible";

torch::Device my_gpu(int local_rank) {
  return torch::Device(torch::kCUDA,
                       static_cast<c10::DeviceIndex>(local_rank % torch::cuda::device_count()));
}

int local_rank() {
  MPI_Comm node;
  int rank = 0;
  MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, 0, MPI_INFO_NULL, &node);
  MPI_Comm_rank(node, &rank);
  MPI_Comm_free(&node);
  return rank;
}

TEST(MpiOnCuda, AllReduceBroadcastAndGatherOfDeviceTensors) {
  CDL_SKIP_WITHOUT_CUDA();
  MpiCommunicator comm(MPI_COMM_WORLD);
  const auto gpu = my_gpu(local_rank());
  const int r = comm.rank(), n = comm.size();
  // all_reduce sum of (rank + 1) * [1, 2, 3]: n (n + 1) / 2 * [1, 2, 3]; kAvg divides by n.
  auto t = (torch::tensor({1.0f, 2.0f, 3.0f}) * (r + 1)).to(gpu);
  comm.all_reduce(t, ReduceOp::kSum);
  EXPECT_TRUE(t.is_cuda());
  const float s = n * (n + 1) / 2.0f;
  EXPECT_TRUE(torch::allclose(t.cpu(), torch::tensor({s, 2 * s, 3 * s})));
  auto avg = torch::full({1000}, static_cast<float>(r), torch::TensorOptions().device(gpu));
  comm.all_reduce(avg, ReduceOp::kAvg);
  EXPECT_NEAR(avg.cpu()[999].item<float>(), (n - 1) / 2.0f, 1e-6);
  auto b = torch::full({4}, r == 0 ? 42 : -1, torch::TensorOptions(torch::kInt64).device(gpu));
  comm.broadcast(b, 0);
  EXPECT_EQ(b.cpu().sum().item<int64_t>(), 4 * 42);
  auto rows = torch::full({r + 1, 2}, static_cast<double>(r),
                          torch::TensorOptions(torch::kFloat64).device(gpu));
  const auto gathered = comm.gather_rows(rows, 0);
  if (r == 0) {
    ASSERT_EQ(gathered.size(0), n * (n + 1) / 2);
    EXPECT_EQ(gathered[gathered.size(0) - 1][1].item<double>(), n - 1);
  }
}

TEST(NcclRuntime, NcclWithMoreRanksThanGpusIsRefusedBeforeNcclStarts) {
  CDL_SKIP_WITHOUT_CUDA();
  if (!CDL_WITH_NCCL) GTEST_SKIP() << "built without NCCL";
  int argc = 0;
  char** argv = nullptr;
  Runtime runtime(&argc, &argv);
  const int gpus = static_cast<int>(torch::cuda::device_count());
  const int index = runtime.topology().local_rank % gpus;
  if (runtime.control().any_of(runtime.topology().local_size > gpus)) {
    try {
      runtime.make_gradient_communicator(Backend::kNccl, true, index);
      ADD_FAILURE() << "expected a ConfigError";
    } catch (const ConfigError& error) {
      EXPECT_NE(std::string(error.what()).find("one GPU per rank"), std::string::npos)
          << error.what();
    }
    // auto falls back to MPI instead.
    EXPECT_EQ(runtime.make_gradient_communicator(std::nullopt, true, index)->backend(),
              Backend::kMpi);
    return;
  }
  // One GPU per rank: NCCL sums (rank + 1) and broadcasts rank 0's values.
  auto nccl = runtime.make_gradient_communicator(Backend::kNccl, true, index);
  ASSERT_EQ(nccl->backend(), Backend::kNccl);
  const auto gpu = torch::Device(torch::kCUDA, static_cast<c10::DeviceIndex>(index));
  const int n = nccl->size();
  auto t =
      torch::full({257}, static_cast<float>(nccl->rank() + 1), torch::TensorOptions().device(gpu));
  nccl->all_reduce(t, ReduceOp::kSum);
  EXPECT_FLOAT_EQ(t.cpu()[256].item<float>(), n * (n + 1) / 2.0f);
  auto b = torch::full({3}, nccl->rank() == 0 ? 7.0 : 0.0,
                       torch::TensorOptions(torch::kFloat64).device(gpu));
  nccl->broadcast(b, 0);
  EXPECT_DOUBLE_EQ(b.cpu().sum().item<double>(), 21.0);
}

}  // namespace
}  // namespace cdl::comm

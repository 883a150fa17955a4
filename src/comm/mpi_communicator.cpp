// Implementation of the MPI back end.
#include "cdl/comm/mpi_communicator.hpp"

#include <torch/torch.h>

#include <limits>

#include "cdl/core/error.hpp"
#include "cdl/core/logging.hpp"

namespace cdl::comm {
namespace {

MPI_Datatype mpi_type(const torch::Tensor& tensor) {
  switch (tensor.scalar_type()) {
    case torch::kFloat32: return MPI_FLOAT;
    case torch::kFloat64: return MPI_DOUBLE;
    case torch::kInt32: return MPI_INT32_T;
    case torch::kInt64: return MPI_INT64_T;
    case torch::kUInt8: return MPI_UINT8_T;
    case torch::kBool: return MPI_C_BOOL;
    default:
      CDL_THROW(CommError, "mpi back end: unsupported dtype ", tensor.dtype(),
                " (expected float32, float64, int32, int64, uint8 or bool)");
  }
}

MPI_Op mpi_op(ReduceOp op) {
  switch (op) {
    case ReduceOp::kSum:
    case ReduceOp::kAvg: return MPI_SUM;
    case ReduceOp::kMax: return MPI_MAX;
    case ReduceOp::kMin: return MPI_MIN;
  }
  return MPI_SUM;
}

void check_cpu_contiguous(const torch::Tensor& tensor, const char* op) {
  if (!tensor.defined() || !tensor.device().is_cpu() || !tensor.is_contiguous()) {
    CDL_THROW(CommError, "mpi back end: ", op, " needs a defined, contiguous CPU tensor");
  }
}

int checked_count(int64_t count) {
  if (count > std::numeric_limits<int>::max()) {
    CDL_THROW(CommError, "mpi back end: ", count, " elements exceed MPI's int count limit; "
              "hint: split the tensor into buckets");
  }
  return static_cast<int>(count);
}

}  // namespace

void check_mpi(int code, const char* call) {
  if (code == MPI_SUCCESS) return;
  char text[MPI_MAX_ERROR_STRING];
  int length = 0;
  MPI_Error_string(code, text, &length);
  CDL_THROW(CommError, call, " failed: ", std::string(text, static_cast<size_t>(length)));
}

MpiCommunicator::MpiCommunicator(MPI_Comm parent) {
  CDL_CHECK_MPI(MPI_Comm_dup(parent, &comm_));
  MPI_Comm_set_errhandler(comm_, MPI_ERRORS_RETURN);
  CDL_CHECK_MPI(MPI_Comm_rank(comm_, &rank_));
  CDL_CHECK_MPI(MPI_Comm_size(comm_, &size_));
}

MpiCommunicator::~MpiCommunicator() {
  int finalized = 0;
  MPI_Finalized(&finalized);
  if (comm_ != MPI_COMM_NULL && !finalized) MPI_Comm_free(&comm_);
}

void MpiCommunicator::all_reduce(torch::Tensor& tensor, ReduceOp op) {
  check_cpu_contiguous(tensor, "all_reduce");
  if (op == ReduceOp::kAvg && !tensor.is_floating_point()) {
    CDL_THROW(CommError, "all_reduce kAvg needs a floating-point tensor, got ", tensor.dtype());
  }
  CDL_CHECK_MPI(MPI_Allreduce(MPI_IN_PLACE, tensor.data_ptr(), checked_count(tensor.numel()),
                              mpi_type(tensor), mpi_op(op), comm_));
  if (op == ReduceOp::kAvg) tensor.div_(size_);
}

void MpiCommunicator::broadcast(torch::Tensor& tensor, int root) {
  check_cpu_contiguous(tensor, "broadcast");
  CDL_CHECK_MPI(MPI_Bcast(tensor.data_ptr(), checked_count(tensor.numel()), mpi_type(tensor), root,
                          comm_));
}

torch::Tensor MpiCommunicator::gather_rows(const torch::Tensor& local, int root) {
  check_cpu_contiguous(local, "gather_rows");
  CDL_CHECK(local.dim() >= 1, "gather_rows needs at least one dimension");
  int64_t row_bytes = local.element_size();
  for (int64_t d = 1; d < local.dim(); ++d) row_bytes *= local.size(d);
  int my_bytes = checked_count(static_cast<int64_t>(local.nbytes()));
  std::vector<int> counts(static_cast<size_t>(size_), 0);
  CDL_CHECK_MPI(MPI_Gather(&my_bytes, 1, MPI_INT, counts.data(), 1, MPI_INT, root, comm_));
  std::vector<int> offsets(static_cast<size_t>(size_), 0);
  int64_t total = 0;
  for (int r = 0; r < size_; ++r) {
    offsets[static_cast<size_t>(r)] = checked_count(total);
    total += counts[static_cast<size_t>(r)];
  }
  torch::Tensor result;
  if (rank_ == root) {
    auto shape = local.sizes().vec();
    shape[0] = row_bytes > 0 ? total / row_bytes : 0;
    result = torch::empty(shape, local.options());
  }
  CDL_CHECK_MPI(MPI_Gatherv(local.data_ptr(), my_bytes, MPI_BYTE,
                            rank_ == root ? result.data_ptr() : nullptr, counts.data(),
                            offsets.data(), MPI_BYTE, root, comm_));
  return result;
}

void MpiCommunicator::barrier() { CDL_CHECK_MPI(MPI_Barrier(comm_)); }

std::unique_ptr<Communicator> MpiCommunicator::split(int color, int key) {
  MPI_Comm sub = MPI_COMM_NULL;
  CDL_CHECK_MPI(MPI_Comm_split(comm_, color, key, &sub));
  auto result = std::make_unique<MpiCommunicator>(sub);
  MPI_Comm_free(&sub);
  return result;
}

}  // namespace cdl::comm

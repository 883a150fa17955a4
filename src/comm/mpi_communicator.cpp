// Implementation of the MPI back end.
#include "cdl/comm/mpi_communicator.hpp"

#include <torch/cuda.h>
#include <torch/torch.h>

#include <limits>

#if defined(OPEN_MPI) && OPEN_MPI && __has_include(<mpi-ext.h>)
#include <mpi-ext.h>  // MPIX_CUDA_AWARE_SUPPORT, MPIX_Query_cuda_support
#endif

#include "cdl/core/error.hpp"
#include "cdl/core/logging.hpp"

namespace cdl::comm {
namespace {

MPI_Datatype mpi_type(const torch::Tensor& tensor) {
  switch (tensor.scalar_type()) {
    case torch::kFloat32:
      return MPI_FLOAT;
    case torch::kFloat64:
      return MPI_DOUBLE;
    case torch::kInt32:
      return MPI_INT32_T;
    case torch::kInt64:
      return MPI_INT64_T;
    case torch::kUInt8:
      return MPI_UINT8_T;
    case torch::kBool:
      return MPI_C_BOOL;
    default:
      CDL_THROW(CommError, "mpi back end: unsupported dtype ", tensor.dtype(),
                " (expected float32, float64, int32, int64, uint8 or bool)");
  }
}

MPI_Op mpi_op(ReduceOp op) {
  switch (op) {
    case ReduceOp::kSum:
    case ReduceOp::kAvg:
      return MPI_SUM;
    case ReduceOp::kMax:
      return MPI_MAX;
    case ReduceOp::kMin:
      return MPI_MIN;
  }
  return MPI_SUM;
}

void check_contiguous(const torch::Tensor& tensor, const char* op) {
  if (!tensor.defined() || !tensor.is_contiguous() || (!tensor.is_cpu() && !tensor.is_cuda())) {
    CDL_THROW(CommError, "mpi back end: ", op, " needs a defined, contiguous CPU or CUDA tensor");
  }
}

int checked_count(int64_t count) {
  if (count > std::numeric_limits<int>::max()) {
    CDL_THROW(CommError, "mpi back end: ", count,
              " elements exceed MPI's int count limit; "
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

bool MpiCommunicator::cuda_aware() {
#if defined(MPIX_CUDA_AWARE_SUPPORT) && MPIX_CUDA_AWARE_SUPPORT
  return MPIX_Query_cuda_support() == 1;
#else
  return false;
#endif
}

torch::Tensor MpiCommunicator::host_view(const torch::Tensor& tensor, bool copy_in) {
  if (tensor.is_cpu()) return tensor;
  if (cuda_aware()) {
    torch::cuda::synchronize(tensor.device().index());  // MPI must see finished values
    return tensor;
  }
  if (!staging_.defined() || staging_.scalar_type() != tensor.scalar_type() ||
      staging_.numel() < tensor.numel()) {
    staging_ = torch::empty({tensor.numel()},
                            torch::TensorOptions(tensor.scalar_type()).pinned_memory(true));
  }
  auto host = staging_.narrow(0, 0, tensor.numel()).view(tensor.sizes());
  if (copy_in) host.copy_(tensor);  // blocking device-to-host copy
  return host;
}

void MpiCommunicator::copy_back(const torch::Tensor& host, torch::Tensor& tensor) {
  if (host.data_ptr() != tensor.data_ptr()) tensor.copy_(host);
}

void MpiCommunicator::all_reduce(torch::Tensor& tensor, ReduceOp op) {
  check_contiguous(tensor, "all_reduce");
  if (op == ReduceOp::kAvg && !tensor.is_floating_point()) {
    CDL_THROW(CommError, "all_reduce kAvg needs a floating-point tensor, got ", tensor.dtype());
  }
  auto host = host_view(tensor, /*copy_in=*/true);
  CDL_CHECK_MPI(MPI_Allreduce(MPI_IN_PLACE, host.data_ptr(), checked_count(host.numel()),
                              mpi_type(host), mpi_op(op), comm_));
  copy_back(host, tensor);
  if (op == ReduceOp::kAvg) tensor.div_(size_);
}

void MpiCommunicator::reduce_scatter(torch::Tensor& tensor, ReduceOp op) {
  check_contiguous(tensor, "reduce_scatter");
  if (tensor.dim() != 1 || tensor.numel() % size_ != 0 ||
      (op == ReduceOp::kAvg && !tensor.is_floating_point())) {
    Communicator::reduce_scatter(tensor, op);  // refused there with its message
    return;
  }
  const int64_t n = tensor.numel() / size_, begin = static_cast<int64_t>(rank_) * n;
  auto host = host_view(tensor, /*copy_in=*/true);
  // In place: the reduced block of this rank lands at the start of the buffer.
  CDL_CHECK_MPI(MPI_Reduce_scatter_block(MPI_IN_PLACE, host.data_ptr(), checked_count(n),
                                         mpi_type(host), mpi_op(op), comm_));
  torch::NoGradGuard no_grad;
  if (begin > 0) host.narrow(0, begin, n).copy_(host.narrow(0, 0, n));  // disjoint blocks
  host.narrow(0, 0, begin).zero_();
  host.narrow(0, begin + n, host.numel() - begin - n).zero_();
  copy_back(host, tensor);
  if (op == ReduceOp::kAvg) tensor.narrow(0, begin, n).div_(size_);
}

void MpiCommunicator::all_gather(const torch::Tensor& local, torch::Tensor& gathered) {
  const bool direct = (local.is_cpu() && gathered.is_cpu()) || cuda_aware();
  if (!direct || !local.is_contiguous() || !gathered.is_contiguous() ||
      gathered.numel() != local.numel() * size_ || gathered.dtype() != local.dtype()) {
    Communicator::all_gather(local, gathered);  // staged, or refused with its message
    return;
  }
  const int count = checked_count(local.numel());
  const auto* own_block = static_cast<const char*>(gathered.data_ptr()) +
                          static_cast<int64_t>(rank_) * local.numel() * local.element_size();
  const bool in_place = local.data_ptr() == own_block;
  CDL_CHECK_MPI(MPI_Allgather(in_place ? MPI_IN_PLACE : local.data_ptr(), count, mpi_type(local),
                              gathered.data_ptr(), count, mpi_type(gathered), comm_));
}

void MpiCommunicator::broadcast(torch::Tensor& tensor, int root) {
  check_contiguous(tensor, "broadcast");
  auto host = host_view(tensor, /*copy_in=*/rank_ == root);
  CDL_CHECK_MPI(
      MPI_Bcast(host.data_ptr(), checked_count(host.numel()), mpi_type(host), root, comm_));
  copy_back(host, tensor);
}

torch::Tensor MpiCommunicator::gather_rows(const torch::Tensor& input, int root) {
  check_contiguous(input, "gather_rows");
  const torch::Tensor local = input.to(torch::kCPU);  // rows are gathered on the host
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

bool MpiCommunicator::reduces_in_background() const {
  int level = MPI_THREAD_SINGLE;
  return MPI_Query_thread(&level) == MPI_SUCCESS && level == MPI_THREAD_MULTIPLE;
}

void MpiCommunicator::barrier() {
  CDL_CHECK_MPI(MPI_Barrier(comm_));
}

std::unique_ptr<Communicator> MpiCommunicator::split(int color, int key) {
  MPI_Comm sub = MPI_COMM_NULL;
  CDL_CHECK_MPI(MPI_Comm_split(comm_, color, key, &sub));
  auto result = std::make_unique<MpiCommunicator>(sub);
  MPI_Comm_free(&sub);
  return result;
}

}  // namespace cdl::comm

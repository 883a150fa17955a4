// Implementation of the NCCL back end.
#include "cdl/comm/nccl_communicator.hpp"

#include <torch/cuda.h>
#include <torch/torch.h>

#include "cdl/comm/mpi_communicator.hpp"
#include "cdl/core/error.hpp"
#include "cdl/core/logging.hpp"

namespace cdl::comm {
namespace {

void check_cuda(cudaError_t code, const char* call) {
  if (code != cudaSuccess) CDL_THROW(CommError, call, " failed: ", cudaGetErrorString(code));
}

void check_nccl(ncclResult_t code, const char* call, ncclComm_t comm) {
  if (code == ncclSuccess || code == ncclInProgress) return;
  const char* detail = comm != nullptr ? ncclGetLastError(comm) : "";
  CDL_THROW(CommError, call, " failed: ", ncclGetErrorString(code), " ", detail,
            "\n  hint: rerun with NCCL_DEBUG=INFO for NCCL's own diagnosis");
}

ncclDataType_t nccl_type(const torch::Tensor& tensor) {
  switch (tensor.scalar_type()) {
    case torch::kFloat32:
      return ncclFloat32;
    case torch::kFloat64:
      return ncclFloat64;
    case torch::kFloat16:
      return ncclFloat16;
    case torch::kInt32:
      return ncclInt32;
    case torch::kInt64:
      return ncclInt64;
    case torch::kUInt8:
      return ncclUint8;
    default:
      CDL_THROW(CommError, "nccl back end: unsupported dtype ", tensor.dtype());
  }
}

ncclRedOp_t nccl_op(ReduceOp op) {
  switch (op) {
    case ReduceOp::kSum:
      return ncclSum;
    case ReduceOp::kAvg:
      return ncclAvg;
    case ReduceOp::kMax:
      return ncclMax;
    case ReduceOp::kMin:
      return ncclMin;
  }
  return ncclSum;
}

void check_cuda_contiguous(const torch::Tensor& tensor, const char* op) {
  if (!tensor.defined() || !tensor.is_cuda() || !tensor.is_contiguous()) {
    CDL_THROW(CommError, "nccl back end: ", op,
              " needs a contiguous CUDA tensor; "
              "hint: CPU tensors go through --comm_backend mpi");
  }
}

}  // namespace

#define CDL_CHECK_CUDA(call) check_cuda((call), #call)
#define CDL_CHECK_NCCL(call) check_nccl((call), #call, comm_)

NcclCommunicator::NcclCommunicator(MpiCommunicator& control, int cuda_device)
    : control_(control), device_(cuda_device) {
  CDL_CHECK_CUDA(cudaSetDevice(device_));
  ncclUniqueId id;
  if (control_.is_main()) CDL_CHECK_NCCL(ncclGetUniqueId(&id));
  auto bytes = torch::empty({static_cast<int64_t>(sizeof(id))}, torch::kUInt8);
  std::memcpy(bytes.data_ptr(), &id, sizeof(id));
  control_.broadcast(bytes, 0);
  std::memcpy(&id, bytes.data_ptr(), sizeof(id));
  CDL_CHECK_NCCL(ncclCommInitRank(&comm_, control_.size(), id, control_.rank()));
  CDL_CHECK_CUDA(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking));
}

NcclCommunicator::~NcclCommunicator() {
  if (comm_ != nullptr) {
    // On an error path the peers may be gone: abort instead of a destroy that could block.
    if (failed_ || std::uncaught_exceptions() > 0) {
      ncclCommAbort(comm_);
    } else {
      ncclCommDestroy(comm_);
    }
  }
  if (stream_ != nullptr) cudaStreamDestroy(stream_);
}

int NcclCommunicator::rank() const {
  return control_.rank();
}

int NcclCommunicator::size() const {
  return control_.size();
}

void NcclCommunicator::wait_for_torch() const {
  torch::cuda::synchronize(device_);
}

void NcclCommunicator::finish(const char* op) {
  const cudaError_t status = cudaStreamSynchronize(stream_);
  ncclResult_t async_error = ncclSuccess;
  ncclCommGetAsyncError(comm_, &async_error);
  if (status != cudaSuccess || async_error != ncclSuccess) {
    failed_ = true;
    CDL_THROW(CommError, "nccl ", op, " failed: ", cudaGetErrorString(status), " / ",
              ncclGetErrorString(async_error));
  }
}

void NcclCommunicator::all_reduce(torch::Tensor& tensor, ReduceOp op) {
  check_cuda_contiguous(tensor, "all_reduce");
  wait_for_torch();
  CDL_CHECK_NCCL(ncclAllReduce(tensor.data_ptr(), tensor.data_ptr(),
                               static_cast<size_t>(tensor.numel()), nccl_type(tensor), nccl_op(op),
                               comm_, stream_));
  finish("all_reduce");
}

void NcclCommunicator::broadcast(torch::Tensor& tensor, int root) {
  check_cuda_contiguous(tensor, "broadcast");
  wait_for_torch();
  CDL_CHECK_NCCL(ncclBroadcast(tensor.data_ptr(), tensor.data_ptr(),
                               static_cast<size_t>(tensor.numel()), nccl_type(tensor), root, comm_,
                               stream_));
  finish("broadcast");
}

void NcclCommunicator::reduce_scatter(torch::Tensor& tensor, ReduceOp op) {
  check_cuda_contiguous(tensor, "reduce_scatter");
  if (tensor.dim() != 1 || tensor.numel() % size() != 0) {
    Communicator::reduce_scatter(tensor, op);  // refused there with its message
    return;
  }
  const int64_t n = tensor.numel() / size(), begin = static_cast<int64_t>(rank()) * n;
  auto* base = static_cast<char*>(tensor.data_ptr());
  wait_for_torch();
  CDL_CHECK_NCCL(ncclReduceScatter(base, base + begin * tensor.element_size(),
                                   static_cast<size_t>(n), nccl_type(tensor), nccl_op(op), comm_,
                                   stream_));
  finish("reduce_scatter");
  torch::NoGradGuard no_grad;
  tensor.narrow(0, 0, begin).zero_();
  tensor.narrow(0, begin + n, tensor.numel() - begin - n).zero_();
}

void NcclCommunicator::all_gather(const torch::Tensor& local, torch::Tensor& gathered) {
  check_cuda_contiguous(local, "all_gather");
  check_cuda_contiguous(gathered, "all_gather");
  if (gathered.numel() != local.numel() * size() || gathered.dtype() != local.dtype()) {
    Communicator::all_gather(local, gathered);  // refused there with its message
    return;
  }
  wait_for_torch();
  CDL_CHECK_NCCL(ncclAllGather(local.data_ptr(), gathered.data_ptr(),
                               static_cast<size_t>(local.numel()), nccl_type(local), comm_,
                               stream_));
  finish("all_gather");
}

torch::Tensor NcclCommunicator::gather_rows(const torch::Tensor& local, int root) {
  return control_.gather_rows(local.to(torch::kCPU).contiguous(), root);
}

void NcclCommunicator::barrier() {
  control_.barrier();
}

std::unique_ptr<Communicator> NcclCommunicator::split(int color, int key) {
  CDL_THROW(CommError,
            "nccl back end: split the MPI control communicator, then build a new "
            "NcclCommunicator from the sub-group");
}

}  // namespace cdl::comm

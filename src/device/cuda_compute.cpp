// The CUDA parts of ComputeOptions: the batch stager that copies batches to the GPU on a side
// stream while the previous step computes, and the bfloat16 capability query. Compiled only into
// builds whose LibTorch has CUDA (see src/CMakeLists.txt).
#include <ATen/cuda/CUDAContext.h>
#include <ATen/cuda/CUDAEvent.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#include <torch/torch.h>

#include "cdl/data/batch_loader.hpp"

namespace cdl::device {
namespace {

/// Copies each batch from pinned host memory to the device on a stream of its own (on the
/// loader's I/O thread), records an event, and makes the consumer's stream wait for that event.
class CudaBatchStager final : public data::BatchStager {
 public:
  explicit CudaBatchStager(torch::Device device)
      : device_(device),
        stream_(c10::cuda::getStreamFromPool(/*isHighPriority=*/false, device.index())) {}

  bool wants_pinned_memory() const override { return true; }

  void stage(data::Batch& batch) override {
    c10::cuda::CUDAStreamGuard guard(stream_);
    const bool labels_are_inputs = batch.labels.defined() && batch.labels.is_same(batch.inputs);
    batch.inputs = batch.inputs.to(device_, /*non_blocking=*/true);
    batch.labels =
        labels_are_inputs ? batch.inputs : batch.labels.to(device_, /*non_blocking=*/true);
    auto event = std::make_shared<at::cuda::CUDAEvent>();
    event->record(stream_);
    batch.transfer = event;
  }

  void ready(data::Batch& batch) override {
    if (!batch.transfer) return;
    auto event = std::static_pointer_cast<at::cuda::CUDAEvent>(batch.transfer);
    const auto consumer = c10::cuda::getCurrentCUDAStream(device_.index());
    event->block(consumer);
    // The tensors were allocated on the copy stream: tell the caching allocator that the
    // consumer's stream uses them, so their memory is not reused before its work is done.
    batch.inputs.record_stream(consumer);
    if (!batch.labels.is_same(batch.inputs)) batch.labels.record_stream(consumer);
    batch.transfer.reset();
  }

 private:
  torch::Device device_;
  c10::cuda::CUDAStream stream_;
};

}  // namespace

std::shared_ptr<data::BatchStager> make_cuda_batch_stager(torch::Device device) {
  return std::make_shared<CudaBatchStager>(device);
}

bool cuda_device_supports_bf16(int index) {
  return at::cuda::getDeviceProperties(index)->major >= 8;
}

}  // namespace cdl::device

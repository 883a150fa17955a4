// MPI transport: rank r != 0 sends a header (status, shape, byte count) then the chunk bytes
// (or the error text); MPI's non-overtaking order keeps each sender's images in sequence.
#include <mpi.h>

#include <array>

#include "caps2h5/image_transport.hpp"
#include "cdl/core/error.hpp"
#include "cdl/core/mpi_process.hpp"

namespace cdl::data_tools {
namespace {

constexpr int kHeaderTag = 301;
constexpr int kPayloadTag = 302;

class MpiTransport : public ImageTransport {
 public:
  MpiTransport() : process_(mpi::ThreadLevel::kFunneled) {}
  int rank() const override { return process_.rank(); }
  int size() const override { return process_.size(); }

  void send(const EncodedImage& image) override {
    const bool ok = image.error.empty();
    const std::array<int64_t, 7> header{image.index,
                                        ok ? 1 : 0,
                                        image.shape[0],
                                        image.shape[1],
                                        image.shape[2],
                                        image.shape[3],
                                        int64_t(ok ? image.size() : image.error.size())};
    MPI_Send(header.data(), 7, MPI_INT64_T, 0, kHeaderTag, MPI_COMM_WORLD);
    const void* payload = ok ? image.data() : static_cast<const void*>(image.error.data());
    MPI_Send(payload, static_cast<int>(header[6]), MPI_BYTE, 0, kPayloadTag, MPI_COMM_WORLD);
  }

  EncodedImage receive(int from) override {
    std::array<int64_t, 7> header{};
    MPI_Recv(header.data(), 7, MPI_INT64_T, from, kHeaderTag, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
    EncodedImage image;
    image.index = header[0];
    image.shape = {header[2], header[3], header[4], header[5]};
    Bytes payload(static_cast<size_t>(header[6]));
    MPI_Recv(payload.data(), static_cast<int>(header[6]), MPI_BYTE, from, kPayloadTag,
             MPI_COMM_WORLD, MPI_STATUS_IGNORE);
    if (header[1] == 1) {
      image.chunk = std::move(payload);
    } else {
      image.error.assign(payload.begin(), payload.end());
      if (image.error.empty()) image.error = "rank " + std::to_string(from) + " failed";
    }
    return image;
  }

  int broadcast_status(int status) override {
    MPI_Bcast(&status, 1, MPI_INT, 0, MPI_COMM_WORLD);
    return status;
  }

  int max_over_ranks(int value) override {
    int result = value;
    MPI_Allreduce(&value, &result, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
    return result;
  }

 private:
  mpi::Process process_;
};

}  // namespace

std::unique_ptr<ImageTransport> make_mpi_transport() {
  return std::make_unique<MpiTransport>();
}

}  // namespace cdl::data_tools

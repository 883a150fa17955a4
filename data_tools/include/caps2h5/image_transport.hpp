// How decoded images reach the writing rank: in-process (serial) or over MPI. Only
// mpi_transport.cpp includes mpi.h.
#pragma once

#include <memory>

#include "caps2h5/ordered_pipeline.hpp"

namespace cdl::data_tools {

/// Moves encoded images from decoding ranks to rank 0, which writes.
class ImageTransport {
 public:
  virtual ~ImageTransport() = default;
  /// This process's rank (0 writes).
  virtual int rank() const = 0;
  /// Number of ranks.
  virtual int size() const = 0;
  /// Sends an image (or its error) to rank 0. Called on ranks != 0, in increasing index order.
  virtual void send(const EncodedImage& image) = 0;
  /// Receives the next image sent by `from` (rank 0 only).
  virtual EncodedImage receive(int from) = 0;
  /// Collective: broadcasts rank 0's final status (0 = success) and returns it on every rank.
  virtual int broadcast_status(int status) = 0;
  /// Collective: the largest `value` over all ranks (also a barrier).
  virtual int max_over_ranks(int value) = 0;
};

/// The single-process transport (rank 0 of 1).
class SerialTransport : public ImageTransport {
 public:
  int rank() const override { return 0; }
  int size() const override { return 1; }
  void send(const EncodedImage&) override {}
  EncodedImage receive(int) override { return {}; }
  int broadcast_status(int status) override { return status; }
  int max_over_ranks(int value) override { return value; }
};

/// MPI transport over MPI_COMM_WORLD. Starts MPI if needed (core/mpi_process.hpp, and then ends
/// it on destruction); MPI calls are made from the constructing thread only.
std::unique_ptr<ImageTransport> make_mpi_transport();

}  // namespace cdl::data_tools

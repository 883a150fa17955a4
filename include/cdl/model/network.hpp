// Network: the base of every architecture of the zoo. A network is a torch::nn::Module made of
// named top-level Sequentials ("convolutions"/"fc" for CNNs, "encoder"/"decoder" for
// autoencoders), so its parameter names equal ClinicaDL's state-dict keys.
#pragma once

#include <torch/nn/module.h>
#include <torch/nn/modules/container/sequential.h>

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "cdl/core/input_size.hpp"

namespace cdl::model {

/// What a network predicts, which decides how the trainer computes its loss.
enum class NetworkKind {
  kCnn,          ///< forward gives logits (classification) or values (regression)
  kAutoEncoder,  ///< forward gives a reconstruction of the input
};

/// Constructor arguments shared by the architectures (ClinicaDL fills them by name).
struct NetworkOptions {
  InputSize input_size;             ///< sample shape without the batch axis
  int64_t output_size = 2;          ///< classes (classification) or 1 (regression)
  double dropout = 0.0;             ///< probability of the dropout layer of the CNN head
  int64_t latent_space_size = 128;  ///< CAE_half code length
  /// RandomArchitecture's description (architectures/random_architecture.hpp); null otherwise.
  std::shared_ptr<const struct RandomArchitectureSpec> random_architecture;
};

/// One row of a layer table (list_models --model_layers).
struct LayerRecord {
  std::string name;                   ///< state-dict prefix, e.g. "convolutions.0"
  std::string description;            ///< e.g. "Conv3d(1, 8, kernel_size=[3, 3, 3], ...)"
  std::vector<int64_t> output_shape;  ///< shape of one sample after this layer
  int64_t parameters = 0;             ///< trainable parameter count of this layer
};

/// A named top-level Sequential of a network, in forward order.
using Stage = std::pair<std::string, torch::nn::Sequential>;

/// Base class of all architectures.
class Network : public torch::nn::Module {
 public:
  /// The prediction: logits/values (CNN) or the reconstruction (autoencoder).
  virtual torch::Tensor forward(torch::Tensor input) = 0;
  /// CNN or autoencoder.
  virtual NetworkKind kind() const = 0;
  /// The top-level Sequentials in forward order.
  virtual std::vector<Stage> stages() const = 0;
  /// The registry name of the architecture, e.g. "Conv5_FC3".
  const std::string& architecture() const { return architecture_; }

 protected:
  explicit Network(std::string architecture) : architecture_(std::move(architecture)) {}

 private:
  std::string architecture_;
};

using NetworkPtr = std::shared_ptr<Network>;

/// A CNN: forward = fc(convolutions(x)).
class Cnn final : public Network {
 public:
  Cnn(std::string architecture, torch::nn::Sequential convolutions, torch::nn::Sequential fc);
  torch::Tensor forward(torch::Tensor input) override;
  NetworkKind kind() const override { return NetworkKind::kCnn; }
  std::vector<Stage> stages() const override;
  torch::nn::Sequential convolutions() const { return convolutions_; }
  torch::nn::Sequential fc() const { return fc_; }

  /// How many Conv-BatchNorm-ReLU-PadMaxPool blocks start the trunk (0 for trunks of other
  /// shapes): the most set_fused_blocks accepts.
  int fusable_blocks() const;
  /// Computes the first `blocks` blocks of the trunk as fused, chunked blocks of `chunk_samples`
  /// samples (layers/fused_conv_block.hpp; 0: the whole batch at once), cut further into slabs
  /// whose convolution output takes at most `max_piece_bytes` (0: no slabs), the rest as usual.
  /// Same parameters and results up to float rounding. Throws ConfigError when `blocks` exceeds
  /// fusable_blocks().
  void set_fused_blocks(int blocks, int64_t chunk_samples, int64_t max_piece_bytes = 0);
  /// What clinicadl-hpc trains with: the first two blocks fused, 1 sample at a time in slabs of
  /// at most 48 MB of convolution output, for inputs of at least 2^21 values per sample (smaller
  /// ones, patches among them, run the separate layers); with `memory_saving`, whatever the input
  /// size (bench/conv_block_bench measures it against the separate layers and the former default,
  /// the first block 2 samples at a time).
  void use_training_fusion(bool memory_saving);

  /// How a forward pass on the CPU computes the trunk for samples of `sample_values` values each.
  struct Fusion {
    int blocks = 0;               ///< leading blocks computed fused (0: the separate layers)
    int64_t chunk_samples = 0;    ///< samples per fused piece (0: the whole batch)
    int64_t max_piece_bytes = 0;  ///< convolution output per slab (0: no slabs)
  };
  Fusion fusion_for(int64_t sample_values) const;

 private:
  torch::nn::Sequential convolutions_;
  torch::nn::Sequential fc_;
  int fused_blocks_ = 0;
  int64_t fused_chunk_samples_ = 0;
  int64_t fused_max_piece_bytes_ = 0;
  int64_t fused_min_sample_values_ = 0;  // smaller inputs run the separate layers
};

/// An autoencoder: the encoder's PadMaxPool layers in "indices" mode push (indices, pad) that the
/// decoder's CropMaxUnpool layers pop in reverse order.
class AutoEncoder final : public Network {
 public:
  AutoEncoder(std::string architecture, torch::nn::Sequential encoder,
              torch::nn::Sequential decoder);
  torch::Tensor forward(torch::Tensor input) override;
  NetworkKind kind() const override { return NetworkKind::kAutoEncoder; }
  std::vector<Stage> stages() const override;
  torch::nn::Sequential encoder() const { return encoder_; }
  torch::nn::Sequential decoder() const { return decoder_; }

 private:
  torch::nn::Sequential encoder_;
  torch::nn::Sequential decoder_;
};

/// Number of trainable parameters of `module`.
int64_t count_parameters(const torch::nn::Module& module);

/// Runs a batch of no sample of shape `input_size` (eval mode, no grad) through the network and
/// records every top-level layer's output shape (per sample) and parameter count. Allocates no
/// activation, whatever the input size.
/// Throws ConfigError when the input does not fit the network.
std::vector<LayerRecord> trace_layers(Network& network, const InputSize& input_size);

/// Values one sample keeps in memory during a training step, at the least: its input and every
/// traced layer output (`records` of trace_layers), which backward needs; of a Cnn's leading
/// blocks computed fused (on the CPU, Cnn::fusion_for), only each block's pooled output.
int64_t kept_values_per_sample(const Network& network, const std::vector<LayerRecord>& records,
                               const InputSize& input_size, bool on_cpu);

}  // namespace cdl::model

// Implementation of the sharded optimizer (ZeRO stage 1 over the gradient buckets).
#include "cdl/train/sharded_optimizer.hpp"

#include <torch/optim/adam.h>
#include <torch/optim/adamw.h>
#include <torch/torch.h>

#include <sstream>
#include <type_traits>

#include "cdl/core/error.hpp"

namespace cdl::train {

/// One gradient bucket of L values, padded to P x n: rank r owns block [r n, r n + n) of it, of
/// which the first `valid` values are weights (the rest, at the bucket's end, is padding).
struct ShardedOptimizer::Shard {
  std::vector<torch::Tensor> parameters;  // the bucket's parameters (views of `weights`)
  torch::Tensor gradients;                // the bucket's reduced gradients (GradientSync)
  torch::Tensor weights;                  // P x n values: the parameters end to end, then padding
  torch::Tensor piece;  // this rank's `valid` weights: a view of `weights`, its .grad a view of
                        // `gradients` (no copy of either)
  int64_t length = 0;   // n
  int64_t valid = 0;    // weights in this rank's block
  int64_t begin = 0;    // r n
};

namespace {

/// The key of a parameter in an optimizer's state map: the tensor's address, as text in LibTorch
/// 1.x and as a pointer in 2.x.
template <typename Map>
typename Map::key_type state_key(const Map&, const torch::Tensor& parameter) {
  if constexpr (std::is_same_v<typename Map::key_type, std::string>) {
    std::ostringstream text;
    text << parameter.unsafeGetTensorImpl();
    return text.str();
  } else {
    return static_cast<typename Map::key_type>(parameter.unsafeGetTensorImpl());
  }
}

template <typename State>
State* state_of(torch::optim::Optimizer& optimizer, const torch::Tensor& parameter) {
  auto& map = optimizer.state();
  const auto found = map.find(state_key(map, parameter));
  return found == map.end() ? nullptr : static_cast<State*>(found->second.get());
}

/// Gathers the shards' moments into per-parameter states of `full` (main rank).
template <typename State>
void gather_moments(std::vector<ShardedOptimizer::Shard>& shards, torch::optim::Optimizer& sharded,
                    torch::optim::Optimizer& full, comm::Communicator& comm) {
  torch::NoGradGuard no_grad;
  for (auto& shard : shards) {
    const auto* own = state_of<State>(sharded, shard.piece);
    if (!comm.all_of(own != nullptr)) continue;  // no step yet
    // Blocks of n values (this rank's `valid` moments, then zeros) end to end: the layout of the
    // bucket's weights, parameters first and padding last.
    const auto block = [&](const torch::Tensor& moments) {
      auto padded = torch::zeros({shard.length}, moments.options());
      padded.narrow(0, 0, shard.valid).copy_(moments);
      return padded;
    };
    auto first = torch::empty_like(shard.weights), second = torch::empty_like(shard.weights);
    comm.all_gather(block(own->exp_avg()), first);
    comm.all_gather(block(own->exp_avg_sq()), second);
    if (!comm.is_main()) continue;
    int64_t offset = 0;
    for (const auto& p : shard.parameters) {
      auto state = std::make_unique<State>();
      state->step(own->step());
      state->exp_avg(first.narrow(0, offset, p.numel()).view(p.sizes()));  // views: no copy
      state->exp_avg_sq(second.narrow(0, offset, p.numel()).view(p.sizes()));
      full.state()[state_key(full.state(), p)] = std::move(state);
      offset += p.numel();
    }
  }
}

/// Takes this rank's piece of the moments of `full` into `sharded`.
template <typename State>
void take_moments(std::vector<ShardedOptimizer::Shard>& shards, torch::optim::Optimizer& sharded,
                  torch::optim::Optimizer& full) {
  torch::NoGradGuard no_grad;
  for (auto& shard : shards) {
    std::vector<torch::Tensor> first, second;
    int64_t step = -1;
    for (const auto& p : shard.parameters) {
      const auto* state = state_of<State>(full, p);
      if (state == nullptr) break;
      step = state->step();
      first.push_back(state->exp_avg().reshape({-1}));
      second.push_back(state->exp_avg_sq().reshape({-1}));
    }
    if (first.size() != shard.parameters.size()) continue;  // no state (before the first step)
    // The bucket's moments end to end (zeros for the padding); this rank keeps its block's.
    const auto piece_of = [&](const std::vector<torch::Tensor>& parts) {
      auto flat = torch::zeros_like(shard.weights);
      const auto joined = torch::cat(parts);
      flat.narrow(0, 0, joined.numel()).copy_(joined);
      return flat.narrow(0, shard.begin, shard.valid).clone();
    };
    auto state = std::make_unique<State>();
    state->step(step);
    state->exp_avg(piece_of(first));
    state->exp_avg_sq(piece_of(second));
    sharded.state()[state_key(sharded.state(), shard.piece)] = std::move(state);
  }
  full.state().clear();
}

/// Copies the bucket's parameter values into its flat buffer and makes them views of it.
void bind_parameters(ShardedOptimizer::Shard& shard) {
  torch::NoGradGuard no_grad;
  int64_t offset = 0;
  for (auto& p : shard.parameters) {
    auto view = shard.weights.narrow(0, offset, p.numel()).view(p.sizes());
    view.copy_(p.detach());
    p.set_data(view);
    offset += p.numel();
  }
}

}  // namespace

ShardedOptimizer::ShardedOptimizer(GradientSync& sync, comm::Communicator& comm, ShardedKind kind,
                                   double learning_rate, double weight_decay, bool reduce_scatter)
    : comm_(comm), kind_(kind) {
  torch::NoGradGuard no_grad;
  if (reduce_scatter) sync.shard_reductions();
  const int64_t ranks = comm.size(), rank = comm.rank();
  std::vector<torch::Tensor> pieces;
  for (size_t b = 0; b < sync.bucket_count(); ++b) {
    Shard shard;
    shard.parameters = sync.bucket_parameters(b);
    shard.gradients = sync.bucket_gradients(b);
    int64_t total = 0;  // the weights (the gradient bucket may be padded)
    for (const auto& p : shard.parameters) total += p.numel();
    CDL_CHECK(shard.gradients.scalar_type() == torch::kFloat,
              "--fully_sharded_data_parallel shards float32 weights, bucket ", b, " holds ",
              shard.gradients.dtype());
    shard.length = (total + ranks - 1) / ranks;
    shard.begin = rank * shard.length;
    shard.valid = std::max<int64_t>(0, std::min(shard.length, total - shard.begin));
    shard.weights = torch::zeros({shard.length * ranks}, shard.gradients.options());
    bind_parameters(shard);
    shard.piece = shard.weights.narrow(0, shard.begin, shard.valid);
    shard.piece.mutable_grad() =
        shard.gradients.narrow(0, std::min(shard.begin, total), shard.valid);
    pieces.push_back(shard.piece);
    shards_.push_back(std::move(shard));
  }
  if (kind == ShardedKind::kAdamW) {
    optimizer_ = std::make_unique<torch::optim::AdamW>(
        pieces, torch::optim::AdamWOptions(learning_rate).weight_decay(weight_decay));
  } else {
    optimizer_ = std::make_unique<torch::optim::Adam>(
        pieces, torch::optim::AdamOptions(learning_rate).weight_decay(weight_decay));
  }
}

ShardedOptimizer::~ShardedOptimizer() = default;

void ShardedOptimizer::step() {
  torch::NoGradGuard no_grad;
  optimizer_->step();  // on this rank's pieces: views of the weights and reduced gradients
  for (auto& shard : shards_) {
    comm_.all_gather(shard.weights.narrow(0, shard.begin, shard.length), shard.weights);
  }
}

void ShardedOptimizer::rebind_parameters() {
  torch::NoGradGuard no_grad;
  for (auto& shard : shards_) bind_parameters(shard);  // the pieces are views of the weights
}

void ShardedOptimizer::set_learning_rate(double learning_rate) {
  for (auto& group : optimizer_->param_groups()) group.options().set_lr(learning_rate);
}

void ShardedOptimizer::gather_state(torch::optim::Optimizer& full) {
  if (kind_ == ShardedKind::kAdamW) {
    gather_moments<torch::optim::AdamWParamState>(shards_, *optimizer_, full, comm_);
  } else {
    gather_moments<torch::optim::AdamParamState>(shards_, *optimizer_, full, comm_);
  }
}

void ShardedOptimizer::take_state(torch::optim::Optimizer& full) {
  if (kind_ == ShardedKind::kAdamW) {
    take_moments<torch::optim::AdamWParamState>(shards_, *optimizer_, full);
  } else {
    take_moments<torch::optim::AdamParamState>(shards_, *optimizer_, full);
  }
}

int64_t ShardedOptimizer::state_values() const {
  int64_t values = 0;
  for (const auto& shard : shards_) {
    if (optimizer_->state().count(state_key(optimizer_->state(), shard.piece)) > 0) {
      values += 2 * shard.valid;
    }
  }
  return values;
}

int64_t ShardedOptimizer::replicated_state_values() const {
  int64_t values = 0;
  for (const auto& shard : shards_) {
    for (const auto& p : shard.parameters) values += 2 * p.numel();
  }
  return values;
}

}  // namespace cdl::train

// The optimizers of --optimizer, ClinicaDL's list: LibTorch's Adam, AdamW, SGD, Adagrad and
// RMSprop, and ours for the five LibTorch lacks (Adadelta, Adamax, ASGD, NAdam, RAdam), with
// torch.optim's update rules and default hyperparameters, as ClinicaDL runs them (it sets only the
// learning rate and the weight decay).
#pragma once

#include <torch/optim/optimizer.h>
#include <torch/serialize/archive.h>

#include <memory>
#include <string>
#include <vector>

#include "cdl/config/choices.hpp"

namespace cdl::train {

/// The optimizer `kind` over `parameters` with learning rate `lr` and weight decay `weight_decay`
/// (added to the gradient, as torch.optim does for all of them but AdamW).
std::unique_ptr<torch::optim::Optimizer> make_optimizer(config::Optimizer kind, double lr,
                                                        double weight_decay,
                                                        std::vector<torch::Tensor> parameters);

/// The options of our optimizers: a learning rate the adaptive schedule may change, and the
/// weight decay.
struct ElementwiseOptions : torch::optim::OptimizerCloneableOptions<ElementwiseOptions> {
  ElementwiseOptions(double lr, double weight_decay) : lr(lr), weight_decay(weight_decay) {}
  double lr;
  double weight_decay;
  double get_lr() const override { return lr; }
  void set_lr(const double value) override { lr = value; }
};

/// Base of our optimizers: the update of a parameter reads only its gradient, its own state
/// tensors and its step count (1 at its first update), as in torch.optim's single-tensor code.
/// A parameter without a gradient is skipped (its step count does not move). The state is saved
/// by parameter index and name in the LibTorch archive (resume reads it back exactly).
class ElementwiseOptimizer : public torch::optim::Optimizer {
 public:
  torch::Tensor step(LossClosure closure = nullptr) override;
  void save(torch::serialize::OutputArchive& archive) const override;
  /// Throws c10::Error when the archive lacks a state this optimizer keeps (another optimizer's).
  void load(torch::serialize::InputArchive& archive) override;

 protected:
  /// `state_names`: the per-parameter state, as torch.optim names it (e.g. exp_avg).
  ElementwiseOptimizer(std::vector<torch::Tensor> parameters, double lr, double weight_decay,
                       std::vector<std::string> state_names);
  /// The state of `param` before its first update (at learning rate `lr`), one tensor per state
  /// name; by default zeros like the parameter.
  virtual std::vector<torch::Tensor> initial_state(const torch::Tensor& param, double lr) const;
  /// Updates `param` in place from `grad` (weight decay already added) at step `step`.
  virtual void update(torch::Tensor& param, const torch::Tensor& grad,
                      std::vector<torch::Tensor>& state, int64_t step, double lr) const = 0;

 private:
  std::vector<std::string> names_;
  std::vector<std::vector<torch::Tensor>> states_;  ///< per parameter; empty before its first step
  std::vector<int64_t> steps_;
};

}  // namespace cdl::train

// The optimizers of --optimizer (see optimizers.hpp). Our five follow torch.optim's single-tensor
// implementations (torch 2.x, non-foreach, non-capturable), checked against torch.optim itself
// by tests/interop/optimizer_reference.sh.
#include "cdl/train/optimizers.hpp"

#include <torch/optim.h>
#include <torch/torch.h>

#include <algorithm>
#include <cmath>

namespace cdl::train {
namespace {

/// Adadelta (Zeiler 2012), torch.optim defaults rho 0.9, eps 1e-6.
class Adadelta final : public ElementwiseOptimizer {
 public:
  Adadelta(std::vector<torch::Tensor> parameters, double lr, double weight_decay)
      : ElementwiseOptimizer(std::move(parameters), lr, weight_decay, {"square_avg", "acc_delta"}) {
  }

 private:
  static constexpr double kRho = 0.9, kEps = 1e-6;
  void update(torch::Tensor& param, const torch::Tensor& grad, std::vector<torch::Tensor>& state,
              int64_t, double lr) const override {
    auto& square_avg = state[0];
    auto& acc_delta = state[1];
    square_avg.mul_(kRho).addcmul_(grad, grad, 1 - kRho);
    const auto std = square_avg.add(kEps).sqrt_();
    auto delta = acc_delta.add(kEps).sqrt_().div_(std).mul_(grad);
    acc_delta.mul_(kRho).addcmul_(delta, delta, 1 - kRho);
    param.add_(delta, -lr);
  }
};

/// Adamax (Kingma and Ba 2015, section 7), torch.optim defaults betas (0.9, 0.999), eps 1e-8.
class Adamax final : public ElementwiseOptimizer {
 public:
  Adamax(std::vector<torch::Tensor> parameters, double lr, double weight_decay)
      : ElementwiseOptimizer(std::move(parameters), lr, weight_decay, {"exp_avg", "exp_inf"}) {}

 private:
  static constexpr double kBeta1 = 0.9, kBeta2 = 0.999, kEps = 1e-8;
  void update(torch::Tensor& param, const torch::Tensor& grad, std::vector<torch::Tensor>& state,
              int64_t step, double lr) const override {
    auto& exp_avg = state[0];
    auto& exp_inf = state[1];
    exp_avg.lerp_(grad, 1 - kBeta1);
    exp_inf.copy_(torch::maximum(exp_inf.mul(kBeta2), grad.abs().add_(kEps)));
    const double bias_correction = 1 - std::pow(kBeta1, static_cast<double>(step));
    param.addcdiv_(exp_avg, exp_inf, -lr / bias_correction);
  }
};

/// Averaged SGD (Polyak and Juditsky 1992), torch.optim defaults lambd 1e-4, alpha 0.75, t0 1e6.
/// eta (the step size) and mu (the averaging weight) are scalar states; ax is the average.
class Asgd final : public ElementwiseOptimizer {
 public:
  Asgd(std::vector<torch::Tensor> parameters, double lr, double weight_decay)
      : ElementwiseOptimizer(std::move(parameters), lr, weight_decay, {"eta", "mu", "ax"}) {}

 private:
  static constexpr double kLambd = 1e-4, kAlpha = 0.75, kT0 = 1e6;
  std::vector<torch::Tensor> initial_state(const torch::Tensor& param, double lr) const override {
    const auto scalar = torch::TensorOptions().dtype(torch::kFloat32).device(param.device());
    return {torch::full({}, lr, scalar), torch::ones({}, scalar), torch::zeros_like(param)};
  }
  void update(torch::Tensor& param, const torch::Tensor& grad, std::vector<torch::Tensor>& state,
              int64_t step, double lr) const override {
    auto& eta = state[0];
    auto& mu = state[1];
    auto& ax = state[2];
    const double eta_value = eta.item<double>();
    param.mul_(1 - kLambd * eta_value);
    param.add_(grad, -eta_value);
    if (mu.item<double>() != 1) {
      ax.add_(param.sub(ax).mul(mu));
    } else {
      ax.copy_(param);
    }
    const auto t = static_cast<double>(step);
    eta.fill_(lr / std::pow(1 + kLambd * lr * t, kAlpha));
    mu.fill_(1 / std::max(1.0, t - kT0));
  }
};

/// NAdam (Dozat 2016), torch.optim defaults betas (0.9, 0.999), eps 1e-8, momentum decay 4e-3.
/// mu_product (the product of the momentum schedule) is a float32 scalar state, as in torch.
class Nadam final : public ElementwiseOptimizer {
 public:
  Nadam(std::vector<torch::Tensor> parameters, double lr, double weight_decay)
      : ElementwiseOptimizer(std::move(parameters), lr, weight_decay,
                             {"mu_product", "exp_avg", "exp_avg_sq"}) {}

 private:
  static constexpr double kBeta1 = 0.9, kBeta2 = 0.999, kEps = 1e-8, kMomentumDecay = 4e-3;
  std::vector<torch::Tensor> initial_state(const torch::Tensor& param, double lr) const override {
    const auto scalar = torch::TensorOptions().dtype(torch::kFloat32).device(param.device());
    return {torch::ones({}, scalar), torch::zeros_like(param), torch::zeros_like(param)};
  }
  static double momentum(double step) {
    return kBeta1 * (1 - 0.5 * std::pow(0.96, step * kMomentumDecay));
  }
  void update(torch::Tensor& param, const torch::Tensor& grad, std::vector<torch::Tensor>& state,
              int64_t step, double lr) const override {
    auto& mu_product = state[0];
    auto& exp_avg = state[1];
    auto& exp_avg_sq = state[2];
    const auto t = static_cast<double>(step);
    const double bias_correction2 = 1 - std::pow(kBeta2, t);
    const double mu = momentum(t), mu_next = momentum(t + 1);
    mu_product.mul_(mu);
    exp_avg.lerp_(grad, 1 - kBeta1);
    exp_avg_sq.mul_(kBeta2).addcmul_(grad, grad, 1 - kBeta2);
    const auto denom = exp_avg_sq.div(bias_correction2).sqrt().add_(kEps);
    const double product = mu_product.item<double>();
    param.addcdiv_(grad, denom, -lr * (1 - mu) / (1 - product));
    param.addcdiv_(exp_avg, denom, -lr * mu_next / (1 - product * mu_next));
  }
};

/// RAdam (Liu et al. 2020), torch.optim defaults betas (0.9, 0.999), eps 1e-8: Adam with its
/// adaptive step rectified once the variance estimate is tractable (rho_t > 5), SGD with
/// momentum before.
class Radam final : public ElementwiseOptimizer {
 public:
  Radam(std::vector<torch::Tensor> parameters, double lr, double weight_decay)
      : ElementwiseOptimizer(std::move(parameters), lr, weight_decay, {"exp_avg", "exp_avg_sq"}) {}

 private:
  static constexpr double kBeta1 = 0.9, kBeta2 = 0.999, kEps = 1e-8;
  void update(torch::Tensor& param, const torch::Tensor& grad, std::vector<torch::Tensor>& state,
              int64_t step, double lr) const override {
    auto& exp_avg = state[0];
    auto& exp_avg_sq = state[1];
    const auto t = static_cast<double>(step);
    exp_avg.lerp_(grad, 1 - kBeta1);
    exp_avg_sq.mul_(kBeta2).addcmul_(grad, grad, 1 - kBeta2);
    const double bias_correction1 = 1 - std::pow(kBeta1, t);
    const double bias_correction2 = 1 - std::pow(kBeta2, t);
    const auto corrected_exp_avg = exp_avg / bias_correction1;
    const double rho_inf = 2 / (1 - kBeta2) - 1;
    const double rho_t = rho_inf - 2 * t * std::pow(kBeta2, t) / bias_correction2;
    if (rho_t > 5) {
      const double rect =
          std::sqrt((rho_t - 4) * (rho_t - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho_t));
      const auto adaptive_lr = std::sqrt(bias_correction2) / exp_avg_sq.sqrt().add_(kEps);
      param.add_(corrected_exp_avg * lr * adaptive_lr * rect, -1.0);
    } else {
      param.add_(corrected_exp_avg * lr, -1.0);
    }
  }
};

}  // namespace

ElementwiseOptimizer::ElementwiseOptimizer(std::vector<torch::Tensor> parameters, double lr,
                                           double weight_decay,
                                           std::vector<std::string> state_names)
    : torch::optim::Optimizer(std::move(parameters),
                              std::make_unique<ElementwiseOptions>(lr, weight_decay)),
      names_(std::move(state_names)) {
  states_.resize(param_groups_.front().params().size());
  steps_.resize(states_.size(), 0);
}

std::vector<torch::Tensor> ElementwiseOptimizer::initial_state(const torch::Tensor& param,
                                                               double) const {
  std::vector<torch::Tensor> state;
  for (size_t k = 0; k < names_.size(); ++k) state.push_back(torch::zeros_like(param));
  return state;
}

torch::Tensor ElementwiseOptimizer::step(LossClosure closure) {
  torch::NoGradGuard no_grad;
  torch::Tensor loss;
  if (closure) {
    torch::AutoGradMode enable(true);
    loss = closure();
  }
  auto& group = param_groups_.front();
  const auto& options = static_cast<const ElementwiseOptions&>(group.options());
  for (size_t i = 0; i < group.params().size(); ++i) {
    auto& param = group.params()[i];
    if (!param.grad().defined()) continue;
    auto grad = param.grad();
    if (options.weight_decay != 0) grad = grad.add(param, options.weight_decay);
    if (states_[i].empty()) states_[i] = initial_state(param, options.lr);
    update(param, grad, states_[i], ++steps_[i], options.lr);
  }
  return loss;
}

void ElementwiseOptimizer::save(torch::serialize::OutputArchive& archive) const {
  for (size_t i = 0; i < states_.size(); ++i) {
    if (states_[i].empty()) continue;  // never updated: no state, as in torch.optim
    const std::string prefix = "param" + std::to_string(i) + ".";
    archive.write(prefix + "step", torch::tensor(steps_[i], torch::kInt64));
    for (size_t k = 0; k < names_.size(); ++k) archive.write(prefix + names_[k], states_[i][k]);
  }
}

void ElementwiseOptimizer::load(torch::serialize::InputArchive& archive) {
  const auto& params = param_groups_.front().params();
  for (size_t i = 0; i < states_.size(); ++i) {
    const std::string prefix = "param" + std::to_string(i) + ".";
    torch::Tensor step;
    if (!archive.try_read(prefix + "step", step)) {
      states_[i].clear();
      steps_[i] = 0;
      continue;
    }
    const auto& options = static_cast<const ElementwiseOptions&>(param_groups_.front().options());
    auto state = initial_state(params[i], options.lr);  // the shapes and types to expect
    for (size_t k = 0; k < names_.size(); ++k) {
      torch::Tensor saved;
      archive.read(prefix + names_[k], saved);  // throws c10::Error when absent
      TORCH_CHECK(saved.sizes() == state[k].sizes(), "the state '", prefix, names_[k],
                  "' has shape ", saved.sizes(), ", expected ", state[k].sizes());
      state[k] = saved.to(state[k].options());
    }
    steps_[i] = step.item<int64_t>();
    states_[i] = std::move(state);
  }
}

std::unique_ptr<torch::optim::Optimizer> make_optimizer(config::Optimizer kind, double lr,
                                                        double weight_decay,
                                                        std::vector<torch::Tensor> parameters) {
  namespace optim = torch::optim;
  const double wd = weight_decay;
  switch (kind) {
    case config::Optimizer::kAdamW:
      return std::make_unique<optim::AdamW>(parameters, optim::AdamWOptions(lr).weight_decay(wd));
    case config::Optimizer::kSGD:
      return std::make_unique<optim::SGD>(parameters, optim::SGDOptions(lr).weight_decay(wd));
    case config::Optimizer::kAdagrad:
      return std::make_unique<optim::Adagrad>(parameters,
                                              optim::AdagradOptions(lr).weight_decay(wd));
    case config::Optimizer::kRMSprop:
      return std::make_unique<optim::RMSprop>(parameters,
                                              optim::RMSpropOptions(lr).weight_decay(wd));
    case config::Optimizer::kAdadelta:
      return std::make_unique<Adadelta>(parameters, lr, wd);
    case config::Optimizer::kAdamax:
      return std::make_unique<Adamax>(parameters, lr, wd);
    case config::Optimizer::kASGD:
      return std::make_unique<Asgd>(parameters, lr, wd);
    case config::Optimizer::kNAdam:
      return std::make_unique<Nadam>(parameters, lr, wd);
    case config::Optimizer::kRAdam:
      return std::make_unique<Radam>(parameters, lr, wd);
    case config::Optimizer::kAdam:
      break;
  }
  return std::make_unique<optim::Adam>(parameters, optim::AdamOptions(lr).weight_decay(wd));
}

}  // namespace cdl::train

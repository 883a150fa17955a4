// Writes the trajectory end points of every --optimizer on a fixed problem, for
// optimizer_reference.sh to compare with torch.optim: two float32 parameters, 30 steps of a loss
// whose gradient depends on the parameters, weight decay 0.01, the learning rate 0.01 lowered to
// 0.005 after 15 steps (as --adaptive_learning_rate does). Usage: optimizer_trajectories OUT.json
#include <torch/torch.h>
#include <nlohmann/json.hpp>

#include <fstream>
#include <iostream>

#include "cdl/train/optimizers.hpp"

namespace {

/// The problem's loss (the same expression as in optimizer_reference.sh).
torch::Tensor loss_of(const torch::Tensor& w, const torch::Tensor& b) {
  return (w * w * w).sum() * 0.1 + (w - 0.5).pow(2).sum() + torch::sin(b * 2).sum();
}

std::vector<double> values(const torch::Tensor& t) {
  const auto flat = t.detach().to(torch::kDouble).contiguous().view({-1});
  return {flat.data_ptr<double>(), flat.data_ptr<double>() + flat.numel()};
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: optimizer_trajectories OUT.json\n";
    return 2;
  }
  nlohmann::json out;
  for (const auto& entry : cdl::config::choice_names(cdl::config::Optimizer{})) {
    auto w = torch::linspace(-1, 1, 12).reshape({3, 4}).requires_grad_();
    auto b = (torch::arange(4, torch::kFloat32) * 0.1).requires_grad_();
    auto optimizer = cdl::train::make_optimizer(entry.value, 0.01, 0.01, {w, b});
    for (int step = 1; step <= 30; ++step) {
      if (step == 16) {
        for (auto& group : optimizer->param_groups()) group.options().set_lr(0.005);
      }
      optimizer->zero_grad();
      loss_of(w, b).backward();
      optimizer->step();
    }
    out[std::string(entry.name)] = {{"w", values(w)}, {"b", values(b)}};
  }
  std::ofstream(argv[1]) << out.dump(1);
  return 0;
}

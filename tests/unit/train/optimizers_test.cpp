// Our optimizers (Adadelta, Adamax, ASGD, NAdam, RAdam): a run saved and loaded half-way ends
// where the uninterrupted run ends, bit for bit; a parameter without a gradient keeps no state;
// another optimizer's archive is refused. (Their update rules are checked against torch.optim by
// tests/interop/optimizer_reference.sh.)
#include "cdl/train/optimizers.hpp"

#include <gtest/gtest.h>
#include <torch/serialize.h>
#include <torch/torch.h>

#include <sstream>
#include <string>

namespace cdl::train {
namespace {

using config::Optimizer;

constexpr Optimizer kOurs[] = {Optimizer::kAdadelta, Optimizer::kAdamax, Optimizer::kASGD,
                               Optimizer::kNAdam, Optimizer::kRAdam};

struct Problem {
  torch::Tensor w = torch::linspace(-1, 1, 6).reshape({2, 3}).requires_grad_();
  torch::Tensor unused = torch::ones({2}).requires_grad_();  ///< never in the loss
};

void run_steps(torch::optim::Optimizer& optimizer, Problem& p, int steps) {
  for (int i = 0; i < steps; ++i) {
    optimizer.zero_grad();
    ((p.w * p.w * p.w).sum() + (p.w - 0.5).pow(2).sum()).backward();
    optimizer.step();
  }
}

TEST(Optimizers, ResumedHalfWayEndsWhereTheUninterruptedRunEnds) {
  for (const auto kind : kOurs) {
    Problem straight, resumed;
    auto a = make_optimizer(kind, 0.01, 0.01, {straight.w, straight.unused});
    run_steps(*a, straight, 12);

    auto first = make_optimizer(kind, 0.01, 0.01, {resumed.w, resumed.unused});
    run_steps(*first, resumed, 5);
    std::stringstream bytes;
    {
      torch::serialize::OutputArchive archive;
      first->save(archive);
      archive.save_to(bytes);
    }
    auto second = make_optimizer(kind, 0.01, 0.01, {resumed.w, resumed.unused});
    torch::serialize::InputArchive archive;
    archive.load_from(bytes);
    second->load(archive);
    run_steps(*second, resumed, 7);
    EXPECT_TRUE(torch::equal(straight.w, resumed.w)) << choice_name(kind);
    EXPECT_TRUE(torch::equal(resumed.unused, torch::ones({2}))) << choice_name(kind);
    EXPECT_FALSE(torch::equal(resumed.w, torch::linspace(-1, 1, 6).reshape({2, 3})))
        << choice_name(kind) << " did not move";
  }
}

TEST(Optimizers, TheLearningRateIsReadAtEveryStep) {
  for (const auto kind : kOurs) {
    Problem fast, stopped;
    auto a = make_optimizer(kind, 0.01, 0.0, {fast.w});
    auto b = make_optimizer(kind, 0.01, 0.0, {stopped.w});
    for (auto& group : b->param_groups()) group.options().set_lr(0.0);
    EXPECT_EQ(b->param_groups().front().options().get_lr(), 0.0);
    run_steps(*a, fast, 3);
    const auto before = stopped.w.detach().clone();
    run_steps(*b, stopped, 3);
    // With lr 0 every rule leaves the weights where they are (ASGD's weight decay term included).
    EXPECT_TRUE(torch::equal(stopped.w, before)) << choice_name(kind);
    EXPECT_FALSE(torch::equal(fast.w, before)) << choice_name(kind);
  }
}

TEST(Optimizers, AnotherOptimizersArchiveIsRefused) {
  Problem p;
  auto adamax = make_optimizer(Optimizer::kAdamax, 0.01, 0.0, {p.w});
  run_steps(*adamax, p, 2);
  std::stringstream bytes;
  {
    torch::serialize::OutputArchive archive;
    adamax->save(archive);
    archive.save_to(bytes);
  }
  auto nadam = make_optimizer(Optimizer::kNAdam, 0.01, 0.0, {p.w});
  torch::serialize::InputArchive archive;
  archive.load_from(bytes);
  EXPECT_THROW(nadam->load(archive), c10::Error);
  // The same optimizer over a parameter of another shape: its state does not fit.
  auto other = torch::zeros({4}).requires_grad_();
  auto misfit = make_optimizer(Optimizer::kAdamax, 0.01, 0.0, {other});
  torch::serialize::InputArchive again;
  bytes.clear();
  bytes.seekg(0);
  again.load_from(bytes);
  try {
    misfit->load(again);
    FAIL() << "a state of shape [2, 3] was taken for a parameter of shape [4]";
  } catch (const c10::Error& error) {
    EXPECT_NE(std::string(error.what_without_backtrace()).find("has shape [2, 3], expected [4]"),
              std::string::npos)
        << error.what_without_backtrace();
  }
}

}  // namespace
}  // namespace cdl::train

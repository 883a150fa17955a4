// Transfer learning by ClinicaDL's rules (reference section 3): which tensors are copied between
// CNNs and autoencoders, the errors for what cannot be copied, and layer freezing.
#include <gtest/gtest.h>
#include <torch/torch.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "cdl/core/error.hpp"
#include "cdl/core/file_tree.hpp"
#include "cdl/formats/pytorch_checkpoint.hpp"
#include "cdl/model/model_registry.hpp"
#include "cdl/train/transfer.hpp"

namespace cdl::train {
namespace {
namespace fs = std::filesystem;

model::NetworkPtr make(const std::string& name, uint64_t seed, int64_t classes = 2) {
  torch::manual_seed(seed);
  model::NetworkOptions options;
  options.input_size = parse_input_size("1@32x40x32");
  options.output_size = classes;
  return model::builtin_registry().create(name, options);
}

/// The entries of `state` whose names start with `prefix`, renamed to start with `to`.
std::map<std::string, torch::Tensor> part(const formats::StateDict& state,
                                          const std::string& prefix, const std::string& to) {
  std::map<std::string, torch::Tensor> result;
  for (const auto& entry : state) {
    if (entry.key().rfind(prefix, 0) == 0) {
      result[to + entry.key().substr(prefix.size())] = entry.value();
    }
  }
  return result;
}

void expect_equal_parts(const std::map<std::string, torch::Tensor>& a,
                        const std::map<std::string, torch::Tensor>& b) {
  ASSERT_EQ(a.size(), b.size());
  ASSERT_FALSE(a.empty());
  for (const auto& [key, tensor] : a) {
    ASSERT_TRUE(b.count(key)) << key;
    EXPECT_TRUE(torch::equal(tensor, b.at(key))) << key;
  }
}

bool any_differs(const std::map<std::string, torch::Tensor>& a,
                 const std::map<std::string, torch::Tensor>& b) {
  for (const auto& [key, tensor] : a) {
    if (tensor.is_floating_point() && !torch::equal(tensor, b.at(key))) return true;
  }
  return false;
}

TEST(Transfer, IdenticalCnnsCopyEverything) {
  auto source = make("Conv5_FC3", 1), target = make("Conv5_FC3", 2);
  const auto source_state = formats::state_dict(*source);
  EXPECT_EQ(transfer_weights(*target, source_state, "a.pth.tar"),
            static_cast<int64_t>(source_state.size()));
  expect_equal_parts(part(formats::state_dict(*target), "", ""), part(source_state, "", ""));
}

TEST(Transfer, AutoencoderToCnnCopiesTheEncoderIntoTheConvolutionsOnly) {
  auto source = make("AE_Conv5_FC3", 1), target = make("Conv5_FC3", 2);
  const auto fc_before = part(formats::state_dict(*target), "fc.", "fc.");
  transfer_weights(*target, formats::state_dict(*source), "ae.pth.tar");
  const auto after = formats::state_dict(*target);
  expect_equal_parts(part(after, "convolutions.", "x."),
                     part(formats::state_dict(*source), "encoder.", "x."));
  expect_equal_parts(part(after, "fc.", "fc."), fc_before);  // the head stays as initialised
}

TEST(Transfer, CnnToAutoencoderCopiesTheConvolutionsIntoTheEncoderOnly) {
  auto source = make("Conv5_FC3", 1), target = make("AE_Conv5_FC3", 2);
  const auto decoder_before = part(formats::state_dict(*target), "decoder.", "d.");
  transfer_weights(*target, formats::state_dict(*source), "cnn.pth.tar");
  const auto after = formats::state_dict(*target);
  expect_equal_parts(part(after, "encoder.", "x."),
                     part(formats::state_dict(*source), "convolutions.", "x."));
  expect_equal_parts(part(after, "decoder.", "d."), decoder_before);
  // and the encoder did change: the two networks were initialised differently
  EXPECT_TRUE(any_differs(part(formats::state_dict(*make("AE_Conv5_FC3", 2)), "encoder.", "x."),
                          part(after, "encoder.", "x.")));
}

TEST(Transfer, AMismatchNamesTheKeyAndBothShapes) {
  auto source = make("Conv5_FC3", 1, 2), target = make("Conv5_FC3", 2, 3);
  try {
    transfer_weights(*target, formats::state_dict(*source), "/m/split-0/best-loss/model.pth.tar");
    FAIL() << "a 2-class source went into a 3-class network";
  } catch (const DataError& error) {
    const std::string message = error.what();
    EXPECT_NE(message.find("/m/split-0/best-loss/model.pth.tar"), std::string::npos) << message;
    EXPECT_NE(message.find("[2, 50]"), std::string::npos) << message;
    EXPECT_NE(message.find("[3, 50]"), std::string::npos) << message;
  }
  auto other = make("Conv4_FC3", 1);
  EXPECT_THROW(transfer_weights(*make("Conv5_FC3", 3), formats::state_dict(*other), "c4"),
               DataError);
}

TEST(Transfer, OtherNetworksAreRefused) {
  formats::StateDict vae;
  vae.insert("mu_layer.weight", torch::zeros({2, 2}));
  EXPECT_THROW(source_kind(vae, "vae.pth.tar"), ConfigError);
  EXPECT_THROW(transfer_weights(*make("Conv5_FC3", 1), vae, "vae.pth.tar"), ConfigError);
}

TEST(Transfer, FreezingKeepsTheLastTwoNParametersTrainable) {
  auto network = make("Conv5_FC3", 1);
  const auto total = static_cast<int64_t>(network->parameters().size());
  EXPECT_EQ(freeze_all_but_last_layers(*network, 0), total);
  for (const auto& p : network->parameters()) EXPECT_TRUE(p.requires_grad());
  EXPECT_EQ(freeze_all_but_last_layers(*network, 3), 6);  // the three Linear layers
  const auto named = network->named_parameters();
  for (const auto& entry : named) {
    EXPECT_EQ(entry.value().requires_grad(), entry.key().rfind("fc.", 0) == 0) << entry.key();
  }
  EXPECT_EQ(freeze_all_but_last_layers(*network, 1000), total);
}

TEST(Transfer, MissingSourcesAreNamed) {
  config::TrainConfig c;
  const auto root = fs::temp_directory_path() / ("cdl_transfer_" + std::to_string(getpid()));
  remove_tree(root);
  c.transfer_path = (root / "maps").string();
  EXPECT_THROW(check_transfer_source(c, 0), ConfigError);  // no maps.json
  fs::create_directories(root / "maps" / "split-0" / "best-BA");
  std::ofstream((root / "maps" / "maps.json").string()) << "{}";
  c.transfer_selection_metric = "loss";
  try {
    check_transfer_source(c, 0);
    FAIL() << "a metric the source did not select was accepted";
  } catch (const ConfigError& error) {
    const std::string message = error.what();
    EXPECT_NE(message.find("best-loss/model.pth.tar is missing"), std::string::npos) << message;
    EXPECT_NE(message.find("that split selected: BA"), std::string::npos) << message;
  }
  std::ofstream((root / "maps" / "split-0" / "best-BA" / "model.pth.tar").string()) << "x";
  c.transfer_selection_metric = "BA";
  EXPECT_NO_THROW(check_transfer_source(c, 0));
  c.transfer_path.clear();
  EXPECT_NO_THROW(check_transfer_source(c, 5));  // no transfer: nothing to check
  remove_tree(root);
}

TEST(Transfer, MultiNetworkSourcesFollowClinicaDLsRules) {
  config::TrainConfig c;
  const auto root = fs::temp_directory_path() / ("cdl_transfer_multi_" + std::to_string(getpid()));
  remove_tree(root);
  const auto best = root / "maps" / "split-0" / "best-loss";
  fs::create_directories(best);
  std::ofstream((root / "maps" / "maps.json").string()) << "{}";
  c.transfer_path = (root / "maps").string();
  // Single source: every network starts from its model.pth.tar (single -> multi).
  std::ofstream((best / "model.pth.tar").string()) << "x";
  EXPECT_EQ(transfer_source_file(c, 0, 3), (best / "model.pth.tar").string());
  c.multi_network = true;
  EXPECT_NO_THROW(check_transfer_source(c, 0));
  // Multi-network source: network n from network-<n> (multi -> multi)...
  fs::remove(best / "model.pth.tar");
  for (const char* name : {"network-0_model.pth.tar", "network-1_model.pth.tar"}) {
    std::ofstream((best / name).string()) << "x";
  }
  EXPECT_EQ(transfer_source_file(c, 0, 1), (best / "network-1_model.pth.tar").string());
  EXPECT_EQ(transfer_source_file(c, 0, 2), (best / "network-2_model.pth.tar").string())
      << "a network the source lacks is named (and found missing when read)";
  EXPECT_NO_THROW(check_transfer_source(c, 0));
  // ... and never into a single network (multi -> single).
  c.multi_network = false;
  try {
    check_transfer_source(c, 0);
    FAIL() << "a multi-network source was accepted for a single network";
  } catch (const ConfigError& error) {
    EXPECT_NE(std::string(error.what()).find("is a multi-network MAPS"), std::string::npos)
        << error.what();
  }
  remove_tree(root);
}

TEST(Transfer, FromAClinicaDLCheckpointWrittenByPythonTorchSave) {
  if (std::system("python3 -c 'import torch' > /dev/null 2>&1") != 0) {
    GTEST_SKIP() << "Python's torch is not installed: ClinicaDL's format cannot be written here";
  }
  const auto root = fs::temp_directory_path() / ("cdl_transfer_py_" + std::to_string(getpid()));
  remove_tree(root);
  fs::create_directories(root);
  // The keys and shapes of our Conv5_FC3 (ClinicaDL's names); Python writes ClinicaDL's layout:
  // torch.save({"model": OrderedDict (with _metadata), "epoch", "name"}) in the zip format.
  auto reference = make("Conv5_FC3", 1);
  {
    std::ofstream keys((root / "keys.tsv").string());
    for (const auto& entry : formats::state_dict(*reference)) {
      keys << entry.key() << "\t" << (entry.value().is_floating_point() ? "float" : "long");
      for (const auto size : entry.value().sizes()) keys << "\t" << size;
      keys << "\n";
    }
    std::ofstream script((root / "write.py").string());
    script << "import collections, sys, torch\n"
              "sd = collections.OrderedDict()\n"
              "for line in open(sys.argv[1]):\n"
              "    key, kind, *shape = line.rstrip('\\n').split('\\t')\n"
              "    shape = [int(s) for s in shape]\n"
              "    n = 1\n"
              "    for s in shape: n *= s\n"
              "    if kind == 'float':\n"
              "        sd[key] = (torch.arange(n, dtype=torch.float32) * 1e-3).reshape(shape)\n"
              "    else:\n"
              "        sd[key] = torch.tensor(7, dtype=torch.int64).reshape(shape)\n"
              "sd._metadata = collections.OrderedDict({'': {'version': 1}})\n"
              "torch.save({'model': sd, 'epoch': 3, 'name': 'Conv5_FC3'}, sys.argv[2])\n";
  }
  const auto file = (root / "model.pth.tar").string();
  const auto command = "python3 " + (root / "write.py").string() + " " +
                       (root / "keys.tsv").string() + " " + file + " > /dev/null 2>&1";
  ASSERT_EQ(std::system(command.c_str()), 0) << command;
  const auto content = formats::read_checkpoint_file(file);
  EXPECT_EQ(content.epoch.value_or(-1), 3);
  EXPECT_EQ(content.name.value_or(""), "Conv5_FC3");
  auto target = make("Conv5_FC3", 2);
  transfer_weights(*target, content.model, file);
  for (const auto& entry : formats::state_dict(*target)) {
    const auto& value = entry.value();
    const auto expected =
        value.is_floating_point()
            ? (torch::arange(value.numel(), torch::kFloat32) * 1e-3).reshape(value.sizes())
            : torch::full(value.sizes(), 7, torch::kInt64);
    EXPECT_TRUE(torch::equal(value, expected)) << entry.key();
  }
  remove_tree(root);
}

}  // namespace
}  // namespace cdl::train

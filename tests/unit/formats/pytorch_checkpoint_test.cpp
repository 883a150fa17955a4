// The torch.save checkpoint reader: known answers from files written by Python's torch (written by
// make_torch_checkpoints.py; those tests are skipped where Python or its torch is missing), our own
// checkpoints, hand-written pickles for every refusal, and corrupt files (truncated, random bytes,
// mutated pickles) that must give DataError naming the file, never a crash.
#include <caffe2/serialize/inline_container.h>
#include <gtest/gtest.h>
#include <torch/torch.h>
#include <unistd.h>
#include <nlohmann/json.hpp>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "cdl/core/error.hpp"
#include "cdl/core/file_tree.hpp"
#include "cdl/formats/checkpoint.hpp"
#include "cdl/formats/pytorch_checkpoint.hpp"

namespace cdl::formats {
namespace {
namespace fs = std::filesystem;

using Records = std::vector<std::pair<std::string, std::string>>;

/// A fresh folder for the test's files, removed at the end.
class TemporaryFolder {
 public:
  explicit TemporaryFolder(const std::string& tag)
      : path_(fs::temp_directory_path() / ("cdl_" + tag + "_" + std::to_string(getpid()))) {
    remove_tree(path_);
    fs::create_directories(path_);
  }
  ~TemporaryFolder() {
    std::error_code ignored;
    remove_tree(path_, ignored);
  }
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

void write_file(const fs::path& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

/// Writes a zip archive in torch's layout (records under "archive/", a version record).
void write_archive(const fs::path& path, const Records& records) {
  std::ofstream out(path, std::ios::binary);
  caffe2::serialize::PyTorchStreamWriter writer([&](const void* data, size_t size) {
    out.write(static_cast<const char*>(data), static_cast<std::streamsize>(size));
    return size;
  });
  for (const auto& record : records) {
    writer.writeRecord(record.first, record.second.data(), record.second.size());
  }
  writer.writeEndOfFile();
}

/// The records of a torch zip archive, but those the writer adds itself (version, .data/...).
Records read_archive(const fs::path& path) {
  caffe2::serialize::PyTorchStreamReader reader(path.string());
  Records records;
  for (const auto& name : reader.getAllRecords()) {
    if (name == "version" || name.rfind(".data/", 0) == 0) continue;
    auto [data, size] = reader.getRecord(name);
    records.emplace_back(name, std::string(static_cast<const char*>(data.get()), size));
  }
  return records;
}

/// Builds a pickle (protocol 2) opcode by opcode.
class Pickle {
 public:
  Pickle() : bytes_("\x80\x02", 2) {}
  Pickle& op(char code) {
    bytes_ += code;
    return *this;
  }
  Pickle& raw(const std::string& bytes) {
    bytes_ += bytes;
    return *this;
  }
  Pickle& u32(uint32_t value) {
    for (int i = 0; i < 4; ++i) bytes_ += static_cast<char>((value >> (8 * i)) & 0xff);
    return *this;
  }
  Pickle& integer(int32_t value) { return op('J').u32(static_cast<uint32_t>(value)); }
  Pickle& text(const std::string& value) { return op('X').u32(value.size()).raw(value); }
  Pickle& global(const std::string& module, const std::string& name) {
    return op('c').raw(module + "\n" + name + "\n");
  }
  Pickle& ints(const std::vector<int32_t>& values) {
    op('(');
    for (const int32_t value : values) integer(value);
    return op('t');
  }
  /// _rebuild_tensor_v2(('storage', torch.<storage_class>, key, 'cpu', numel), offset, sizes,
  /// strides, False, OrderedDict())
  Pickle& tensor(const std::string& storage_class, const std::string& key, int32_t numel,
                 int32_t offset, const std::vector<int32_t>& sizes,
                 const std::vector<int32_t>& strides) {
    global("torch._utils", "_rebuild_tensor_v2").op('(');
    op('(').text("storage").global("torch", storage_class).text(key).text("cpu").integer(numel);
    op('t').op('Q').integer(offset).ints(sizes).ints(strides).op('\x89');
    global("collections", "OrderedDict").op(')').op('R');
    return op('t').op('R');
  }
  /// An OrderedDict with its _metadata attribute, as torch.save writes a state dict; `items`
  /// pushes its keys and values.
  template <typename Items>
  Pickle& ordered_dict(Items items) {
    global("collections", "OrderedDict").op(')').op('R').op('(');
    items(*this);
    op('u').op('}').text("_metadata").global("collections", "OrderedDict").op(')').op('R');
    return op('s').op('b');
  }
  std::string done() const { return bytes_ + "."; }

 private:
  std::string bytes_;
};

std::string int64_bytes(const std::vector<int64_t>& values) {
  return std::string(reinterpret_cast<const char*>(values.data()), values.size() * sizeof(int64_t));
}

/// A state dict {"w": int64 view of offset 1, sizes (2, 2), strides (1, 2) of storage "0"}.
Pickle valid_model(Pickle pickle) {
  return pickle.ordered_dict([](Pickle& p) {
    p.text("w").tensor("LongStorage", "0", 6, 1, {2, 2}, {1, 2});
  });
}

/// The storage record that valid_model's tensor reads: 10, 11, ..., 15.
Records with_storage(const std::string& pickle) {
  return {{"data.pkl", pickle}, {"data/0", int64_bytes({10, 11, 12, 13, 14, 15})}};
}

class PytorchCheckpoint : public ::testing::Test {
 protected:
  /// Writes `records` as a checkpoint and expects reading it to fail with a DataError naming the
  /// file and containing `expected`.
  void expect_refused(const Records& records, const std::string& expected) {
    const fs::path path = folder_.path() / "refused.pt";
    write_archive(path, records);
    expect_refused_file(path, expected);
  }
  void expect_refused_file(const fs::path& path, const std::string& expected) {
    try {
      read_checkpoint_file(path.string());
      ADD_FAILURE() << "no error for " << path << ", expected one about '" << expected << "'";
    } catch (const DataError& error) {
      const std::string message = error.what();
      EXPECT_NE(message.find(path.string()), std::string::npos) << message;
      EXPECT_NE(message.find(expected), std::string::npos) << message;
    }
  }
  /// Reads `path`: success or DataError naming it; anything else fails the test.
  void expect_read_or_refused(const fs::path& path) {
    try {
      read_checkpoint_file(path.string());
    } catch (const DataError& error) {
      EXPECT_NE(std::string(error.what()).find(path.string()), std::string::npos) << error.what();
    }
  }

  TemporaryFolder folder_{"pytorch_checkpoint_test"};
};

struct Net : torch::nn::Module {
  Net() {
    conv = register_module("conv", torch::nn::Conv3d(torch::nn::Conv3dOptions(1, 2, 3)));
    norm = register_module("norm", torch::nn::BatchNorm3d(2));
    fc = register_module("fc", torch::nn::Linear(2, 3));
  }
  torch::nn::Conv3d conv{nullptr};
  torch::nn::BatchNorm3d norm{nullptr};
  torch::nn::Linear fc{nullptr};
};

TEST_F(PytorchCheckpoint, ReadsOurOwnCheckpoints) {
  torch::manual_seed(5);
  Net net;
  {
    torch::NoGradGuard no_grad;
    net.norm->running_mean.uniform_();
    net.norm->num_batches_tracked.fill_(9);
  }
  const auto path = (folder_.path() / "model.pth.tar").string();
  save_model_checkpoint(path, net, 12, "Conv5_FC3");
  const auto content = read_checkpoint_file(path);
  ASSERT_TRUE(content.epoch.has_value());
  EXPECT_EQ(*content.epoch, 12);
  ASSERT_TRUE(content.name.has_value());
  EXPECT_EQ(*content.name, "Conv5_FC3");
  const auto expected = state_dict(net);
  ASSERT_EQ(content.model.size(), expected.size());
  auto it = content.model.begin();
  for (const auto& entry : expected) {
    EXPECT_EQ(it->key(), entry.key());
    EXPECT_EQ(it->value().scalar_type(), entry.value().scalar_type()) << entry.key();
    EXPECT_TRUE(it->value().equal(entry.value())) << entry.key();
    ++it;
  }
  Net other;
  load_state_dict(other, content.model, path);
  EXPECT_EQ(other.norm->num_batches_tracked.item<int64_t>(), 9);
}

TEST_F(PytorchCheckpoint, HandWrittenTorchSaveLayout) {
  // What torch.save writes: an OrderedDict whose _metadata is set by BUILD, a view with an offset
  // and strides, an epoch beyond 32 bits (LONG1), a short string (protocol 4's opcode).
  Pickle pickle;
  pickle.op('}').op('(').text("model");
  pickle = valid_model(pickle);
  pickle.text("epoch").op('\x8a').raw(std::string("\x06\x05\x00\x00\x00\x00\x01", 7));
  pickle.text("name").op('\x8c').raw("\x09").raw("Conv5_FC3").op('u');
  const auto path = folder_.path() / "hand.pt";
  write_archive(path, with_storage(pickle.done()));
  const auto content = read_checkpoint_file(path.string());
  EXPECT_EQ(content.epoch.value(), (int64_t{1} << 40) + 5);
  EXPECT_EQ(content.name.value(), "Conv5_FC3");
  ASSERT_EQ(content.model.size(), 1u);
  const auto w = content.model.at("w");
  EXPECT_EQ(w.scalar_type(), torch::kLong);
  EXPECT_TRUE(w.is_contiguous());
  EXPECT_TRUE(w.equal(torch::tensor({11, 13, 12, 14}, torch::kLong).reshape({2, 2})));

  // A bare state dict: the whole file is the model.
  write_archive(path, with_storage(valid_model(Pickle()).done()));
  const auto bare = read_checkpoint_file(path.string());
  EXPECT_FALSE(bare.epoch.has_value());
  EXPECT_FALSE(bare.name.has_value());
  EXPECT_TRUE(bare.model.at("w").equal(w));

  // Negative and 64-bit integers, None epoch and name.
  Pickle signs;
  signs.op('}').op('(').text("model");
  signs = valid_model(signs);
  signs.text("epoch").op('N').text("name").op('N').op('u');
  write_archive(path, with_storage(signs.done()));
  const auto nones = read_checkpoint_file(path.string());
  EXPECT_FALSE(nones.epoch.has_value());
  EXPECT_FALSE(nones.name.has_value());
  Pickle negative;
  negative.op('}').op('(').text("model");
  negative = valid_model(negative);
  negative.text("epoch").op('\x8a').raw(std::string("\x02\x01\xff", 3)).op('u');
  write_archive(path, with_storage(negative.done()));
  EXPECT_EQ(read_checkpoint_file(path.string()).epoch.value(), -255);
}

TEST_F(PytorchCheckpoint, RefusesWhatItCannotRead) {
  const auto in_model = [](auto items) {
    Pickle pickle;
    pickle.op('}').text("model").ordered_dict(items).op('s');
    return pickle.done();
  };
  expect_refused({{"data.pkl", Pickle().raw("I1\n").done()}}, "unsupported pickle opcode 0x49");
  expect_refused({{"data.pkl", Pickle().op('}').text("epoch").integer(1).op('s').done()}},
                 "no 'model' entry");
  expect_refused({{"data.pkl", Pickle().op('}').text("model").op(']').op('s').done()}},
                 "'model' entry is a list");
  expect_refused({{"data.pkl", Pickle().op(']').done()}}, "not a dict");
  expect_refused({{"data.pkl", in_model([](Pickle& p) {
                     p.text("w").global("os", "system").text("ls").op('\x85').op('R');
                   })}},
                 "os.system");
  expect_refused(with_storage(in_model(
                     [](Pickle& p) { p.text("w").tensor("QInt8Storage", "0", 6, 0, {6}, {1}); })),
                 "unsupported type torch.QInt8Storage");
  expect_refused(with_storage(in_model([](Pickle& p) {
                   p.text("w").tensor("LongStorage", "0", 6, 0, {2, 4}, {4, 1});
                 })),
                 "reaches element 7 of a storage of 6");
  expect_refused(with_storage(in_model([](Pickle& p) {
                   p.text("w").tensor("LongStorage", "0", 6, 0, {2, 2}, {-1, 1});
                 })),
                 "negative size or stride");
  expect_refused(with_storage(in_model([](Pickle& p) {
                   p.text("w").tensor("LongStorage", "0", 6, 2000000000, {1}, {1});
                 })),
                 "reaches element");
  expect_refused(with_storage(in_model([](Pickle& p) {
                   p.text("w").tensor("LongStorage", "0", 6, 0, {100000, 100000}, {0, 0});
                 })),
                 "(stride 0)");
  // Each expanded tensor below the per-file bound, together beyond it: thousands of them in a
  // small file used to cost gigabytes per rank.
  expect_refused(with_storage(in_model([](Pickle& p) {
                   for (const char* name : {"a", "b", "c"}) {
                     p.text(name).tensor("LongStorage", "0", 6, 0, {2048, 4096}, {0, 0});
                   }
                 })),
                 "elements accepted for such tensors in one file");
  expect_refused(with_storage(in_model(
                     [](Pickle& p) { p.text("w").tensor("LongStorage", "0", 7, 0, {7}, {1}); })),
                 "should hold 7 elements");
  expect_refused(with_storage(in_model(
                     [](Pickle& p) { p.text("w").tensor("LongStorage", "1", 6, 0, {6}, {1}); })),
                 "data/1");
  expect_refused({{"data.pkl", in_model([](Pickle& p) {
                     p.text("w").tensor("BoolStorage", "0", 2, 0, {2}, {1});
                   })},
                  {"data/0", std::string("\x01\x02", 2)}},
                 "bool storage '0' holds the byte 2");
  expect_refused(with_storage(in_model([](Pickle& p) {
                   p.text("w").global("torch._utils", "_rebuild_tensor_v2").text("x");
                   p.op('\x85').op('R');
                 })),
                 "called with 1 arguments");
  expect_refused(with_storage(in_model([](Pickle& p) { p.text("w").integer(3); })),
                 "entry 'w' is an int, not a tensor");
  expect_refused({{"data.pkl", Pickle().op('\x85').done()}}, "stack underflow");
  expect_refused({{"data.pkl", Pickle().op('h').raw("\x05").done()}}, "memo entry 5");
  expect_refused({{"data.pkl", Pickle().op('t').done()}}, "MARK that is missing");
  expect_refused({{"data.pkl", Pickle().op('X').u32(0xfffffff0u).done()}}, "truncated");
  expect_refused({{"data.pkl", Pickle().op('\x8b').u32(0x80000000u).done()}},
                 "does not fit in 64 bits");
  expect_refused({{"data.pkl", Pickle().op('}').op('}').done()}}, "2 objects");
  expect_refused({{"data.pkl", Pickle().op('}').op('Q').done()}}, "unsupported persistent id");
  const std::string whole = with_storage(in_model(
      [](Pickle& p) { p.text("w").tensor("LongStorage", "0", 6, 0, {6}, {1}); }))[0]
                                .second;
  expect_refused({{"data.pkl", whole.substr(0, whole.size() / 2)}}, "truncated");
  auto big_endian = with_storage(valid_model(Pickle()).done());
  big_endian.emplace_back("byteorder", "big");
  expect_refused(big_endian, "big-endian");
  expect_refused({{"other.pkl", Pickle().op('}').done()}}, "no data.pkl record");

  // 1,000,000 nested tuples (freed without recursion), then more objects than allowed.
  std::string nested(1000000, '\x85');
  expect_refused({{"data.pkl", Pickle().op(')').raw(nested).done()}}, "holds a tuple, not a dict");
  std::string nones(3000000, 'N');
  expect_refused({{"data.pkl", Pickle().raw(nones).done()}}, "more than 2097152 objects");
}

TEST_F(PytorchCheckpoint, MissingRandomAndTruncatedFilesGiveDataError) {
  expect_refused_file(folder_.path() / "missing.pt", "does not exist");
  expect_refused_file(folder_.path(), "not a regular file");
  const auto empty = folder_.path() / "empty.pt";
  write_file(empty, "");
  expect_refused_file(empty, "not a zip archive");
  const auto legacy = folder_.path() / "legacy.pt";
  // Protocol 2, then the legacy format's magic number 0x1950a86a20f9469cfc6c as LONG1.
  write_file(legacy, std::string("\x80\x02\x8a\x0a"
                                 "\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19.",
                                 15));
  expect_refused_file(legacy, "legacy");

  std::mt19937 random(42);
  for (int i = 0; i < 20; ++i) {
    std::string bytes(1 + random() % 5000, '\0');
    for (auto& byte : bytes) byte = static_cast<char>(random());
    if (i % 2 == 1) bytes.replace(0, 4, "PK\x03\x04");  // a zip signature over garbage
    const auto path = folder_.path() / ("random" + std::to_string(i) + ".pt");
    write_file(path, bytes);
    expect_refused_file(path, "");
  }

  Net net;
  const auto whole = folder_.path() / "whole.pth.tar";
  save_model_checkpoint(whole.string(), net, 1, "Conv5_FC3");
  const std::string bytes = read_file(whole);
  const auto truncated = folder_.path() / "truncated.pth.tar";
  for (size_t size = 0; size < bytes.size(); size += 1 + size / 16) {
    write_file(truncated, bytes.substr(0, size));
    expect_refused_file(truncated, "");
  }
  // Bytes of the stored records flipped: the CRC checks or the unpickler refuse them.
  const auto flipped = folder_.path() / "flipped.pth.tar";
  for (size_t position = 0; position < bytes.size(); position += 7) {
    std::string copy = bytes;
    copy[position] = static_cast<char>(copy[position] ^ 0x5a);
    write_file(flipped, copy);
    expect_read_or_refused(flipped);
  }
}

TEST_F(PytorchCheckpoint, OneFlippedByteInAWeightIsNamedNeverLoaded) {
  // LibTorch's zip reader skips the CRC-32 check: a flipped weight byte used to load as a
  // different model (issue 19, class 6).
  Net net;
  const auto whole = folder_.path() / "whole.pth.tar";
  save_model_checkpoint(whole.string(), net, 1, "Conv5_FC3");
  const std::string bytes = read_file(whole);
  const Records records = read_archive(whole);
  std::string largest;
  for (const auto& record : records) {
    if (record.second.size() > largest.size()) largest = record.second;
  }
  const size_t weights = bytes.find(largest);  // the largest tensor record, in the file
  ASSERT_NE(weights, std::string::npos);
  for (const size_t offset : {size_t(0), largest.size() / 2, largest.size() - 1}) {
    std::string copy = bytes;
    copy[weights + offset] = static_cast<char>(copy[weights + offset] ^ 0x01);
    const auto flipped = folder_.path() / "flipped_weight.pth.tar";
    write_file(flipped, copy);
    expect_refused_file(flipped, "fails its CRC-32 check");
  }
}

TEST_F(PytorchCheckpoint, AHugeDeflatedRecordIsRefusedBeforeInflating) {
  // 65 MiB of zeros deflate to about 64 KiB; LibTorch's reader would inflate them whole, on every
  // rank. Deflated records are checked by streaming and bounded at 64 MiB.
  const auto path = folder_.path() / "bomb.pt";
  std::ofstream out(path, std::ios::binary);
  caffe2::serialize::PyTorchStreamWriter writer([&](const void* data, size_t size) {
    out.write(static_cast<const char*>(data), static_cast<std::streamsize>(size));
    return size;
  });
  const std::string zeros(size_t(65) << 20, '\0');
  writer.writeRecord("data.pkl", Pickle().op(']').done().data(), Pickle().op(']').done().size());
  writer.writeRecord("data/0", zeros.data(), zeros.size(), /*compress=*/true);
  writer.writeEndOfFile();
  out.close();
  ASSERT_LT(fs::file_size(path), size_t(1) << 20);
  expect_refused_file(path, "is deflated to 68157440 bytes, beyond the 67108864 accepted");
}

TEST_F(PytorchCheckpoint, MutatedPicklesGiveDataErrorNeverACrash) {
  // Our own checkpoint's pickle, mutated byte by byte and truncated everywhere, in archives with
  // valid CRCs so that the unpickler sees every mutation.
  Net net;
  const auto source = folder_.path() / "source.pth.tar";
  save_model_checkpoint(source.string(), net, 3, "Conv5_FC3");
  const Records records = read_archive(source);
  size_t pickle_index = records.size();
  for (size_t i = 0; i < records.size(); ++i) {
    if (records[i].first == "data.pkl") pickle_index = i;
  }
  ASSERT_LT(pickle_index, records.size());
  const std::string pickle = records[pickle_index].second;
  const auto path = folder_.path() / "mutated.pt";
  int read = 0, refused = 0;
  const auto attempt = [&](const std::string& mutated) {
    Records copy = records;
    copy[pickle_index].second = mutated;
    write_archive(path, copy);
    try {
      read_checkpoint_file(path.string());
      ++read;
    } catch (const DataError& error) {
      ++refused;
      EXPECT_NE(std::string(error.what()).find(path.string()), std::string::npos);
    }
  };
  for (size_t position = 0; position < pickle.size(); ++position) {
    for (const char value : {'\x00', '\xff', '(', 'h'}) {
      std::string mutated = pickle;
      if (mutated[position] == value) continue;
      mutated[position] = value;
      attempt(mutated);
    }
    attempt(pickle.substr(0, position));
  }
  EXPECT_GT(refused, 0);
  EXPECT_GT(read, 0);  // e.g. changed digits of a value
}

// --- known answers from Python's torch.save -----------------------------------------------------

/// The files written once by make_torch_checkpoints.py for the whole suite.
class PytorchCheckpointFromPython : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    folder_ = new TemporaryFolder("pytorch_checkpoint_python");
    const fs::path script = CDL_TORCH_CHECKPOINT_SCRIPT;
    if (!fs::exists(script)) {
      skip_reason_ = "the script " + script.string() + " is not found";
      return;
    }
    if (std::system("python3 -c 'import torch' >/dev/null 2>&1") != 0) {
      skip_reason_ = "python3 with torch is not available (python3 -c 'import torch' fails)";
      return;
    }
    const fs::path log = folder_->path() / "script.log";
    const std::string command = "python3 '" + script.string() + "' '" + folder_->path().string() +
                                "' >'" + log.string() + "' 2>&1";
    if (std::system(command.c_str()) != 0) {
      failure_ = "make_torch_checkpoints.py failed:\n" + read_file(log);
      return;
    }
    std::ifstream in(folder_->path() / "expected.json");
    expected_ = nlohmann::json::parse(in);
  }
  static void TearDownTestSuite() {
    delete folder_;
    folder_ = nullptr;
  }
  void SetUp() override {
    if (!skip_reason_.empty()) GTEST_SKIP() << skip_reason_;
    ASSERT_TRUE(failure_.empty()) << failure_;
  }

  static std::string file(const std::string& name) { return (folder_->path() / name).string(); }

  static std::string dtype_name(at::ScalarType dtype) {
    switch (dtype) {
      case at::kFloat:
        return "float32";
      case at::kDouble:
        return "float64";
      case at::kHalf:
        return "float16";
      case at::kBFloat16:
        return "bfloat16";
      case at::kLong:
        return "int64";
      case at::kInt:
        return "int32";
      case at::kShort:
        return "int16";
      case at::kChar:
        return "int8";
      case at::kByte:
        return "uint8";
      case at::kBool:
        return "bool";
      case at::kComplexFloat:
        return "complex64";
      default:
        return "other";
    }
  }

  /// Reads `name` and compares it with its known answer: epoch, name, keys in order, dtypes,
  /// shapes and every value, exactly.
  static CheckpointContent check_against_python(const std::string& name) {
    const auto content = read_checkpoint_file(file(name));
    const auto& expected = expected_.at(name);
    if (expected.at("epoch").is_null()) {
      EXPECT_FALSE(content.epoch.has_value()) << name;
    } else {
      EXPECT_EQ(content.epoch.value_or(-1), expected.at("epoch").get<int64_t>()) << name;
    }
    if (expected.at("name").is_null()) {
      EXPECT_FALSE(content.name.has_value()) << name;
    } else {
      EXPECT_EQ(content.name.value_or(""), expected.at("name").get<std::string>()) << name;
    }
    const auto& tensors = expected.at("tensors");
    EXPECT_EQ(content.model.size(), tensors.size()) << name;
    auto it = content.model.begin();
    for (size_t i = 0; i < tensors.size() && it != content.model.end(); ++i, ++it) {
      const auto& answer = tensors[i];
      const std::string key = answer.at("key");
      const at::Tensor& tensor = it->value();
      EXPECT_EQ(it->key(), key) << name;
      EXPECT_EQ(dtype_name(tensor.scalar_type()), answer.at("dtype").get<std::string>()) << key;
      EXPECT_EQ(tensor.sizes().vec(), answer.at("shape").get<std::vector<int64_t>>()) << key;
      EXPECT_TRUE(tensor.is_contiguous()) << key;
      EXPECT_TRUE(tensor.device().is_cpu()) << key;
      const at::Tensor values =
          (tensor.is_complex() ? at::view_as_real(tensor) : tensor).to(at::kDouble).flatten();
      const auto expected_values = answer.at("values").get<std::vector<double>>();
      EXPECT_EQ(values.numel(), static_cast<int64_t>(expected_values.size())) << key;
      if (values.numel() != static_cast<int64_t>(expected_values.size())) continue;
      const auto* data = values.data_ptr<double>();
      for (size_t j = 0; j < expected_values.size(); ++j) {
        EXPECT_EQ(data[j], expected_values[j]) << key << "[" << j << "]";
      }
    }
    return content;
  }

  static TemporaryFolder* folder_;
  static std::string skip_reason_;
  static std::string failure_;
  static nlohmann::json expected_;
};

TemporaryFolder* PytorchCheckpointFromPython::folder_ = nullptr;
std::string PytorchCheckpointFromPython::skip_reason_;
std::string PytorchCheckpointFromPython::failure_;
nlohmann::json PytorchCheckpointFromPython::expected_;

TEST_F(PytorchCheckpointFromPython, ClinicaDLLayoutLoadsIntoTheSameNetwork) {
  const auto content = check_against_python("clinicadl.pth.tar");
  EXPECT_EQ(content.model.at("1.num_batches_tracked").item<int64_t>(), 3);
  // The same network in C++: the weights give Python's output.
  torch::nn::Sequential net(torch::nn::Conv3d(torch::nn::Conv3dOptions(1, 2, 3)),
                            torch::nn::BatchNorm3d(2), torch::nn::ReLU(), torch::nn::Flatten(),
                            torch::nn::Linear(16, 3));
  load_state_dict(*net, content.model, file("clinicadl.pth.tar"));
  net->eval();
  const auto& forward = expected_.at("forward");
  const auto input =
      torch::tensor(forward.at("input").get<std::vector<float>>()).reshape({1, 1, 4, 4, 4});
  const auto output = net->forward(input).flatten();
  const auto expected = torch::tensor(forward.at("output").get<std::vector<float>>());
  EXPECT_TRUE(torch::allclose(output, expected, 1e-5, 1e-6)) << output << expected;
}

TEST_F(PytorchCheckpointFromPython, TensorFilesAsClinicaDLSavesImages) {
  // caps2h5 --from_tensors reads these through the same reader (data_tools/src/pt_plugin).
  for (const char* name : {"image.pt", "image_view.pt"}) {
    const at::Tensor tensor = read_tensor_file(file(name));
    const auto& answer = expected_.at(name).at("tensors")[0];
    EXPECT_EQ(tensor.sizes().vec(), answer.at("shape").get<std::vector<int64_t>>()) << name;
    EXPECT_TRUE(tensor.is_contiguous()) << name;
    const at::Tensor values = tensor.to(at::kDouble).flatten();
    const auto expected_values = answer.at("values").get<std::vector<double>>();
    ASSERT_EQ(values.numel(), static_cast<int64_t>(expected_values.size())) << name;
    for (size_t j = 0; j < expected_values.size(); ++j) {
      EXPECT_EQ(values.data_ptr<double>()[j], expected_values[j]) << name << "[" << j << "]";
    }
  }
  try {
    read_tensor_file(file("state_dict.pt"));
    FAIL() << "a state dict was read as a tensor";
  } catch (const DataError& error) {
    EXPECT_NE(std::string(error.what()).find("expected a tensor saved with torch.save(tensor)"),
              std::string::npos)
        << error.what();
  }
}

TEST_F(PytorchCheckpointFromPython, FilesSavedWithoutCrcsAreRead) {
  // torch >= 2.5 may skip the CRC-32s (records then carry 0): nothing to check them against.
  if (!expected_.contains("no_crc.pt")) GTEST_SKIP() << "this torch cannot save without CRC-32s";
  check_against_python("no_crc.pt");
}

TEST_F(PytorchCheckpointFromPython, BareStateDict) {
  check_against_python("state_dict.pt");
}

TEST_F(PytorchCheckpointFromPython, PickleProtocol4) {
  check_against_python("protocol4.pt");
}

TEST_F(PytorchCheckpointFromPython, ViewsOffsetsStridesAndEveryDtype) {
  const auto content = check_against_python("views.pt");
  EXPECT_TRUE(content.model.at("transposed").equal(content.model.at("base").t()));
}

TEST_F(PytorchCheckpointFromPython, OtherEntriesAreIgnored) {
  check_against_python("extra_entries.pt");
}

TEST_F(PytorchCheckpointFromPython, CudaTensorsLoadOnTheCpu) {
  check_against_python("cuda_location.pt");
}

TEST_F(PytorchCheckpointFromPython, UnknownClassInTheModelIsRefused) {
  try {
    read_checkpoint_file(file("custom_in_model.pt"));
    FAIL() << "no error";
  } catch (const DataError& error) {
    const std::string message = error.what();
    EXPECT_NE(message.find(file("custom_in_model.pt")), std::string::npos) << message;
    EXPECT_NE(message.find("__main__.Custom"), std::string::npos) << message;
  }
}

TEST_F(PytorchCheckpointFromPython, OurCheckpointsLoadInPythonUnderWeightsOnly) {
  // ClinicaDL calls torch.load(path), whose default is weights_only=True since torch 2.6: only
  // plain containers and tensors may be in the pickle (no TorchScript type tags).
  torch::manual_seed(11);
  Net net;
  const auto path = file("ours.pth.tar");
  save_model_checkpoint(path, net, 4, "Conv5_FC3");
  const auto out = file("ours.txt");
  const std::string command =
      "python3 -c \"import sys, torch; d = torch.load(sys.argv[1], weights_only=True); "
      "print(sorted(d), d['epoch'], d['name'], list(d['model']), "
      "repr(float(sum(t.double().sum() for t in d['model'].values()))))\" '" +
      path + "' > '" + out + "' 2>&1";
  ASSERT_EQ(std::system(command.c_str()), 0) << read_file(out);
  double total = 0.0;
  std::string keys;
  for (const auto& entry : state_dict(net)) {
    total += entry.value().to(torch::kDouble).sum().item<double>();
    keys += std::string(keys.empty() ? "" : ", ") + "'" + entry.key() + "'";
  }
  const auto printed = read_file(out);
  EXPECT_NE(printed.find("['epoch', 'model', 'name'] 4 Conv5_FC3 [" + keys + "]"),
            std::string::npos)
      << printed;
  const auto sum = std::stod(printed.substr(printed.rfind(' ') + 1));
  EXPECT_NEAR(sum, total, 1e-9 * std::max(1.0, std::abs(total))) << printed;
}

TEST_F(PytorchCheckpointFromPython, BigEndianIsRefused) {
  try {
    read_checkpoint_file(file("big_endian.pt"));
    FAIL() << "no error";
  } catch (const DataError& error) {
    EXPECT_NE(std::string(error.what()).find("big-endian"), std::string::npos) << error.what();
  }
}

}  // namespace
}  // namespace cdl::formats

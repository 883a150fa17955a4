// Implementation of the torch.save checkpoint reader: the file read once into memory, its zip
// records checked (zip_records.hpp) and read through LibTorch's PyTorchStreamReader, the pickle
// through our unpickler (unpickler.hpp), then the entries a checkpoint holds.
#include "cdl/formats/pytorch_checkpoint.hpp"

#include <ATen/ATen.h>
#include <c10/util/Exception.h>
#include <caffe2/serialize/in_memory_adapter.h>
#include <caffe2/serialize/inline_container.h>

#include <algorithm>
#include <cctype>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <limits>
#include <memory>
#include <new>
#include <unordered_map>
#include <utility>

#include "cdl/core/atomic_file.hpp"
#include "cdl/core/error.hpp"
#include "unpickler.hpp"
#include "zip_records.hpp"

namespace cdl::formats {
namespace {

using pickle::fail;
using pickle::Kind;
using pickle::Malformed;
using pickle::Object;
using pickle::Ref;
using pickle::Unpickler;
namespace op = pickle::op;

/// The value of the last `key` entry of the dict `dict` (Python keeps the last value).
std::optional<Ref> find_entry(const Unpickler& unpickler, Ref dict, const std::string& key) {
  const auto& items = unpickler.get(dict).items;
  for (size_t i = items.size(); i >= 2; i -= 2) {
    const Object& candidate = unpickler.get(items[i - 2]);
    if (candidate.kind == Kind::text && candidate.text == key) return items[i - 1];
  }
  return std::nullopt;
}

/// True when `dict` is a non-empty dict whose values are all tensors.
bool is_state_dict(const Unpickler& unpickler, Ref dict) {
  const auto& items = unpickler.get(dict).items;
  if (unpickler.get(dict).kind != Kind::dict || items.empty()) return false;
  for (size_t i = 1; i < items.size(); i += 2) {
    if (unpickler.get(items[i]).kind != Kind::tensor) return false;
  }
  return true;
}

/// The first bytes of the file, to tell what it is when it is not a zip archive.
std::string head_of(const std::string& path, size_t count) {
  std::ifstream in(path, std::ios::binary);
  std::string head(count, '\0');
  in.read(head.data(), static_cast<std::streamsize>(count));
  head.resize(static_cast<size_t>(std::max<std::streamsize>(in.gcount(), 0)));
  return head;
}

/// A record of the archive as a 1-D uint8 tensor.
at::Tensor record_bytes(caffe2::serialize::PyTorchStreamReader& reader, const std::string& name) {
  if (!reader.hasRecord(name)) fail("the archive has no record '", name, "'");
  auto record = reader.getRecord(name);
  const size_t size = std::get<1>(record);
  if (size > static_cast<size_t>(std::numeric_limits<int64_t>::max())) {
    fail("record '", name, "' is too large");
  }
  at::Tensor bytes = at::empty({static_cast<int64_t>(size)}, at::kByte);
  if (size > 0) std::memcpy(bytes.data_ptr<uint8_t>(), std::get<0>(record).get(), size);
  return bytes;
}

/// Refuses a checkpoint written on (or a reader running on) a big-endian machine.
void check_byte_order(caffe2::serialize::PyTorchStreamReader& reader) {
  constexpr bool kLittleEndianHost = __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__;
  if (!kLittleEndianHost) fail("this reader runs on little-endian machines only");
  if (!reader.hasRecord("byteorder")) return;
  const at::Tensor order = record_bytes(reader, "byteorder");
  std::string text(reinterpret_cast<const char*>(order.data_ptr<uint8_t>()),
                   static_cast<size_t>(order.numel()));
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) text.pop_back();
  if (text == "big") {
    fail("it was written on a big-endian machine; only little-endian checkpoints are supported");
  }
  if (text != "little") fail("its byteorder record says '", text.substr(0, 32), "'");
}

/// The dict holding the tensors: the root's "model" entry, or the root itself when it is a
/// state dict.
Ref model_dict(const Unpickler& unpickler, Ref root) {
  const auto model_entry = find_entry(unpickler, root, "model");
  if (model_entry && unpickler.get(*model_entry).kind == Kind::dict) return *model_entry;
  if (is_state_dict(unpickler, root)) return root;
  if (model_entry) fail("its 'model' entry is ", unpickler.describe(*model_entry), ", not a dict");
  fail("it has no 'model' entry and is not a state dict (a dict of tensors) either");
}

/// The tensors of the model dict, by name, in file order.
StateDict state_dict_of(const Unpickler& unpickler, Ref model) {
  StateDict state;
  const auto& items = unpickler.get(model).items;
  for (size_t i = 0; i + 1 < items.size(); i += 2) {
    const Object& key = unpickler.get(items[i]);
    if (key.kind != Kind::text) fail("the model has a key that is ", unpickler.describe(items[i]));
    if (unpickler.get(items[i + 1]).kind != Kind::tensor) {
      fail("the model's entry '", key.text, "' is ", unpickler.describe(items[i + 1]),
           ", not a tensor");
    }
    state.insert_or_assign(key.text, unpickler.get(items[i + 1]).tensor);
  }
  return state;
}

/// The root's "epoch" (an int) and "name" (a str) entries, where present and not None.
void read_epoch_and_name(const Unpickler& unpickler, Ref root, CheckpointContent& content) {
  if (const auto epoch = find_entry(unpickler, root, "epoch")) {
    const Object& value = unpickler.get(*epoch);
    if (value.kind == Kind::integer) {
      content.epoch = value.integer;
    } else if (value.kind != Kind::none) {
      fail("its 'epoch' entry is ", unpickler.describe(*epoch), ", not an int");
    }
  }
  if (const auto name = find_entry(unpickler, root, "name")) {
    const Object& value = unpickler.get(*name);
    if (value.kind == Kind::text) {
      content.name = value.text;
    } else if (value.kind != Kind::none) {
      fail("its 'name' entry is ", unpickler.describe(*name), ", not a str");
    }
  }
}

/// Runs the pickle of the torch.save zip archive held in `bytes` and gives its root object to
/// `take` (while the unpickler, which owns the objects, lives).
void read_archive_root(const std::string& bytes,
                       const std::function<void(const Unpickler&, Ref)>& take) {
  caffe2::serialize::PyTorchStreamReader reader(
      std::make_shared<caffe2::serialize::MemoryReadAdapter>(bytes.data(),
                                                             static_cast<off_t>(bytes.size())));
  check_byte_order(reader);
  if (!reader.hasRecord("data.pkl")) {
    fail("the zip archive has no data.pkl record: not a torch.save file");
  }
  const at::Tensor pickle = record_bytes(reader, "data.pkl");
  std::unordered_map<std::string, at::Tensor> storages;  // each record read once
  Unpickler unpickler(pickle.data_ptr<uint8_t>(), static_cast<size_t>(pickle.numel()),
                      [&](const std::string& key) {
                        auto it = storages.find(key);
                        if (it == storages.end()) {
                          it = storages.emplace(key, record_bytes(reader, "data/" + key)).first;
                        }
                        return it->second;
                      });
  take(unpickler, unpickler.run());
}

/// The whole path of a torch.save file: what it is (a regular zip file, not the legacy format),
/// its records checked (CRC-32), its pickle run; every failure a DataError naming the `kind` of
/// file and its path.
void read_torch_save_file(const std::string& path, const char* kind,
                          const std::function<void(const Unpickler&, Ref)>& take) {
  std::error_code error;
  if (!std::filesystem::is_regular_file(path, error)) {
    CDL_THROW(DataError, kind, " '", path, "' ",
              std::filesystem::exists(path, error) ? "is not a regular file" : "does not exist");
  }
  const std::string head = head_of(path, 4);
  if (head != std::string("PK\x03\x04", 4)) {
    if (!head.empty() && static_cast<unsigned char>(head[0]) == op::kProto) {
      CDL_THROW(DataError, kind, " '", path,
                "' is in the legacy (before PyTorch 1.6) torch.save format, which is not "
                "supported\nhint: load it in Python and save it again with torch.save");
    }
    CDL_THROW(DataError, kind, " '", path,
              "' is not a zip archive, so neither a torch.save (PyTorch >= 1.6) nor a "
              "clinicadl-hpc file");
  }
  const std::string bytes = read_text_file(path);
  check_zip_records(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(), path);
  try {
    read_archive_root(bytes, take);
  } catch (const Malformed& malformed) {
    CDL_THROW(DataError, kind, " '", path, "' cannot be read: ", malformed.what());
  } catch (const c10::Error& c10_error) {
    CDL_THROW(DataError, kind, " '", path,
              "' cannot be read: ", c10_error.what_without_backtrace());
  } catch (const std::bad_alloc&) {
    CDL_THROW(DataError, kind, " '", path, "' cannot be read: out of memory");
  }
}

}  // namespace

CheckpointContent read_checkpoint_file(const std::string& path) {
  CheckpointContent content;
  read_torch_save_file(path, "checkpoint", [&](const Unpickler& unpickler, Ref root) {
    if (unpickler.get(root).kind != Kind::dict) {
      fail("it holds ", unpickler.describe(root), ", not a dict");
    }
    const Ref model = model_dict(unpickler, root);
    content.model = state_dict_of(unpickler, model);
    if (model != root) read_epoch_and_name(unpickler, root, content);
  });
  return content;
}

at::Tensor read_tensor_file(const std::string& path) {
  at::Tensor tensor;
  read_torch_save_file(path, "tensor file", [&](const Unpickler& unpickler, Ref root) {
    if (unpickler.get(root).kind != Kind::tensor) {
      fail("it holds ", unpickler.describe(root),
           ", expected a tensor saved with torch.save(tensor)");
    }
    tensor = unpickler.get(root).tensor;
  });
  return tensor;
}

}  // namespace cdl::formats

// The torch objects of a pickle, interpreted by name and never called: typed storages loaded from
// the archive's records, tensors rebuilt from (storage, offset, sizes, strides) within their
// storage, parameters, OrderedDicts and torch.jit._pickle's type tags.
#include "unpickler.hpp"

#include <algorithm>
#include <limits>
#include <map>
#include <utility>

namespace cdl::formats::pickle {

/// The dtype of torch's typed storage class `name` ("FloatStorage"...), if any.
std::optional<at::ScalarType> storage_dtype(const std::string& name) {
  static const std::map<std::string, at::ScalarType> kDtypes = {
      {"FloatStorage", at::kFloat},
      {"DoubleStorage", at::kDouble},
      {"HalfStorage", at::kHalf},
      {"BFloat16Storage", at::kBFloat16},
      {"LongStorage", at::kLong},
      {"IntStorage", at::kInt},
      {"ShortStorage", at::kShort},
      {"CharStorage", at::kChar},
      {"ByteStorage", at::kByte},
      {"BoolStorage", at::kBool},
      {"ComplexFloatStorage", at::kComplexFloat},
      {"ComplexDoubleStorage", at::kComplexDouble}};
  const auto it = kDtypes.find(name);
  if (it == kDtypes.end()) return std::nullopt;
  return it->second;
}

Ref Unpickler::make_global(const std::string& module, const std::string& name) {
  const std::string dotted = module + "." + name;
  std::optional<Callable> callable;
  std::optional<at::ScalarType> dtype;
  if (module == "collections" && name == "OrderedDict") {
    callable = Callable::ordered_dict;
  } else if (module == "torch._utils") {
    if (name == "_rebuild_tensor") callable = Callable::rebuild_tensor;
    if (name == "_rebuild_tensor_v2") callable = Callable::rebuild_tensor_v2;
    if (name == "_rebuild_parameter") callable = Callable::rebuild_parameter;
    if (name == "_rebuild_parameter_with_state") {
      callable = Callable::rebuild_parameter_with_state;
    }
  } else if (module == "torch.jit._pickle") {
    // torch::pickle_save tags dicts and lists with their TorchScript type; a list of ints,
    // floats, bools or tensors may be wrapped in a build_*list call.
    static const char* const kIdentities[] = {"restore_type_tag", "build_intlist",
                                              "build_doublelist", "build_boollist",
                                              "build_tensorlist", "build_genericlist"};
    for (const char* identity : kIdentities) {
      if (name == identity) callable = Callable::first_argument;
    }
  } else if (module == "torch" || module == "torch.cuda") {
    dtype = storage_dtype(name);
    if (dtype) callable = Callable::storage_class;
  }
  if (!callable) return make_text(Kind::opaque, dotted);
  const Ref ref = make_text(Kind::global, dotted);
  objects_[ref].callable = *callable;
  if (dtype) objects_[ref].dtype = *dtype;
  return ref;
}

int64_t Unpickler::expect_integer(Ref ref, const char* what) const {
  if (get(ref).kind != Kind::integer) fail(what, " is ", describe(ref), ", not an int");
  return get(ref).integer;
}

std::vector<int64_t> Unpickler::expect_integers(Ref ref, const char* what) const {
  const Object& object = get(ref);
  if (object.kind != Kind::tuple && object.kind != Kind::list) {
    fail(what, " is ", describe(ref), ", not a tuple of ints");
  }
  if (object.items.size() > kMaxDims) fail(what, " has more than ", kMaxDims, " dimensions");
  std::vector<int64_t> values;
  for (const Ref item : object.items) values.push_back(expect_integer(item, what));
  return values;
}

at::Tensor Unpickler::rebuild_tensor(const std::vector<Ref>& args) {
  const Object& storage = get(args[0]);
  if (storage.kind != Kind::storage) fail("a tensor is rebuilt from ", describe(args[0]));
  const int64_t offset = expect_integer(args[1], "a tensor's storage offset");
  const auto sizes = expect_integers(args[2], "a tensor's size");
  const auto strides = expect_integers(args[3], "a tensor's stride");
  if (sizes.size() != strides.size()) {
    fail("a tensor has ", sizes.size(), " sizes but ", strides.size(), " strides");
  }
  const int64_t capacity = storage.tensor.numel();
  if (offset < 0) fail("a tensor has the negative storage offset ", offset);
  // The last element reached is offset + sum((size - 1) * stride); computed without overflow.
  int64_t numel = 1, last = offset;
  for (size_t d = 0; d < sizes.size(); ++d) {
    if (sizes[d] < 0 || strides[d] < 0) {
      fail("a tensor has a negative size or stride (", sizes[d], ", ", strides[d], ")");
    }
    if (__builtin_mul_overflow(numel, sizes[d], &numel)) fail("a tensor's size overflows");
  }
  if (numel > 0) {
    for (size_t d = 0; d < sizes.size(); ++d) {
      int64_t reach = 0;
      if (__builtin_mul_overflow(sizes[d] - 1, strides[d], &reach) ||
          __builtin_add_overflow(last, reach, &last)) {
        fail("a tensor's extent overflows");
      }
    }
    if (last >= capacity) {
      fail("a tensor of size ", c10::IntArrayRef(sizes), ", stride ", c10::IntArrayRef(strides),
           " and offset ", offset, " reaches element ", last, " of a storage of ", capacity);
    }
  } else if (offset > capacity) {
    fail("an empty tensor has the storage offset ", offset, ", beyond its storage of ", capacity);
  }
  if (numel > capacity) {
    if (__builtin_add_overflow(expanded_elements_, numel, &expanded_elements_) ||
        expanded_elements_ > kMaxExpandedElements) {
      fail("a tensor of ", numel, " elements repeats those of a storage of ", capacity,
           " (stride 0), beyond the ", kMaxExpandedElements,
           " elements accepted for such tensors in one file");
    }
  }
  at::Tensor view = storage.tensor.as_strided(sizes, strides, offset);
  if (offset == 0 && numel == capacity && view.is_contiguous()) return view;
  return view.clone(at::MemoryFormat::Contiguous);
}

void Unpickler::check_tensor_metadata(Ref ref) const {
  const Object& metadata = get(ref);
  if (metadata.kind == Kind::none) return;
  if (metadata.kind != Kind::dict) fail("a tensor's metadata is ", describe(ref));
  for (size_t i = 1; i < metadata.items.size(); i += 2) {
    const Object& value = get(metadata.items[i]);
    if (value.kind == Kind::boolean && value.integer == 0) continue;
    fail("a tensor has metadata (", get(metadata.items[i - 1]).text,
         ") the reader does not support");
  }
}

Ref Unpickler::make_tensor(at::Tensor tensor) {
  const Ref ref = make(Kind::tensor);
  objects_[ref].tensor = std::move(tensor);
  return ref;
}

Ref Unpickler::make_ordered_dict(const std::vector<Ref>& args) {
  const Ref dict = make(Kind::dict);
  if (args.empty()) return dict;
  const Object& pairs = get(args[0]);
  if (pairs.kind != Kind::list && pairs.kind != Kind::tuple) {
    fail("OrderedDict is built from ", describe(args[0]));
  }
  std::vector<Ref> items;
  for (const Ref pair_ref : pairs.items) {
    const Object& pair = get(pair_ref);
    if ((pair.kind != Kind::tuple && pair.kind != Kind::list) || pair.items.size() != 2) {
      fail("OrderedDict is built from ", describe(pair_ref), " instead of a pair");
    }
    items.push_back(pair.items[0]);
    items.push_back(pair.items[1]);
  }
  objects_[dict].items = std::move(items);
  return dict;
}

Ref Unpickler::rebuild_parameter(Ref data) {
  if (get(data).kind != Kind::tensor) fail("a Parameter is rebuilt from ", describe(data));
  return make_tensor(get(data).tensor);
}

Ref Unpickler::call(Ref callable_ref, Ref args_ref) {
  // Copies, not references: make() may move the arena.
  const Object callable = get(callable_ref);
  if (callable.kind == Kind::opaque) return make_text(Kind::opaque, callable.text);
  if (callable.kind != Kind::global) fail("the pickle calls ", describe(callable_ref));
  const Object& arguments = get(args_ref);
  if (arguments.kind != Kind::tuple) {
    fail("the arguments of ", callable.text, " are ", describe(args_ref), ", not a tuple");
  }
  const std::vector<Ref> args = arguments.items;
  const auto arity = [&](size_t low, size_t high) {
    if (args.size() < low || args.size() > high) {
      fail(callable.text, " is called with ", args.size(), " arguments");
    }
  };
  switch (callable.callable) {
    case Callable::ordered_dict:
      arity(0, 1);
      return make_ordered_dict(args);
    case Callable::rebuild_tensor:
      // (storage, storage_offset, size, stride)
      arity(4, 4);
      return make_tensor(rebuild_tensor(args));
    case Callable::rebuild_tensor_v2:
      // (storage, storage_offset, size, stride, requires_grad, backward_hooks[, metadata])
      arity(6, 7);
      if (args.size() == 7) check_tensor_metadata(args[6]);
      return make_tensor(rebuild_tensor(args));
    case Callable::rebuild_parameter:  // (data, requires_grad, backward_hooks)
      arity(3, 3);
      return rebuild_parameter(args[0]);
    case Callable::rebuild_parameter_with_state:  // (data, requires_grad, backward_hooks, state)
      arity(4, 4);
      return rebuild_parameter(args[0]);
    case Callable::first_argument:
      arity(1, 2);
      return args[0];
    case Callable::storage_class:
      fail("the pickle instantiates ", callable.text, " directly");
  }
  fail("the pickle calls ", callable.text);
}

Ref Unpickler::load_persistent(Ref pid_ref) {
  const Object& pid = get(pid_ref);
  if (pid.kind != Kind::tuple || pid.items.size() != 5 || get(pid.items[0]).kind != Kind::text ||
      get(pid.items[0]).text != "storage") {
    fail("unsupported persistent id (", describe(pid_ref),
         "): only ('storage', class, key, location, numel) is known");
  }
  const Ref class_ref = pid.items[1], key_ref = pid.items[2];
  const Object& storage_class = get(class_ref);
  if (storage_class.kind != Kind::global || storage_class.callable != Callable::storage_class) {
    if (storage_class.kind == Kind::opaque) {
      fail("a storage of the unsupported type ", storage_class.text,
           " (supported: float32/64, float16, bfloat16, int8/16/32/64, uint8, bool, complex)");
    }
    fail("a storage's type is ", describe(class_ref));
  }
  const Object& key = get(key_ref);
  if (key.kind != Kind::text || key.text.empty() || key.text.size() > kMaxNameLength) {
    fail("a storage's key is ", describe(key_ref));
  }
  const int64_t numel = expect_integer(pid.items[4], "a storage's element count");
  const at::ScalarType dtype = storage_class.dtype;
  const std::string key_text = key.text;
  const at::Tensor bytes = loader_(key_text);
  const int64_t item_size = static_cast<int64_t>(c10::elementSize(dtype));
  int64_t needed = 0;
  if (numel < 0 || __builtin_mul_overflow(numel, item_size, &needed) || needed > bytes.numel()) {
    fail("storage '", key_text, "' should hold ", numel, " elements of ", item_size,
         " bytes, its record has ", bytes.numel(), " bytes");
  }
  at::Tensor elements = bytes.narrow(0, 0, needed).view(dtype);
  if (dtype == at::kBool) {
    const auto* raw = bytes.data_ptr<uint8_t>();
    for (int64_t i = 0; i < needed; ++i) {
      if (raw[i] > 1) fail("bool storage '", key_text, "' holds the byte ", int{raw[i]});
    }
  }
  const Ref ref = make(Kind::storage);
  objects_[ref].dtype = dtype;
  objects_[ref].text = key_text;
  objects_[ref].tensor = std::move(elements);
  return ref;
}

}  // namespace cdl::formats::pickle

// Implementation of the torch.save checkpoint reader: zip records through LibTorch's
// PyTorchStreamReader, the pickle through a small unpickler of our own.
//
// The unpickler keeps every object it builds in one arena (a vector) and refers to them by index:
// memo references, shared and even cyclic structures cost nothing, and freeing never recurses, so
// no pickle, however nested, can exhaust the stack. Classes and functions are never called: the
// few that torch.save and torch::pickle_save use (collections.OrderedDict,
// torch._utils._rebuild_tensor_v2, the typed storage classes, torch.jit._pickle's type tags...) are
// recognised by name and interpreted; any other one becomes an opaque value, which is an error
// only where the reader needs that value.
#include "cdl/train/pytorch_checkpoint.hpp"

#include <ATen/ATen.h>
#include <c10/util/Exception.h>
#include <caffe2/serialize/inline_container.h>

#include <algorithm>
#include <cctype>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <limits>
#include <map>
#include <new>
#include <stdexcept>
#include <unordered_map>
#include <utility>
#include <vector>

#include "cdl/core/error.hpp"

namespace cdl::train {
namespace {

/// A malformed or unsupported file; read_checkpoint_file turns it into a DataError naming the file.
struct Malformed : std::runtime_error {
  using std::runtime_error::runtime_error;
};

template <typename... Args>
[[noreturn]] void fail(const Args&... args) {
  throw Malformed(detail::concat(args...));
}

/// At most this many objects per pickle (about 20 per tensor of a state dict).
constexpr size_t kMaxObjects = size_t{1} << 21;
/// A tensor with more elements than its storage (stride 0: an expanded tensor) is expanded only up
/// to this many elements: a few bytes of file must not ask for gigabytes.
constexpr int64_t kMaxExpandedElements = int64_t{1} << 24;
/// At most this many dimensions per tensor.
constexpr size_t kMaxDims = 64;
/// Longest accepted "module name" of a GLOBAL opcode, and storage key.
constexpr size_t kMaxNameLength = 256;

// Pickle opcodes (Python's Lib/pickletools.py documents them all).
namespace op {
constexpr uint8_t kMark = '(';
constexpr uint8_t kStop = '.';
constexpr uint8_t kPop = '0';
constexpr uint8_t kPopMark = '1';
constexpr uint8_t kDup = '2';
constexpr uint8_t kBinInt = 'J';
constexpr uint8_t kBinInt1 = 'K';
constexpr uint8_t kBinInt2 = 'M';
constexpr uint8_t kNone = 'N';
constexpr uint8_t kBinPersId = 'Q';
constexpr uint8_t kReduce = 'R';
constexpr uint8_t kBinString = 'T';
constexpr uint8_t kShortBinString = 'U';
constexpr uint8_t kBinUnicode = 'X';
constexpr uint8_t kAppend = 'a';
constexpr uint8_t kBuild = 'b';
constexpr uint8_t kGlobal = 'c';
constexpr uint8_t kDict = 'd';
constexpr uint8_t kEmptyDict = '}';
constexpr uint8_t kAppends = 'e';
constexpr uint8_t kBinGet = 'h';
constexpr uint8_t kLongBinGet = 'j';
constexpr uint8_t kList = 'l';
constexpr uint8_t kEmptyList = ']';
constexpr uint8_t kBinPut = 'q';
constexpr uint8_t kLongBinPut = 'r';
constexpr uint8_t kSetItem = 's';
constexpr uint8_t kTuple = 't';
constexpr uint8_t kEmptyTuple = ')';
constexpr uint8_t kSetItems = 'u';
constexpr uint8_t kBinFloat = 'G';
constexpr uint8_t kBinBytes = 'B';
constexpr uint8_t kShortBinBytes = 'C';
constexpr uint8_t kProto = 0x80;
constexpr uint8_t kNewObj = 0x81;
constexpr uint8_t kTuple1 = 0x85;
constexpr uint8_t kTuple2 = 0x86;
constexpr uint8_t kTuple3 = 0x87;
constexpr uint8_t kNewTrue = 0x88;
constexpr uint8_t kNewFalse = 0x89;
constexpr uint8_t kLong1 = 0x8a;
constexpr uint8_t kLong4 = 0x8b;
constexpr uint8_t kShortBinUnicode = 0x8c;
constexpr uint8_t kBinUnicode8 = 0x8d;
constexpr uint8_t kBinBytes8 = 0x8e;
constexpr uint8_t kEmptySet = 0x8f;
constexpr uint8_t kAddItems = 0x90;
constexpr uint8_t kFrozenSet = 0x91;
constexpr uint8_t kStackGlobal = 0x93;
constexpr uint8_t kMemoize = 0x94;
constexpr uint8_t kFrame = 0x95;
}  // namespace op

/// "0x4f ('O')": how an opcode is named in error messages.
std::string hex_byte(uint8_t code) {
  constexpr char kDigits[] = "0123456789abcdef";
  std::string text = {'0', 'x', kDigits[code >> 4], kDigits[code & 15]};
  if (code >= 0x20 && code < 0x7f) text += std::string(" ('") + static_cast<char>(code) + "')";
  return text;
}

/// Index of an object in the unpickler's arena.
using Ref = size_t;

enum class Kind : uint8_t {
  none,
  boolean,
  integer,
  real,
  text,
  bytes,
  tuple,
  list,  // also sets and frozensets
  dict,
  global,   // a class or function the reader knows
  opaque,   // a class or function it does not know, or what calling one gave
  storage,  // a typed storage, from a persistent id
  tensor,
};

/// The classes and functions the reader interprets.
enum class Callable : uint8_t {
  ordered_dict,
  rebuild_tensor,
  rebuild_tensor_v2,
  rebuild_parameter,
  rebuild_parameter_with_state,
  storage_class,
  first_argument,  // torch.jit._pickle's restore_type_tag(value, type) and build_*list(list)
};

struct Object {
  Kind kind = Kind::none;
  Callable callable = Callable::ordered_dict;  // Kind::global
  at::ScalarType dtype = at::kByte;            // storage classes and storages
  int64_t integer = 0;                         // boolean, integer
  double real = 0;                             // real
  std::string text;        // text, bytes; the dotted name of a global or opaque value
  std::vector<Ref> items;  // tuple, list; a dict's keys and values, interleaved, in file order
  at::Tensor tensor;       // tensor; a storage's elements (1-D)
};

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

/// Gives the bytes of the storage record `key` (a 1-D uint8 tensor).
using StorageLoader = std::function<at::Tensor(const std::string& key)>;

/// The unpickler: run() interprets the whole pickle and returns its result.
class Unpickler {
 public:
  Unpickler(const uint8_t* data, size_t size, StorageLoader loader)
      : data_(data), size_(size), loader_(std::move(loader)) {}

  /// Interprets the pickle up to its STOP opcode; returns the pickled object.
  Ref run() {
    while (!execute(read_u8())) {
    }
    if (stack_.size() != 1 || !marks_.empty()) {
      fail("the pickle ends with ", stack_.size(), " objects and ", marks_.size(),
           " marks on its stack instead of one object");
    }
    return stack_.back();
  }

  const Object& get(Ref ref) const { return objects_[ref]; }

  /// How `ref` is named in error messages.
  std::string describe(Ref ref) const {
    const Object& object = objects_[ref];
    switch (object.kind) {
      case Kind::none:
        return "None";
      case Kind::boolean:
        return "a bool";
      case Kind::integer:
        return "an int";
      case Kind::real:
        return "a float";
      case Kind::text:
        return "a str";
      case Kind::bytes:
        return "a bytes object";
      case Kind::tuple:
        return "a tuple";
      case Kind::list:
        return "a list";
      case Kind::dict:
        return "a dict";
      case Kind::global:
        return "the class or function " + object.text;
      case Kind::opaque:
        return "an object of the unsupported class or function " + object.text;
      case Kind::storage:
        return "a storage";
      case Kind::tensor:
        return "a tensor";
    }
    return "?";
  }

 private:
  // --- reading the pickle's bytes ---------------------------------------------------------------

  void need(size_t count) const {
    if (count > size_ - position_) {
      fail("the pickle is truncated (", count, " more bytes needed at byte ", position_, " of ",
           size_, ")");
    }
  }
  uint8_t read_u8() {
    need(1);
    return data_[position_++];
  }
  /// An unsigned little-endian integer of `count` <= 8 bytes.
  uint64_t read_le(size_t count) {
    need(count);
    uint64_t value = 0;
    for (size_t i = 0; i < count; ++i) value |= uint64_t{data_[position_ + i]} << (8 * i);
    position_ += count;
    return value;
  }
  std::string read_string(uint64_t count) {
    if (count > size_ - position_) {
      fail("the pickle is truncated (a string of ", count, " bytes at byte ", position_, " of ",
           size_, ")");
    }
    std::string text(reinterpret_cast<const char*>(data_ + position_), count);
    position_ += count;
    return text;
  }
  /// A newline-terminated line of at most kMaxNameLength bytes (GLOBAL's arguments).
  std::string read_line() {
    std::string line;
    while (true) {
      const char c = static_cast<char>(read_u8());
      if (c == '\n') return line;
      if (line.size() == kMaxNameLength) fail("a GLOBAL name is longer than ", kMaxNameLength);
      line.push_back(c);
    }
  }

  // --- objects, stack and memo ------------------------------------------------------------------

  Ref make(Kind kind) {
    if (objects_.size() >= kMaxObjects)
      fail("the pickle holds more than ", kMaxObjects, " objects");
    objects_.emplace_back();
    objects_.back().kind = kind;
    return objects_.size() - 1;
  }
  Ref make_integer(int64_t value) {
    const Ref ref = make(Kind::integer);
    objects_[ref].integer = value;
    return ref;
  }
  Ref make_text(Kind kind, std::string text) {
    const Ref ref = make(kind);
    objects_[ref].text = std::move(text);
    return ref;
  }
  Ref make_sequence(Kind kind, std::vector<Ref> items) {
    const Ref ref = make(kind);
    objects_[ref].items = std::move(items);
    return ref;
  }

  void push(Ref ref) { stack_.push_back(ref); }
  Ref pop() {
    if (stack_.size() <= (marks_.empty() ? 0 : marks_.back())) {
      fail("pickle stack underflow at byte ", position_);
    }
    const Ref ref = stack_.back();
    stack_.pop_back();
    return ref;
  }
  Ref top() const {
    if (stack_.size() <= (marks_.empty() ? 0 : marks_.back())) {
      fail("pickle stack underflow at byte ", position_);
    }
    return stack_.back();
  }
  /// The objects pushed since the last MARK, which is removed with them.
  std::vector<Ref> pop_mark() {
    if (marks_.empty())
      fail("a pickle opcode at byte ", position_, " needs a MARK that is missing");
    const size_t mark = marks_.back();
    marks_.pop_back();
    std::vector<Ref> items(stack_.begin() + static_cast<std::ptrdiff_t>(mark), stack_.end());
    stack_.resize(mark);
    return items;
  }
  void memo_put(uint64_t index) {
    if (stack_.empty()) fail("pickle memo store with an empty stack at byte ", position_);
    memo_[index] = stack_.back();
  }
  void memo_get(uint64_t index) {
    const auto it = memo_.find(index);
    if (it == memo_.end()) fail("the pickle refers to memo entry ", index, ", never stored");
    push(it->second);
  }

  // --- containers -------------------------------------------------------------------------------

  void append_to(Ref target, const std::vector<Ref>& items) {
    Object& object = objects_[target];
    if (object.kind == Kind::opaque) return;  // the items of an object we do not interpret
    if (object.kind != Kind::list) fail("APPEND(S) to ", describe(target));
    object.items.insert(object.items.end(), items.begin(), items.end());
  }
  void set_items(Ref target, const std::vector<Ref>& items) {
    if (items.size() % 2 != 0) fail("SETITEMS with an odd number of objects");
    Object& object = objects_[target];
    if (object.kind == Kind::opaque) return;
    if (object.kind != Kind::dict) fail("SETITEM(S) on ", describe(target));
    // Python keeps the first position and the last value of a repeated key; the lookups below do
    // the same by searching from the end.
    object.items.insert(object.items.end(), items.begin(), items.end());
  }

  // --- globals and calls ------------------------------------------------------------------------

  Ref make_global(const std::string& module, const std::string& name) {
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

  int64_t expect_integer(Ref ref, const char* what) const {
    if (get(ref).kind != Kind::integer) fail(what, " is ", describe(ref), ", not an int");
    return get(ref).integer;
  }

  std::vector<int64_t> expect_integers(Ref ref, const char* what) const {
    const Object& object = get(ref);
    if (object.kind != Kind::tuple && object.kind != Kind::list) {
      fail(what, " is ", describe(ref), ", not a tuple of ints");
    }
    if (object.items.size() > kMaxDims) fail(what, " has more than ", kMaxDims, " dimensions");
    std::vector<int64_t> values;
    for (const Ref item : object.items) values.push_back(expect_integer(item, what));
    return values;
  }

  /// Rebuilds a tensor from (storage, storage offset, sizes, strides): checks that every element
  /// lies inside the storage, returns a contiguous tensor.
  at::Tensor rebuild_tensor(const std::vector<Ref>& args) {
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
    if (numel > capacity && numel > kMaxExpandedElements) {
      fail("a tensor of ", numel, " elements repeats those of a storage of ", capacity,
           " (stride 0), beyond the ", kMaxExpandedElements, " elements accepted");
    }
    at::Tensor view = storage.tensor.as_strided(sizes, strides, offset);
    if (offset == 0 && numel == capacity && view.is_contiguous()) return view;
    return view.clone(at::MemoryFormat::Contiguous);
  }

  /// Torch's math bits (conjugate, negative) must all be off: real tensors never have them.
  void check_tensor_metadata(Ref ref) const {
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

  Ref make_tensor(at::Tensor tensor) {
    const Ref ref = make(Kind::tensor);
    objects_[ref].tensor = std::move(tensor);
    return ref;
  }

  /// REDUCE and NEWOBJ: `callable(*args)`.
  Ref call(Ref callable_ref, Ref args_ref) {
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
      case Callable::ordered_dict: {
        arity(0, 1);
        const Ref dict = make(Kind::dict);
        if (args.empty()) return dict;
        // OrderedDict(iterable of (key, value) pairs)
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
      case Callable::rebuild_tensor:
        // (storage, storage_offset, size, stride)
        arity(4, 4);
        return make_tensor(rebuild_tensor(args));
      case Callable::rebuild_tensor_v2:
        // (storage, storage_offset, size, stride, requires_grad, backward_hooks[, metadata])
        arity(6, 7);
        if (args.size() == 7) check_tensor_metadata(args[6]);
        return make_tensor(rebuild_tensor(args));
      case Callable::rebuild_parameter:
      case Callable::rebuild_parameter_with_state: {
        // (data, requires_grad, backward_hooks[, state])
        arity(callable.callable == Callable::rebuild_parameter ? 3 : 4,
              callable.callable == Callable::rebuild_parameter ? 3 : 4);
        if (get(args[0]).kind != Kind::tensor) {
          fail("a Parameter is rebuilt from ", describe(args[0]));
        }
        return make_tensor(get(args[0]).tensor);
      }
      case Callable::first_argument:
        arity(1, 2);
        return args[0];
      case Callable::storage_class:
        fail("the pickle instantiates ", callable.text, " directly");
    }
    fail("the pickle calls ", callable.text);
  }

  /// BINPERSID: a storage named by ('storage', storage class, key, location, numel).
  Ref load_persistent(Ref pid_ref) {
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

  // --- the interpreter --------------------------------------------------------------------------

  /// Executes one opcode; true at STOP.
  bool execute(uint8_t code) {
    switch (code) {
      case op::kProto: {
        const uint8_t version = read_u8();
        if (version > 5) fail("pickle protocol ", int{version}, " is not supported");
        return false;
      }
      case op::kFrame:
        read_le(8);  // a framing hint only
        return false;
      case op::kStop:
        return true;
      case op::kMark:
        marks_.push_back(stack_.size());
        return false;
      case op::kPop:  // as Python's pickle: a MARK with nothing above it is popped itself
        if (!marks_.empty() && stack_.size() == marks_.back()) {
          pop_mark();
        } else {
          pop();
        }
        return false;
      case op::kPopMark:
        pop_mark();
        return false;
      case op::kDup:
        push(top());
        return false;
      case op::kNone:
        push(make(Kind::none));
        return false;
      case op::kNewTrue:
      case op::kNewFalse: {
        const Ref ref = make(Kind::boolean);
        objects_[ref].integer = code == op::kNewTrue ? 1 : 0;
        push(ref);
        return false;
      }
      case op::kBinInt:
        push(make_integer(static_cast<int32_t>(static_cast<uint32_t>(read_le(4)))));
        return false;
      case op::kBinInt1:
        push(make_integer(static_cast<int64_t>(read_le(1))));
        return false;
      case op::kBinInt2:
        push(make_integer(static_cast<int64_t>(read_le(2))));
        return false;
      case op::kLong1:
      case op::kLong4: {
        const uint64_t count = read_le(code == op::kLong1 ? 1 : 4);
        if (count > 8) fail("an integer of ", count, " bytes does not fit in 64 bits");
        uint64_t value = read_le(count);
        if (count > 0 && count < 8 && (value >> (8 * count - 1)) != 0) {
          value |= ~uint64_t{0} << (8 * count);  // sign extension
        }
        push(make_integer(static_cast<int64_t>(value)));
        return false;
      }
      case op::kBinFloat: {
        need(8);
        uint64_t bits = 0;
        for (size_t i = 0; i < 8; ++i) bits = (bits << 8) | data_[position_ + i];  // big-endian
        position_ += 8;
        const Ref ref = make(Kind::real);
        std::memcpy(&objects_[ref].real, &bits, sizeof bits);
        push(ref);
        return false;
      }
      case op::kBinUnicode:
      case op::kBinString:
        push(make_text(Kind::text, read_string(read_le(4))));
        return false;
      case op::kShortBinUnicode:
      case op::kShortBinString:
        push(make_text(Kind::text, read_string(read_le(1))));
        return false;
      case op::kBinUnicode8:
        push(make_text(Kind::text, read_string(read_le(8))));
        return false;
      case op::kShortBinBytes:
        push(make_text(Kind::bytes, read_string(read_le(1))));
        return false;
      case op::kBinBytes:
        push(make_text(Kind::bytes, read_string(read_le(4))));
        return false;
      case op::kBinBytes8:
        push(make_text(Kind::bytes, read_string(read_le(8))));
        return false;
      case op::kEmptyDict:
        push(make(Kind::dict));
        return false;
      case op::kEmptyList:
      case op::kEmptySet:
        push(make(Kind::list));
        return false;
      case op::kEmptyTuple:
        push(make(Kind::tuple));
        return false;
      case op::kTuple:
        push(make_sequence(Kind::tuple, pop_mark()));
        return false;
      case op::kTuple1:
      case op::kTuple2:
      case op::kTuple3: {
        std::vector<Ref> items(code - op::kTuple1 + 1);
        for (auto it = items.rbegin(); it != items.rend(); ++it) *it = pop();
        push(make_sequence(Kind::tuple, std::move(items)));
        return false;
      }
      case op::kList:
      case op::kFrozenSet:
        push(make_sequence(Kind::list, pop_mark()));
        return false;
      case op::kDict: {
        auto items = pop_mark();
        const Ref dict = make(Kind::dict);
        set_items(dict, items);
        push(dict);
        return false;
      }
      case op::kAppend: {
        const Ref item = pop();
        append_to(top(), {item});
        return false;
      }
      case op::kAppends:
      case op::kAddItems: {
        auto items = pop_mark();
        append_to(top(), items);
        return false;
      }
      case op::kSetItem: {
        const Ref value = pop();
        const Ref key = pop();
        set_items(top(), {key, value});
        return false;
      }
      case op::kSetItems: {
        auto items = pop_mark();
        set_items(top(), items);
        return false;
      }
      case op::kBinPut:
        memo_put(read_le(1));
        return false;
      case op::kLongBinPut:
        memo_put(read_le(4));
        return false;
      case op::kMemoize:
        memo_put(memo_.size());
        return false;
      case op::kBinGet:
        memo_get(read_le(1));
        return false;
      case op::kLongBinGet:
        memo_get(read_le(4));
        return false;
      case op::kGlobal: {
        const std::string module = read_line();
        const std::string name = read_line();
        push(make_global(module, name));
        return false;
      }
      case op::kStackGlobal: {
        const Ref name = pop();
        const Ref module = pop();
        if (get(module).kind != Kind::text || get(name).kind != Kind::text) {
          fail("STACK_GLOBAL on ", describe(module), " and ", describe(name));
        }
        if (get(module).text.size() > kMaxNameLength || get(name).text.size() > kMaxNameLength) {
          fail("a STACK_GLOBAL name is longer than ", kMaxNameLength);
        }
        push(make_global(get(module).text, get(name).text));
        return false;
      }
      case op::kReduce:
      case op::kNewObj: {
        const Ref args = pop();
        const Ref callable = pop();
        push(call(callable, args));
        return false;
      }
      case op::kBuild: {
        const Ref state = pop();
        const Ref target = top();
        const Kind kind = get(target).kind;
        // An OrderedDict's state is its attributes (a state dict's _metadata: versions of the
        // modules), of no use here; opaque objects are not interpreted.
        if (kind != Kind::dict && kind != Kind::opaque) {
          fail("BUILD on ", describe(target), " with ", describe(state));
        }
        return false;
      }
      case op::kBinPersId:
        push(load_persistent(pop()));
        return false;
      default:
        fail("unsupported pickle opcode ", hex_byte(code), " at byte ", position_ - 1);
    }
  }

  const uint8_t* data_;
  size_t size_;
  size_t position_ = 0;
  StorageLoader loader_;
  std::vector<Object> objects_;
  std::vector<Ref> stack_;
  std::vector<size_t> marks_;
  std::unordered_map<uint64_t, Ref> memo_;
};

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

CheckpointContent read_zip_checkpoint(const std::string& path) {
  constexpr bool kLittleEndianHost = __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__;
  if (!kLittleEndianHost) fail("this reader runs on little-endian machines only");
  caffe2::serialize::PyTorchStreamReader reader(path);
  if (reader.hasRecord("byteorder")) {
    const at::Tensor order = record_bytes(reader, "byteorder");
    std::string text(reinterpret_cast<const char*>(order.data_ptr<uint8_t>()),
                     static_cast<size_t>(order.numel()));
    while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) text.pop_back();
    if (text == "big") {
      fail("it was written on a big-endian machine; only little-endian checkpoints are supported");
    }
    if (text != "little") fail("its byteorder record says '", text.substr(0, 32), "'");
  }
  if (!reader.hasRecord("data.pkl")) {
    fail("the zip archive has no data.pkl record: not a torch.save file");
  }
  const at::Tensor pickle = record_bytes(reader, "data.pkl");
  std::unordered_map<std::string, at::Tensor> storages;
  Unpickler unpickler(pickle.data_ptr<uint8_t>(), static_cast<size_t>(pickle.numel()),
                      [&](const std::string& key) {
                        auto it = storages.find(key);
                        if (it == storages.end()) {
                          it = storages.emplace(key, record_bytes(reader, "data/" + key)).first;
                        }
                        return it->second;
                      });
  const Ref root = unpickler.run();
  if (unpickler.get(root).kind != Kind::dict) {
    fail("it holds ", unpickler.describe(root), ", not a dict");
  }
  CheckpointContent content;
  Ref model = root;
  const auto model_entry = find_entry(unpickler, root, "model");
  if (model_entry && unpickler.get(*model_entry).kind == Kind::dict) {
    model = *model_entry;
  } else if (!is_state_dict(unpickler, root)) {
    if (model_entry)
      fail("its 'model' entry is ", unpickler.describe(*model_entry), ", not a dict");
    fail("it has no 'model' entry and is not a state dict (a dict of tensors) either");
  }
  const auto& items = unpickler.get(model).items;
  for (size_t i = 0; i + 1 < items.size(); i += 2) {
    const Object& key = unpickler.get(items[i]);
    if (key.kind != Kind::text) fail("the model has a key that is ", unpickler.describe(items[i]));
    if (unpickler.get(items[i + 1]).kind != Kind::tensor) {
      fail("the model's entry '", key.text, "' is ", unpickler.describe(items[i + 1]),
           ", not a tensor");
    }
    content.model.insert_or_assign(key.text, unpickler.get(items[i + 1]).tensor);
  }
  if (model != root) {
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
  return content;
}

}  // namespace

CheckpointContent read_checkpoint_file(const std::string& path) {
  std::error_code error;
  if (!std::filesystem::is_regular_file(path, error)) {
    CDL_THROW(DataError, "checkpoint '", path, "' ",
              std::filesystem::exists(path, error) ? "is not a regular file" : "does not exist");
  }
  const std::string head = head_of(path, 4);
  if (head != std::string("PK\x03\x04", 4)) {
    if (!head.empty() && static_cast<unsigned char>(head[0]) == op::kProto) {
      CDL_THROW(DataError, "checkpoint '", path,
                "' is in the legacy (before PyTorch 1.6) torch.save format, which is not "
                "supported\nhint: load it in Python and save it again with torch.save");
    }
    CDL_THROW(DataError, "checkpoint '", path,
              "' is not a zip archive, so neither a torch.save (PyTorch >= 1.6) nor a "
              "clinicadl-hpc checkpoint");
  }
  try {
    return read_zip_checkpoint(path);
  } catch (const Malformed& malformed) {
    CDL_THROW(DataError, "checkpoint '", path, "' cannot be read: ", malformed.what());
  } catch (const c10::Error& c10_error) {
    CDL_THROW(DataError, "checkpoint '", path,
              "' cannot be read: ", c10_error.what_without_backtrace());
  } catch (const std::bad_alloc&) {
    CDL_THROW(DataError, "checkpoint '", path, "' cannot be read: out of memory");
  }
}

}  // namespace cdl::train

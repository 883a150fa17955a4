// The unpickler of the torch.save reader (private to formats/): interprets the pickle of a
// checkpoint without executing anything. It keeps every object it builds in one arena (a vector)
// and refers to them by index: memo references, shared and even cyclic structures cost nothing,
// and freeing never recurses, so no pickle, however nested, can exhaust the stack. Classes and
// functions are never called: the few that torch.save and torch::pickle_save use
// (collections.OrderedDict, torch._utils._rebuild_tensor_v2, the typed storage classes,
// torch.jit._pickle's type tags...) are recognised by name and interpreted (pickled_torch.cpp);
// any other one becomes an opaque value, which is an error only where the reader needs it.
#pragma once

#include <ATen/ATen.h>

#include <cstdint>
#include <functional>
#include <optional>
#include <stdexcept>
#include <string>
#include <unordered_map>
#include <vector>

#include "cdl/core/error.hpp"

namespace cdl::formats::pickle {

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
/// Tensors with more elements than their storage (stride 0: expanded tensors) are expanded only up
/// to this many elements in all, per file: a few bytes of file must not ask for gigabytes, whether
/// through one tensor or thousands.
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
std::string hex_byte(uint8_t code);

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
std::optional<at::ScalarType> storage_dtype(const std::string& name);

/// Gives the bytes of the storage record `key` (a 1-D uint8 tensor).
using StorageLoader = std::function<at::Tensor(const std::string& key)>;

/// The unpickler: run() interprets the whole pickle and returns its result.
class Unpickler {
 public:
  Unpickler(const uint8_t* data, size_t size, StorageLoader loader)
      : data_(data), size_(size), loader_(std::move(loader)) {}

  /// Interprets the pickle up to its STOP opcode; returns the pickled object.
  Ref run();

  const Object& get(Ref ref) const { return objects_[ref]; }

  /// How `ref` is named in error messages.
  std::string describe(Ref ref) const;

 private:
  // --- reading the pickle's bytes ---------------------------------------------------------------

  void need(size_t count) const;
  uint8_t read_u8();
  /// An unsigned little-endian integer of `count` <= 8 bytes.
  uint64_t read_le(size_t count);
  std::string read_string(uint64_t count);
  /// A newline-terminated line of at most kMaxNameLength bytes (GLOBAL's arguments).
  std::string read_line();

  // --- objects, stack and memo ------------------------------------------------------------------

  Ref make(Kind kind);
  Ref make_integer(int64_t value);
  Ref make_text(Kind kind, std::string text);
  Ref make_sequence(Kind kind, std::vector<Ref> items);

  void push(Ref ref) { stack_.push_back(ref); }
  Ref pop();
  Ref top() const;
  /// The objects pushed since the last MARK, which is removed with them.
  std::vector<Ref> pop_mark();
  void memo_put(uint64_t index);
  void memo_get(uint64_t index);

  // --- containers -------------------------------------------------------------------------------

  void append_to(Ref target, const std::vector<Ref>& items);
  void set_items(Ref target, const std::vector<Ref>& items);

  // --- globals and calls ------------------------------------------------------------------------

  Ref make_global(const std::string& module, const std::string& name);

  int64_t expect_integer(Ref ref, const char* what) const;

  std::vector<int64_t> expect_integers(Ref ref, const char* what) const;

  /// Rebuilds a tensor from (storage, storage offset, sizes, strides): checks that every element
  /// lies inside the storage, returns a contiguous tensor.
  at::Tensor rebuild_tensor(const std::vector<Ref>& args);

  /// Torch's math bits (conjugate, negative) must all be off: real tensors never have them.
  void check_tensor_metadata(Ref ref) const;

  Ref make_tensor(at::Tensor tensor);

  /// OrderedDict(), or OrderedDict(pairs) from a list or tuple of (key, value) pairs.
  Ref make_ordered_dict(const std::vector<Ref>& args);

  /// torch._utils._rebuild_parameter: a Parameter is its data tensor here.
  Ref rebuild_parameter(Ref data);

  /// REDUCE and NEWOBJ: `callable(*args)`.
  Ref call(Ref callable_ref, Ref args_ref);

  /// BINPERSID: a storage named by ('storage', storage class, key, location, numel).
  Ref load_persistent(Ref pid_ref);

  // --- the interpreter --------------------------------------------------------------------------

  /// Executes one opcode; true at STOP.
  bool execute(uint8_t code);

  /// Protocol, framing and stack opcodes (MARK, POP, DUP). True when `code` is one of them
  /// (executed).
  bool run_control_opcode(uint8_t code);
  /// None, booleans, integers and floats. True when `code` is one of them (executed).
  bool run_scalar_opcode(uint8_t code);
  /// Strings and bytes. True when `code` is one of them (executed).
  bool run_text_opcode(uint8_t code);
  /// Tuples, lists, sets and dicts: building them and adding to them. True when `code` is one of
  /// them (executed).
  bool run_container_opcode(uint8_t code);
  /// The memo: PUT and GET. True when `code` is one of them (executed).
  bool run_memo_opcode(uint8_t code);
  /// Globals, calls (REDUCE, NEWOBJ), BUILD and persistent ids (storages). True when `code` is one
  /// of them (executed).
  bool run_object_opcode(uint8_t code);

  const uint8_t* data_;
  size_t size_;
  size_t position_ = 0;
  StorageLoader loader_;
  std::vector<Object> objects_;
  std::vector<Ref> stack_;
  std::vector<size_t> marks_;
  std::unordered_map<uint64_t, Ref> memo_;
  int64_t expanded_elements_ = 0;  ///< elements of expanded tensors so far (kMaxExpandedElements)
};

}  // namespace cdl::formats::pickle

// Implementation of the unpickler: reading the pickle's bytes, the object arena, stack and memo,
// and the interpreter, one function per family of opcodes.
#include "unpickler.hpp"

#include <cstring>
#include <utility>

namespace cdl::formats::pickle {

std::string hex_byte(uint8_t code) {
  constexpr char kDigits[] = "0123456789abcdef";
  std::string text = {'0', 'x', kDigits[code >> 4], kDigits[code & 15]};
  if (code >= 0x20 && code < 0x7f) text += std::string(" ('") + static_cast<char>(code) + "')";
  return text;
}

Ref Unpickler::run() {
  while (!execute(read_u8())) {
  }
  if (stack_.size() != 1 || !marks_.empty()) {
    fail("the pickle ends with ", stack_.size(), " objects and ", marks_.size(),
         " marks on its stack instead of one object");
  }
  return stack_.back();
}

std::string Unpickler::describe(Ref ref) const {
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

void Unpickler::need(size_t count) const {
  if (count > size_ - position_) {
    fail("the pickle is truncated (", count, " more bytes needed at byte ", position_, " of ",
         size_, ")");
  }
}

uint8_t Unpickler::read_u8() {
  need(1);
  return data_[position_++];
}

uint64_t Unpickler::read_le(size_t count) {
  need(count);
  uint64_t value = 0;
  for (size_t i = 0; i < count; ++i) value |= uint64_t{data_[position_ + i]} << (8 * i);
  position_ += count;
  return value;
}

std::string Unpickler::read_string(uint64_t count) {
  if (count > size_ - position_) {
    fail("the pickle is truncated (a string of ", count, " bytes at byte ", position_, " of ",
         size_, ")");
  }
  std::string text(reinterpret_cast<const char*>(data_ + position_), count);
  position_ += count;
  return text;
}

std::string Unpickler::read_line() {
  std::string line;
  while (true) {
    const char c = static_cast<char>(read_u8());
    if (c == '\n') return line;
    if (line.size() == kMaxNameLength) fail("a GLOBAL name is longer than ", kMaxNameLength);
    line.push_back(c);
  }
}

Ref Unpickler::make(Kind kind) {
  if (objects_.size() >= kMaxObjects) fail("the pickle holds more than ", kMaxObjects, " objects");
  objects_.emplace_back();
  objects_.back().kind = kind;
  return objects_.size() - 1;
}

Ref Unpickler::make_integer(int64_t value) {
  const Ref ref = make(Kind::integer);
  objects_[ref].integer = value;
  return ref;
}

Ref Unpickler::make_text(Kind kind, std::string text) {
  const Ref ref = make(kind);
  objects_[ref].text = std::move(text);
  return ref;
}

Ref Unpickler::make_sequence(Kind kind, std::vector<Ref> items) {
  const Ref ref = make(kind);
  objects_[ref].items = std::move(items);
  return ref;
}

Ref Unpickler::pop() {
  if (stack_.size() <= (marks_.empty() ? 0 : marks_.back())) {
    fail("pickle stack underflow at byte ", position_);
  }
  const Ref ref = stack_.back();
  stack_.pop_back();
  return ref;
}

Ref Unpickler::top() const {
  if (stack_.size() <= (marks_.empty() ? 0 : marks_.back())) {
    fail("pickle stack underflow at byte ", position_);
  }
  return stack_.back();
}

std::vector<Ref> Unpickler::pop_mark() {
  if (marks_.empty()) fail("a pickle opcode at byte ", position_, " needs a MARK that is missing");
  const size_t mark = marks_.back();
  marks_.pop_back();
  std::vector<Ref> items(stack_.begin() + static_cast<std::ptrdiff_t>(mark), stack_.end());
  stack_.resize(mark);
  return items;
}

void Unpickler::memo_put(uint64_t index) {
  if (stack_.empty()) fail("pickle memo store with an empty stack at byte ", position_);
  memo_[index] = stack_.back();
}

void Unpickler::memo_get(uint64_t index) {
  const auto it = memo_.find(index);
  if (it == memo_.end()) fail("the pickle refers to memo entry ", index, ", never stored");
  push(it->second);
}

void Unpickler::append_to(Ref target, const std::vector<Ref>& items) {
  Object& object = objects_[target];
  if (object.kind == Kind::opaque) return;  // the items of an object we do not interpret
  if (object.kind != Kind::list) fail("APPEND(S) to ", describe(target));
  object.items.insert(object.items.end(), items.begin(), items.end());
}

void Unpickler::set_items(Ref target, const std::vector<Ref>& items) {
  if (items.size() % 2 != 0) fail("SETITEMS with an odd number of objects");
  Object& object = objects_[target];
  if (object.kind == Kind::opaque) return;
  if (object.kind != Kind::dict) fail("SETITEM(S) on ", describe(target));
  // Python keeps the first position and the last value of a repeated key; the lookups below do
  // the same by searching from the end.
  object.items.insert(object.items.end(), items.begin(), items.end());
}

bool Unpickler::run_control_opcode(uint8_t code) {
  switch (code) {
    case op::kProto: {
      const uint8_t version = read_u8();
      if (version > 5) fail("pickle protocol ", int{version}, " is not supported");
      return true;
    }
    case op::kFrame:
      read_le(8);  // a framing hint only
      return true;
    case op::kMark:
      marks_.push_back(stack_.size());
      return true;
    case op::kPop:  // as Python's pickle: a MARK with nothing above it is popped itself
      if (!marks_.empty() && stack_.size() == marks_.back()) {
        pop_mark();
      } else {
        pop();
      }
      return true;
    case op::kPopMark:
      pop_mark();
      return true;
    case op::kDup:
      push(top());
      return true;
    default:
      return false;
  }
}

bool Unpickler::run_scalar_opcode(uint8_t code) {
  switch (code) {
    case op::kNone:
      push(make(Kind::none));
      return true;
    case op::kNewTrue:
    case op::kNewFalse: {
      const Ref ref = make(Kind::boolean);
      objects_[ref].integer = code == op::kNewTrue ? 1 : 0;
      push(ref);
      return true;
    }
    case op::kBinInt:
      push(make_integer(static_cast<int32_t>(static_cast<uint32_t>(read_le(4)))));
      return true;
    case op::kBinInt1:
      push(make_integer(static_cast<int64_t>(read_le(1))));
      return true;
    case op::kBinInt2:
      push(make_integer(static_cast<int64_t>(read_le(2))));
      return true;
    case op::kLong1:
    case op::kLong4: {
      const uint64_t count = read_le(code == op::kLong1 ? 1 : 4);
      if (count > 8) fail("an integer of ", count, " bytes does not fit in 64 bits");
      uint64_t value = read_le(count);
      if (count > 0 && count < 8 && (value >> (8 * count - 1)) != 0) {
        value |= ~uint64_t{0} << (8 * count);  // sign extension
      }
      push(make_integer(static_cast<int64_t>(value)));
      return true;
    }
    case op::kBinFloat: {
      need(8);
      uint64_t bits = 0;
      for (size_t i = 0; i < 8; ++i) bits = (bits << 8) | data_[position_ + i];  // big-endian
      position_ += 8;
      const Ref ref = make(Kind::real);
      std::memcpy(&objects_[ref].real, &bits, sizeof bits);
      push(ref);
      return true;
    }
    default:
      return false;
  }
}

bool Unpickler::run_text_opcode(uint8_t code) {
  switch (code) {
    case op::kBinUnicode:
    case op::kBinString:
      push(make_text(Kind::text, read_string(read_le(4))));
      return true;
    case op::kShortBinUnicode:
    case op::kShortBinString:
      push(make_text(Kind::text, read_string(read_le(1))));
      return true;
    case op::kBinUnicode8:
      push(make_text(Kind::text, read_string(read_le(8))));
      return true;
    case op::kShortBinBytes:
      push(make_text(Kind::bytes, read_string(read_le(1))));
      return true;
    case op::kBinBytes:
      push(make_text(Kind::bytes, read_string(read_le(4))));
      return true;
    case op::kBinBytes8:
      push(make_text(Kind::bytes, read_string(read_le(8))));
      return true;
    default:
      return false;
  }
}

bool Unpickler::run_container_opcode(uint8_t code) {
  switch (code) {
    case op::kEmptyDict:
      push(make(Kind::dict));
      return true;
    case op::kEmptyList:
    case op::kEmptySet:
      push(make(Kind::list));
      return true;
    case op::kEmptyTuple:
      push(make(Kind::tuple));
      return true;
    case op::kTuple:
      push(make_sequence(Kind::tuple, pop_mark()));
      return true;
    case op::kTuple1:
    case op::kTuple2:
    case op::kTuple3: {
      std::vector<Ref> items(code - op::kTuple1 + 1);
      for (auto it = items.rbegin(); it != items.rend(); ++it) *it = pop();
      push(make_sequence(Kind::tuple, std::move(items)));
      return true;
    }
    case op::kList:
    case op::kFrozenSet:
      push(make_sequence(Kind::list, pop_mark()));
      return true;
    case op::kDict: {
      auto items = pop_mark();
      const Ref dict = make(Kind::dict);
      set_items(dict, items);
      push(dict);
      return true;
    }
    case op::kAppend: {
      const Ref item = pop();
      append_to(top(), {item});
      return true;
    }
    case op::kAppends:
    case op::kAddItems: {
      auto items = pop_mark();
      append_to(top(), items);
      return true;
    }
    case op::kSetItem: {
      const Ref value = pop();
      const Ref key = pop();
      set_items(top(), {key, value});
      return true;
    }
    case op::kSetItems: {
      auto items = pop_mark();
      set_items(top(), items);
      return true;
    }
    default:
      return false;
  }
}

bool Unpickler::run_memo_opcode(uint8_t code) {
  switch (code) {
    case op::kBinPut:
      memo_put(read_le(1));
      return true;
    case op::kLongBinPut:
      memo_put(read_le(4));
      return true;
    case op::kMemoize:
      memo_put(memo_.size());
      return true;
    case op::kBinGet:
      memo_get(read_le(1));
      return true;
    case op::kLongBinGet:
      memo_get(read_le(4));
      return true;
    default:
      return false;
  }
}

bool Unpickler::run_object_opcode(uint8_t code) {
  switch (code) {
    case op::kGlobal: {
      const std::string module = read_line();
      const std::string name = read_line();
      push(make_global(module, name));
      return true;
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
      return true;
    }
    case op::kReduce:
    case op::kNewObj: {
      const Ref args = pop();
      const Ref callable = pop();
      push(call(callable, args));
      return true;
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
      return true;
    }
    case op::kBinPersId:
      push(load_persistent(pop()));
      return true;
    default:
      return false;
  }
}

bool Unpickler::execute(uint8_t code) {
  if (code == op::kStop) return true;
  if (run_control_opcode(code) || run_scalar_opcode(code) || run_text_opcode(code) ||
      run_container_opcode(code) || run_memo_opcode(code) || run_object_opcode(code)) {
    return false;
  }
  fail("unsupported pickle opcode ", hex_byte(code), " at byte ", position_ - 1);
}

}  // namespace cdl::formats::pickle

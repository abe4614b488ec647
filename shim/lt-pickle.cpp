/* lt-pickle.cpp: a restricted unpickler for the data.pkl of torch.save archives
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * torch.load runs Python's unpickler, which calls whatever function the file names: loading a
 * weight file with it runs a program that came with the file. This unpickler understands only
 * the opcodes a state dict needs, in every protocol torch.save writes (0 to 5), and knows only
 * a short list of globals (OrderedDict, torch's tensor rebuild functions and storage classes).
 * Any other global is refused as soon as it is named, and nothing is ever called: the allowed
 * "calls" are interpreted here.
 *
 * Everything the pickle builds lives in flat arenas indexed by small handles, so containers
 * that nest deeply or contain themselves cost neither recursion nor leaks, and caps on the
 * stack, the memo and the number of objects bound the memory a forged pickle can claim.
 */

#include <cctype>
#include <cstdio>
#include <cstring>
#include <functional>
#include <unordered_map>

#include "lt-weights-io.hpp"

namespace lt {

namespace {

/* A state dict pickle takes about 100 bytes per tensor; these limits are far above what any
 * real checkpoint needs and far below what would hurt the machine. */
constexpr uint64_t kMaxPickleBytes = 64u << 20;
constexpr size_t kMaxStack = 1u << 21;
constexpr size_t kMaxMemo = 1u << 21;
constexpr size_t kMaxObjects = 1u << 21;
constexpr size_t kMaxItems = 1u << 23;
constexpr size_t kMaxGlobalName = 256;
/* Protocol 0 writes numbers and memo indexes as text lines. */
constexpr size_t kMaxNumberText = 64;

enum class Kind : uint8_t
{
  None, Bool, Int, BigInt, Float, String, Bytes, Global, Tuple, List, Dict, Storage, Tensor,
};

enum class Callable : uint8_t
{
  OrderedDict, RebuildTensorV2, RebuildParameter, RebuildParameterWithState, StorageClass,
  CodecsEncode,
};

/* 16 bytes: ref indexes strings_, objects_, storages_ or tensors_ depending on kind; a Global
 * keeps its Callable in callable, its name in ref and a storage class's dtype in num. */
struct Value
{
  Kind kind = Kind::None;
  Callable callable = Callable::OrderedDict;
  uint32_t ref = 0;
  int64_t num = 0;
};

struct AllowedGlobal
{
  const char *module;
  const char *name;
  Callable callable;
  c10::ScalarType type;
};

constexpr c10::ScalarType kNoType = c10::ScalarType::Undefined;

const AllowedGlobal kAllowedGlobals[] = {
  { "collections", "OrderedDict", Callable::OrderedDict, kNoType },
  /* How protocol 2 writes bytes: _codecs.encode(text, "latin1"). */
  { "_codecs", "encode", Callable::CodecsEncode, kNoType },
  { "torch._utils", "_rebuild_tensor_v2", Callable::RebuildTensorV2, kNoType },
  { "torch._utils", "_rebuild_parameter", Callable::RebuildParameter, kNoType },
  { "torch._utils", "_rebuild_parameter_with_state", Callable::RebuildParameterWithState, kNoType },
  { "torch", "FloatStorage", Callable::StorageClass, c10::ScalarType::Float },
  { "torch", "DoubleStorage", Callable::StorageClass, c10::ScalarType::Double },
  { "torch", "HalfStorage", Callable::StorageClass, c10::ScalarType::Half },
  { "torch", "BFloat16Storage", Callable::StorageClass, c10::ScalarType::BFloat16 },
  { "torch", "LongStorage", Callable::StorageClass, c10::ScalarType::Long },
  { "torch", "IntStorage", Callable::StorageClass, c10::ScalarType::Int },
  { "torch", "ShortStorage", Callable::StorageClass, c10::ScalarType::Short },
  { "torch", "CharStorage", Callable::StorageClass, c10::ScalarType::Char },
  { "torch", "ByteStorage", Callable::StorageClass, c10::ScalarType::Byte },
  { "torch", "BoolStorage", Callable::StorageClass, c10::ScalarType::Bool },
};

/* Opcodes outside the supported set, named for the error message: those that build arbitrary
 * objects are refused as unsafe, the others for building what no state dict holds. */
struct RefusedOpcode
{
  unsigned char code;
  const char *name;
  const char *builds; /* nullptr: an arbitrary Python object */
};

const RefusedOpcode kRefusedOpcodes[] = {
  { 'i', "INST", nullptr }, { 'o', "OBJ", nullptr }, { 0x81, "NEWOBJ", nullptr },
  { 0x92, "NEWOBJ_EX", nullptr }, { 0x82, "EXT1", nullptr }, { 0x83, "EXT2", nullptr },
  { 0x84, "EXT4", nullptr }, { 0x8e, "BINBYTES8", "a byte string of 4 GiB or more" },
  { 0x8f, "EMPTY_SET", "a set" }, { 0x90, "ADDITEMS", "a set" },
  { 0x91, "FROZENSET", "a frozenset" }, { 0x96, "BYTEARRAY8", "a bytearray" },
  { 0x97, "NEXT_BUFFER", "an out-of-band buffer" },
  { 0x98, "READONLY_BUFFER", "an out-of-band buffer" },
};

const char *
kind_name (Kind kind)
{
  switch (kind)
    {
    case Kind::None: return "None";
    case Kind::Bool: return "bool";
    case Kind::Int:
    case Kind::BigInt: return "int";
    case Kind::Float: return "float";
    case Kind::String: return "string";
    case Kind::Bytes: return "bytes";
    case Kind::Global: return "Python function";
    case Kind::Tuple: return "tuple";
    case Kind::List: return "list";
    case Kind::Dict: return "dict";
    case Kind::Storage: return "storage";
    case Kind::Tensor: return "tensor";
    }
  return "value";
}

/* "an int", "a tensor", "None": for messages. */
std::string
a_kind (Kind kind)
{
  if (kind == Kind::None)
    return "None";
  if (kind == Kind::Int || kind == Kind::BigInt)
    return "an int";
  return std::string ("a ") + kind_name (kind);
}

/* Text from the file, made safe to print in a message. */
std::string
printable (const std::string &s)
{
  std::string out;
  for (size_t i = 0; i < s.size () && i < 100; i++)
    out += (s[i] >= 0x20 && s[i] < 0x7f) ? s[i] : '?';
  if (s.size () > 100)
    out += "...";
  return out;
}

/* Reads a storage record of the archive: (key, dtype, number of elements) -> 1-D tensor. */
using StorageLoader = std::function<torch::Tensor (const std::string &, c10::ScalarType, int64_t)>;

class Unpickler
{
public:
  Unpickler (const std::string &path, const std::string &data, StorageLoader loader)
    : path_ (path), data_ (data), loader_ (std::move (loader)) {}

  StateDict run ();

private:
  struct Object
  {
    std::vector<Value> items; /* a dict's keys and values alternate */
  };
  struct Storage
  {
    std::string key;
    torch::Tensor flat;
  };

  [[noreturn]] void bad (const std::string &what) const;
  [[noreturn]] void too_big (const char *what) const;
  const unsigned char *need (size_t n);
  std::string read_line (const char *opcode, size_t max_length);
  uint64_t read_uint (size_t n);
  Value read_decimal (const char *opcode, std::string text);
  uint64_t read_index (const char *opcode);
  std::string read_quoted (const std::string &line);
  std::string read_raw_unicode (const std::string &line);
  Value read_text_persistent_id (const std::string &line);

  void push (const Value &v);
  Value pop ();
  Value &top ();
  size_t pop_mark ();
  std::vector<Value> pop_to_mark ();

  Value make_string (std::string s);
  Value make_object (Kind kind, std::vector<Value> items = {});
  Object &object (const Value &v, Kind kind, const char *opcode);
  void count_items (size_t n);
  void memo_put (uint64_t index, const Value &v);
  const Value &memo_get (uint64_t index) const;

  const std::string &string_of (const Value &v, const char *what) const;
  int64_t int_of (const Value &v, const char *what) const;
  std::vector<int64_t> ints_of (const Value &v, const char *what) const;

  Value resolve_global (const std::string &module, const std::string &name);
  Value call (const Value &callable, const Value &args);
  Value persistent_load (const Value &pid);
  Value rebuild_tensor (const std::vector<Value> &args);
  void check_view (const Storage &storage, int64_t offset, const std::vector<int64_t> &sizes,
                   const std::vector<int64_t> &strides) const;

  bool is_tensor_dict (const Value &v) const;
  StateDict to_state_dict (const Value &v) const;
  StateDict finish (const Value &result) const;

  const std::string &path_;
  const std::string &data_;
  StorageLoader loader_;
  size_t pos_ = 0;
  size_t opcode_pos_ = 0;

  std::vector<Value> stack_;
  std::vector<size_t> marks_;
  std::unordered_map<uint64_t, Value> memo_;
  std::vector<std::string> strings_;
  std::vector<Object> objects_;
  std::vector<Storage> storages_;
  std::unordered_map<std::string, uint32_t> storage_index_;
  std::vector<torch::Tensor> tensors_;
  size_t items_ = 0;
};

void
Unpickler::bad (const std::string &what) const
{
  fail_file (LT_ERROR_FORMAT, path_, "its data.pkl is damaged or is not a state dict: " + what
                                         + " (at byte " + std::to_string (opcode_pos_) + ")");
}

void
Unpickler::too_big (const char *what) const
{
  fail_file (LT_ERROR_FORMAT, path_, std::string ("its data.pkl needs more ") + what
                                         + " than any state dict does; the file is forged or "
                                           "damaged");
}

const unsigned char *
Unpickler::need (size_t n)
{
  if (data_.size () - pos_ < n)
    bad ("it ends in the middle of an opcode; the file is truncated");
  const auto *p = reinterpret_cast<const unsigned char *> (data_.data ()) + pos_;
  pos_ += n;
  return p;
}

/* The text up to the next newline, which it consumes. */
std::string
Unpickler::read_line (const char *opcode, size_t max_length)
{
  const size_t end = data_.find ('\n', pos_);
  if (end == std::string::npos || end - pos_ > max_length)
    bad (std::string ("a ") + opcode + " opcode without a proper argument");
  std::string line = data_.substr (pos_, end - pos_);
  pos_ = end + 1;
  return line;
}

/* A decimal integer as INT and LONG write it; a LONG's text may end in Python 2's "L". */
Value
Unpickler::read_decimal (const char *opcode, std::string text)
{
  const bool negative = !text.empty () && text[0] == '-';
  const size_t digits = negative ? 1 : 0;
  if (text.size () == digits || text.find_first_not_of ("0123456789", digits) != std::string::npos)
    bad (std::string ("a ") + opcode + " opcode whose argument is not an integer");
  uint64_t magnitude = 0;
  for (size_t i = digits; i < text.size (); i++)
    if (__builtin_mul_overflow (magnitude, 10u, &magnitude)
        || __builtin_add_overflow (magnitude, static_cast<uint64_t> (text[i] - '0'), &magnitude)
        || magnitude > (negative ? uint64_t{ 1 } << 63 : (uint64_t{ 1 } << 63) - 1))
      return Value{ Kind::BigInt };
  const int64_t value = negative ? static_cast<int64_t> (0 - magnitude)
                                 : static_cast<int64_t> (magnitude);
  return Value{ Kind::Int, Callable::OrderedDict, 0, value };
}

/* The memo index of a PUT or GET, written as text. */
uint64_t
Unpickler::read_index (const char *opcode)
{
  const Value v = read_decimal (opcode, read_line (opcode, kMaxNumberText));
  if (v.kind != Kind::Int || v.num < 0)
    bad (std::string ("a ") + opcode + " opcode with a negative or huge memo index");
  return static_cast<uint64_t> (v.num);
}

/* STRING's argument: a Python 2 str literal, quoted, with backslash escapes. */
std::string
Unpickler::read_quoted (const std::string &line)
{
  if (line.size () < 2 || (line[0] != '\'' && line[0] != '"') || line.back () != line[0])
    bad ("a STRING opcode whose argument is not quoted");
  const auto octal = [] (char c) { return c >= '0' && c <= '7'; };
  const auto hex = [] (char c) { return std::isxdigit (static_cast<unsigned char> (c)) != 0; };
  const size_t end = line.size () - 1;
  std::string out;
  for (size_t i = 1; i < end; i++)
    {
      if (line[i] != '\\' || i + 1 == end)
        {
          out += line[i];
          continue;
        }
      const char c = line[++i];
      switch (c)
        {
        case '\\': case '\'': case '"': out += c; break;
        case 'a': out += '\a'; break;
        case 'b': out += '\b'; break;
        case 'f': out += '\f'; break;
        case 'n': out += '\n'; break;
        case 'r': out += '\r'; break;
        case 't': out += '\t'; break;
        case 'v': out += '\v'; break;
        case 'x':
          if (i + 2 >= end || !hex (line[i + 1]) || !hex (line[i + 2]))
            bad ("a STRING opcode with a broken \\x escape");
          out += static_cast<char> (std::stoi (line.substr (i + 1, 2), nullptr, 16));
          i += 2;
          break;
        default:
          if (octal (c))
            {
              int value = c - '0';
              for (int k = 0; k < 2 && i + 1 < end && octal (line[i + 1]); k++)
                value = value * 8 + (line[++i] - '0');
              out += static_cast<char> (value & 0xff);
            }
          else
            {
              out += '\\';
              out += c;
            }
        }
    }
  return out;
}

/* UNICODE's argument in Python's raw-unicode-escape: bytes are Latin-1 characters, and
 * \uXXXX or \UXXXXXXXX any other; returned as UTF-8. */
std::string
Unpickler::read_raw_unicode (const std::string &line)
{
  std::string out;
  for (size_t i = 0; i < line.size (); i++)
    {
      uint32_t cp = static_cast<unsigned char> (line[i]);
      /* As CPython decodes it: a backslash before anything else keeps both characters. */
      if (cp == '\\' && i + 1 < line.size () && line[i + 1] != 'u' && line[i + 1] != 'U')
        {
          out += '\\';
          cp = static_cast<unsigned char> (line[++i]);
        }
      else if (cp == '\\' && i + 1 < line.size ())
        {
          const size_t n = line[i + 1] == 'u' ? 4 : 8;
          if (line.size () - i - 2 < n
              || line.find_first_not_of ("0123456789abcdefABCDEF", i + 2) < i + 2 + n)
            bad ("a UNICODE opcode with a broken \\u escape");
          cp = static_cast<uint32_t> (std::stoul (line.substr (i + 2, n), nullptr, 16));
          if (cp > 0x10ffff)
            bad ("a UNICODE opcode with a character past U+10FFFF");
          i += 1 + n;
        }
      /* A lone surrogate gives bytes that is_valid_utf8() refuses where names are checked. */
      append_utf8 (out, cp);
    }
  return out;
}

/* Protocol 0 has no binary persistent ids: torch.save's tuple arrives as Python's str() of it,
 * "('storage', <class 'torch.FloatStorage'>, '0', 'cpu', 4)". torch.load itself cannot read
 * this back; the text is parsed here, strictly, into the tuple the other protocols carry, and
 * the storage class goes through the same list of allowed globals. */
Value
Unpickler::read_text_persistent_id (const std::string &line)
{
  size_t at = 0;
  const auto fail = [&] () {
    bad ("a PERSID opcode whose persistent id is not a torch storage: " + printable (line));
  };
  const auto expect = [&] (const char *text) {
    if (line.compare (at, strlen (text), text) != 0)
      fail ();
    at += strlen (text);
  };
  const auto until = [&] (char stop) {
    const size_t end = line.find (stop, at);
    if (end == std::string::npos)
      fail ();
    std::string part = line.substr (at, end - at);
    at = end + 1;
    return part;
  };

  expect ("('storage', <class '");
  const std::string qualified = until ('\'');
  expect (">, '");
  const std::string key = until ('\'');
  expect (", '");
  const std::string location = until ('\'');
  expect (", ");
  const std::string numel = until (')');
  const size_t dot = qualified.rfind ('.');
  if (at != line.size () || dot == std::string::npos || key.find ('\\') != std::string::npos
      || location.find ('\\') != std::string::npos)
    fail ();

  std::vector<Value> items;
  items.push_back (make_string ("storage"));
  items.push_back (resolve_global (qualified.substr (0, dot), qualified.substr (dot + 1)));
  items.push_back (make_string (key));
  items.push_back (make_string (location));
  items.push_back (read_decimal ("PERSID", numel));
  return make_object (Kind::Tuple, std::move (items));
}

uint64_t
Unpickler::read_uint (size_t n)
{
  const unsigned char *p = need (n);
  uint64_t v = 0;
  for (size_t i = n; i-- > 0;)
    v = (v << 8) | p[i];
  return v;
}

void
Unpickler::push (const Value &v)
{
  if (stack_.size () >= kMaxStack)
    too_big ("stack");
  stack_.push_back (v);
}

Value
Unpickler::pop ()
{
  Value v = top ();
  stack_.pop_back ();
  return v;
}

Value &
Unpickler::top ()
{
  if (stack_.empty () || (!marks_.empty () && stack_.size () <= marks_.back ()))
    bad ("an opcode needs a value the stack does not hold");
  return stack_.back ();
}

size_t
Unpickler::pop_mark ()
{
  if (marks_.empty ())
    bad ("an opcode needs a MARK the stack does not hold");
  const size_t mark = marks_.back ();
  marks_.pop_back ();
  return mark;
}

std::vector<Value>
Unpickler::pop_to_mark ()
{
  const size_t mark = pop_mark ();
  std::vector<Value> items (stack_.begin () + static_cast<std::ptrdiff_t> (mark), stack_.end ());
  stack_.resize (mark);
  return items;
}

Value
Unpickler::make_string (std::string s)
{
  if (strings_.size () >= kMaxObjects)
    too_big ("strings");
  strings_.push_back (std::move (s));
  return Value{ Kind::String, Callable::OrderedDict, static_cast<uint32_t> (strings_.size () - 1), 0 };
}

Value
Unpickler::make_object (Kind kind, std::vector<Value> items)
{
  if (objects_.size () >= kMaxObjects)
    too_big ("objects");
  count_items (items.size ());
  objects_.push_back (Object{ std::move (items) });
  return Value{ kind, Callable::OrderedDict, static_cast<uint32_t> (objects_.size () - 1), 0 };
}

Unpickler::Object &
Unpickler::object (const Value &v, Kind kind, const char *opcode)
{
  if (v.kind != kind)
    bad (std::string (opcode) + " applied to " + a_kind (v.kind) + " instead of "
         + a_kind (kind));
  return objects_[v.ref];
}

void
Unpickler::count_items (size_t n)
{
  items_ += n;
  if (items_ > kMaxItems)
    too_big ("container entries");
}

void
Unpickler::memo_put (uint64_t index, const Value &v)
{
  if (memo_.size () >= kMaxMemo && memo_.find (index) == memo_.end ())
    too_big ("memo entries");
  memo_[index] = v;
}

const Value &
Unpickler::memo_get (uint64_t index) const
{
  const auto it = memo_.find (index);
  if (it == memo_.end ())
    bad ("it refers to memo entry " + std::to_string (index) + ", which was never stored");
  return it->second;
}

const std::string &
Unpickler::string_of (const Value &v, const char *what) const
{
  if (v.kind != Kind::String)
    bad (std::string (what) + " is " + a_kind (v.kind) + ", not a string");
  return strings_[v.ref];
}

int64_t
Unpickler::int_of (const Value &v, const char *what) const
{
  if (v.kind == Kind::BigInt)
    bad (std::string (what) + " does not fit in 64 bits");
  if (v.kind != Kind::Int)
    bad (std::string (what) + " is " + a_kind (v.kind) + ", not an int");
  return v.num;
}

std::vector<int64_t>
Unpickler::ints_of (const Value &v, const char *what) const
{
  if (v.kind != Kind::Tuple)
    bad (std::string (what) + " is " + a_kind (v.kind) + ", not a tuple");
  std::vector<int64_t> out;
  for (const Value &item : objects_[v.ref].items)
    out.push_back (int_of (item, what));
  return out;
}

Value
Unpickler::resolve_global (const std::string &module, const std::string &name)
{
  for (const AllowedGlobal &g : kAllowedGlobals)
    if (module == g.module && name == g.name)
      {
        Value v = make_string (module + "." + name);
        v.kind = Kind::Global;
        v.callable = g.callable;
        v.num = static_cast<int64_t> (g.type);
        return v;
      }

  const std::string qualified = printable (module + "." + name);
  std::string hint;
  if (module == "__main__" || module.rfind ("torch.nn", 0) == 0
      || module.rfind ("torchvision", 0) == 0)
    hint = " (it holds a pickled Python object such as a whole model: save model.state_dict() "
           "instead)";
  fail_file (LT_ERROR_UNSAFE, path_,
             "not loaded: its data.pkl names the Python callable " + qualified
                 + ", which torch.load would call, running code that came with the file; a "
                   "weight file only needs tensors, so it is refused" + hint);
}

Value
Unpickler::call (const Value &callable, const Value &args_value)
{
  if (callable.kind != Kind::Global)
    bad ("REDUCE calls " + a_kind (callable.kind));
  if (args_value.kind != Kind::Tuple)
    bad ("REDUCE arguments are " + a_kind (args_value.kind) + ", not a tuple");
  /* A copy: building the result may grow objects_. */
  const std::vector<Value> args = objects_[args_value.ref].items;

  switch (callable.callable)
    {
    case Callable::OrderedDict:
      if (!args.empty ())
        bad ("OrderedDict is called with arguments");
      return make_object (Kind::Dict);
    case Callable::CodecsEncode:
      if (args.size () != 2 || args[0].kind != Kind::String || args[1].kind != Kind::String)
        bad ("_codecs.encode is called with unexpected arguments");
      return Value{ Kind::Bytes };
    case Callable::RebuildTensorV2:
      return rebuild_tensor (args);
    case Callable::RebuildParameter:
    case Callable::RebuildParameterWithState:
      /* (data, requires_grad, backward_hooks[, state]): only the data matters here. */
      if (args.size () != (callable.callable == Callable::RebuildParameter ? 3u : 4u)
          || args[0].kind != Kind::Tensor)
        bad (strings_[callable.ref] + " is called with unexpected arguments");
      return args[0];
    case Callable::StorageClass:
      break;
    }
  bad (strings_[callable.ref] + " is called directly, which torch.save never does");
}

Value
Unpickler::persistent_load (const Value &pid)
{
  /* torch.save's persistent id: ("storage", storage class, key, location, element count). */
  if (pid.kind != Kind::Tuple)
    bad ("a persistent id is " + a_kind (pid.kind) + ", not a tuple");
  const std::vector<Value> &id = objects_[pid.ref].items;
  if (id.size () != 5 || id[0].kind != Kind::String || strings_[id[0].ref] != "storage")
    bad ("a persistent id does not describe a tensor storage");
  if (id[1].kind != Kind::Global || id[1].callable != Callable::StorageClass)
    bad ("a storage has no storage class");
  const auto type = static_cast<c10::ScalarType> (id[1].num);
  const std::string key = string_of (id[2], "a storage key");
  string_of (id[3], "a storage location");
  const int64_t numel = int_of (id[4], "a storage size");
  if (numel < 0)
    bad ("a storage has a negative size");

  const auto it = storage_index_.find (key);
  uint32_t index;
  if (it != storage_index_.end ())
    {
      index = it->second;
      const torch::Tensor &flat = storages_[index].flat;
      if (flat.scalar_type () != type || flat.numel () != numel)
        bad ("storage " + printable (key) + " is declared twice with different types or sizes");
    }
  else
    {
      index = static_cast<uint32_t> (storages_.size ());
      storages_.push_back (Storage{ key, loader_ (key, type, numel) });
      storage_index_.emplace (key, index);
    }
  return Value{ Kind::Storage, Callable::OrderedDict, index, 0 };
}

void
Unpickler::check_view (const Storage &storage, int64_t offset, const std::vector<int64_t> &sizes,
                       const std::vector<int64_t> &strides) const
{
  const int64_t available = storage.flat.numel ();
  const auto fail_view = [&] (const std::string &what) {
    fail_file (LT_ERROR_FORMAT, path_, "a tensor over storage data/" + printable (storage.key)
                                           + " " + what + "; the file is damaged or forged");
  };

  if (sizes.size () != strides.size ())
    fail_view ("has " + std::to_string (sizes.size ()) + " sizes but "
               + std::to_string (strides.size ()) + " strides");
  if (sizes.size () > LT_MAX_DIMS)
    fail_view ("has " + std::to_string (sizes.size ()) + " dimensions");
  if (offset < 0)
    fail_view ("has a negative storage offset");

  int64_t numel = 1;
  for (size_t d = 0; d < sizes.size (); d++)
    {
      if (sizes[d] < 0)
        fail_view ("has a negative size");
      if (strides[d] < 0)
        fail_view ("has a negative stride");
      if (__builtin_mul_overflow (numel, sizes[d], &numel))
        fail_view ("has more elements than can be counted");
    }
  if (numel == 0)
    {
      if (offset > available)
        fail_view ("starts past the end of its storage");
      return;
    }

  /* The last element the view touches must lie inside the storage. */
  int64_t last = offset;
  for (size_t d = 0; d < sizes.size (); d++)
    {
      int64_t span;
      if (__builtin_mul_overflow (sizes[d] - 1, strides[d], &span)
          || __builtin_add_overflow (last, span, &last))
        fail_view ("reaches past the end of its storage");
    }
  if (last >= available)
    fail_view ("reaches element " + std::to_string (last) + " of a storage of "
               + std::to_string (available) + " elements");
  /* Only overlapping views (stride 0, expand()) can hold more elements than their storage;
   * a state dict never has them, and copying one could need any amount of memory. */
  if (numel > available)
    fail_view ("has " + std::to_string (numel) + " elements, more than the "
               + std::to_string (available) + " its storage holds (overlapping views are not "
                                              "supported)");
}

Value
Unpickler::rebuild_tensor (const std::vector<Value> &args)
{
  /* (storage, storage_offset, size, stride, requires_grad, backward_hooks[, metadata]) */
  if (args.size () != 6 && args.size () != 7)
    bad ("_rebuild_tensor_v2 is called with " + std::to_string (args.size ()) + " arguments");
  if (args[0].kind != Kind::Storage)
    bad ("_rebuild_tensor_v2 is given " + a_kind (args[0].kind) + " instead of a storage");
  const Storage &storage = storages_[args[0].ref];
  const int64_t offset = int_of (args[1], "a storage offset");
  const std::vector<int64_t> sizes = ints_of (args[2], "a tensor size");
  const std::vector<int64_t> strides = ints_of (args[3], "a tensor stride");
  check_view (storage, offset, sizes, strides);

  if (tensors_.size () >= kMaxObjects)
    too_big ("tensors");
  tensors_.push_back (storage.flat.as_strided (sizes, strides, offset));
  return Value{ Kind::Tensor, Callable::OrderedDict, static_cast<uint32_t> (tensors_.size () - 1), 0 };
}

StateDict
Unpickler::run ()
{
  for (;;)
    {
      opcode_pos_ = pos_;
      const unsigned char op = *need (1);
      switch (op)
        {
        case 0x80: /* PROTO */
          if (*need (1) > 5)
            bad ("it uses a pickle protocol newer than 5");
          break;
        case 0x95: /* FRAME: a length hint only */
          need (8);
          break;
        case '.': /* STOP */
          {
            const Value result = pop ();
            if (!stack_.empty () || !marks_.empty ())
              bad ("values are left on the stack at STOP");
            return finish (result);
          }
        case '(': /* MARK */
          if (marks_.size () >= kMaxStack)
            too_big ("marks");
          marks_.push_back (stack_.size ());
          break;
        case '0': /* POP */
          pop ();
          break;
        case '1': /* POP_MARK */
          pop_to_mark ();
          break;
        case '2': /* DUP */
          push (Value (top ()));
          break;
        case 'N':
          push (Value{});
          break;
        case 0x88: /* NEWTRUE */
        case 0x89: /* NEWFALSE */
          push (Value{ Kind::Bool, Callable::OrderedDict, 0, op == 0x88 });
          break;
        case 'J': /* BININT */
          push (Value{ Kind::Int, Callable::OrderedDict, 0,
                       static_cast<int32_t> (static_cast<uint32_t> (read_uint (4))) });
          break;
        case 'K': /* BININT1 */
          push (Value{ Kind::Int, Callable::OrderedDict, 0, static_cast<int64_t> (read_uint (1)) });
          break;
        case 'M': /* BININT2 */
          push (Value{ Kind::Int, Callable::OrderedDict, 0, static_cast<int64_t> (read_uint (2)) });
          break;
        case 0x8a: /* LONG1: little-endian two's complement of n bytes */
          {
            const size_t n = read_uint (1);
            if (n > 8)
              {
                need (n);
                push (Value{ Kind::BigInt });
                break;
              }
            uint64_t v = read_uint (n);
            if (n > 0 && n < 8 && (v >> (8 * n - 1)) & 1)
              v |= ~uint64_t{ 0 } << (8 * n);
            push (Value{ Kind::Int, Callable::OrderedDict, 0, static_cast<int64_t> (v) });
            break;
          }
        case 0x8b: /* LONG4 */
          {
            need (read_uint (4));
            push (Value{ Kind::BigInt });
            break;
          }
        case 'I': /* INT: text; "00" and "01" are how protocols 0 and 1 write False and True */
          {
            const std::string text = read_line ("INT", kMaxNumberText);
            if (text == "00" || text == "01")
              push (Value{ Kind::Bool, Callable::OrderedDict, 0, text == "01" });
            else
              push (read_decimal ("INT", text));
            break;
          }
        case 'L': /* LONG: text, maybe with Python 2's "L" */
          {
            std::string text = read_line ("LONG", data_.size ());
            if (!text.empty () && text.back () == 'L')
              text.pop_back ();
            push (read_decimal ("LONG", std::move (text)));
            break;
          }
        case 'G': /* BINFLOAT: never needed for tensors, so its value is not kept */
          need (8);
          push (Value{ Kind::Float });
          break;
        case 'F': /* FLOAT: repr() text, likewise not kept */
          {
            const std::string text = read_line ("FLOAT", kMaxNumberText);
            if (text.empty () || text.find_first_not_of ("0123456789+-.eEinfa") != text.npos)
              bad ("a FLOAT opcode whose argument is not a number");
            push (Value{ Kind::Float });
            break;
          }
        case 'S': /* STRING: a quoted Python 2 str */
          push (make_string (read_quoted (read_line ("STRING", data_.size ()))));
          break;
        case 'V': /* UNICODE */
          push (make_string (read_raw_unicode (read_line ("UNICODE", data_.size ()))));
          break;
        case 'T': /* BINSTRING: a Python 2 str, its length a signed 32-bit number */
        case 'U': /* SHORT_BINSTRING */
          {
            const uint64_t n = read_uint (op == 'U' ? 1 : 4);
            if (n > INT32_MAX)
              bad ("a BINSTRING opcode with a negative length");
            const char *p = reinterpret_cast<const char *> (need (n));
            push (make_string (std::string (p, n)));
            break;
          }
        case 'X':    /* BINUNICODE */
        case 0x8c:   /* SHORT_BINUNICODE */
        case 0x8d:   /* BINUNICODE8 */
        case 'B':    /* BINBYTES */
        case 'C':    /* SHORT_BINBYTES */
          {
            const uint64_t n = read_uint (op == 0x8c || op == 'C' ? 1 : op == 0x8d ? 8 : 4);
            const char *p = reinterpret_cast<const char *> (need (n));
            if (op == 'B' || op == 'C')
              push (Value{ Kind::Bytes });
            else
              push (make_string (std::string (p, n)));
            break;
          }
        case ']': /* EMPTY_LIST */
          push (make_object (Kind::List));
          break;
        case '}': /* EMPTY_DICT */
          push (make_object (Kind::Dict));
          break;
        case ')': /* EMPTY_TUPLE */
          push (make_object (Kind::Tuple));
          break;
        case 'l': /* LIST */
          push (make_object (Kind::List, pop_to_mark ()));
          break;
        case 't': /* TUPLE */
          push (make_object (Kind::Tuple, pop_to_mark ()));
          break;
        case 'd': /* DICT */
          {
            std::vector<Value> items = pop_to_mark ();
            if (items.size () % 2 != 0)
              bad ("DICT with an odd number of items");
            push (make_object (Kind::Dict, std::move (items)));
            break;
          }
        case 0x85: /* TUPLE1 */
        case 0x86: /* TUPLE2 */
        case 0x87: /* TUPLE3 */
          {
            std::vector<Value> items (static_cast<size_t> (op - 0x84));
            for (size_t i = items.size (); i-- > 0;)
              items[i] = pop ();
            push (make_object (Kind::Tuple, std::move (items)));
            break;
          }
        case 'a': /* APPEND */
          {
            const Value item = pop ();
            count_items (1);
            object (top (), Kind::List, "APPEND").items.push_back (item);
            break;
          }
        case 'e': /* APPENDS */
          {
            const std::vector<Value> items = pop_to_mark ();
            count_items (items.size ());
            auto &list = object (top (), Kind::List, "APPENDS").items;
            list.insert (list.end (), items.begin (), items.end ());
            break;
          }
        case 's': /* SETITEM */
          {
            const Value value = pop ();
            const Value key = pop ();
            count_items (2);
            auto &dict = object (top (), Kind::Dict, "SETITEM").items;
            dict.push_back (key);
            dict.push_back (value);
            break;
          }
        case 'u': /* SETITEMS */
          {
            const std::vector<Value> items = pop_to_mark ();
            if (items.size () % 2 != 0)
              bad ("SETITEMS with an odd number of items");
            count_items (items.size ());
            auto &dict = object (top (), Kind::Dict, "SETITEMS").items;
            dict.insert (dict.end (), items.begin (), items.end ());
            break;
          }
        case 'h': /* BINGET */
        case 'j': /* LONG_BINGET */
          push (Value (memo_get (read_uint (op == 'h' ? 1 : 4))));
          break;
        case 'g': /* GET */
          push (Value (memo_get (read_index ("GET"))));
          break;
        case 'p': /* PUT */
          {
            const uint64_t index = read_index ("PUT");
            memo_put (index, top ());
            break;
          }
        case 'q': /* BINPUT */
        case 'r': /* LONG_BINPUT */
          {
            const uint64_t index = read_uint (op == 'q' ? 1 : 4);
            memo_put (index, top ());
            break;
          }
        case 0x94: /* MEMOIZE */
          memo_put (memo_.size (), top ());
          break;
        case 'c': /* GLOBAL */
          {
            const std::string module = read_line ("GLOBAL", kMaxGlobalName);
            const std::string name = read_line ("GLOBAL", kMaxGlobalName);
            push (resolve_global (module, name));
            break;
          }
        case 0x93: /* STACK_GLOBAL */
          {
            /* Copies: resolving stores a new string, which may move the others. */
            const std::string name = string_of (pop (), "a global's name");
            const std::string module = string_of (pop (), "a global's module");
            push (resolve_global (module, name));
            break;
          }
        case 'R': /* REDUCE */
          {
            const Value args = pop ();
            const Value callable = pop ();
            push (call (callable, args));
            break;
          }
        case 'b': /* BUILD */
          {
            const Value state = pop ();
            /* torchvision's OrderedDict carries a _metadata attribute (per-module versions)
             * that nothing here needs. */
            if (top ().kind != Kind::Dict)
              bad ("BUILD sets the state of " + a_kind (top ().kind));
            (void) state;
            break;
          }
        case 'Q': /* BINPERSID */
          push (persistent_load (pop ()));
          break;
        case 'P': /* PERSID: protocol 0's persistent id, as text */
          push (persistent_load (read_text_persistent_id (read_line ("PERSID", kMaxGlobalName))));
          break;
        default:
          for (const RefusedOpcode &r : kRefusedOpcodes)
            if (r.code == op)
              {
                if (r.builds == nullptr)
                  fail_file (LT_ERROR_UNSAFE, path_,
                             std::string ("not loaded: its data.pkl uses the pickle opcode ")
                                 + r.name + ", which builds arbitrary Python objects and is "
                                            "never needed by a weight file");
                fail_file (LT_ERROR_FORMAT, path_,
                           std::string ("its data.pkl uses the pickle opcode ") + r.name
                               + ", which builds " + r.builds
                               + "; a state dict holds none, and Leafscope does not read them");
              }
          char hex[8];
          snprintf (hex, sizeof hex, "0x%02x", op);
          bad (std::string ("unknown pickle opcode ") + hex);
        }
    }
}

bool
Unpickler::is_tensor_dict (const Value &v) const
{
  if (v.kind != Kind::Dict)
    return false;
  const std::vector<Value> &items = objects_[v.ref].items;
  for (size_t i = 0; i < items.size (); i += 2)
    if (items[i].kind != Kind::String || items[i + 1].kind != Kind::Tensor)
      return false;
  return true;
}

StateDict
Unpickler::to_state_dict (const Value &v) const
{
  /* Python dict semantics: a repeated key keeps its first position and its last value. */
  const std::vector<Value> &items = objects_[v.ref].items;
  StateDict sd;
  std::unordered_map<std::string, size_t> seen;
  for (size_t i = 0; i < items.size (); i += 2)
    {
      const std::string &name = strings_[items[i].ref];
      if (!is_valid_utf8 (name))
        fail_file (LT_ERROR_FORMAT, path_, "a tensor name is not valid UTF-8");
      const torch::Tensor &tensor = tensors_[items[i + 1].ref];
      const auto [it, added] = seen.emplace (name, sd.size ());
      if (added)
        sd.push_back (NamedTensor{ name, tensor });
      else
        sd[it->second].tensor = tensor;
    }
  return sd;
}

StateDict
Unpickler::finish (const Value &result) const
{
  if (is_tensor_dict (result))
    return to_state_dict (result);
  if (result.kind != Kind::Dict)
    fail_file (LT_ERROR_FORMAT, path_, "it holds " + a_kind (result.kind)
                                           + ", not a dict of named tensors (a state dict)");

  /* Training checkpoints wrap the state dict: {"state_dict": {...}, "epoch": 3, ...}. */
  const std::vector<Value> &items = objects_[result.ref].items;
  for (const char *wrapper : { "state_dict", "model_state_dict", "model" })
    for (size_t i = items.size (); i >= 2; i -= 2)
      if (items[i - 2].kind == Kind::String && strings_[items[i - 2].ref] == wrapper)
        {
          if (is_tensor_dict (items[i - 1]))
            return to_state_dict (items[i - 1]);
          break;
        }

  /* Not a tensor dict, so some entry is not a name and a tensor. */
  size_t i = 0;
  while (items[i].kind == Kind::String && items[i + 1].kind == Kind::Tensor)
    i += 2;
  if (items[i].kind != Kind::String)
    fail_file (LT_ERROR_FORMAT, path_, "it holds a dict with " + a_kind (items[i].kind)
                                           + " as a key, not a state dict");
  fail_file (LT_ERROR_FORMAT, path_,
             "it holds a dict whose entry \"" + printable (strings_[items[i].ref]) + "\" is "
                 + a_kind (items[i + 1].kind)
                 + ", not a tensor, and no \"state_dict\" or \"model\" entry made of tensors");
}

} // namespace

const char *
storage_class_name (c10::ScalarType type) noexcept
{
  for (const AllowedGlobal &g : kAllowedGlobals)
    if (g.callable == Callable::StorageClass && g.type == type)
      return g.name;
  return nullptr;
}

StateDict
read_torch_archive (const WeightFile &file)
{
  const std::string &path = file.path ();
  const ZipArchive zip (file);

  /* torch.save puts every member under one directory named after the file it first wrote. */
  const ZipArchive::Entry *pickle = nullptr;
  std::string prefix;
  for (const ZipArchive::Entry &e : zip.entries ())
    {
      const size_t slash = e.name.find ('/');
      if (slash != std::string::npos && e.name.compare (slash, std::string::npos, "/data.pkl") == 0)
        {
          if (pickle != nullptr)
            fail_file (LT_ERROR_FORMAT, path, "the archive holds more than one data.pkl");
          pickle = &e;
          prefix = e.name.substr (0, slash);
        }
    }
  if (pickle == nullptr)
    fail_file (LT_ERROR_FORMAT, path, "it is a zip archive without data.pkl, not a file "
                                      "written by torch.save");
  if (zip.find (prefix + "/constants.pkl") != nullptr)
    fail_file (LT_ERROR_FORMAT, path, "it is a TorchScript module (torch.jit.save), not a state "
                                      "dict; save model.state_dict() with torch.save instead");
  if (const ZipArchive::Entry *order = zip.find (prefix + "/byteorder"))
    {
      std::string text (std::min<uint64_t> (order->size, 16), '\0');
      if (order->size == text.size ())
        zip.read (*order, text.data ());
      if (text != "little")
        fail_file (LT_ERROR_FORMAT, path, "its tensors are stored big-endian, which is not "
                                          "supported");
    }
  if (pickle->size > kMaxPickleBytes)
    fail_file (LT_ERROR_FORMAT, path, "its data.pkl is " + std::to_string (pickle->size >> 20)
                                          + " MiB, far more than a state dict needs");

  zip.require_stored (*pickle);
  std::string data (pickle->size, '\0');
  zip.read (*pickle, data.data ());

  const auto load = [&] (const std::string &key, c10::ScalarType type, int64_t numel) {
    const std::string name = prefix + "/data/" + key;
    const ZipArchive::Entry *record = zip.find (name);
    if (record == nullptr)
      fail_file (LT_ERROR_FORMAT, path, "its data.pkl refers to the tensor data " + printable (name)
                                            + ", which the archive lacks");
    /* A compressed member's size is not bounded by the file's: refuse it before allocating. */
    zip.require_stored (*record);
    const uint64_t item = c10::elementSize (type);
    uint64_t needed;
    if (__builtin_mul_overflow (static_cast<uint64_t> (numel), item, &needed)
        || needed > record->size)
      fail_file (LT_ERROR_FORMAT, path,
                 "the tensor data " + printable (name) + " holds " + std::to_string (record->size)
                     + " bytes but is declared to hold " + std::to_string (numel) + " "
                     + dtype_name (type) + " values; the file is truncated or damaged");

    /* Bools are read as bytes and normalised: any other byte than 0 or 1 in a bool tensor
     * is undefined behaviour for libtorch's kernels. */
    const c10::ScalarType read_type = type == c10::ScalarType::Bool ? c10::ScalarType::Byte : type;
    torch::Tensor flat = torch::empty ({ numel }, torch::TensorOptions ().dtype (read_type));
    if (record->size == needed)
      zip.read (*record, flat.data_ptr ());
    else
      {
        std::vector<unsigned char> bytes (record->size);
        zip.read (*record, bytes.data ());
        std::memcpy (flat.data_ptr (), bytes.data (), needed);
      }
    return type == c10::ScalarType::Bool ? flat.ne (0) : flat;
  };

  Unpickler unpickler (path, data, load);
  return unpickler.run ();
}

} // namespace lt

/* lt-safetensors.cpp: reading and writing safetensors files
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * The format: an 8-byte little-endian header length, a JSON header mapping each tensor name to
 * {"dtype", "shape", "data_offsets"} (plus an optional "__metadata__" map of strings), then
 * the tensor bytes. Reading validates the header the way the reference implementation does
 * (the data sections must tile the rest of the file exactly) and more strictly (duplicate
 * names); writing orders tensors as the reference does, so files compare byte for byte.
 */

#include <algorithm>
#include <climits>
#include <cstring>
#include <unordered_set>

#include "lt-weights-io.hpp"

namespace lt {

namespace {

/* The reference implementation's limit. */
constexpr uint64_t kMaxHeaderBytes = 100000000;
constexpr int kMaxJsonDepth = 64;

/* rank: position in the reference implementation's Dtype enum, which orders dtypes by
 * alignment; the writer puts higher ranks first so that every tensor stays aligned. */
struct SafeDtype
{
  const char *name;
  c10::ScalarType type;
  int rank;
};

const SafeDtype kDtypes[] = {
  { "BOOL", c10::ScalarType::Bool, 0 },  { "U8", c10::ScalarType::Byte, 1 },
  { "I8", c10::ScalarType::Char, 2 },    { "I16", c10::ScalarType::Short, 5 },
  { "F16", c10::ScalarType::Half, 7 },   { "BF16", c10::ScalarType::BFloat16, 8 },
  { "I32", c10::ScalarType::Int, 9 },    { "F32", c10::ScalarType::Float, 11 },
  { "F64", c10::ScalarType::Double, 12 }, { "I64", c10::ScalarType::Long, 13 },
};

/* Valid safetensors dtypes that libtorch 1.13 has no tensor type for. */
const char *const kUnsupportedDtypes[] = { "U16", "U32", "U64", "F8_E5M2", "F8_E4M3" };

/* A small strict JSON reader: RFC 8259 grammar, no duplicate keys, bounded nesting. Only
 * non-negative integers keep their value, which is all the header needs. */
struct Json
{
  enum class Type { Null, Bool, Number, String, Array, Object };
  Type type = Type::Null;
  std::string string;
  bool is_uint = false; /* a Number written as a non-negative integer that fits 64 bits */
  uint64_t uint = 0;
  std::vector<Json> array;
  std::vector<std::pair<std::string, Json>> object;
};

class JsonParser
{
public:
  JsonParser (const std::string &path, const std::string &text) : path_ (path), text_ (text) {}

  Json parse_document ()
  {
    Json root = parse_value (0);
    skip_space ();
    if (pos_ != text_.size ())
      bad ("unexpected text after the header object");
    return root;
  }

private:
  [[noreturn]] void bad (const std::string &what) const
  {
    fail_file (LT_ERROR_FORMAT, path_, "its safetensors header is not valid JSON: " + what
                                           + " (at byte " + std::to_string (pos_) + ")");
  }

  void skip_space ()
  {
    while (pos_ < text_.size ()
           && (text_[pos_] == ' ' || text_[pos_] == '\t' || text_[pos_] == '\n'
               || text_[pos_] == '\r'))
      pos_++;
  }

  bool consume (char c)
  {
    skip_space ();
    if (pos_ < text_.size () && text_[pos_] == c)
      {
        pos_++;
        return true;
      }
    return false;
  }

  void expect (char c)
  {
    if (!consume (c))
      bad (std::string ("expected '") + c + "'");
  }

  bool consume_word (const char *word)
  {
    const size_t n = std::strlen (word);
    if (text_.compare (pos_, n, word) != 0)
      return false;
    pos_ += n;
    return true;
  }

  Json parse_value (int depth)
  {
    if (depth > kMaxJsonDepth)
      bad ("nesting too deep");
    skip_space ();
    if (pos_ >= text_.size ())
      bad ("the header ends too early");
    Json v;
    const char c = text_[pos_];
    if (c == '{')
      {
        pos_++;
        v.type = Json::Type::Object;
        std::unordered_set<std::string> keys;
        if (consume ('}'))
          return v;
        do
          {
            skip_space ();
            if (pos_ >= text_.size () || text_[pos_] != '"')
              bad ("expected a key");
            std::string key = parse_string ();
            if (!keys.insert (key).second)
              fail_file (LT_ERROR_FORMAT, path_, "its safetensors header lists \""
                                                     + key + "\" twice");
            expect (':');
            v.object.emplace_back (std::move (key), parse_value (depth + 1));
          }
        while (consume (','));
        expect ('}');
      }
    else if (c == '[')
      {
        pos_++;
        v.type = Json::Type::Array;
        if (consume (']'))
          return v;
        do
          v.array.push_back (parse_value (depth + 1));
        while (consume (','));
        expect (']');
      }
    else if (c == '"')
      {
        v.type = Json::Type::String;
        v.string = parse_string ();
      }
    else if (consume_word ("true") || consume_word ("false"))
      v.type = Json::Type::Bool;
    else if (consume_word ("null"))
      v.type = Json::Type::Null;
    else if (c == '-' || (c >= '0' && c <= '9'))
      parse_number (v);
    else
      bad ("unexpected character");
    return v;
  }

  void parse_number (Json &v)
  {
    v.type = Json::Type::Number;
    const bool negative = text_[pos_] == '-';
    if (negative)
      pos_++;
    const size_t digits = pos_;
    bool overflow = false;
    uint64_t value = 0;
    while (pos_ < text_.size () && text_[pos_] >= '0' && text_[pos_] <= '9')
      {
        const auto d = static_cast<uint64_t> (text_[pos_] - '0');
        overflow = overflow || __builtin_mul_overflow (value, 10u, &value)
                   || __builtin_add_overflow (value, d, &value);
        pos_++;
      }
    if (pos_ == digits || (text_[digits] == '0' && pos_ - digits > 1))
      bad ("malformed number");
    bool integer = true;
    if (pos_ < text_.size () && text_[pos_] == '.')
      {
        integer = false;
        pos_++;
        const size_t start = pos_;
        while (pos_ < text_.size () && text_[pos_] >= '0' && text_[pos_] <= '9')
          pos_++;
        if (pos_ == start)
          bad ("malformed number");
      }
    if (pos_ < text_.size () && (text_[pos_] == 'e' || text_[pos_] == 'E'))
      {
        integer = false;
        pos_++;
        if (pos_ < text_.size () && (text_[pos_] == '+' || text_[pos_] == '-'))
          pos_++;
        const size_t start = pos_;
        while (pos_ < text_.size () && text_[pos_] >= '0' && text_[pos_] <= '9')
          pos_++;
        if (pos_ == start)
          bad ("malformed number");
      }
    v.is_uint = integer && !negative && !overflow;
    v.uint = value;
  }

  unsigned hex4 ()
  {
    if (text_.size () - pos_ < 4)
      bad ("truncated \\u escape");
    unsigned v = 0;
    for (int i = 0; i < 4; i++)
      {
        const char c = text_[pos_++];
        v <<= 4;
        if (c >= '0' && c <= '9')
          v |= static_cast<unsigned> (c - '0');
        else if (c >= 'a' && c <= 'f')
          v |= static_cast<unsigned> (c - 'a' + 10);
        else if (c >= 'A' && c <= 'F')
          v |= static_cast<unsigned> (c - 'A' + 10);
        else
          bad ("bad \\u escape");
      }
    return v;
  }

  std::string parse_string ()
  {
    pos_++; /* the opening quote */
    std::string out;
    for (;;)
      {
        if (pos_ >= text_.size ())
          bad ("unterminated string");
        const char c = text_[pos_++];
        if (c == '"')
          return out;
        if (static_cast<unsigned char> (c) < 0x20)
          bad ("control character in a string");
        if (c != '\\')
          {
            out += c;
            continue;
          }
        if (pos_ >= text_.size ())
          bad ("unterminated string");
        const char e = text_[pos_++];
        switch (e)
          {
          case '"': out += '"'; break;
          case '\\': out += '\\'; break;
          case '/': out += '/'; break;
          case 'b': out += '\b'; break;
          case 'f': out += '\f'; break;
          case 'n': out += '\n'; break;
          case 'r': out += '\r'; break;
          case 't': out += '\t'; break;
          case 'u':
            {
              uint32_t cp = hex4 ();
              if (cp >= 0xdc00 && cp <= 0xdfff)
                bad ("lone surrogate in a \\u escape");
              if (cp >= 0xd800 && cp <= 0xdbff)
                {
                  if (text_.compare (pos_, 2, "\\u") != 0)
                    bad ("lone surrogate in a \\u escape");
                  pos_ += 2;
                  const uint32_t low = hex4 ();
                  if (low < 0xdc00 || low > 0xdfff)
                    bad ("lone surrogate in a \\u escape");
                  cp = 0x10000 + ((cp - 0xd800) << 10) + (low - 0xdc00);
                }
              append_utf8 (out, cp);
              break;
            }
          default:
            bad ("bad escape in a string");
          }
      }
  }

  const std::string &path_;
  const std::string &text_;
  size_t pos_ = 0;
};

struct TensorInfo
{
  std::string name;
  c10::ScalarType type;
  std::vector<int64_t> shape;
  uint64_t begin;
  uint64_t end;
};

TensorInfo
parse_tensor_info (const std::string &path, const std::string &name, const Json &v)
{
  const auto fail = [&] (const std::string &what) {
    fail_file (LT_ERROR_FORMAT, path, "its safetensors header describes tensor \"" + name
                                          + "\" badly: " + what);
  };
  if (v.type != Json::Type::Object)
    fail ("not an object");
  const Json *dtype = nullptr, *shape = nullptr, *offsets = nullptr;
  for (const auto &[key, field] : v.object)
    if (key == "dtype")
      dtype = &field;
    else if (key == "shape")
      shape = &field;
    else if (key == "data_offsets")
      offsets = &field;
  if (dtype == nullptr || shape == nullptr || offsets == nullptr)
    fail ("dtype, shape or data_offsets is missing");

  TensorInfo info{ name, c10::ScalarType::Undefined, {}, 0, 0 };
  if (dtype->type != Json::Type::String)
    fail ("its dtype is not a string");
  for (const SafeDtype &d : kDtypes)
    if (dtype->string == d.name)
      info.type = d.type;
  if (info.type == c10::ScalarType::Undefined)
    {
      for (const char *unsupported : kUnsupportedDtypes)
        if (dtype->string == unsupported)
          fail ("its dtype " + dtype->string + " is not supported by Leafscope");
      fail ("unknown dtype \"" + dtype->string + "\"");
    }

  if (shape->type != Json::Type::Array)
    fail ("its shape is not a list");
  if (shape->array.size () > LT_MAX_DIMS)
    fail ("its shape has " + std::to_string (shape->array.size ()) + " dimensions");
  uint64_t numel = 1;
  for (const Json &dim : shape->array)
    {
      if (!dim.is_uint || dim.uint > static_cast<uint64_t> (INT64_MAX))
        fail ("its shape holds something other than a size");
      if (__builtin_mul_overflow (numel, dim.uint, &numel))
        fail ("its shape has more elements than can be counted");
      info.shape.push_back (static_cast<int64_t> (dim.uint));
    }
  uint64_t nbytes;
  if (__builtin_mul_overflow (numel, static_cast<uint64_t> (c10::elementSize (info.type)), &nbytes))
    fail ("its shape has more bytes than can be counted");

  if (offsets->type != Json::Type::Array || offsets->array.size () != 2
      || !offsets->array[0].is_uint || !offsets->array[1].is_uint)
    fail ("its data_offsets are not two offsets");
  info.begin = offsets->array[0].uint;
  info.end = offsets->array[1].uint;
  if (info.end < info.begin)
    fail ("its data_offsets end before they begin");
  if (info.end - info.begin != nbytes)
    fail ("its data_offsets span " + std::to_string (info.end - info.begin) + " bytes but "
          + dtype->string + " of that shape takes " + std::to_string (nbytes));
  return info;
}

/* The data sections must tile the data part of the file exactly, as the reference demands:
 * this rules out overlaps, gaps and trailing bytes, and every section lies inside the file. */
void
check_layout (const std::string &path, const std::vector<TensorInfo> &infos, uint64_t data_size)
{
  std::vector<const TensorInfo *> order;
  for (const TensorInfo &info : infos)
    {
      if (info.end > data_size)
        fail_file (LT_ERROR_FORMAT, path,
                   "tensor \"" + info.name + "\" has data_offsets [" + std::to_string (info.begin)
                       + ", " + std::to_string (info.end) + "] out of range: the data part of "
                       + "the file holds " + std::to_string (data_size)
                       + " bytes; the file is truncated or damaged");
      order.push_back (&info);
    }
  std::sort (order.begin (), order.end (), [] (const TensorInfo *a, const TensorInfo *b) {
    return a->begin != b->begin ? a->begin < b->begin : a->end < b->end;
  });
  uint64_t expected = 0;
  const TensorInfo *previous = nullptr;
  for (const TensorInfo *info : order)
    {
      if (info->begin < expected)
        fail_file (LT_ERROR_FORMAT, path, "tensors \"" + previous->name + "\" and \""
                                              + info->name + "\" have overlapping data_offsets");
      if (info->begin > expected)
        fail_file (LT_ERROR_FORMAT, path, "there are " + std::to_string (info->begin - expected)
                                              + " unused bytes before tensor \"" + info->name
                                              + "\"; the header is damaged");
      expected = info->end;
      previous = info;
    }
  if (expected != data_size)
    fail_file (LT_ERROR_FORMAT, path, "there are " + std::to_string (data_size - expected)
                                          + " bytes after the last tensor; the header is "
                                            "damaged");
}

std::string
json_string (const std::string &s)
{
  std::string out = "\"";
  for (const char c : s)
    switch (c)
      {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (static_cast<unsigned char> (c) < 0x20)
          {
            char buf[8];
            snprintf (buf, sizeof buf, "\\u%04x", c);
            out += buf;
          }
        else
          out += c;
      }
  return out + "\"";
}

} // namespace

StateDict
read_safetensors (const WeightFile &file, Metadata *metadata)
{
  const std::string &path = file.path ();
  if (file.size () < 8)
    fail_file (LT_ERROR_FORMAT, path, "it is too short for a safetensors file");
  unsigned char length[8];
  file.read_at (0, length, sizeof length);
  uint64_t n = 0;
  for (int i = 7; i >= 0; i--)
    n = (n << 8) | length[i];
  if (n > kMaxHeaderBytes)
    fail_file (LT_ERROR_FORMAT, path, "its safetensors header claims " + std::to_string (n)
                                          + " bytes, more than the 100 MB the format allows; "
                                            "the file is damaged");
  if (n > file.size () - 8)
    fail_file (LT_ERROR_FORMAT, path, "its safetensors header (" + std::to_string (n)
                                          + " bytes) is larger than the file ("
                                          + std::to_string (file.size ())
                                          + " bytes); the file is truncated");

  const std::string header = file.read_string (8, n);
  if (!is_valid_utf8 (header))
    fail_file (LT_ERROR_FORMAT, path, "its safetensors header is not UTF-8 text");
  const Json root = JsonParser (path, header).parse_document ();
  if (root.type != Json::Type::Object)
    fail_file (LT_ERROR_FORMAT, path, "its safetensors header is not a JSON object");

  std::vector<TensorInfo> infos;
  for (const auto &[name, value] : root.object)
    {
      if (name != "__metadata__")
        {
          infos.push_back (parse_tensor_info (path, name, value));
          continue;
        }
      if (value.type != Json::Type::Object)
        fail_file (LT_ERROR_FORMAT, path, "its safetensors __metadata__ is not an object");
      for (const auto &[key, entry] : value.object)
        {
          if (entry.type != Json::Type::String)
            fail_file (LT_ERROR_FORMAT, path, "its safetensors __metadata__ entry \"" + key
                                                  + "\" is not a string");
          if (metadata != nullptr)
            metadata->emplace_back (key, entry.string);
        }
    }

  const uint64_t data_start = 8 + n;
  check_layout (path, infos, file.size () - data_start);

  StateDict sd;
  sd.reserve (infos.size ());
  for (const TensorInfo &info : infos)
    {
      const bool is_bool = info.type == c10::ScalarType::Bool;
      torch::Tensor t = torch::empty (info.shape, torch::TensorOptions ().dtype (
                                                    is_bool ? c10::ScalarType::Byte : info.type));
      file.read_at (data_start + info.begin, t.data_ptr (), info.end - info.begin);
      /* Any byte other than 0 or 1 in a bool tensor is undefined behaviour for libtorch. */
      sd.push_back (NamedTensor{ info.name, is_bool ? t.ne (0) : t });
    }
  return sd;
}

void
write_safetensors (const std::string &path, const StateDict &tensors, const Metadata &metadata)
{
  struct Item
  {
    const std::string *name;
    const SafeDtype *dtype;
    torch::Tensor data;
  };
  std::vector<Item> items;
  std::unordered_set<std::string> names;
  for (const NamedTensor &nt : tensors)
    {
      if (!is_valid_utf8 (nt.name) || nt.name == "__metadata__" || !names.insert (nt.name).second)
        throw Error (LT_ERROR_INVALID_ARGUMENT, path + ": cannot save a tensor named \""
                                                   + nt.name + "\" (not UTF-8, reserved, or "
                                                   "repeated)");
      const SafeDtype *dtype = nullptr;
      for (const SafeDtype &d : kDtypes)
        if (d.type == nt.tensor.scalar_type ())
          dtype = &d;
      if (dtype == nullptr)
        throw Error (LT_ERROR_INVALID_ARGUMENT, path + ": cannot save tensor \"" + nt.name
                                                   + "\": its dtype has no safetensors name");
      items.push_back (Item{ &nt.name, dtype, nt.tensor.to (torch::kCPU).contiguous () });
    }
  std::sort (items.begin (), items.end (), [] (const Item &a, const Item &b) {
    return a.dtype->rank != b.dtype->rank ? a.dtype->rank > b.dtype->rank : *a.name < *b.name;
  });

  Metadata sorted_metadata = metadata;
  std::sort (sorted_metadata.begin (), sorted_metadata.end ());
  std::string header = "{";
  if (!sorted_metadata.empty ())
    {
      header += "\"__metadata__\":{";
      for (size_t i = 0; i < sorted_metadata.size (); i++)
        {
          if (!is_valid_utf8 (sorted_metadata[i].first) || !is_valid_utf8 (sorted_metadata[i].second)
              || (i > 0 && sorted_metadata[i].first == sorted_metadata[i - 1].first))
            throw Error (LT_ERROR_INVALID_ARGUMENT, path + ": metadata keys and values must be "
                                                       "unique UTF-8 strings");
          header += (i > 0 ? "," : "") + json_string (sorted_metadata[i].first) + ":"
                    + json_string (sorted_metadata[i].second);
        }
      header += "}";
    }
  uint64_t offset = 0;
  for (const Item &item : items)
    {
      if (header.size () > 1)
        header += ",";
      header += json_string (*item.name) + ":{\"dtype\":\"" + item.dtype->name + "\",\"shape\":[";
      for (int64_t d = 0; d < item.data.dim (); d++)
        header += (d > 0 ? "," : "") + std::to_string (item.data.size (d));
      const uint64_t end = offset + item.data.nbytes ();
      header += "],\"data_offsets\":[" + std::to_string (offset) + "," + std::to_string (end) + "]}";
      offset = end;
    }
  header += "}";
  /* Padding the header to 8 bytes keeps every tensor aligned to its element size. */
  header.append ((8 - header.size () % 8) % 8, ' ');

  unsigned char length[8];
  for (int i = 0; i < 8; i++)
    length[i] = static_cast<unsigned char> (static_cast<uint64_t> (header.size ()) >> (8 * i));

  TempFile out (path);
  out.write (length, sizeof length);
  out.write (header.data (), header.size ());
  for (const Item &item : items)
    out.write (item.data.data_ptr (), item.data.nbytes ());
  out.commit ();
}

} // namespace lt

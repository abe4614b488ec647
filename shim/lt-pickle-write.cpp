/* lt-pickle-write.cpp: writing a state dict as torch.save() does
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * What torch.save(model.state_dict(), path) writes, so that torch.load (weights_only too) and
 * every tool that reads PyTorch checkpoints take it as one: a zip archive of uncompressed
 * members under one folder, the data 64-byte aligned; data.pkl, a protocol 2 pickle of an
 * OrderedDict whose values torch._utils._rebuild_tensor_v2 rebuilds from persistent storages
 * ("storage", torch.FloatStorage, key, "cpu", numel); data/<key> with each storage's bytes,
 * little-endian; version "3". Each tensor gets a storage of its own, contiguous.
 */

#include <unordered_set>

#include "lt-weights-io.hpp"

namespace lt {

namespace {

const std::string kFolder = "archive";
constexpr uint64_t kAlignment = 64;
/* Without zip64 records, sizes, offsets and counts must fit the classic fields. A state dict
 * that does not fit (4 GiB) is far beyond an EfficientNet. */
constexpr uint64_t kMax32 = 0xfffffffeu;
constexpr size_t kMaxMembers = 0xfffe;

/* The opcodes written, as the pickle module names them. */
enum : unsigned char
{
  PROTO = 0x80, GLOBAL = 'c', EMPTY_TUPLE = ')', MARK = '(', TUPLE = 't', TUPLE1 = 0x85,
  REDUCE = 'R', BINPERSID = 'Q', BINUNICODE = 'X', BININT = 'J', BININT1 = 'K', BININT2 = 'M',
  LONG1 = 0x8a, NEWFALSE = 0x89, SETITEMS = 'u', STOP = '.',
};

void
put_le (std::string &out, uint64_t value, int n)
{
  for (int i = 0; i < n; i++)
    out += static_cast<char> (value >> (8 * i));
}

class Pickler
{
public:
  std::string out;

  void op (unsigned char code) { out += static_cast<char> (code); }

  void text (const std::string &s)
  {
    op (BINUNICODE);
    put_le (out, s.size (), 4);
    out += s;
  }

  void global (const char *module, const char *name)
  {
    op (GLOBAL);
    out += std::string (module) + "\n" + name + "\n";
  }

  void integer (int64_t v)
  {
    if (v >= 0 && v < 0x100)
      op (BININT1), put_le (out, static_cast<uint64_t> (v), 1);
    else if (v >= 0 && v < 0x10000)
      op (BININT2), put_le (out, static_cast<uint64_t> (v), 2);
    else if (v >= INT32_MIN && v <= INT32_MAX)
      op (BININT), put_le (out, static_cast<uint64_t> (v), 4);
    else
      op (LONG1), op (8), put_le (out, static_cast<uint64_t> (v), 8);
  }

  void int_tuple (const c10::IntArrayRef values)
  {
    if (values.empty ())
      return op (EMPTY_TUPLE);
    if (values.size () > 3)
      op (MARK);
    for (const int64_t v : values)
      integer (v);
    op (values.size () > 3 ? static_cast<unsigned char> (TUPLE)
                           : static_cast<unsigned char> (TUPLE1 + values.size () - 1));
  }

  /* _rebuild_tensor_v2(storage, 0, size, stride, False, OrderedDict()): the tensor a
   * contiguous storage of its own holds, without gradients or backward hooks. */
  void tensor (const torch::Tensor &t, const char *storage_class, const std::string &key)
  {
    global ("torch._utils", "_rebuild_tensor_v2");
    op (MARK);
    op (MARK);
    text ("storage");
    global ("torch", storage_class);
    text (key);
    text ("cpu");
    integer (t.numel ());
    op (TUPLE);
    op (BINPERSID);
    integer (0);
    int_tuple (t.sizes ());
    int_tuple (t.strides ());
    op (NEWFALSE);
    global ("collections", "OrderedDict");
    op (EMPTY_TUPLE);
    op (REDUCE);
    op (TUPLE);
    op (REDUCE);
  }
};

class ZipWriter
{
public:
  explicit ZipWriter (const std::string &path) : path_ (path), out_ (path) {}

  void add (const std::string &name, const void *data, uint64_t size)
  {
    const uint64_t offset = out_.written ();
    if (offset > kMax32 || size > kMax32 || members_.size () >= kMaxMembers)
      fail_file (LT_ERROR_INVALID_ARGUMENT, path_, "the state dict is too large for a torch.save "
                                                   "file without zip64 records; export it as "
                                                   "safetensors");
    const uint32_t crc = crc32 (data, size);

    /* torch pads the local header's extra field (id "FB") so that the data starts on a
     * 64-byte boundary; a padding record takes at least its 4-byte header. */
    uint64_t pad = (kAlignment - (offset + 30 + name.size ()) % kAlignment) % kAlignment;
    if (pad > 0 && pad < 4)
      pad += kAlignment;
    std::string header;
    put_le (header, 0x04034b50, 4);
    put_le (header, 20, 2); /* version needed: 2.0 */
    put_le (header, 0, 2);  /* flags */
    put_le (header, 0, 2);  /* stored */
    put_le (header, 0, 4);  /* time and date, as torch leaves them */
    put_le (header, crc, 4);
    put_le (header, size, 4);
    put_le (header, size, 4);
    put_le (header, name.size (), 2);
    put_le (header, pad, 2);
    header += name;
    if (pad > 0)
      {
        header += "FB";
        put_le (header, pad - 4, 2);
        header.append (pad - 4, 'Z');
      }
    out_.write (header.data (), header.size ());
    out_.write (data, size);
    members_.push_back (Member{ name, crc, size, offset });
  }

  void finish ()
  {
    const uint64_t directory = out_.written ();
    std::string central;
    for (const Member &m : members_)
      {
        put_le (central, 0x02014b50, 4);
        put_le (central, 20, 2); /* made by: 2.0 */
        put_le (central, 20, 2); /* needed: 2.0 */
        put_le (central, 0, 2);
        put_le (central, 0, 2);
        put_le (central, 0, 4);
        put_le (central, m.crc, 4);
        put_le (central, m.size, 4);
        put_le (central, m.size, 4);
        put_le (central, m.name.size (), 2);
        central.append (2 + 2 + 2 + 2 + 4, '\0'); /* extra, comment, disk, attributes */
        put_le (central, m.offset, 4);
        central += m.name;
      }
    if (directory > kMax32 || central.size () > kMax32)
      fail_file (LT_ERROR_INVALID_ARGUMENT, path_, "the state dict is too large for a torch.save "
                                                   "file without zip64 records; export it as "
                                                   "safetensors");
    std::string end;
    put_le (end, 0x06054b50, 4);
    put_le (end, 0, 4); /* one disk */
    put_le (end, members_.size (), 2);
    put_le (end, members_.size (), 2);
    put_le (end, central.size (), 4);
    put_le (end, directory, 4);
    put_le (end, 0, 2);
    out_.write (central.data (), central.size ());
    out_.write (end.data (), end.size ());
    out_.commit ();
  }

private:
  struct Member
  {
    std::string name;
    uint32_t crc;
    uint64_t size;
    uint64_t offset;
  };

  const std::string &path_;
  TempFile out_;
  std::vector<Member> members_;
};

} // namespace

void
write_torch_archive (const std::string &path, const StateDict &tensors)
{
  Pickler pickle;
  std::vector<torch::Tensor> storages;
  std::unordered_set<std::string> names;

  pickle.op (PROTO);
  pickle.op (2);
  pickle.global ("collections", "OrderedDict");
  pickle.op (EMPTY_TUPLE);
  pickle.op (REDUCE);
  pickle.op (MARK);
  for (const NamedTensor &nt : tensors)
    {
      if (!is_valid_utf8 (nt.name) || !names.insert (nt.name).second)
        throw Error (LT_ERROR_INVALID_ARGUMENT, path + ": cannot save a tensor named \"" + nt.name
                                                   + "\" (not UTF-8, or repeated)");
      const char *storage_class = storage_class_name (nt.tensor.scalar_type ());
      if (storage_class == nullptr)
        throw Error (LT_ERROR_INVALID_ARGUMENT, path + ": cannot save tensor \"" + nt.name
                                                   + "\": torch.save files have no storage "
                                                     "for its dtype");
      const std::string key = std::to_string (storages.size ());
      storages.push_back (nt.tensor.to (torch::kCPU).contiguous ());
      pickle.text (nt.name);
      pickle.tensor (storages.back (), storage_class, key);
    }
  pickle.op (SETITEMS);
  pickle.op (STOP);

  ZipWriter zip (path);
  zip.add (kFolder + "/data.pkl", pickle.out.data (), pickle.out.size ());
  zip.add (kFolder + "/byteorder", "little", 6);
  for (size_t i = 0; i < storages.size (); i++)
    zip.add (kFolder + "/data/" + std::to_string (i), storages[i].data_ptr (),
             storages[i].nbytes ());
  zip.add (kFolder + "/version", "3\n", 2);
  zip.finish ();
}

} // namespace lt

/* lt-weights.cpp: opening weight files, telling their formats apart, and the C API
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <memory>
#include <random>
#include <sys/stat.h>
#include <system_error>
#include <unistd.h>

#include "lt-weights-io.hpp"

static_assert (__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__,
               "weight files are little-endian and are read without byte swapping");

namespace lt {

namespace {

/* pickle protocol 2, LONG1 of 10 bytes: torch's legacy MAGIC_NUMBER 0x1950a86a20f9469cfc6c,
 * the first thing the pre-zip torch.save wrote. */
const std::string kLegacyMagic ("\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19", 10);

std::string
errno_message (int err)
{
  return std::generic_category ().message (err);
}

bool
starts_with (const std::string &s, const char *prefix)
{
  return s.compare (0, std::strlen (prefix), prefix) == 0;
}

bool
looks_like_text (const std::string &head)
{
  for (const char ch : head)
    {
      const auto c = static_cast<unsigned char> (ch);
      if (c < 0x20 && c != '\t' && c != '\n' && c != '\r' && c != '\f')
        return false;
    }
  return true;
}

/* What to tell the user about content that is no weight file at all. */
[[noreturn]] void
fail_unknown (const WeightFile &file, const std::string &head)
{
  const std::string &path = file.path ();
  if (head.size () >= 2 && static_cast<unsigned char> (head[0]) == 0x1f
      && static_cast<unsigned char> (head[1]) == 0x8b)
    fail_file (LT_ERROR_FORMAT, path, "it is gzip-compressed: decompress it first");
  if (looks_like_text (head))
    {
      std::string lower = head.substr (0, 256);
      std::transform (lower.begin (), lower.end (), lower.begin (),
                      [] (unsigned char c) { return static_cast<char> (std::tolower (c)); });
      lower.erase (0, lower.find_first_not_of (" \t\r\n\f"));
      if (starts_with (lower, "<!doctype html") || starts_with (lower, "<html"))
        fail_file (LT_ERROR_FORMAT, path, "it is a web page, not a weight file; the download "
                                          "probably failed");
      if (starts_with (lower, "version https://git-lfs"))
        fail_file (LT_ERROR_FORMAT, path, "it is a Git LFS pointer, not the weights; fetch "
                                          "them with git lfs pull");
      fail_file (LT_ERROR_FORMAT, path, "it is a text file, not a weight file");
    }
  fail_file (LT_ERROR_FORMAT, path, "not a weight file: Leafscope reads torch.save files "
                                    "(.pth, .pt) and safetensors");
}

} // namespace

void
fail_file (LtStatus status, const std::string &path, const std::string &what)
{
  throw Error (status, path + ": " + what);
}

WeightFile::WeightFile (const std::string &path)
  : path_ (path)
{
  fd_ = ::open (path.c_str (), O_RDONLY | O_CLOEXEC);
  if (fd_ < 0)
    fail_file (LT_ERROR_IO, path, errno_message (errno));
  struct stat st;
  int err = 0;
  if (fstat (fd_, &st) != 0)
    err = errno;
  else if (!S_ISREG (st.st_mode))
    err = S_ISDIR (st.st_mode) ? EISDIR : EINVAL;
  if (err != 0)
    {
      ::close (fd_);
      fail_file (LT_ERROR_IO, path, err == EINVAL ? "not a regular file" : errno_message (err));
    }
  size_ = static_cast<uint64_t> (st.st_size);
}

WeightFile::~WeightFile ()
{
  ::close (fd_);
}

void
WeightFile::read_at (uint64_t offset, void *buffer, size_t n) const
{
  if (offset > size_ || n > size_ - offset)
    fail_file (LT_ERROR_FORMAT, path_, "it ends too early; the file is truncated");
  auto *p = static_cast<char *> (buffer);
  while (n > 0)
    {
      const ssize_t got = ::pread (fd_, p, n, static_cast<off_t> (offset));
      if (got < 0 && errno == EINTR)
        continue;
      if (got < 0)
        fail_file (LT_ERROR_IO, path_, "cannot read: " + errno_message (errno));
      if (got == 0)
        fail_file (LT_ERROR_IO, path_, "the file shrank while it was being read");
      p += got;
      offset += static_cast<uint64_t> (got);
      n -= static_cast<size_t> (got);
    }
}

std::string
WeightFile::read_string (uint64_t offset, size_t n) const
{
  std::string s (n, '\0');
  read_at (offset, s.data (), n);
  return s;
}

TempFile::TempFile (const std::string &target)
  : target_ (target)
{
  const size_t slash = target.rfind ('/');
  dir_ = slash == std::string::npos ? "." : slash == 0 ? "/" : target.substr (0, slash);
  const std::string base = slash == std::string::npos ? target : target.substr (slash + 1);
  std::random_device random;
  for (int attempt = 0; fd_ < 0; attempt++)
    {
      char suffix[32];
      snprintf (suffix, sizeof suffix, ".tmp-%d-%08x", static_cast<int> (getpid ()),
                static_cast<unsigned> (random ()));
      path_ = (slash == std::string::npos ? "" : dir_ + "/") + "." + base + suffix;
      /* 0666 so that the umask decides, as for any new file. */
      fd_ = ::open (path_.c_str (), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
      if (fd_ < 0 && (errno != EEXIST || attempt > 100))
        fail_file (LT_ERROR_IO, target, "cannot create a file in " + dir_ + ": "
                                            + errno_message (errno));
    }
}

TempFile::~TempFile ()
{
  if (fd_ >= 0)
    ::close (fd_);
  if (!renamed_)
    ::unlink (path_.c_str ());
}

void
TempFile::write (const void *data, size_t n)
{
  const auto *p = static_cast<const char *> (data);
  while (n > 0)
    {
      const ssize_t done = ::write (fd_, p, std::min<size_t> (n, 1u << 30));
      if (done < 0 && errno == EINTR)
        continue;
      if (done < 0)
        fail_write (errno);
      p += done;
      n -= static_cast<size_t> (done);
      written_ += static_cast<uint64_t> (done);
    }
}

void
TempFile::commit ()
{
  if (::fsync (fd_) != 0)
    fail_write (errno);
  const int fd = fd_;
  fd_ = -1;
  if (::close (fd) != 0)
    fail_write (errno);
  if (::rename (path_.c_str (), target_.c_str ()) != 0)
    fail_file (LT_ERROR_IO, target_, "cannot replace the file: " + errno_message (errno));
  renamed_ = true;
  /* Makes the rename itself durable; filesystems that cannot sync a directory say EINVAL. */
  const int dir = ::open (dir_.c_str (), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir >= 0)
    {
      const int failed = ::fsync (dir) != 0 && errno != EINVAL ? errno : 0;
      ::close (dir);
      if (failed != 0)
        fail_file (LT_ERROR_IO, target_, "cannot sync its directory: " + errno_message (failed));
    }
}

void
TempFile::fail_write (int err) const
{
  std::string advice;
  if (err == ENOSPC || err == EDQUOT || err == EFBIG)
    advice = "; free some disk space or choose another place, and try again";
  fail_file (LT_ERROR_IO, target_, "cannot write: " + errno_message (err) + advice);
}

const char *
dtype_name (c10::ScalarType type) noexcept
{
  switch (type)
    {
    case c10::ScalarType::Float: return "float32";
    case c10::ScalarType::Half: return "float16";
    case c10::ScalarType::BFloat16: return "bfloat16";
    case c10::ScalarType::Double: return "float64";
    case c10::ScalarType::Long: return "int64";
    case c10::ScalarType::Int: return "int32";
    case c10::ScalarType::Short: return "int16";
    case c10::ScalarType::Char: return "int8";
    case c10::ScalarType::Byte: return "uint8";
    case c10::ScalarType::Bool: return "bool";
    default: return nullptr;
    }
}

void
append_utf8 (std::string &out, uint32_t cp)
{
  if (cp < 0x80)
    out += static_cast<char> (cp);
  else if (cp < 0x800)
    {
      out += static_cast<char> (0xc0 | (cp >> 6));
      out += static_cast<char> (0x80 | (cp & 0x3f));
    }
  else if (cp < 0x10000)
    {
      out += static_cast<char> (0xe0 | (cp >> 12));
      out += static_cast<char> (0x80 | ((cp >> 6) & 0x3f));
      out += static_cast<char> (0x80 | (cp & 0x3f));
    }
  else
    {
      out += static_cast<char> (0xf0 | (cp >> 18));
      out += static_cast<char> (0x80 | ((cp >> 12) & 0x3f));
      out += static_cast<char> (0x80 | ((cp >> 6) & 0x3f));
      out += static_cast<char> (0x80 | (cp & 0x3f));
    }
}

bool
is_valid_utf8 (const std::string &s) noexcept
{
  const auto *p = reinterpret_cast<const unsigned char *> (s.data ());
  const size_t n = s.size ();
  for (size_t i = 0; i < n;)
    {
      const unsigned char c = p[i];
      size_t len;
      uint32_t cp;
      if (c < 0x80)
        {
          i++;
          continue;
        }
      else if ((c & 0xe0) == 0xc0)
        len = 2, cp = c & 0x1f;
      else if ((c & 0xf0) == 0xe0)
        len = 3, cp = c & 0x0f;
      else if ((c & 0xf8) == 0xf0)
        len = 4, cp = c & 0x07;
      else
        return false;
      if (n - i < len)
        return false;
      for (size_t k = 1; k < len; k++)
        {
          if ((p[i + k] & 0xc0) != 0x80)
            return false;
          cp = (cp << 6) | (p[i + k] & 0x3f);
        }
      /* Overlong forms, surrogates and values past U+10FFFF are not UTF-8. */
      if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000)
          || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
        return false;
      i += len;
    }
  return true;
}

StateDict
read_state_dict (const std::string &path, Metadata *metadata_out)
{
  const WeightFile file (path);
  if (file.size () == 0)
    fail_file (LT_ERROR_FORMAT, path, "the file is empty");

  const std::string head = file.read_string (0, std::min<uint64_t> (file.size (), 512));
  const auto *h = reinterpret_cast<const unsigned char *> (head.data ());

  if (metadata_out != nullptr)
    metadata_out->clear ();

  if (head.size () >= 4 && h[0] == 'P' && h[1] == 'K'
      && ((h[2] == 3 && h[3] == 4) || (h[2] == 5 && h[3] == 6)))
    return read_torch_archive (file);

  if (h[0] == 0x80 && head.size () >= 2 && h[1] <= 5)
    {
      if (head.find (kLegacyMagic) < 32)
        fail_file (LT_ERROR_FORMAT, path,
                   "unsupported format: legacy torch.save file; re-save it with torch.save in "
                   "PyTorch >= 1.6");
      fail_file (LT_ERROR_FORMAT, path, "it is a plain Python pickle, not a torch.save archive "
                                        "or safetensors file");
    }

  /* safetensors: a little-endian header length, then the JSON header. Real lengths leave
   * zero bytes in the length, which tells the format apart from text that has a '{'. */
  if (head.size () >= 9 && h[8] == '{' && !looks_like_text (head.substr (0, 8)))
    {
      Metadata metadata;
      StateDict sd = read_safetensors (file, &metadata);
      if (metadata_out != nullptr)
        *metadata_out = std::move (metadata);
      return sd;
    }

  fail_unknown (file, head);
}

} // namespace lt

namespace {

const torch::Tensor *
tensor_at (const LtStateDict *sd, size_t i)
{
  if (sd == nullptr || i >= sd->entries.size ())
    return nullptr;
  return &sd->entries[i].tensor;
}

} // namespace

extern "C" LtStatus
lt_state_dict_load (const char *path, LtStateDict **out, char **error)
{
  if (out != nullptr)
    *out = nullptr;
  return lt::guard (error, [&] {
    if (path == nullptr || out == nullptr)
      throw lt::Error (LT_ERROR_INVALID_ARGUMENT, "lt_state_dict_load: path and out are required");
    auto sd = std::make_unique<LtStateDict> ();
    sd->entries = lt::read_state_dict (path, &sd->metadata);
    *out = sd.release ();
  });
}

extern "C" void
lt_state_dict_free (LtStateDict *sd)
{
  delete sd;
}

extern "C" size_t
lt_state_dict_count (const LtStateDict *sd)
{
  return sd == nullptr ? 0 : sd->entries.size ();
}

extern "C" const char *
lt_state_dict_name (const LtStateDict *sd, size_t i)
{
  return tensor_at (sd, i) == nullptr ? nullptr : sd->entries[i].name.c_str ();
}

extern "C" int
lt_state_dict_shape (const LtStateDict *sd, size_t i, int64_t *dims, int max_dims)
{
  const torch::Tensor *t = tensor_at (sd, i);
  if (t == nullptr)
    return -1;
  const int ndim = static_cast<int> (t->dim ());
  for (int d = 0; d < ndim && d < max_dims && dims != nullptr; d++)
    dims[d] = t->size (d);
  return ndim;
}

extern "C" int64_t
lt_state_dict_numel (const LtStateDict *sd, size_t i)
{
  const torch::Tensor *t = tensor_at (sd, i);
  return t == nullptr ? -1 : t->numel ();
}

extern "C" const char *
lt_state_dict_dtype_name (const LtStateDict *sd, size_t i)
{
  const torch::Tensor *t = tensor_at (sd, i);
  return t == nullptr ? nullptr : lt::dtype_name (t->scalar_type ());
}

extern "C" LtStatus
lt_state_dict_read (const LtStateDict *sd, size_t i, void *dst, size_t dst_size, char **error)
{
  return lt::guard (error, [&] {
    const torch::Tensor *t = tensor_at (sd, i);
    if (t == nullptr || (dst == nullptr && dst_size > 0))
      throw lt::Error (LT_ERROR_INVALID_ARGUMENT, "lt_state_dict_read: no tensor " + std::to_string (i));
    const torch::Tensor c = t->to (torch::kCPU).contiguous ();
    if (c.nbytes () != dst_size)
      throw lt::Error (LT_ERROR_INVALID_ARGUMENT,
                       "lt_state_dict_read: " + sd->entries[i].name + " takes "
                           + std::to_string (c.nbytes ()) + " bytes, not "
                           + std::to_string (dst_size));
    if (dst_size > 0)
      std::memcpy (dst, c.data_ptr (), dst_size);
  });
}

extern "C" const char *
lt_state_dict_metadata (const LtStateDict *sd, const char *key)
{
  if (sd == nullptr || key == nullptr)
    return nullptr;
  for (const auto &[k, v] : sd->metadata)
    if (k == key)
      return v.c_str ();
  return nullptr;
}

extern "C" const char *
lt_state_dict_metadata_key (const LtStateDict *sd, size_t i)
{
  if (sd == nullptr || i >= sd->metadata.size ())
    return nullptr;
  return sd->metadata[i].first.c_str ();
}

extern "C" LtStatus
lt_state_dict_set_metadata (LtStateDict *sd, const char *key, const char *value, char **error)
{
  return lt::guard (error, [&] {
    if (sd == nullptr || key == nullptr || value == nullptr)
      throw lt::Error (LT_ERROR_INVALID_ARGUMENT,
                       "lt_state_dict_set_metadata: sd, key and value are required");
    if (!lt::is_valid_utf8 (key) || !lt::is_valid_utf8 (value))
      throw lt::Error (LT_ERROR_INVALID_ARGUMENT,
                       "lt_state_dict_set_metadata: key and value must be UTF-8");
    for (auto &[k, v] : sd->metadata)
      if (k == key)
        {
          v = value;
          return;
        }
    sd->metadata.emplace_back (key, value);
  });
}

extern "C" LtStatus
lt_state_dict_save_safetensors (const LtStateDict *sd, const char *path, char **error)
{
  return lt::guard (error, [&] {
    if (sd == nullptr || path == nullptr)
      throw lt::Error (LT_ERROR_INVALID_ARGUMENT,
                       "lt_state_dict_save_safetensors: sd and path are required");
    lt::write_safetensors (path, sd->entries, sd->metadata);
  });
}

extern "C" LtStatus
lt_state_dict_save_torch (const LtStateDict *sd, const char *path, char **error)
{
  return lt::guard (error, [&] {
    if (sd == nullptr || path == nullptr)
      throw lt::Error (LT_ERROR_INVALID_ARGUMENT,
                       "lt_state_dict_save_torch: sd and path are required");
    lt::write_torch_archive (path, sd->entries);
  });
}

extern "C" LtStatus
lt_state_dict_strip_prefix (LtStateDict *sd, const char *prefix, char **error)
{
  return lt::guard (error, [&] {
    if (sd == nullptr || prefix == nullptr)
      throw lt::Error (LT_ERROR_INVALID_ARGUMENT,
                       "lt_state_dict_strip_prefix: sd and prefix are required");
    const size_t n = std::strlen (prefix);
    lt::StateDict kept;
    for (const lt::NamedTensor &nt : sd->entries)
      if (nt.name.size () > n && nt.name.compare (0, n, prefix) == 0)
        kept.push_back (lt::NamedTensor{ nt.name.substr (n), nt.tensor });
    if (kept.empty ())
      throw lt::Error (LT_ERROR_MISMATCH, std::string ("no tensor name starts with \"") + prefix
                                              + "\"");
    sd->entries = std::move (kept);
  });
}

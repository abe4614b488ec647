/* lt-weights-io.hpp: what the weight-file readers share (files, zip records, dtypes)
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

#include "lt-private.hpp"
#include "lt-weights-private.hpp"

namespace lt {

/* Every message about a file starts with its path, so that it makes sense on its own. */
[[noreturn]] void fail_file (LtStatus status, const std::string &path, const std::string &what);

/* A regular file opened read-only, read with pread() so that nothing depends on a file
 * position. */
class WeightFile
{
public:
  explicit WeightFile (const std::string &path);
  ~WeightFile ();
  WeightFile (const WeightFile &) = delete;
  WeightFile &operator= (const WeightFile &) = delete;

  const std::string &path () const noexcept { return path_; }
  uint64_t size () const noexcept { return size_; }

  /* Reads exactly n bytes at offset; a range past the end is a LT_ERROR_FORMAT ("truncated"),
   * so callers validate offsets first and this is the last line of defence. */
  void read_at (uint64_t offset, void *buffer, size_t n) const;
  std::string read_string (uint64_t offset, size_t n) const;

private:
  std::string path_;
  int fd_ = -1;
  uint64_t size_ = 0;
};

/* A file in the target's directory that disappears unless it is renamed into place: the
 * writers replace a file atomically (a temporary file beside it, fsynced, then renamed). */
class TempFile
{
public:
  explicit TempFile (const std::string &target);
  ~TempFile ();
  TempFile (const TempFile &) = delete;
  TempFile &operator= (const TempFile &) = delete;

  void write (const void *data, size_t n);
  /* How many bytes were written so far: where the next write lands. */
  uint64_t written () const noexcept { return written_; }
  /* Syncs the file, renames it onto the target and syncs the directory. */
  void commit ();

private:
  [[noreturn]] void fail_write (int err) const;

  std::string target_;
  std::string dir_;
  std::string path_;
  int fd_ = -1;
  uint64_t written_ = 0;
  bool renamed_ = false;
};

/* The stored (uncompressed) members of a zip archive, which is all torch.save writes. */
class ZipArchive
{
public:
  struct Entry
  {
    std::string name;
    uint64_t size = 0;
    uint64_t compressed_size = 0;
    uint16_t method = 0; /* 0: stored, the only one read; TorchScript deflates its code/ */
    uint32_t crc32 = 0;
    uint64_t data_offset = 0; /* found through the local header while the archive is opened */
  };

  explicit ZipArchive (const WeightFile &file);

  const std::vector<Entry> &entries () const noexcept { return entries_; }
  const Entry *find (const std::string &name) const;
  /* Fails unless entry is stored uncompressed. Only then is entry.size known to lie within
   * the file, so call this before allocating entry.size bytes for read(). */
  void require_stored (const Entry &entry) const;
  /* Reads the whole stored member into buffer (entry.size bytes) and checks its CRC-32. */
  void read (const Entry &entry, void *buffer) const;

private:
  const WeightFile &file_;
  std::vector<Entry> entries_;
  std::unordered_map<std::string, size_t> index_;
};

/* The CRC-32 of zip archives (and of gzip and PNG). */
uint32_t crc32 (const void *data, size_t n) noexcept;

/* The torch name ("float32") of a dtype that weight files hold, or nullptr for others. */
const char *dtype_name (c10::ScalarType type) noexcept;

/* Names end up in C strings, JSON and terminals: they must be well-formed UTF-8. */
bool is_valid_utf8 (const std::string &s) noexcept;

/* Appends code point cp, which the caller has checked is at most U+10FFFF, as UTF-8. */
void append_utf8 (std::string &out, uint32_t cp);

/* The torch.save storage class of a dtype ("FloatStorage", in the module torch), from the
 * list of globals the unpickler allows, or nullptr. */
const char *storage_class_name (c10::ScalarType type) noexcept;

StateDict read_torch_archive (const WeightFile &file);
StateDict read_safetensors (const WeightFile &file, Metadata *metadata);

} // namespace lt

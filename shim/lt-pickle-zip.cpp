/* lt-pickle-zip.cpp: the zip container of torch.save files
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * torch.save writes an uncompressed ("stored") zip archive. Reading it ourselves rather than
 * through libtorch's PyTorchStreamReader keeps every size and offset under our control: a
 * member is only ever read into a buffer of the size the central directory declares, after
 * checking that it lies inside the file and shares no byte with another member, so a damaged
 * or hostile archive cannot make us allocate more than the file holds.
 */

#include <algorithm>
#include <array>
#include <cstring>

#include "lt-weights-io.hpp"

namespace lt {

namespace {

constexpr uint32_t kLocalHeaderSignature = 0x04034b50;
constexpr uint32_t kCentralHeaderSignature = 0x02014b50;
constexpr uint32_t kEndSignature = 0x06054b50;
constexpr uint32_t kZip64EndSignature = 0x06064b50;
constexpr uint32_t kZip64LocatorSignature = 0x07064b50;
constexpr size_t kEndSize = 22;
constexpr size_t kZip64EndSize = 56;
constexpr size_t kZip64LocatorSize = 20;
constexpr size_t kCentralHeaderSize = 46;
constexpr size_t kLocalHeaderSize = 30;
/* A torch.save central directory takes about 80 bytes per tensor; 64 MiB is far beyond any
 * real checkpoint and bounds what a forged directory size can make us allocate. */
constexpr uint64_t kMaxCentralDirectory = 64u << 20;

uint16_t
le16 (const unsigned char *p)
{
  return static_cast<uint16_t> (p[0] | (p[1] << 8));
}

uint32_t
le32 (const unsigned char *p)
{
  return static_cast<uint32_t> (p[0]) | (static_cast<uint32_t> (p[1]) << 8)
         | (static_cast<uint32_t> (p[2]) << 16) | (static_cast<uint32_t> (p[3]) << 24);
}

uint64_t
le64 (const unsigned char *p)
{
  return static_cast<uint64_t> (le32 (p)) | (static_cast<uint64_t> (le32 (p + 4)) << 32);
}

std::array<uint32_t, 256>
make_crc_table ()
{
  std::array<uint32_t, 256> table{};
  for (uint32_t i = 0; i < 256; i++)
    {
      uint32_t c = i;
      for (int k = 0; k < 8; k++)
        c = (c & 1) ? 0xedb88320u ^ (c >> 1) : c >> 1;
      table[i] = c;
    }
  return table;
}

} // namespace

uint32_t
crc32 (const void *data, size_t n) noexcept
{
  static const std::array<uint32_t, 256> table = make_crc_table ();
  const unsigned char *p = static_cast<const unsigned char *> (data);
  uint32_t c = 0xffffffffu;
  for (size_t i = 0; i < n; i++)
    c = table[(c ^ p[i]) & 0xff] ^ (c >> 8);
  return c ^ 0xffffffffu;
}

namespace {

struct Directory
{
  uint64_t offset = 0;
  uint64_t size = 0;
  uint64_t count = 0;
  uint64_t end = 0; /* where the end records start: members and directory lie before it */
};

Directory
find_directory (const WeightFile &file)
{
  const std::string &path = file.path ();
  const uint64_t tail_size = std::min<uint64_t> (file.size (), kEndSize + 0xffff);
  const std::string tail = file.read_string (file.size () - tail_size, tail_size);
  const auto *t = reinterpret_cast<const unsigned char *> (tail.data ());

  /* The end record is followed only by its comment; search backwards, as unzip does. */
  size_t pos = std::string::npos;
  for (size_t i = tail_size >= kEndSize ? tail_size - kEndSize + 1 : 0; i-- > 0;)
    if (le32 (t + i) == kEndSignature && i + kEndSize + le16 (t + i + 20) <= tail_size)
      {
        pos = i;
        break;
      }
  if (pos == std::string::npos)
    fail_file (LT_ERROR_FORMAT, path,
               "the zip archive has no end record: the file is truncated or damaged; download "
               "or copy it again");

  const unsigned char *end = t + pos;
  Directory dir;
  dir.end = file.size () - tail_size + pos;
  if (le16 (end + 4) != 0 || le16 (end + 6) != 0)
    fail_file (LT_ERROR_FORMAT, path, "multi-volume zip archives are not supported");
  dir.count = le16 (end + 10);
  dir.size = le32 (end + 12);
  dir.offset = le32 (end + 16);

  if (dir.count == 0xffff || dir.size == 0xffffffffu || dir.offset == 0xffffffffu)
    {
      /* Zip64: the real values live in a second end record that a locator points to. */
      if (dir.end < kZip64LocatorSize)
        fail_file (LT_ERROR_FORMAT, path, "the zip64 end record is missing: the file is damaged");
      unsigned char loc[kZip64LocatorSize];
      file.read_at (dir.end - kZip64LocatorSize, loc, sizeof loc);
      if (le32 (loc) != kZip64LocatorSignature)
        fail_file (LT_ERROR_FORMAT, path, "the zip64 end record is missing: the file is damaged");
      const uint64_t end64_offset = le64 (loc + 8);
      if (end64_offset > dir.end - kZip64LocatorSize
          || dir.end - kZip64LocatorSize - end64_offset < kZip64EndSize)
        fail_file (LT_ERROR_FORMAT, path, "the zip64 end record lies outside the file: the file "
                                          "is damaged");
      unsigned char end64[kZip64EndSize];
      file.read_at (end64_offset, end64, sizeof end64);
      if (le32 (end64) != kZip64EndSignature)
        fail_file (LT_ERROR_FORMAT, path, "the zip64 end record is damaged");
      dir.count = le64 (end64 + 32);
      dir.size = le64 (end64 + 40);
      dir.offset = le64 (end64 + 48);
      dir.end = end64_offset;
    }

  if (dir.offset > dir.end || dir.size > dir.end - dir.offset)
    fail_file (LT_ERROR_FORMAT, path,
               "the zip directory lies outside the file: the file is truncated or damaged");
  if (dir.size > kMaxCentralDirectory)
    fail_file (LT_ERROR_FORMAT, path, "the zip directory is implausibly large ("
                                          + std::to_string (dir.size) + " bytes)");
  return dir;
}

} // namespace

ZipArchive::ZipArchive (const WeightFile &file)
  : file_ (file)
{
  const std::string &path = file.path ();
  const Directory dir = find_directory (file);
  const std::string central = file.read_string (dir.offset, dir.size);
  const auto *c = reinterpret_cast<const unsigned char *> (central.data ());
  /* The bytes each member takes, from its local header to the end of its data. */
  struct Span
  {
    uint64_t begin;
    uint64_t end;
    size_t entry;
    bool operator< (const Span &other) const { return begin < other.begin; }
  };
  std::vector<Span> spans;

  size_t pos = 0;
  while (pos < central.size ())
    {
      if (central.size () - pos < kCentralHeaderSize || le32 (c + pos) != kCentralHeaderSignature)
        fail_file (LT_ERROR_FORMAT, path, "the zip directory is damaged");
      const unsigned char *h = c + pos;
      const uint16_t flags = le16 (h + 8);
      const size_t name_len = le16 (h + 28);
      const size_t extra_len = le16 (h + 30);
      const size_t comment_len = le16 (h + 32);
      if (central.size () - pos - kCentralHeaderSize < name_len + extra_len + comment_len)
        fail_file (LT_ERROR_FORMAT, path, "the zip directory is damaged");

      Entry entry;
      entry.name.assign (central, pos + kCentralHeaderSize, name_len);
      entry.method = le16 (h + 10);
      entry.crc32 = le32 (h + 16);
      entry.compressed_size = le32 (h + 20);
      entry.size = le32 (h + 24);
      uint64_t local_offset = le32 (h + 42);

      /* Sizes and offsets that do not fit 32 bits move to the zip64 extra field, in this
       * order, each present only when its 32-bit field is saturated. */
      const unsigned char *extra = h + kCentralHeaderSize + name_len;
      for (size_t e = 0; e + 4 <= extra_len;)
        {
          const uint16_t id = le16 (extra + e);
          const size_t len = le16 (extra + e + 2);
          if (e + 4 + len > extra_len)
            fail_file (LT_ERROR_FORMAT, path, "the zip directory entry for " + entry.name
                                                  + " is damaged");
          if (id == 0x0001)
            {
              const unsigned char *z = extra + e + 4;
              size_t left = len;
              for (uint64_t *field : { &entry.size, &entry.compressed_size, &local_offset })
                if (*field == 0xffffffffu)
                  {
                    if (left < 8)
                      fail_file (LT_ERROR_FORMAT, path, "the zip directory entry for "
                                                            + entry.name + " is damaged");
                    *field = le64 (z);
                    z += 8;
                    left -= 8;
                  }
            }
          e += 4 + len;
        }
      pos += kCentralHeaderSize + name_len + extra_len + comment_len;

      if (flags & 0x0001)
        fail_file (LT_ERROR_FORMAT, path, "the archive member " + entry.name + " is encrypted");
      if (entry.method == 0 && entry.compressed_size != entry.size)
        fail_file (LT_ERROR_FORMAT, path, "the zip directory entry for " + entry.name
                                              + " is damaged (its two sizes differ)");

      /* The local header repeats the name and may carry padding (torch aligns data to 64
       * bytes with it); the data starts after both. */
      unsigned char local[kLocalHeaderSize];
      if (local_offset > dir.offset || dir.offset - local_offset < kLocalHeaderSize)
        fail_file (LT_ERROR_FORMAT, path, "the archive member " + entry.name
                                              + " lies outside the file: the file is damaged");
      file.read_at (local_offset, local, sizeof local);
      if (le32 (local) != kLocalHeaderSignature || le16 (local + 26) != name_len
          || file.read_string (local_offset + kLocalHeaderSize, std::min<uint64_t> (
                                 name_len, dir.offset - local_offset - kLocalHeaderSize))
                 != entry.name)
        fail_file (LT_ERROR_FORMAT, path, "the local header of archive member " + entry.name
                                              + " is damaged");
      entry.data_offset = local_offset + kLocalHeaderSize + name_len + le16 (local + 28);
      if (entry.data_offset > dir.offset || entry.compressed_size > dir.offset - entry.data_offset)
        fail_file (LT_ERROR_FORMAT, path, "the archive member " + entry.name
                                              + " runs past the end of the data: the file is "
                                                "truncated or damaged");

      if (!index_.emplace (entry.name, entries_.size ()).second)
        fail_file (LT_ERROR_FORMAT, path, "the archive lists " + entry.name + " twice");
      spans.push_back (Span{ local_offset, entry.data_offset + entry.compressed_size,
                             entries_.size () });
      entries_.push_back (std::move (entry));
    }

  if (entries_.size () != dir.count)
    fail_file (LT_ERROR_FORMAT, path, "the zip directory announces " + std::to_string (dir.count)
                                          + " members but holds "
                                          + std::to_string (entries_.size ()));

  /* Each member is read into a buffer of its own, so members that share bytes (one member's
   * data holding the next member whole, every CRC valid) would let a small file make us
   * allocate many times its size. Members that do not overlap add up to at most the file. */
  std::sort (spans.begin (), spans.end ());
  for (size_t i = 1; i < spans.size (); i++)
    if (spans[i].begin < spans[i - 1].end)
      fail_file (LT_ERROR_FORMAT, path, "the archive members " + entries_[spans[i - 1].entry].name
                                            + " and " + entries_[spans[i].entry].name
                                            + " overlap: the file is forged or damaged");
}

const ZipArchive::Entry *
ZipArchive::find (const std::string &name) const
{
  const auto it = index_.find (name);
  return it == index_.end () ? nullptr : &entries_[it->second];
}

void
ZipArchive::require_stored (const Entry &entry) const
{
  if (entry.method != 0)
    fail_file (LT_ERROR_FORMAT, file_.path (),
               "the archive member " + entry.name + " is compressed (zip method "
                   + std::to_string (entry.method)
                   + "); torch.save never compresses, so the file was repacked by another tool: "
                     "save it again with torch.save");
}

void
ZipArchive::read (const Entry &entry, void *buffer) const
{
  require_stored (entry);
  file_.read_at (entry.data_offset, buffer, entry.size);
  if (crc32 (buffer, entry.size) != entry.crc32)
    fail_file (LT_ERROR_FORMAT, file_.path (),
               "the archive member " + entry.name + " is damaged (CRC-32 mismatch); download "
                                                    "or copy the file again");
}

} // namespace lt

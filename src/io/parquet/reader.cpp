// Parquet reader: footer, page decoding and record assembly into table columns.
#include <fcntl.h>
#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>

#include "io/parquet/codec.h"
#include "io/parquet/encoding.h"
#include "io/parquet/metadata.h"
#include "io/parquet/parquet.h"
#include "io/parquet/schema_map.h"

namespace structflow::io::parquet {
namespace {

using table::Column;
using table::TypeId;

__extension__ typedef __int128 Int128;
__extension__ typedef unsigned __int128 UInt128;

constexpr int64_t kBatchByteCap = 16 << 20;  // a batch also ends when its bytes exceed this
constexpr int64_t kMaxFooter = 256 << 20;
// Levels a single page may hold. RLE lets a few bytes claim billions of levels; real writers cut
// pages far below this, so more is treated as corrupt rather than allocated.
constexpr int64_t kMaxPageLevels = int64_t{1} << 26;
// How far past its recorded end a column chunk's last page may run (see ChunkReader::NextPage):
// one page header, as Arrow's padding for PARQUET-816.
constexpr int64_t kMaxChunkOverrun = 100;

// A file read with pread; never loaded whole.
class File {
 public:
  ~File() {
    if (fd_ >= 0) ::close(fd_);
  }
  Status Open(const std::string& path) {
    path_ = path;
    fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd_ < 0) {
      return Status::IOError(fmt::format("cannot open '{}': {}", path, std::strerror(errno)));
    }
    off_t end = ::lseek(fd_, 0, SEEK_END);
    if (end < 0)
      return Status::IOError(fmt::format("cannot size '{}': {}", path, std::strerror(errno)));
    size_ = end;
    return Status::OK();
  }
  int64_t size() const { return size_; }
  const std::string& path() const { return path_; }
  Status ReadAt(int64_t offset, int64_t len, std::string* out) const {
    if (offset < 0 || len < 0 || offset > size_ || len > size_ - offset) {
      return Status::Corrupt(
          fmt::format("range [{}, +{}) lies outside the file ({} bytes); the file is "
                      "truncated or corrupt",
                      offset, len, size_));
    }
    out->resize(static_cast<size_t>(len));
    int64_t done = 0;
    while (done < len) {
      ssize_t n = ::pread(fd_, out->data() + done, static_cast<size_t>(len - done), offset + done);
      if (n < 0) {
        if (errno == EINTR) continue;
        return Status::IOError(fmt::format("read failed: {}", std::strerror(errno)));
      }
      if (n == 0) return Status::IOError("unexpected end of file");
      done += n;
    }
    return Status::OK();
  }

 private:
  std::string path_;
  int fd_ = -1;
  int64_t size_ = 0;
};

// Footer damage is nearly always a file cut short (an interrupted write, copy or download) or
// partly overwritten: the messages say so, and that the fix is to write or fetch it again.
constexpr std::string_view kDamaged =
    "the file was cut short or overwritten (an interrupted write, copy or download?); write or "
    "download it again";

Status ReadFooter(const File& f, FileMetaData* md) {
  if (f.size() < 12) {
    return Status::Corrupt(
        fmt::format("{} bytes is too small for a Parquet file (it needs the PAR1 magic at both "
                    "ends and a footer); {}",
                    f.size(), kDamaged));
  }
  std::string head, tail;
  SF_RETURN_NOT_OK(f.ReadAt(0, 4, &head));
  SF_RETURN_NOT_OK(f.ReadAt(f.size() - 8, 8, &tail));
  if (head != "PAR1") return Status::Corrupt("not a Parquet file (missing PAR1 magic)");
  if (tail.compare(4, 4, "PAR1") != 0) {
    if (tail.compare(4, 4, "PARE") == 0) {
      return Status::Unimplemented("encrypted Parquet files are not supported");
    }
    return Status::Corrupt(fmt::format(
        "not a whole Parquet file: it starts with the PAR1 magic but does not end with it; {}",
        kDamaged));
  }
  uint32_t len;
  std::memcpy(&len, tail.data(), 4);
  if (len > f.size() - 12 || len > kMaxFooter) {
    return Status::Corrupt(
        fmt::format("footer length {} exceeds the file ({} bytes); {}", len, f.size(), kDamaged));
  }
  std::string footer;
  SF_RETURN_NOT_OK(f.ReadAt(f.size() - 8 - len, len, &footer));
  Status st = ParseFileMetaData(reinterpret_cast<const uint8_t*>(footer.data()), footer.size(), md);
  if (!st.ok()) {
    return Status(st.code(), fmt::format("footer ({} bytes of file metadata) is corrupt: {}; {}",
                                         len, st.message(), kDamaged));
  }
  if (md->schema.empty()) {
    return Status::Corrupt(
        fmt::format("footer ({} bytes of file metadata) holds no schema; {}", len, kDamaged));
  }
  if (md->num_rows < 0) return Status::Corrupt("footer has a negative row count");
  return Status::OK();
}

// Decoded values of one leaf, already converted to table representation.
struct Values {
  std::vector<int64_t> ints;
  std::vector<double> dbls;
  std::string bytes;
  std::vector<uint64_t> offs{0};  // bytes: value i is [offs[i], offs[i+1])
  int64_t count = 0;

  void Clear() {
    ints.clear();
    dbls.clear();
    bytes.clear();
    offs.assign(1, 0);
    count = 0;
  }
  void PushBytes(std::string_view v) {
    bytes.append(v);
    offs.push_back(bytes.size());
    ++count;
  }
  void PushInt(int64_t v) {
    ints.push_back(v);
    ++count;
  }
  void PushDouble(double v) {
    dbls.push_back(v);
    ++count;
  }
  std::string_view GetBytes(int64_t i) const {
    return std::string_view(bytes.data() + offs[i], offs[i + 1] - offs[i]);
  }
  // Drops the first `n` values.
  void DropFront(int64_t n) {
    if (n <= 0) return;
    if (!ints.empty()) ints.erase(ints.begin(), ints.begin() + n);
    if (!dbls.empty()) dbls.erase(dbls.begin(), dbls.begin() + n);
    if (offs.size() > 1) {
      uint64_t cut = offs[n];
      bytes.erase(0, cut);
      offs.erase(offs.begin(), offs.begin() + n);
      for (auto& o : offs) o -= cut;
    }
    count -= n;
  }
};

std::string Int128Text(Int128 v, int scale) {
  bool neg = v < 0;
  UInt128 mag = neg ? static_cast<UInt128>(0) - static_cast<UInt128>(v) : static_cast<UInt128>(v);
  std::string digits;
  do {
    digits.push_back(static_cast<char>('0' + static_cast<int>(mag % 10)));
    mag /= 10;
  } while (mag != 0);
  while (static_cast<int>(digits.size()) <= scale) digits.push_back('0');
  std::string out = neg ? "-" : "";
  for (size_t i = digits.size(); i-- > 0;) {
    out.push_back(digits[i]);
    if (scale > 0 && i == static_cast<size_t>(scale)) out.push_back('.');
  }
  return out;
}

float HalfToFloat(uint16_t h) {
  uint32_t sign = (h >> 15) & 1, exp = (h >> 10) & 0x1f, mant = h & 0x3ff;
  float v;
  if (exp == 0) {
    v = std::ldexp(static_cast<float>(mant), -24);
  } else if (exp == 31) {
    v = mant ? std::numeric_limits<float>::quiet_NaN() : std::numeric_limits<float>::infinity();
  } else {
    v = std::ldexp(static_cast<float>(mant | 0x400), static_cast<int>(exp) - 25);
  }
  return sign ? -v : v;
}

// Converts physical values of one leaf into table values.
class Converter {
 public:
  explicit Converter(const Node& n) : n_(n) {}

  Status Int(int64_t raw, Values* v) const {
    switch (n_.conv) {
      case Conv::kInt:
        v->PushInt(raw);
        return Status::OK();
      case Conv::kUInt32:
        v->PushInt(static_cast<int64_t>(static_cast<uint32_t>(raw)));
        return Status::OK();
      case Conv::kDecimalString:
        v->PushBytes(Int128Text(raw, n_.scale));
        return Status::OK();
      default:
        return Status::Internal("integer value for a non-integer column");
    }
  }
  Status Double(double d, Values* v) const {
    v->PushDouble(d);
    return Status::OK();
  }
  Status Bytes(std::string_view b, Values* v) const {
    switch (n_.conv) {
      case Conv::kBytes:
        v->PushBytes(b);
        return Status::OK();
      case Conv::kInt96: {
        if (b.size() != 12) return Status::Corrupt("INT96 value is not 12 bytes");
        // Nanoseconds of the day, then the Julian day. Read as microseconds, as DuckDB does:
        // nanoseconds since 1970 in an int64 end in 2262, and Spark writes 9999-12-31 for
        // "no end" (Arrow's nanoseconds wrap it around to 1816). Values past the microsecond
        // range (about 290,000 years) are refused, never wrapped.
        int64_t nanos;
        int32_t julian;
        std::memcpy(&nanos, b.data(), 8);
        std::memcpy(&julian, b.data() + 8, 4);
        int64_t micros = 0;
        if (__builtin_mul_overflow(static_cast<int64_t>(julian) - 2440588, int64_t{86400000000},
                                   &micros) ||
            __builtin_add_overflow(micros, nanos / 1000, &micros)) {
          return Status::Corrupt(fmt::format(
              "INT96 timestamp (Julian day {}, {} ns) lies outside the years a timestamp can "
              "hold",
              julian, nanos));
        }
        v->PushInt(micros);
        return Status::OK();
      }
      case Conv::kFloat16: {
        uint16_t h;
        std::memcpy(&h, b.data(), 2);
        v->PushDouble(HalfToFloat(h));
        return Status::OK();
      }
      case Conv::kDecimalBytes:
      case Conv::kDecimalString: {
        if (b.size() > 16) {
          // Leading bytes must be pure sign extension for the value to fit 128 bits.
          size_t extra = b.size() - 16;
          uint8_t sign = (static_cast<uint8_t>(b[0]) & 0x80) ? 0xff : 0;
          for (size_t i = 0; i < extra; ++i) {
            if (static_cast<uint8_t>(b[i]) != sign) {
              return Status::Unimplemented("decimal value exceeds 128 bits");
            }
          }
          b.remove_prefix(extra);
        }
        Int128 x = 0;
        if (!b.empty() && (static_cast<uint8_t>(b[0]) & 0x80)) x = -1;
        for (char c : b)
          x = static_cast<Int128>((static_cast<UInt128>(x) << 8) | static_cast<uint8_t>(c));
        if (n_.conv == Conv::kDecimalString) {
          v->PushBytes(Int128Text(x, n_.scale));
        } else {
          if (x > INT64_MAX || x < INT64_MIN) {
            return Status::Corrupt("decimal value exceeds its declared precision");
          }
          v->PushInt(static_cast<int64_t>(x));
        }
        return Status::OK();
      }
      default:
        return Status::Internal("byte value for a non-byte column");
    }
  }

 private:
  const Node& n_;
};

// Reads the pages of one column chunk, one at a time, appending decoded levels and values.
class ChunkReader {
 public:
  ChunkReader(const File* file, const Node* leaf, const ColumnMetaData* md)
      : file_(file), leaf_(leaf), md_(md), conv_(*leaf) {}

  Status Init() {
    // The chunk starts at its dictionary page when it has one. Writers disagree on the offsets
    // they record: some write dictionary_page_offset 0 for "none", and parquet-cpp (Arrow 17)
    // writes data_page_offset 0 for a chunk that holds only a dictionary page (a file with no
    // rows). An offset below 4 (inside the magic) is no offset.
    int64_t start = md_->data_page_offset;
    if (md_->dictionary_page_offset && *md_->dictionary_page_offset >= 4 &&
        (*md_->dictionary_page_offset < start || start < 4)) {
      start = *md_->dictionary_page_offset;
    }
    if (md_->type != leaf_->physical) {
      return Status::Corrupt(fmt::format("column chunk type {} differs from the schema's {}",
                                         static_cast<int>(md_->type),
                                         static_cast<int>(leaf_->physical)));
    }
    if (start < 4 || md_->total_compressed_size < 0 || start > file_->size() ||
        md_->total_compressed_size > file_->size() - start) {
      return Status::Corrupt(fmt::format("column chunk [{}, +{}) lies outside the file", start,
                                         md_->total_compressed_size));
    }
    if (md_->num_values < 0) return Status::Corrupt("column chunk has a negative value count");
    pos_ = start;
    end_ = start + md_->total_compressed_size;
    return Status::OK();
  }

  bool done() const { return levels_read_ >= md_->num_values || pos_ >= end_; }
  int page_index() const { return page_index_; }

  // Decodes the next data page (after any dictionary page) into the buffers.
  Status NextPage(std::vector<int16_t>* def, std::vector<int16_t>* rep, Values* values) {
    while (true) {
      if (pos_ >= end_) return Status::Corrupt("column chunk ends before all its values were read");
      PageHeader ph;
      size_t header_size = 0;
      SF_RETURN_NOT_OK(ReadHeader(&ph, &header_size));
      pos_ += static_cast<int64_t>(header_size);
      if (ph.compressed_page_size < 0 || ph.uncompressed_page_size < 0) {
        return Status::Corrupt(fmt::format("page {} has a negative size", page_index_));
      }
      if (ph.compressed_page_size > end_ - pos_) {
        // parquet-mr 1.2.8 and older left the dictionary page header out of the chunk's
        // total_compressed_size (PARQUET-816, IMPALA-694), so the chunk's last page runs past
        // the recorded end by at most one header. Arrow pads such chunks by 100 bytes; DuckDB
        // reads pages by their headers. Read on when the overrun is that small and stays
        // before the footer; refuse larger ones, naming the bug.
        const int64_t over = ph.compressed_page_size - (end_ - pos_);
        if (over <= kMaxChunkOverrun && !overran_ &&
            pos_ + ph.compressed_page_size <= file_->size() - 8) {
          end_ += over;
          overran_ = true;
        } else {
          return Status::Corrupt(fmt::format(
              "page {} ({} bytes) runs {} bytes past the column chunk's recorded end: the writer "
              "recorded the chunk or page size wrong (parquet-mr 1.2.8 and older left the "
              "dictionary page header out of the chunk size, PARQUET-816); rewrite the file with "
              "a current writer",
              page_index_, ph.compressed_page_size, over));
        }
      }
      SF_RETURN_NOT_OK(file_->ReadAt(pos_, ph.compressed_page_size, &raw_));
      pos_ += ph.compressed_page_size;
      ++page_index_;
      switch (ph.type) {
        case PageType::kDictionaryPage:
          SF_RETURN_NOT_OK(ReadDictionary(ph));
          continue;
        case PageType::kDataPage:
          return ReadDataPageV1(ph, def, rep, values);
        case PageType::kDataPageV2:
          return ReadDataPageV2(ph, def, rep, values);
        default:
          continue;  // index pages and unknown page types are skipped
      }
    }
  }

 private:
  Status ReadHeader(PageHeader* ph, size_t* header_size) {
    // A header may itself cross a PARQUET-816 chunk end (see NextPage).
    const int64_t limit =
        std::max(end_, std::min(end_ + (overran_ ? 0 : kMaxChunkOverrun), file_->size() - 8));
    int64_t window = std::min<int64_t>(limit - pos_, 16 << 10);
    while (true) {
      // A buffer of its own, so raw_ keeps its size from page to page and is not zero-filled
      // again on every resize.
      SF_RETURN_NOT_OK(file_->ReadAt(pos_, window, &header_buf_));
      *ph = PageHeader();
      Status st = ParsePageHeader(reinterpret_cast<const uint8_t*>(header_buf_.data()),
                                  header_buf_.size(), ph, header_size);
      if (st.ok()) return st;
      if (window >= limit - pos_ || window >= (64 << 20)) {
        return st.WithContext("page header");
      }
      window = std::min<int64_t>(limit - pos_, window * 4);
    }
  }

  Status Decompressed(const PageHeader& ph, std::string_view in, size_t size, std::string* out) {
    (void)ph;
    // A page with no bytes (a DataPage V2 holding only nulls, or no values) is not a
    // compressed stream: zero bytes are not valid Snappy, for one. Arrow, arrow-rs and DuckDB
    // skip decompressing it.
    if (size == 0 && in.empty()) {
      out->clear();
      return Status::OK();
    }
    return Decompress(md_->codec, in, size, out);
  }

  Status ReadDictionary(const PageHeader& ph) {
    if (!ph.dictionary_page) return Status::Corrupt("dictionary page without its header");
    SF_RETURN_NOT_OK(
        Decompressed(ph, raw_, static_cast<size_t>(ph.uncompressed_page_size), &page_));
    dict_.Clear();
    int32_t n = ph.dictionary_page->num_values;
    if (n < 0) return Status::Corrupt("dictionary page has a negative value count");
    auto* p = reinterpret_cast<const uint8_t*>(page_.data());
    SF_RETURN_NOT_OK(DecodePlain(p, page_.size(), n, &dict_));
    has_dict_ = true;
    return Status::OK();
  }

  Status ReadDataPageV1(const PageHeader& ph, std::vector<int16_t>* def, std::vector<int16_t>* rep,
                        Values* values) {
    if (!ph.data_page) return Status::Corrupt("data page without its header");
    const DataPageHeader& h = *ph.data_page;
    SF_RETURN_NOT_OK(CheckLevelCount(h.num_values));
    SF_RETURN_NOT_OK(
        Decompressed(ph, raw_, static_cast<size_t>(ph.uncompressed_page_size), &page_));
    auto* p = reinterpret_cast<const uint8_t*>(page_.data());
    size_t size = page_.size();
    int64_t n = h.num_values;
    size_t base = def->size();
    rep->resize(base + n, 0);
    def->resize(base + n, static_cast<int16_t>(leaf_->max_def));
    if (leaf_->max_rep > 0) {
      size_t used = 0;
      SF_RETURN_NOT_OK(DecodeLevels(static_cast<int>(h.repetition_level_encoding), true,
                                    leaf_->max_rep, p, size, n, rep->data() + base, &used));
      p += used;
      size -= used;
    }
    if (leaf_->max_def > 0) {
      size_t used = 0;
      SF_RETURN_NOT_OK(DecodeLevels(static_cast<int>(h.definition_level_encoding), true,
                                    leaf_->max_def, p, size, n, def->data() + base, &used));
      p += used;
      size -= used;
    }
    levels_read_ += n;
    int64_t non_null = 0;
    for (int64_t i = 0; i < n; ++i) non_null += (*def)[base + i] == leaf_->max_def;
    return DecodeValues(h.encoding, p, size, non_null, values);
  }

  Status ReadDataPageV2(const PageHeader& ph, std::vector<int16_t>* def, std::vector<int16_t>* rep,
                        Values* values) {
    if (!ph.data_page_v2) return Status::Corrupt("data page v2 without its header");
    const DataPageHeaderV2& h = *ph.data_page_v2;
    SF_RETURN_NOT_OK(CheckLevelCount(h.num_values));
    if (h.repetition_levels_byte_length < 0 || h.definition_levels_byte_length < 0 ||
        static_cast<int64_t>(h.repetition_levels_byte_length) + h.definition_levels_byte_length >
            static_cast<int64_t>(raw_.size())) {
      return Status::Corrupt("data page v2 level lengths exceed the page");
    }
    auto* p = reinterpret_cast<const uint8_t*>(raw_.data());
    int64_t n = h.num_values;
    size_t base = def->size();
    rep->resize(base + n, 0);
    def->resize(base + n, static_cast<int16_t>(leaf_->max_def));
    size_t used = 0;
    if (leaf_->max_rep > 0) {
      SF_RETURN_NOT_OK(DecodeLevels(static_cast<int>(Encoding::kRle), false, leaf_->max_rep, p,
                                    h.repetition_levels_byte_length, n, rep->data() + base, &used));
    }
    p += h.repetition_levels_byte_length;
    if (leaf_->max_def > 0) {
      SF_RETURN_NOT_OK(DecodeLevels(static_cast<int>(Encoding::kRle), false, leaf_->max_def, p,
                                    h.definition_levels_byte_length, n, def->data() + base, &used));
    }
    p += h.definition_levels_byte_length;
    size_t levels_len =
        static_cast<size_t>(h.repetition_levels_byte_length) + h.definition_levels_byte_length;
    std::string_view body(raw_.data() + levels_len, raw_.size() - levels_len);
    int64_t body_size =
        static_cast<int64_t>(ph.uncompressed_page_size) - static_cast<int64_t>(levels_len);
    if (body_size < 0) return Status::Corrupt("data page v2 levels exceed its uncompressed size");
    if (h.is_compressed && md_->codec != Codec::kUncompressed) {
      SF_RETURN_NOT_OK(Decompressed(ph, body, static_cast<size_t>(body_size), &page_));
    } else {
      page_.assign(body);
    }
    levels_read_ += n;
    int64_t non_null = 0;
    for (int64_t i = 0; i < n; ++i) non_null += (*def)[base + i] == leaf_->max_def;
    return DecodeValues(h.encoding, reinterpret_cast<const uint8_t*>(page_.data()), page_.size(),
                        non_null, values);
  }

  Status CheckLevelCount(int64_t n) const {
    if (n < 0) return Status::Corrupt("data page has a negative value count");
    if (n > kMaxPageLevels || n > md_->num_values - levels_read_) {
      return Status::Corrupt(fmt::format("data page claims {} values; the column chunk has {} left",
                                         n, md_->num_values - levels_read_));
    }
    return Status::OK();
  }

  int FixedWidth() const {
    switch (leaf_->physical) {
      case PhysicalType::kInt32:
      case PhysicalType::kFloat:
        return 4;
      case PhysicalType::kInt64:
      case PhysicalType::kDouble:
        return 8;
      case PhysicalType::kInt96:
        return 12;
      case PhysicalType::kFixedLenByteArray:
        return leaf_->type_length;
      default:
        return 0;
    }
  }

  // Converts one fixed-width physical value at p.
  Status FromFixed(const uint8_t* p, Values* out) const {
    switch (leaf_->physical) {
      case PhysicalType::kInt32: {
        int32_t x;
        std::memcpy(&x, p, 4);
        return conv_.Int(x, out);
      }
      case PhysicalType::kInt64: {
        int64_t x;
        std::memcpy(&x, p, 8);
        return conv_.Int(x, out);
      }
      case PhysicalType::kFloat: {
        float x;
        std::memcpy(&x, p, 4);
        return conv_.Double(x, out);
      }
      case PhysicalType::kDouble: {
        double x;
        std::memcpy(&x, p, 8);
        return conv_.Double(x, out);
      }
      default:
        return conv_.Bytes(
            std::string_view(reinterpret_cast<const char*>(p), static_cast<size_t>(FixedWidth())),
            out);
    }
  }

  Status DecodePlain(const uint8_t* p, size_t size, int64_t n, Values* out) {
    if (leaf_->conv == Conv::kNull) return Status::OK();
    switch (leaf_->physical) {
      case PhysicalType::kBoolean: {
        if (static_cast<uint64_t>(n) > static_cast<uint64_t>(size) * 8) {
          return Status::Corrupt("PLAIN booleans run past the end of the page");
        }
        for (int64_t i = 0; i < n; ++i) out->PushInt((p[i >> 3] >> (i & 7)) & 1);
        return Status::OK();
      }
      case PhysicalType::kByteArray: {
        size_t pos = 0;
        for (int64_t i = 0; i < n; ++i) {
          if (size - pos < 4)
            return Status::Corrupt("PLAIN byte array runs past the end of the page");
          uint32_t len;
          std::memcpy(&len, p + pos, 4);
          pos += 4;
          if (len > size - pos) {
            return Status::Corrupt(
                fmt::format("PLAIN byte array of {} bytes runs past the end of the page", len));
          }
          SF_RETURN_NOT_OK(
              conv_.Bytes(std::string_view(reinterpret_cast<const char*>(p + pos), len), out));
          pos += len;
        }
        return Status::OK();
      }
      default: {
        int w = FixedWidth();
        if (w <= 0 || static_cast<uint64_t>(n) * w > size) {
          return Status::Corrupt(
              fmt::format("PLAIN data holds fewer than the {} values the page needs", n));
        }
        if (n > 0 && leaf_->conv == Conv::kInt && leaf_->physical == PhysicalType::kInt64) {
          size_t base = out->ints.size();
          out->ints.resize(base + n);
          std::memcpy(out->ints.data() + base, p, static_cast<size_t>(n) * 8);
          out->count += n;
          return Status::OK();
        }
        for (int64_t i = 0; i < n; ++i) SF_RETURN_NOT_OK(FromFixed(p + i * w, out));
        return Status::OK();
      }
    }
  }

  void CopyFromDict(uint32_t idx, Values* out) const {
    if (!dict_.ints.empty()) {
      out->PushInt(dict_.ints[idx]);
    } else if (!dict_.dbls.empty()) {
      out->PushDouble(dict_.dbls[idx]);
    } else {
      out->PushBytes(dict_.GetBytes(idx));
    }
  }

  Status DecodeValues(Encoding enc, const uint8_t* p, size_t size, int64_t n, Values* out) {
    if (leaf_->conv == Conv::kNull) return Status::OK();
    switch (enc) {
      case Encoding::kPlain:
        return DecodePlain(p, size, n, out);
      case Encoding::kPlainDictionary:
      case Encoding::kRleDictionary: {
        if (!has_dict_) return Status::Corrupt("dictionary-encoded page but no dictionary page");
        if (n == 0) return Status::OK();
        if (size < 1) return Status::Corrupt("dictionary indices missing their bit width");
        int bw = p[0];
        if (bw > 32) return Status::Corrupt(fmt::format("dictionary index bit width {}", bw));
        RleDecoder dec(p + 1, size - 1, bw);
        idx_.resize(static_cast<size_t>(n));
        SF_RETURN_NOT_OK(dec.Get(idx_.data(), n));
        for (int64_t i = 0; i < n; ++i) {
          if (idx_[i] >= dict_.count) {
            return Status::Corrupt(fmt::format(
                "dictionary index {} exceeds the dictionary's {} values", idx_[i], dict_.count));
          }
          CopyFromDict(idx_[i], out);
        }
        return Status::OK();
      }
      case Encoding::kRle: {
        if (leaf_->physical != PhysicalType::kBoolean) break;
        if (size < 4) return Status::Corrupt("RLE booleans missing their length");
        uint32_t len;
        std::memcpy(&len, p, 4);
        if (len > size - 4) return Status::Corrupt("RLE booleans run past the end of the page");
        RleDecoder dec(p + 4, len, 1);
        idx_.resize(static_cast<size_t>(n));
        SF_RETURN_NOT_OK(dec.Get(idx_.data(), n));
        for (int64_t i = 0; i < n; ++i) out->PushInt(idx_[i] & 1);
        return Status::OK();
      }
      case Encoding::kDeltaBinaryPacked: {
        if (leaf_->physical != PhysicalType::kInt32 && leaf_->physical != PhysicalType::kInt64)
          break;
        std::vector<int64_t> vals;
        size_t used;
        SF_RETURN_NOT_OK(DecodeDeltaBinaryPacked(p, size, n, &vals, &used));
        if (static_cast<int64_t>(vals.size()) != n) {
          return Status::Corrupt(
              fmt::format("DELTA_BINARY_PACKED holds {} values, page needs {}", vals.size(), n));
        }
        for (int64_t v : vals) {
          SF_RETURN_NOT_OK(conv_.Int(
              leaf_->physical == PhysicalType::kInt32 ? static_cast<int32_t>(v) : v, out));
        }
        return Status::OK();
      }
      case Encoding::kDeltaLengthByteArray:
      case Encoding::kDeltaByteArray: {
        if (leaf_->physical != PhysicalType::kByteArray &&
            leaf_->physical != PhysicalType::kFixedLenByteArray) {
          break;
        }
        std::vector<std::string> vals;
        SF_RETURN_NOT_OK(enc == Encoding::kDeltaByteArray
                             ? DecodeDeltaByteArray(p, size, n, &vals)
                             : DecodeDeltaLengthByteArray(p, size, n, &vals));
        for (const auto& v : vals) {
          if (leaf_->physical == PhysicalType::kFixedLenByteArray &&
              static_cast<int>(v.size()) != leaf_->type_length) {
            return Status::Corrupt("fixed-length value has the wrong length");
          }
          SF_RETURN_NOT_OK(conv_.Bytes(v, out));
        }
        return Status::OK();
      }
      case Encoding::kByteStreamSplit: {
        int w = FixedWidth();
        if (w <= 0) break;
        std::string tmp;
        SF_RETURN_NOT_OK(DecodeByteStreamSplit(p, size, w, n, &tmp));
        for (int64_t i = 0; i < n; ++i) {
          SF_RETURN_NOT_OK(FromFixed(reinterpret_cast<const uint8_t*>(tmp.data()) + i * w, out));
        }
        return Status::OK();
      }
      default:
        break;
    }
    return Status::Unimplemented(
        fmt::format("encoding {} is not supported for this column type", static_cast<int>(enc)));
  }

  const File* file_;
  const Node* leaf_;
  const ColumnMetaData* md_;
  Converter conv_;
  int64_t pos_ = 0, end_ = 0;
  int64_t levels_read_ = 0;
  int page_index_ = -1;
  bool overran_ = false;  // the chunk's end was moved once for PARQUET-816
  std::string header_buf_, raw_, page_;
  Values dict_;
  bool has_dict_ = false;
  std::vector<uint32_t> idx_;
};

// One leaf's stream of levels and values, refilled a page at a time.
struct LeafState {
  const Node* node = nullptr;
  std::unique_ptr<ChunkReader> reader;
  std::vector<int16_t> def, rep;
  Values values;
  size_t lpos = 0;   // next level entry
  int64_t vpos = 0;  // next value

  // Makes sure level entry lpos is loaded. *has is false at the end of the chunk.
  Status Ensure(bool* has) {
    while (lpos >= def.size()) {
      if (reader->done()) {
        *has = false;
        return Status::OK();
      }
      SF_RETURN_NOT_OK(reader->NextPage(&def, &rep, &values));
    }
    *has = true;
    return Status::OK();
  }
  // Drops consumed entries so buffers hold at most the unconsumed part of a page.
  void Compact() {
    if (lpos == 0) return;
    def.erase(def.begin(), def.begin() + static_cast<int64_t>(lpos));
    rep.erase(rep.begin(), rep.begin() + static_cast<int64_t>(lpos));
    values.DropFront(vpos);
    lpos = 0;
    vpos = 0;
  }
};

class ParquetSource : public io::Source {
 public:
  ParquetSource(std::vector<std::string> files, io::ReadOptions options)
      : files_(std::move(files)), options_(std::move(options)) {}

  Status Init() {
    if (files_.empty()) return Status::InvalidArgument("no Parquet files to read");
    int64_t total = 0;
    for (size_t i = 0; i < files_.size(); ++i) {
      File f;
      FileMetaData md;
      Status st = f.Open(files_[i]);
      if (st.ok()) st = ReadFooter(f, &md);
      std::vector<Node> nodes;
      if (st.ok()) st = BuildNodes(md.schema, &nodes).WithContext("schema");
      if (!st.ok()) return st.WithContext(files_[i]);
      total += md.num_rows;
      table::Schema s = TableSchemaOf(nodes);
      if (nodes.empty()) {
        return Status::InvalidArgument(fmt::format("{}: the file has no columns", files_[i]));
      }
      if (i == 0) {
        file_schema_ = s;
        SF_RETURN_NOT_OK(Project(nodes));
      } else if (!SameSchema(s, file_schema_)) {
        return Status::InvalidArgument(fmt::format(
            "{}: schema differs from {}'s; all inputs must share one schema.\n{}\nvs\n{}",
            files_[i], files_[0], s.ToString(), file_schema_.ToString()));
      }
    }
    num_rows_ = total;
    return Status::OK();
  }

  const table::Schema& schema() const override { return schema_; }
  std::optional<int64_t> num_rows() const override { return num_rows_; }
  std::string base_dir() const override {
    return std::filesystem::path(files_[0]).parent_path().string();
  }

  Result<std::optional<table::RecordBatch>> Next() override {
    while (true) {
      if (!file_) {
        if (next_file_ >= files_.size()) return std::optional<table::RecordBatch>();
        SF_RETURN_NOT_OK(OpenFile(next_file_++));
      }
      if (rg_rows_left_ == 0) {
        if (next_rg_ >= md_.row_groups.size()) {
          file_.reset();
          continue;
        }
        Status st = OpenRowGroup(next_rg_++);
        if (!st.ok())
          return st.WithContext(fmt::format("{}: row group {}", file_->path(), next_rg_ - 1));
        continue;
      }
      return ReadBatch();
    }
  }

 private:
  static bool SameSchema(const table::Schema& a, const table::Schema& b) {
    if (a.fields.size() != b.fields.size()) return false;
    for (size_t i = 0; i < a.fields.size(); ++i) {
      if (a.fields[i].name != b.fields[i].name || !a.fields[i].type->Equals(*b.fields[i].type)) {
        return false;
      }
    }
    return true;
  }

  Status Project(const std::vector<Node>& nodes) {
    selected_.clear();
    if (options_.columns.empty()) {
      for (size_t i = 0; i < nodes.size(); ++i) selected_.push_back(static_cast<int>(i));
    } else {
      for (const auto& name : options_.columns) {
        int found = -1;
        for (size_t i = 0; i < nodes.size(); ++i) {
          if (nodes[i].name == name) found = static_cast<int>(i);
        }
        if (found < 0) {
          std::string names;
          for (const auto& n : nodes) names += (names.empty() ? "" : ", ") + n.name;
          return Status::NotFound(
              fmt::format("{}: no column '{}'; the file has: {}", files_[0], name, names));
        }
        if (std::find(selected_.begin(), selected_.end(), found) != selected_.end()) {
          return Status::InvalidArgument(
              fmt::format("column '{}' is listed twice in the projection", name));
        }
        selected_.push_back(found);
      }
    }
    schema_.fields.clear();
    for (int i : selected_) {
      schema_.fields.push_back(table::Field{nodes[i].name, nodes[i].type, nodes[i].nullable});
    }
    return Status::OK();
  }

  Status OpenFile(size_t i) {
    auto f = std::make_unique<File>();
    md_ = FileMetaData();
    nodes_.clear();
    Status st = f->Open(files_[i]);
    if (st.ok()) st = ReadFooter(*f, &md_);
    if (st.ok()) st = BuildNodes(md_.schema, &nodes_).WithContext("schema");
    if (st.ok()) {
      table::Schema s = TableSchemaOf(nodes_);
      if (!SameSchema(s, file_schema_))
        st = Status::InvalidArgument("schema changed since it was opened");
    }
    if (!st.ok()) return st.WithContext(files_[i]);
    file_ = std::move(f);
    next_rg_ = 0;
    rg_rows_left_ = 0;
    return Status::OK();
  }

  void CollectLeaves(const Node& n, std::vector<const Node*>* out) {
    if (n.kind == Node::Kind::kLeaf) {
      out->push_back(&n);
      return;
    }
    for (const auto& c : n.children) CollectLeaves(c, out);
  }

  Status OpenRowGroup(size_t rg_index) {
    const RowGroup& rg = md_.row_groups[rg_index];
    leaves_.clear();
    std::vector<const Node*> all;
    for (const auto& n : nodes_) CollectLeaves(n, &all);
    if (rg.columns.size() != all.size()) {
      return Status::Corrupt(fmt::format("row group has {} column chunks, the schema {} columns",
                                         rg.columns.size(), all.size()));
    }
    if (rg.num_rows < 0) return Status::Corrupt("row group has a negative row count");
    leaves_.resize(all.size());
    for (int sel : selected_) {
      const Node& top = nodes_[sel];
      for (int k = top.first_leaf; k < top.first_leaf + top.num_leaves; ++k) {
        const ColumnChunk& cc = rg.columns[k];
        if (!cc.meta_data) {
          return Status::Corrupt(fmt::format("column '{}' has no metadata", all[k]->path));
        }
        if (!cc.file_path.empty()) {
          return Status::Unimplemented(fmt::format(
              "column '{}' lives in another file ('{}'); external column chunks are not supported",
              all[k]->path, cc.file_path));
        }
        auto ls = std::make_unique<LeafState>();
        ls->node = all[k];
        ls->reader = std::make_unique<ChunkReader>(file_.get(), all[k], &*cc.meta_data);
        Status st = ls->reader->Init();
        if (!st.ok()) return st.WithContext(fmt::format("column '{}'", all[k]->path));
        leaves_[k] = std::move(ls);
      }
    }
    rg_rows_left_ = rg.num_rows;
    rg_index_ = rg_index;
    return Status::OK();
  }

  Status LeafError(const LeafState& ls, const Status& st) const {
    return st.WithContext(fmt::format("{}: row group {}, column '{}', page {}", file_->path(),
                                      rg_index_, ls.node->path, ls.reader->page_index()));
  }

  Status EnsureOrFail(LeafState& ls) {
    bool has = false;
    Status st = ls.Ensure(&has);
    if (!st.ok()) return LeafError(ls, st);
    if (!has) {
      return LeafError(ls, Status::Corrupt("column has fewer values than its row group's rows"));
    }
    return Status::OK();
  }

  // Skips one instance of `n` (a null or empty one) in every leaf under it.
  Status SkipInstance(const Node& n) {
    for (int k = n.first_leaf; k < n.first_leaf + n.num_leaves; ++k) {
      LeafState& ls = *leaves_[k];
      SF_RETURN_NOT_OK(EnsureOrFail(ls));
      ++ls.lpos;
    }
    return Status::OK();
  }

  Status ReadInstance(const Node& n, Column* col) {
    LeafState& first = *leaves_[n.first_leaf];
    SF_RETURN_NOT_OK(EnsureOrFail(first));
    int d = first.def[first.lpos];
    if (d < n.def) {
      if (!n.nullable) {
        return LeafError(
            first, Status::Corrupt(fmt::format("definition level {} marks required field '{}' null",
                                               d, n.name)));
      }
      col->AppendNull();
      return SkipInstance(n);
    }
    switch (n.kind) {
      case Node::Kind::kLeaf: {
        if (d != n.max_def) {
          return LeafError(
              first, Status::Corrupt(fmt::format("definition level {} above a present leaf", d)));
        }
        ++first.lpos;
        if (n.conv == Conv::kNull) {
          col->AppendNull();
          return Status::OK();
        }
        if (first.vpos >= first.values.count) {
          return LeafError(first, Status::Corrupt("page has fewer values than its levels say"));
        }
        int64_t i = first.vpos++;
        switch (col->type_id()) {
          case TypeId::kFloat:
          case TypeId::kDouble:
            col->AppendDouble(first.values.dbls[i]);
            break;
          case TypeId::kString:
          case TypeId::kBinary: {
            auto v = first.values.GetBytes(i);
            batch_bytes_ += static_cast<int64_t>(v.size());
            col->AppendBytes(v);
            break;
          }
          default:
            col->AppendInt(first.values.ints[i]);
        }
        return Status::OK();
      }
      case Node::Kind::kStruct:
        for (size_t c = 0; c < n.children.size(); ++c) {
          SF_RETURN_NOT_OK(ReadInstance(n.children[c], &col->child(static_cast<int>(c))));
        }
        col->CloseStruct(true);
        return Status::OK();
      case Node::Kind::kList:
      case Node::Kind::kMap: {
        if (d < n.elem_def) {
          SF_RETURN_NOT_OK(SkipInstance(n));
          col->CloseList(true);
          return Status::OK();
        }
        Column& child = col->child(0);
        while (true) {
          SF_RETURN_NOT_OK(ReadInstance(n.children[0], &child));
          bool has = false;
          Status st = first.Ensure(&has);
          if (!st.ok()) return LeafError(first, st);
          if (!has) break;
          int r = first.rep[first.lpos];
          if (r < n.list_rep) break;
          if (r > n.list_rep) {
            return LeafError(
                first, Status::Corrupt(fmt::format("repetition level {} where at most {} fits", r,
                                                   n.list_rep)));
          }
        }
        col->CloseList(true);
        return Status::OK();
      }
    }
    return Status::OK();
  }

  Result<std::optional<table::RecordBatch>> ReadBatch() {
    table::RecordBatch batch = table::RecordBatch::Empty(schema_);
    int64_t want = std::max<int64_t>(1, std::min(options_.batch_rows, rg_rows_left_));
    batch_bytes_ = 0;
    int64_t rows = 0;
    while (rows < want && batch_bytes_ < kBatchByteCap) {
      for (size_t c = 0; c < selected_.size(); ++c) {
        const Node& top = nodes_[selected_[c]];
        LeafState& first = *leaves_[top.first_leaf];
        SF_RETURN_NOT_OK(EnsureOrFail(first));
        if (first.rep[first.lpos] != 0) {
          return LeafError(first, Status::Corrupt("a row starts with a non-zero repetition level"));
        }
        SF_RETURN_NOT_OK(ReadInstance(top, &batch.columns[c]));
      }
      ++rows;
    }
    rg_rows_left_ -= rows;
    for (auto& ls : leaves_) {
      if (ls) ls->Compact();
    }
    return std::optional<table::RecordBatch>(std::move(batch));
  }

  std::vector<std::string> files_;
  io::ReadOptions options_;
  table::Schema file_schema_;  // the files' full schema
  table::Schema schema_;       // after projection
  std::vector<int> selected_;  // top-level node indices, in output order
  std::optional<int64_t> num_rows_;

  size_t next_file_ = 0;
  std::unique_ptr<File> file_;
  FileMetaData md_;
  std::vector<Node> nodes_;
  size_t next_rg_ = 0, rg_index_ = 0;
  int64_t rg_rows_left_ = 0;
  std::vector<std::unique_ptr<LeafState>> leaves_;  // by file leaf index; null when not projected
  int64_t batch_bytes_ = 0;
};

}  // namespace

Result<std::unique_ptr<io::Source>> OpenParquetSource(const std::vector<std::string>& files,
                                                      const io::ReadOptions& options) {
  auto src = std::make_unique<ParquetSource>(files, options);
  SF_RETURN_NOT_OK(src->Init());
  return std::unique_ptr<io::Source>(std::move(src));
}

Status ReadParquetSchema(const std::string& path, table::Schema* schema, int64_t* num_rows) {
  File f;
  FileMetaData md;
  Status st = f.Open(path);
  if (st.ok()) st = ReadFooter(f, &md);
  std::vector<Node> nodes;
  if (st.ok()) st = BuildNodes(md.schema, &nodes).WithContext("schema");
  if (!st.ok()) return st.WithContext(path);
  *schema = TableSchemaOf(nodes);
  *num_rows = md.num_rows;
  return Status::OK();
}

}  // namespace structflow::io::parquet

#include "io/parquet/encoding.h"

#include <fmt/format.h>

#include <cstring>

#include "io/parquet/metadata.h"

namespace structflow::io::parquet {
namespace {

// Reads `bw` (<= 64) bits at bit offset `bit` of data[0..size), LSB first. The caller has checked
// that the value's bits lie inside the buffer; bytes past the end read as zero.
uint64_t GetBits(const uint8_t* data, size_t size, uint64_t bit, int bw) {
  if (bw == 0) return 0;
  size_t byte = bit >> 3;
  int shift = static_cast<int>(bit & 7);
  uint8_t buf[16] = {0};
  size_t avail = size > byte ? size - byte : 0;
  std::memcpy(buf, data + byte, avail < 9 ? avail : 9);
  uint64_t lo;
  std::memcpy(&lo, buf, 8);
  uint64_t v = lo >> shift;
  if (shift + bw > 64) v |= static_cast<uint64_t>(buf[8]) << (64 - shift);
  return bw == 64 ? v : v & ((uint64_t{1} << bw) - 1);
}

Status ReadUleb(const uint8_t** p, const uint8_t* end, uint64_t* v) {
  uint64_t result = 0;
  for (int shift = 0; shift < 64; shift += 7) {
    if (*p >= end) return Status::Corrupt("varint runs past the end of the page");
    uint8_t b = *(*p)++;
    result |= static_cast<uint64_t>(b & 0x7f) << shift;
    if ((b & 0x80) == 0) {
      *v = result;
      return Status::OK();
    }
  }
  return Status::Corrupt("varint longer than 10 bytes");
}

Status ReadZigZag(const uint8_t** p, const uint8_t* end, int64_t* v) {
  uint64_t u;
  SF_RETURN_NOT_OK(ReadUleb(p, end, &u));
  *v = static_cast<int64_t>(u >> 1) ^ -static_cast<int64_t>(u & 1);
  return Status::OK();
}

}  // namespace

int BitWidth(uint64_t max_value) {
  int w = 0;
  while (max_value) {
    ++w;
    max_value >>= 1;
  }
  return w;
}

Status UnpackBits(const uint8_t* data, size_t size, int bit_width, int64_t n, uint32_t* out) {
  if (static_cast<uint64_t>(n) * bit_width > static_cast<uint64_t>(size) * 8) {
    return Status::Corrupt("bit-packed values run past the end of the page");
  }
  for (int64_t i = 0; i < n; ++i) {
    out[i] =
        static_cast<uint32_t>(GetBits(data, size, static_cast<uint64_t>(i) * bit_width, bit_width));
  }
  return Status::OK();
}

Status RleDecoder::NextRun() {
  uint64_t header;
  SF_RETURN_NOT_OK(ReadUleb(&p_, end_, &header));
  if (header & 1) {
    uint64_t groups = header >> 1;
    uint64_t bytes = groups * static_cast<uint64_t>(bit_width_);
    size_t avail = static_cast<size_t>(end_ - p_);
    // Some writers truncate the last group's padding; read what the buffer holds.
    if (bytes > avail) bytes = avail;
    packed_ = p_;
    packed_pos_ = 0;
    packed_left_ = static_cast<int64_t>(bytes * 8 / static_cast<uint64_t>(bit_width_));
    if (static_cast<uint64_t>(packed_left_) > groups * 8) packed_left_ = groups * 8;
    p_ += bytes;
  } else {
    int nbytes = (bit_width_ + 7) / 8;
    if (end_ - p_ < nbytes) return Status::Corrupt("RLE run value runs past the end of the page");
    uint32_t v = 0;
    for (int i = 0; i < nbytes; ++i) v |= static_cast<uint32_t>(p_[i]) << (8 * i);
    p_ += nbytes;
    rle_value_ = v;
    rle_left_ = static_cast<int64_t>(header >> 1);
    if ((header >> 1) > (uint64_t{1} << 40)) return Status::Corrupt("RLE run is implausibly long");
  }
  return Status::OK();
}

Status RleDecoder::Get(uint32_t* out, int64_t n) {
  if (bit_width_ == 0) {
    std::memset(out, 0, static_cast<size_t>(n) * sizeof(uint32_t));
    return Status::OK();
  }
  if (bit_width_ > 32) return Status::Corrupt(fmt::format("bit width {} exceeds 32", bit_width_));
  int64_t done = 0;
  while (done < n) {
    if (rle_left_ > 0) {
      int64_t k = std::min(rle_left_, n - done);
      for (int64_t i = 0; i < k; ++i) out[done + i] = rle_value_;
      rle_left_ -= k;
      done += k;
    } else if (packed_left_ > 0) {
      int64_t k = std::min(packed_left_, n - done);
      size_t nbytes = static_cast<size_t>(p_ - packed_);
      for (int64_t i = 0; i < k; ++i) {
        out[done + i] = static_cast<uint32_t>(GetBits(
            packed_, nbytes, static_cast<uint64_t>(packed_pos_ + i) * bit_width_, bit_width_));
      }
      packed_pos_ += k;
      packed_left_ -= k;
      done += k;
    } else {
      if (p_ >= end_) {
        return Status::Corrupt(fmt::format("RLE data ends after {} of {} values", done, n));
      }
      SF_RETURN_NOT_OK(NextRun());
    }
  }
  return Status::OK();
}

Status DecodeLevels(int encoding, bool length_prefixed, int max_level, const uint8_t* data,
                    size_t size, int64_t n, int16_t* out, size_t* consumed) {
  int bw = BitWidth(static_cast<uint64_t>(max_level));
  std::vector<uint32_t> tmp(static_cast<size_t>(n));
  if (encoding == static_cast<int>(Encoding::kRle)) {
    const uint8_t* p = data;
    size_t len = size;
    if (length_prefixed) {
      if (size < 4) return Status::Corrupt("level length prefix runs past the end of the page");
      uint32_t l;
      std::memcpy(&l, data, 4);
      if (l > size - 4) {
        return Status::Corrupt(fmt::format("levels claim {} bytes, page has {}", l, size - 4));
      }
      p = data + 4;
      len = l;
      *consumed = 4 + l;
    } else {
      *consumed = size;
    }
    RleDecoder dec(p, len, bw);
    SF_RETURN_NOT_OK(dec.Get(tmp.data(), n));
  } else if (encoding == static_cast<int>(Encoding::kBitPacked)) {
    uint64_t bits = static_cast<uint64_t>(n) * bw;
    size_t bytes = static_cast<size_t>((bits + 7) / 8);
    if (bytes > size) return Status::Corrupt("bit-packed levels run past the end of the page");
    for (int64_t i = 0; i < n; ++i) {
      uint32_t v = 0;
      for (int b = 0; b < bw; ++b) {
        uint64_t bit = static_cast<uint64_t>(i) * bw + b;
        v = (v << 1) | ((data[bit >> 3] >> (7 - (bit & 7))) & 1);
      }
      tmp[i] = v;
    }
    *consumed = bytes;
  } else {
    return Status::Corrupt(fmt::format("unsupported level encoding {}", encoding));
  }
  for (int64_t i = 0; i < n; ++i) {
    if (tmp[i] > static_cast<uint32_t>(max_level)) {
      return Status::Corrupt(fmt::format("level {} exceeds the maximum {}", tmp[i], max_level));
    }
    out[i] = static_cast<int16_t>(tmp[i]);
  }
  return Status::OK();
}

Status DecodeDeltaBinaryPacked(const uint8_t* data, size_t size, int64_t max_values,
                               std::vector<int64_t>* out, size_t* consumed) {
  const uint8_t* p = data;
  const uint8_t* end = data + size;
  uint64_t block_size, miniblocks, total;
  int64_t first;
  SF_RETURN_NOT_OK(ReadUleb(&p, end, &block_size));
  SF_RETURN_NOT_OK(ReadUleb(&p, end, &miniblocks));
  SF_RETURN_NOT_OK(ReadUleb(&p, end, &total));
  SF_RETURN_NOT_OK(ReadZigZag(&p, end, &first));
  if (block_size == 0 || block_size % 128 != 0 || block_size > (1u << 20) || miniblocks == 0 ||
      block_size % miniblocks != 0 || (block_size / miniblocks) % 32 != 0) {
    return Status::Corrupt(fmt::format(
        "DELTA_BINARY_PACKED header is invalid (block {}, {} miniblocks)", block_size, miniblocks));
  }
  if (total > static_cast<uint64_t>(max_values)) {
    return Status::Corrupt(fmt::format("DELTA_BINARY_PACKED holds {} values, page has room for {}",
                                       total, max_values));
  }
  uint64_t per_mini = block_size / miniblocks;
  out->reserve(out->size() + total);
  if (total > 0) out->push_back(first);
  uint64_t remaining = total > 0 ? total - 1 : 0;
  uint64_t prev = static_cast<uint64_t>(first);
  std::vector<uint8_t> widths(miniblocks);
  while (remaining > 0) {
    int64_t min_delta;
    SF_RETURN_NOT_OK(ReadZigZag(&p, end, &min_delta));
    if (static_cast<uint64_t>(end - p) < miniblocks) {
      return Status::Corrupt("DELTA_BINARY_PACKED bit widths run past the end of the page");
    }
    std::memcpy(widths.data(), p, miniblocks);
    p += miniblocks;
    for (uint64_t m = 0; m < miniblocks && remaining > 0; ++m) {
      int bw = widths[m];
      if (bw > 64) return Status::Corrupt(fmt::format("DELTA_BINARY_PACKED bit width {}", bw));
      uint64_t bytes = per_mini * bw / 8;
      if (bytes > static_cast<uint64_t>(end - p)) {
        return Status::Corrupt("DELTA_BINARY_PACKED miniblock runs past the end of the page");
      }
      uint64_t k = std::min(per_mini, remaining);
      for (uint64_t i = 0; i < k; ++i) {
        uint64_t d = GetBits(p, bytes, i * bw, bw);
        prev = prev + static_cast<uint64_t>(min_delta) + d;
        out->push_back(static_cast<int64_t>(prev));
      }
      remaining -= k;
      p += bytes;
    }
  }
  *consumed = static_cast<size_t>(p - data);
  return Status::OK();
}

Status DecodeDeltaLengthByteArray(const uint8_t* data, size_t size, int64_t n,
                                  std::vector<std::string>* out) {
  std::vector<int64_t> lengths;
  size_t used;
  SF_RETURN_NOT_OK(DecodeDeltaBinaryPacked(data, size, n, &lengths, &used));
  if (static_cast<int64_t>(lengths.size()) != n) {
    return Status::Corrupt(
        fmt::format("DELTA_LENGTH_BYTE_ARRAY has {} lengths for {} values", lengths.size(), n));
  }
  const uint8_t* p = data + used;
  size_t left = size - used;
  for (int64_t len : lengths) {
    if (len < 0 || static_cast<uint64_t>(len) > left) {
      return Status::Corrupt("DELTA_LENGTH_BYTE_ARRAY value runs past the end of the page");
    }
    out->emplace_back(reinterpret_cast<const char*>(p), static_cast<size_t>(len));
    p += len;
    left -= static_cast<size_t>(len);
  }
  return Status::OK();
}

Status DecodeDeltaByteArray(const uint8_t* data, size_t size, int64_t n,
                            std::vector<std::string>* out) {
  std::vector<int64_t> prefixes;
  size_t used;
  SF_RETURN_NOT_OK(DecodeDeltaBinaryPacked(data, size, n, &prefixes, &used));
  if (static_cast<int64_t>(prefixes.size()) != n) {
    return Status::Corrupt(
        fmt::format("DELTA_BYTE_ARRAY has {} prefix lengths for {} values", prefixes.size(), n));
  }
  std::vector<std::string> suffixes;
  SF_RETURN_NOT_OK(DecodeDeltaLengthByteArray(data + used, size - used, n, &suffixes));
  std::string prev;
  for (int64_t i = 0; i < n; ++i) {
    if (prefixes[i] < 0 || static_cast<uint64_t>(prefixes[i]) > prev.size()) {
      return Status::Corrupt(
          fmt::format("DELTA_BYTE_ARRAY prefix {} is longer than the previous value", prefixes[i]));
    }
    std::string v = prev.substr(0, static_cast<size_t>(prefixes[i]));
    v += suffixes[i];
    out->push_back(v);
    prev = std::move(v);
  }
  return Status::OK();
}

Status DecodeByteStreamSplit(const uint8_t* data, size_t size, int width, int64_t n,
                             std::string* out) {
  if (width <= 0 || static_cast<uint64_t>(n) * width > size) {
    return Status::Corrupt("BYTE_STREAM_SPLIT data runs past the end of the page");
  }
  size_t base = out->size();
  out->resize(base + static_cast<size_t>(n) * width);
  char* o = out->data() + base;
  for (int k = 0; k < width; ++k) {
    const uint8_t* stream = data + static_cast<size_t>(k) * n;
    for (int64_t i = 0; i < n; ++i) o[i * width + k] = static_cast<char>(stream[i]);
  }
  return Status::OK();
}

void AppendVarint(uint64_t v, std::string* out) {
  while (v >= 0x80) {
    out->push_back(static_cast<char>((v & 0x7f) | 0x80));
    v >>= 7;
  }
  out->push_back(static_cast<char>(v));
}

namespace {

void FlushPacked(const std::vector<uint32_t>& vals, int bw, std::string* out) {
  if (vals.empty()) return;
  size_t groups = (vals.size() + 7) / 8;
  AppendVarint((groups << 1) | 1, out);
  size_t base = out->size();
  out->resize(base + groups * bw, '\0');
  uint8_t* o = reinterpret_cast<uint8_t*>(out->data() + base);
  uint64_t bit = 0;
  for (uint32_t v : vals) {
    for (int b = 0; b < bw; ++b, ++bit) {
      if ((v >> b) & 1) o[bit >> 3] |= static_cast<uint8_t>(1u << (bit & 7));
    }
  }
}

}  // namespace

void EncodeRle(const uint32_t* values, int64_t n, int bit_width, std::string* out) {
  if (bit_width == 0) {
    // Still emit one run so readers that expect data find it.
    if (n > 0) {
      AppendVarint(static_cast<uint64_t>(n) << 1, out);
    }
    return;
  }
  int value_bytes = (bit_width + 7) / 8;
  std::vector<uint32_t> pending;
  int64_t i = 0;
  while (i < n) {
    int64_t run = 1;
    while (i + run < n && values[i + run] == values[i]) ++run;
    if (run >= 8) {
      FlushPacked(pending, bit_width, out);
      pending.clear();
      AppendVarint(static_cast<uint64_t>(run) << 1, out);
      for (int b = 0; b < value_bytes; ++b) out->push_back(static_cast<char>(values[i] >> (8 * b)));
      i += run;
    } else {
      int64_t k = std::min<int64_t>(8, n - i);
      pending.insert(pending.end(), values + i, values + i + k);
      i += k;
      if (pending.size() >= 504) {
        FlushPacked(pending, bit_width, out);
        pending.clear();
      }
    }
  }
  FlushPacked(pending, bit_width, out);
}

}  // namespace structflow::io::parquet

#include "io/parquet/codec.h"

#include <brotli/decode.h>
#include <fmt/format.h>
#include <lz4.h>
#include <snappy.h>
#include <zlib.h>
#include <zstd.h>

#include <cstring>

namespace structflow::io::parquet {
namespace {

Status SizeMismatch(Codec codec, size_t got, size_t want) {
  return Status::Corrupt(
      fmt::format("{} page decompressed to {} bytes, header says {}", CodecName(codec), got, want));
}

// A GZIP page may hold several gzip members one after another (some writers compress in
// blocks and concatenate them; gzip(1) reads such files whole, and so do Arrow and DuckDB): each
// member's output follows the previous one's.
Status InflateGzip(std::string_view in, size_t size, std::string* out) {
  z_stream zs;
  std::memset(&zs, 0, sizeof(zs));
  // 15 + 32: accept both gzip and zlib headers.
  if (inflateInit2(&zs, 15 + 32) != Z_OK) return Status::Internal("inflateInit2 failed");
  out->resize(size);
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  zs.avail_in = static_cast<uInt>(in.size());
  zs.next_out = reinterpret_cast<Bytef*>(out->data());
  zs.avail_out = static_cast<uInt>(size);
  int rc = Z_OK;
  int members = 0;
  while (true) {
    rc = inflate(&zs, Z_FINISH);
    if (rc != Z_STREAM_END) break;
    ++members;
    // Another member follows only when input is left; zero bytes after the last member are
    // padding (gzip(1) ignores them too).
    std::string_view rest(reinterpret_cast<const char*>(zs.next_in), zs.avail_in);
    if (rest.find_first_not_of('\0') == std::string_view::npos) break;
    if (inflateReset(&zs) != Z_OK) break;
  }
  size_t produced = size - zs.avail_out;
  inflateEnd(&zs);
  if (rc != Z_STREAM_END) {
    if (rc == Z_BUF_ERROR && zs.avail_out == 0) {
      return Status::Corrupt(
          fmt::format("GZIP page inflates beyond the {} bytes its header says", size));
    }
    return Status::Corrupt(
        fmt::format("GZIP page is corrupt (zlib error {}{})", rc,
                    members > 0 ? fmt::format(" in member {}", members + 1) : std::string()));
  }
  if (produced != size) return SizeMismatch(Codec::kGzip, produced, size);
  return Status::OK();
}

uint32_t ReadBE32(const char* p) {
  const auto* u = reinterpret_cast<const uint8_t*>(p);
  return (uint32_t{u[0]} << 24) | (uint32_t{u[1]} << 16) | (uint32_t{u[2]} << 8) | u[3];
}

// Hadoop's LZ4 framing: blocks of [BE32 uncompressed size][BE32 compressed size][lz4 block].
bool TryLz4Hadoop(std::string_view in, size_t size, std::string* out) {
  out->resize(size);
  size_t ip = 0, op = 0;
  while (ip < in.size()) {
    if (in.size() - ip < 8) return false;
    uint32_t usize = ReadBE32(in.data() + ip);
    uint32_t csize = ReadBE32(in.data() + ip + 4);
    ip += 8;
    if (csize > in.size() - ip || usize > size - op) return false;
    int n = LZ4_decompress_safe(in.data() + ip, out->data() + op, static_cast<int>(csize),
                                static_cast<int>(usize));
    if (n < 0 || static_cast<uint32_t>(n) != usize) return false;
    ip += csize;
    op += usize;
  }
  return op == size;
}

Status Lz4Raw(std::string_view in, size_t size, std::string* out) {
  out->resize(size);
  int n = LZ4_decompress_safe(in.data(), out->data(), static_cast<int>(in.size()),
                              static_cast<int>(size));
  if (n < 0) return Status::Corrupt("LZ4 page is corrupt");
  if (static_cast<size_t>(n) != size) return SizeMismatch(Codec::kLz4Raw, n, size);
  return Status::OK();
}

}  // namespace

std::string_view CodecName(Codec codec) {
  switch (codec) {
    case Codec::kUncompressed:
      return "UNCOMPRESSED";
    case Codec::kSnappy:
      return "SNAPPY";
    case Codec::kGzip:
      return "GZIP";
    case Codec::kLzo:
      return "LZO";
    case Codec::kBrotli:
      return "BROTLI";
    case Codec::kLz4:
      return "LZ4";
    case Codec::kZstd:
      return "ZSTD";
    case Codec::kLz4Raw:
      return "LZ4_RAW";
  }
  return "unknown codec";
}

Status Decompress(Codec codec, std::string_view in, size_t size, std::string* out) {
  if (size > (size_t{1} << 31)) {
    return Status::Corrupt(fmt::format("page claims {} uncompressed bytes", size));
  }
  switch (codec) {
    case Codec::kUncompressed:
      if (in.size() != size) return SizeMismatch(codec, in.size(), size);
      out->assign(in);
      return Status::OK();
    case Codec::kSnappy: {
      size_t n = 0;
      if (!snappy::GetUncompressedLength(in.data(), in.size(), &n)) {
        return Status::Corrupt("SNAPPY page is corrupt");
      }
      if (n != size) return SizeMismatch(codec, n, size);
      out->resize(n);
      if (!snappy::RawUncompress(in.data(), in.size(), out->data())) {
        return Status::Corrupt("SNAPPY page is corrupt");
      }
      return Status::OK();
    }
    case Codec::kGzip:
      return InflateGzip(in, size, out);
    case Codec::kZstd: {
      out->resize(size);
      size_t n = ZSTD_decompress(out->data(), size, in.data(), in.size());
      if (ZSTD_isError(n)) {
        return Status::Corrupt(fmt::format("ZSTD page is corrupt: {}", ZSTD_getErrorName(n)));
      }
      if (n != size) return SizeMismatch(codec, n, size);
      return Status::OK();
    }
    case Codec::kLz4Raw:
      return Lz4Raw(in, size, out);
    case Codec::kLz4:
      if (TryLz4Hadoop(in, size, out)) return Status::OK();
      return Lz4Raw(in, size, out);  // older writers used a bare LZ4 block
    case Codec::kBrotli: {
      out->resize(size);
      size_t n = size;
      auto rc = BrotliDecoderDecompress(in.size(), reinterpret_cast<const uint8_t*>(in.data()), &n,
                                        reinterpret_cast<uint8_t*>(out->data()));
      if (rc != BROTLI_DECODER_RESULT_SUCCESS) return Status::Corrupt("BROTLI page is corrupt");
      if (n != size) return SizeMismatch(codec, n, size);
      return Status::OK();
    }
    case Codec::kLzo:
      break;
  }
  return Status::Unimplemented(
      fmt::format("compression codec {} is not supported; re-encode the file with ZSTD or SNAPPY",
                  static_cast<int>(codec)));
}

Status Compress(Codec codec, std::string_view in, std::string* out) {
  switch (codec) {
    case Codec::kUncompressed:
      out->assign(in);
      return Status::OK();
    case Codec::kSnappy:
      out->clear();
      snappy::Compress(in.data(), in.size(), out);
      return Status::OK();
    case Codec::kZstd: {
      out->resize(ZSTD_compressBound(in.size()));
      size_t n = ZSTD_compress(out->data(), out->size(), in.data(), in.size(), 3);
      if (ZSTD_isError(n)) {
        return Status::Internal(fmt::format("ZSTD_compress failed: {}", ZSTD_getErrorName(n)));
      }
      out->resize(n);
      return Status::OK();
    }
    case Codec::kGzip: {
      z_stream zs;
      std::memset(&zs, 0, sizeof(zs));
      if (deflateInit2(&zs, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
        return Status::Internal("deflateInit2 failed");
      }
      out->resize(deflateBound(&zs, in.size()) + 32);
      zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
      zs.avail_in = static_cast<uInt>(in.size());
      zs.next_out = reinterpret_cast<Bytef*>(out->data());
      zs.avail_out = static_cast<uInt>(out->size());
      int rc = deflate(&zs, Z_FINISH);
      out->resize(out->size() - zs.avail_out);
      deflateEnd(&zs);
      if (rc != Z_STREAM_END) return Status::Internal("deflate failed");
      return Status::OK();
    }
    default:
      return Status::Unimplemented(
          fmt::format("writing {} is not supported; use zstd, snappy or none", CodecName(codec)));
  }
}

}  // namespace structflow::io::parquet

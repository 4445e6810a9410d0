// Parquet page compression codecs over Debian's libraries (snappy, zlib, zstd, lz4, brotli).
// Thread-safety: stateless functions.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "common/status.h"
#include "io/parquet/metadata.h"

namespace structflow::io::parquet {

std::string_view CodecName(Codec codec);

// Decompresses `in` into *out, which must come out exactly `uncompressed_size` bytes long.
Status Decompress(Codec codec, std::string_view in, size_t uncompressed_size, std::string* out);

// Compresses `in` into *out (replacing its content). Supports none, snappy, gzip and zstd.
Status Compress(Codec codec, std::string_view in, std::string* out);

}  // namespace structflow::io::parquet

// Parquet's value and level encodings: the RLE/bit-packed hybrid (levels, dictionary indices,
// booleans), DELTA_BINARY_PACKED, DELTA_LENGTH_BYTE_ARRAY, DELTA_BYTE_ARRAY and
// BYTE_STREAM_SPLIT decoders, and the encoders the writer uses. Every decoder checks its input
// bounds and returns Corrupt rather than reading past the buffer. Thread-safety: plain values.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace structflow::io::parquet {

// Decodes the RLE/bit-packed hybrid (without a length prefix).
class RleDecoder {
 public:
  RleDecoder(const uint8_t* data, size_t size, int bit_width)
      : p_(data), end_(data + size), bit_width_(bit_width) {}
  // Decodes exactly `n` values into out[0..n).
  Status Get(uint32_t* out, int64_t n);

 private:
  Status NextRun();
  const uint8_t* p_;
  const uint8_t* end_;
  int bit_width_;
  int64_t rle_left_ = 0;
  uint32_t rle_value_ = 0;
  int64_t packed_left_ = 0;  // values left in the current bit-packed run
  const uint8_t* packed_ = nullptr;
  int64_t packed_pos_ = 0;  // value index inside the bit-packed run
};

// Bits needed for values up to max_value.
int BitWidth(uint64_t max_value);

// Reads `n` values of `bit_width` bits, LSB first, starting at bit 0 of `data`; size is checked.
Status UnpackBits(const uint8_t* data, size_t size, int bit_width, int64_t n, uint32_t* out);

// Decodes `n` levels. v1 pages (`length_prefixed`) store RLE levels behind a 4-byte length and
// *consumed reports the bytes used; BIT_PACKED (deprecated) levels are MSB first.
Status DecodeLevels(int encoding, bool length_prefixed, int max_level, const uint8_t* data,
                    size_t size, int64_t n, int16_t* out, size_t* consumed);

// DELTA_BINARY_PACKED: decodes all values of the stream (appending to *out, at most
// `max_values`); *consumed is the bytes the stream took.
Status DecodeDeltaBinaryPacked(const uint8_t* data, size_t size, int64_t max_values,
                               std::vector<int64_t>* out, size_t* consumed);

// DELTA_LENGTH_BYTE_ARRAY and DELTA_BYTE_ARRAY: `n` values appended as offsets into *data_out
// (offsets_out gets one end offset per value).
Status DecodeDeltaLengthByteArray(const uint8_t* data, size_t size, int64_t n,
                                  std::vector<std::string>* out);
Status DecodeDeltaByteArray(const uint8_t* data, size_t size, int64_t n,
                            std::vector<std::string>* out);

// BYTE_STREAM_SPLIT: reassembles `n` values of `width` bytes into out (n * width bytes).
Status DecodeByteStreamSplit(const uint8_t* data, size_t size, int width, int64_t n,
                             std::string* out);

// Writers.
// Appends the RLE/bit-packed hybrid encoding of `values` (no length prefix).
void EncodeRle(const uint32_t* values, int64_t n, int bit_width, std::string* out);
void AppendVarint(uint64_t v, std::string* out);

}  // namespace structflow::io::parquet

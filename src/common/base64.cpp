#include "common/base64.h"

#include <array>
#include <cstdint>
#include <cstring>

namespace structflow {
namespace {

constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

// 12 bits of input -> 2 output characters, so the inner loop does two lookups per 3 bytes.
struct PairTable {
  std::array<uint16_t, 4096> pairs;
  constexpr PairTable() : pairs() {
    for (int i = 0; i < 4096; ++i) {
      // Stored in memory order: first character in the low byte (little-endian).
      pairs[i] = static_cast<uint16_t>(static_cast<uint8_t>(kAlphabet[i >> 6]) |
                                       (static_cast<uint8_t>(kAlphabet[i & 63]) << 8));
    }
  }
};
constexpr PairTable kPairs;

struct DecodeTable {
  std::array<int8_t, 256> v;
  constexpr DecodeTable() : v() {
    for (auto& x : v) x = -1;
    for (int i = 0; i < 64; ++i) v[static_cast<uint8_t>(kAlphabet[i])] = static_cast<int8_t>(i);
  }
};
constexpr DecodeTable kDecode;

}  // namespace

void Base64EncodeTo(std::string_view in, char* out) {
  const auto* p = reinterpret_cast<const uint8_t*>(in.data());
  size_t n = in.size();
  size_t i = 0;
  for (; i + 3 <= n; i += 3) {
    uint32_t v = (uint32_t{p[i]} << 16) | (uint32_t{p[i + 1]} << 8) | p[i + 2];
    uint16_t a = kPairs.pairs[v >> 12];
    uint16_t b = kPairs.pairs[v & 0xFFF];
    std::memcpy(out, &a, 2);
    std::memcpy(out + 2, &b, 2);
    out += 4;
  }
  if (i < n) {
    uint32_t v = uint32_t{p[i]} << 16;
    if (i + 1 < n) v |= uint32_t{p[i + 1]} << 8;
    out[0] = kAlphabet[(v >> 18) & 63];
    out[1] = kAlphabet[(v >> 12) & 63];
    out[2] = (i + 1 < n) ? kAlphabet[(v >> 6) & 63] : '=';
    out[3] = '=';
  }
}

void Base64Append(std::string* out, std::string_view in) {
  size_t old = out->size();
  out->resize(old + Base64EncodedSize(in.size()));
  Base64EncodeTo(in, out->data() + old);
}

std::string Base64Encode(std::string_view in) {
  std::string out;
  Base64Append(&out, in);
  return out;
}

bool Base64Decode(std::string_view in, std::string* out) {
  while (!in.empty() && in.back() == '=') in.remove_suffix(1);
  if (in.size() % 4 == 1) return false;
  out->clear();
  out->reserve(in.size() / 4 * 3 + 3);
  uint32_t acc = 0;
  int bits = 0;
  for (char c : in) {
    int8_t d = kDecode.v[static_cast<uint8_t>(c)];
    if (d < 0) return false;
    acc = (acc << 6) | static_cast<uint32_t>(d);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out->push_back(static_cast<char>((acc >> bits) & 0xFF));
    }
  }
  return true;
}

}  // namespace structflow

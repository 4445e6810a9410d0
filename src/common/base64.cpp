#include "common/base64.h"

#include <array>
#include <cstdint>
#include <cstring>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

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

// Scalar tail and fallback: two 12-bit lookups per 3 input bytes.
void EncodeScalar(const uint8_t* p, size_t n, char* out) {
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

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define STRUCTFLOW_BASE64_AVX2 1
// AVX2 encoder after Muła and Lemire, "Faster Base64 Encoding and Decoding Using AVX2
// Instructions" (2018): 24 input bytes -> 32 characters per step, about 5x the scalar loop.
// Written here because no Debian package ships a base64 library with a SIMD encoder.
__attribute__((target("avx2"))) void EncodeAvx2(const uint8_t* p, size_t n, char* out) {
  size_t i = 0;
  // Each step reads 16 bytes at offset 12, so 28 bytes must remain.
  if (n >= 28) {
    const __m256i shuffle = _mm256_setr_epi8(1, 0, 2, 1, 4, 3, 5, 4, 7, 6, 8, 7, 10, 9, 11, 10,  //
                                             1, 0, 2, 1, 4, 3, 5, 4, 7, 6, 8, 7, 10, 9, 11, 10);
    const __m256i mask_hi = _mm256_set1_epi32(0x0fc0fc00);
    const __m256i mul_hi = _mm256_set1_epi32(0x04000040);
    const __m256i mask_lo = _mm256_set1_epi32(0x003f03f0);
    const __m256i mul_lo = _mm256_set1_epi32(0x01000010);
    const __m256i c51 = _mm256_set1_epi8(51);
    const __m256i c26 = _mm256_set1_epi8(26);
    const __m256i c13 = _mm256_set1_epi8(13);
    const __m256i shift_lut =
        _mm256_setr_epi8('a' - 26, '0' - 52, '0' - 52, '0' - 52, '0' - 52, '0' - 52, '0' - 52,
                         '0' - 52, '0' - 52, '0' - 52, '0' - 52, '+' - 62, '/' - 63, 'A', 0, 0,  //
                         'a' - 26, '0' - 52, '0' - 52, '0' - 52, '0' - 52, '0' - 52, '0' - 52,
                         '0' - 52, '0' - 52, '0' - 52, '0' - 52, '+' - 62, '/' - 63, 'A', 0, 0);
    for (; i + 28 <= n; i += 24) {
      __m128i lo = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + i));
      __m128i hi = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + i + 12));
      __m256i in = _mm256_inserti128_si256(_mm256_castsi128_si256(lo), hi, 1);
      in = _mm256_shuffle_epi8(in, shuffle);
      __m256i t1 = _mm256_mulhi_epu16(_mm256_and_si256(in, mask_hi), mul_hi);
      __m256i t3 = _mm256_mullo_epi16(_mm256_and_si256(in, mask_lo), mul_lo);
      __m256i idx = _mm256_or_si256(t1, t3);
      __m256i red = _mm256_subs_epu8(idx, c51);
      __m256i less = _mm256_cmpgt_epi8(c26, idx);
      red = _mm256_or_si256(red, _mm256_and_si256(less, c13));
      __m256i chars = _mm256_add_epi8(_mm256_shuffle_epi8(shift_lut, red), idx);
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(out), chars);
      out += 32;
    }
  }
  EncodeScalar(p + i, n - i, out);
}

using EncodeFn = void (*)(const uint8_t*, size_t, char*);
EncodeFn PickEncoder() {
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx2") ? EncodeAvx2 : EncodeScalar;
}
const EncodeFn kEncode = PickEncoder();
#endif

}  // namespace

void Base64EncodeTo(std::string_view in, char* out) {
  const auto* p = reinterpret_cast<const uint8_t*>(in.data());
#ifdef STRUCTFLOW_BASE64_AVX2
  kEncode(p, in.size(), out);
#else
  EncodeScalar(p, in.size(), out);
#endif
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

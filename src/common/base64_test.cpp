#include "common/base64.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <string_view>

namespace structflow {
namespace {

TEST(Base64, MatchesRfc4648Vectors) {
  EXPECT_EQ(Base64Encode(""), "");
  EXPECT_EQ(Base64Encode("f"), "Zg==");
  EXPECT_EQ(Base64Encode("fo"), "Zm8=");
  EXPECT_EQ(Base64Encode("foo"), "Zm9v");
  EXPECT_EQ(Base64Encode("foob"), "Zm9vYg==");
  EXPECT_EQ(Base64Encode("fooba"), "Zm9vYmE=");
  EXPECT_EQ(Base64Encode("foobar"), "Zm9vYmFy");
}

TEST(Base64, RoundTripsAllByteValues) {
  std::string bytes;
  for (int i = 0; i < 1000; ++i) bytes.push_back(static_cast<char>(i * 7 % 256));
  std::string back;
  ASSERT_TRUE(Base64Decode(Base64Encode(bytes), &back));
  EXPECT_EQ(back, bytes);
}

TEST(Base64, RejectsNonBase64) {
  std::string out;
  EXPECT_FALSE(Base64Decode("ab$d", &out));
  EXPECT_FALSE(Base64Decode("abcde", &out));
}

// The SIMD encoder handles 24-byte blocks and leaves tails to the scalar loop; every length and
// alignment must agree with a bit-by-bit reference.
TEST(Base64, SimdEncoderMatchesReferenceAtEveryLengthAndOffset) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  auto reference = [](std::string_view in) {
    std::string out;
    size_t i = 0;
    for (; i + 3 <= in.size(); i += 3) {
      uint32_t v = (uint32_t{static_cast<uint8_t>(in[i])} << 16) |
                   (uint32_t{static_cast<uint8_t>(in[i + 1])} << 8) |
                   static_cast<uint8_t>(in[i + 2]);
      for (int k = 3; k >= 0; --k) out.push_back(kAlphabet[(v >> (6 * k)) & 63]);
    }
    if (i < in.size()) {
      uint32_t v = uint32_t{static_cast<uint8_t>(in[i])} << 16;
      if (i + 1 < in.size()) v |= uint32_t{static_cast<uint8_t>(in[i + 1])} << 8;
      out.push_back(kAlphabet[(v >> 18) & 63]);
      out.push_back(kAlphabet[(v >> 12) & 63]);
      out.push_back(i + 1 < in.size() ? kAlphabet[(v >> 6) & 63] : '=');
      out.push_back('=');
    }
    return out;
  };
  std::string bytes;
  uint32_t x = 12345;
  for (int i = 0; i < 300; ++i) {
    x = x * 1103515245 + 12345;
    bytes.push_back(static_cast<char>(x >> 16));
  }
  for (size_t off = 0; off < 4; ++off) {
    for (size_t len = 0; off + len <= bytes.size(); ++len) {
      std::string_view in(bytes.data() + off, len);
      ASSERT_EQ(Base64Encode(in), reference(in)) << "offset " << off << " length " << len;
    }
  }
}

}  // namespace
}  // namespace structflow

#include "common/base64.h"

#include <gtest/gtest.h>

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

}  // namespace
}  // namespace structflow

#include "client/response_scan.h"

#include <gtest/gtest.h>

namespace structflow::client {
namespace {

TEST(ResponseScan, AcceptsAChatCompletion) {
  EXPECT_TRUE(LooksLikeCompletion(
      R"({"id":"x","object":"chat.completion","choices":[{"index":0}],"usage":{}})"));
  EXPECT_TRUE(LooksLikeCompletion(" \n{\"choices\": []}\n"));
}

TEST(ResponseScan, RejectsGarbageAndTruncatedBodies) {
  EXPECT_FALSE(LooksLikeCompletion(""));
  EXPECT_FALSE(LooksLikeCompletion("not json at all"));
  EXPECT_FALSE(LooksLikeCompletion(R"({"choices":[{"index":0)"));     // truncated
  EXPECT_FALSE(LooksLikeCompletion(R"({"error":{"message":"x"}})"));  // no choices
  EXPECT_FALSE(LooksLikeCompletion(R"(["choices"])"));
}

TEST(ResponseScan, ReadsUsage) {
  Usage u = ScanUsage(R"({"choices":[{"message":{"content":"{\"usage\": 1}"}}],)"
                      R"("usage":{"prompt_tokens":12,"total_tokens":19,"completion_tokens":7,)"
                      R"("prompt_tokens_details":null}})");
  ASSERT_TRUE(u.found);
  EXPECT_EQ(u.prompt_tokens, 12);
  EXPECT_EQ(u.completion_tokens, 7);
}

TEST(ResponseScan, UsageMissing) {
  EXPECT_FALSE(ScanUsage(R"({"choices":[]})").found);
  EXPECT_FALSE(ScanUsage(R"({"usage":null})").found);
}

}  // namespace
}  // namespace structflow::client

#include "schema/chat_completion.h"

#include <gtest/gtest.h>

#include <thread>
#include <vector>

namespace structflow::schema {
namespace {

TEST(ParseChatCompletion, ReadsContentFinishReasonAndUsage) {
  auto a = ParseChatCompletion(R"({"id":"chatcmpl-1","object":"chat.completion","model":"m",
      "choices":[{"index":0,"message":{"role":"assistant","content":"{\"a\":\"caf\u00e9\"}\n",
      "reasoning_content":null},"logprobs":null,"finish_reason":"stop"}],
      "usage":{"prompt_tokens":31,"total_tokens":40,"completion_tokens":9}})");
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  EXPECT_EQ(a->content, "{\"a\":\"caf\xC3\xA9\"}\n");
  EXPECT_EQ(a->finish_reason, "stop");
  EXPECT_EQ(a->prompt_tokens, 31);
  EXPECT_EQ(a->completion_tokens, 9);
}

TEST(ParseChatCompletion, ReadsCachedPromptTokensWhenReported) {
  // llama.cpp, vLLM --enable-prompt-tokens-details, SGLang --enable-cache-report.
  auto a = ParseChatCompletion(
      R"({"choices":[{"message":{"content":"A"},"finish_reason":"stop"}],
      "usage":{"prompt_tokens":640,"completion_tokens":1,"prompt_tokens_details":{"cached_tokens":576}}})");
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  EXPECT_EQ(a->cached_tokens, 576);
  // vLLM and SGLang write null when nothing was cached, or without their flag.
  auto b = ParseChatCompletion(
      R"({"choices":[{"message":{"content":"A"},"finish_reason":"stop"}],
      "usage":{"prompt_tokens":640,"completion_tokens":1,"prompt_tokens_details":null}})");
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(b->cached_tokens, -1);
  auto c = ParseChatCompletion(
      R"({"choices":[{"message":{"content":"A"},"finish_reason":"stop"}],"usage":{"prompt_tokens":6}})");
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->cached_tokens, -1);
}

TEST(ParseChatCompletion, LengthAndNullContentAndRefusal) {
  auto a = ParseChatCompletion(
      R"({"choices":[{"message":{"content":null,"refusal":"I can't help"},"finish_reason":"length"}]})");
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->content, "");
  EXPECT_EQ(a->refusal, "I can't help");
  EXPECT_EQ(a->finish_reason, "length");
  EXPECT_EQ(a->prompt_tokens, 0);
}

TEST(ParseChatCompletion, BodiesThatAreNotCompletionsAreErrors) {
  auto not_json = ParseChatCompletion("<html>502 Bad Gateway</html>");
  ASSERT_FALSE(not_json.ok());
  EXPECT_NE(not_json.status().message().find("not JSON"), std::string::npos);
  EXPECT_NE(not_json.status().message().find("502 Bad Gateway"), std::string::npos);
  auto error = ParseChatCompletion(
      R"({"error":{"message":"The model `x` does not exist.","type":"NotFoundError"}})");
  ASSERT_FALSE(error.ok());
  EXPECT_NE(error.status().message().find("The model `x` does not exist."), std::string::npos);
  EXPECT_FALSE(ParseChatCompletion(R"({"choices":[]})").ok());
  EXPECT_FALSE(ParseChatCompletion(R"({"choices":[{"text":"legacy completion"}]})").ok());
  EXPECT_FALSE(ParseChatCompletion(R"([1,2])").ok());
  EXPECT_FALSE(ParseChatCompletion(R"({"choices":[{"message":{"content":"x"}})").ok());
}

TEST(ParseChatCompletion, ThreadsParseIndependently) {
  std::vector<std::thread> threads;
  std::vector<int> wrong(4, 0);
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([t, &wrong] {
      for (int i = 0; i < 500; ++i) {
        std::string content = "t" + std::to_string(t) + "-" + std::to_string(i);
        std::string body = R"({"choices":[{"message":{"content":")" + content +
                           R"("},"finish_reason":"stop"}],"usage":{"completion_tokens":)" +
                           std::to_string(i) + "}}";
        auto a = ParseChatCompletion(body);
        if (!a.ok() || a->content != content || a->completion_tokens != i) ++wrong[t];
      }
    });
  }
  for (auto& th : threads) th.join();
  for (int w : wrong) EXPECT_EQ(w, 0);
}

}  // namespace
}  // namespace structflow::schema

#include "schema/answer_prefix.h"

#include <gtest/gtest.h>

namespace structflow::schema {
namespace {

TEST(AnswerPrefix, JsonPrefixesWithFreeWhitespaceAreViable) {
  EXPECT_TRUE(IsJsonPrefix(""));
  EXPECT_TRUE(IsJsonPrefix("\n\n   \n  "));  // a model spending its tokens on whitespace
  EXPECT_TRUE(IsJsonPrefix("{\n  \"answer\" :  \"zq"));
  EXPECT_TRUE(IsJsonPrefix("[1, 2.5e"));
  EXPECT_TRUE(IsJsonPrefix("{\"a\": tr"));
  EXPECT_TRUE(IsJsonPrefix("{\"a\": \"x\\"));
  EXPECT_FALSE(IsJsonPrefix("Sure! Here is"));
  EXPECT_FALSE(IsJsonPrefix("```json\n{"));
  EXPECT_FALSE(IsJsonPrefix("{\"a\": 1]"));
  EXPECT_FALSE(IsJsonPrefix("{\"a\": 1} and more"));
  EXPECT_FALSE(IsJsonPrefix("{\"a\": tx"));
}

TEST(AnswerPrefix, ChoicePrefixesPerDialect) {
  auto c = *Constraint::FromChoices({"zqxv", "vjkq"});
  EXPECT_TRUE(IsViablePrefix(c, Dialect::kVllm, "zq"));
  EXPECT_FALSE(IsViablePrefix(c, Dialect::kVllm, "Reply"));
  EXPECT_TRUE(IsViablePrefix(c, Dialect::kOpenAI, "  {\n \"answer\": \"vj"));
  EXPECT_TRUE(IsViablePrefix(c, Dialect::kLlamaCpp, "\n\n\n"));
  EXPECT_FALSE(IsViablePrefix(c, Dialect::kOpenAI, "{\"answer\": \"hello"));
  EXPECT_FALSE(IsViablePrefix(c, Dialect::kOpenAI, "Hello"));
}

TEST(AnswerPrefix, SchemaAnswersAreViableWhileTheyAreJson) {
  auto c = *Constraint::FromSchemaText(R"({"type":"object","properties":{"n":{"type":"integer"}}})",
                                       "t");
  EXPECT_TRUE(IsViablePrefix(c, Dialect::kVllm, "{\"n\": 12"));
  EXPECT_FALSE(IsViablePrefix(c, Dialect::kVllm, "The number is 12"));
}

}  // namespace
}  // namespace structflow::schema

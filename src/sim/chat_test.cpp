#include "sim/chat.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <set>

namespace structflow::sim {
namespace {

using nlohmann::json;

ChatConfig Config(Api api) {
  ChatConfig c;
  c.api = api;
  c.models = {"sim-vlm"};
  return c;
}

std::string Body(const std::string& extra,
                 const std::string& question = "Pick one: A) red B) blue C) green D) gray") {
  return R"({"model":"sim-vlm","messages":[{"role":"user","content":")" + question + R"("}])" +
         extra + "}";
}

const char* kChoice012 = R"(,"structured_outputs":{"choice":["yes","no"]})";
const char* kChoice010 = R"(,"guided_choice":["yes","no"])";
const char* kSchemaRf =
    R"(,"response_format":{"type":"json_schema","json_schema":{"name":"o","schema":{"type":"object","properties":{"x":{"type":"integer"}},"required":["x"]}}})";

bool IsYesNo(const std::string& s) { return s == "yes" || s == "no"; }

TEST(PlanChat, Vllm012HonoursStructuredOutputsAndIgnoresGuided) {
  auto so = PlanChat(Body(kChoice012), Config(Api::kVllm012));
  ASSERT_TRUE(so.ok()) << so.error.message;
  EXPECT_TRUE(IsYesNo(so.plan.content));
  EXPECT_EQ(so.plan.constraint, ConstraintKind::kChoice);
  auto guided = PlanChat(Body(kChoice010), Config(Api::kVllm012));
  ASSERT_TRUE(guided.ok());
  EXPECT_EQ(guided.plan.constraint, ConstraintKind::kNone);
  EXPECT_FALSE(IsYesNo(guided.plan.content));
}

TEST(PlanChat, Vllm010HonoursGuidedAndIgnoresStructuredOutputs) {
  auto guided = PlanChat(Body(kChoice010), Config(Api::kVllm010));
  ASSERT_TRUE(guided.ok());
  EXPECT_TRUE(IsYesNo(guided.plan.content));
  auto so = PlanChat(Body(kChoice012), Config(Api::kVllm010));
  ASSERT_TRUE(so.ok());
  EXPECT_EQ(so.plan.constraint, ConstraintKind::kNone);
  auto regex = PlanChat(Body(R"(,"guided_regex":"[0-9]{3}")"), Config(Api::kVllm010));
  ASSERT_TRUE(regex.ok());
  EXPECT_EQ(regex.plan.content.size(), 3u);
  auto js = PlanChat(
      Body(R"(,"guided_json":{"type":"object","properties":{"a":{"const":1}},"required":["a"]})"),
      Config(Api::kVllm010));
  ASSERT_TRUE(js.ok());
  EXPECT_EQ(json::parse(js.plan.content)["a"], 1);
}

TEST(PlanChat, OpenAIHonoursOnlyResponseFormat) {
  for (const char* extra : {kChoice012, kChoice010}) {
    auto r = PlanChat(Body(extra), Config(Api::kOpenAI));
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(r.plan.constraint, ConstraintKind::kNone) << extra;
  }
  for (Api api : {Api::kOpenAI, Api::kVllm010, Api::kVllm012}) {
    auto r = PlanChat(Body(kSchemaRf), Config(api));
    ASSERT_TRUE(r.ok());
    EXPECT_TRUE(json::parse(r.plan.content)["x"].is_number_integer());
  }
  auto obj = PlanChat(Body(R"(,"response_format":{"type":"json_object"})"), Config(Api::kOpenAI));
  ASSERT_TRUE(obj.ok());
  EXPECT_TRUE(json::parse(obj.plan.content).is_object());
}

TEST(PlanChat, FreeTextForMultipleChoiceIsSometimesProse) {
  std::set<std::string> shapes;
  for (int seed = 0; seed < 40; ++seed) {
    ChatConfig c = Config(Api::kVllm012);
    c.seed = seed;
    auto r = PlanChat(Body(""), c);
    ASSERT_TRUE(r.ok());
    shapes.insert(r.plan.content.size() == 1 ? "letter" : "prose");
  }
  EXPECT_EQ(shapes.size(), 2u);
}

TEST(PlanChat, ContextLengthErrorUsesVllmWording) {
  ChatConfig c = Config(Api::kVllm012);
  c.max_model_len = 100;
  auto r = PlanChat(Body(R"(,"max_tokens":90)"), c);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error.status, 400);
  EXPECT_EQ(r.error.type, "BadRequestError");
  int p = r.plan.prompt_tokens;
  EXPECT_EQ(r.error.message,
            "This model's maximum context length is 100 tokens. However, you requested " +
                std::to_string(p + 90) + " tokens (" + std::to_string(p) +
                " in the messages, 90 in the completion). Please reduce the length of the "
                "messages or completion.");
}

TEST(PlanChat, ImageLimitAndTextOnlyModel) {
  const std::string png =
      "data:image/"
      "png;base64,"
      "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJg"
      "gg==";
  std::string part = R"({"type":"image_url","image_url":{"url":")" + png + R"("}})";
  std::string two = R"({"model":"sim-vlm","messages":[{"role":"user","content":[)" + part + "," +
                    part + R"(,{"type":"text","text":"compare"}]}]})";
  auto r = PlanChat(two, Config(Api::kVllm012));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error.message, "At most 1 image(s) may be provided in one prompt.");
  ChatConfig two_ok = Config(Api::kVllm012);
  two_ok.limit_mm_per_prompt = 2;
  auto ok = PlanChat(two, two_ok);
  ASSERT_TRUE(ok.ok()) << ok.error.message;
  EXPECT_EQ(ok.plan.images, 2);
  ChatConfig text_only = Config(Api::kVllm012);
  text_only.image_support = false;
  text_only.limit_mm_per_prompt = 2;
  auto no = PlanChat(two, text_only);
  ASSERT_FALSE(no.ok());
  EXPECT_EQ(no.error.status, 400);
  EXPECT_NE(no.error.message.find("does not support image"), std::string::npos);
}

TEST(PlanChat, MalformedFieldsAre400) {
  ChatConfig c = Config(Api::kVllm012);
  for (
      const char* body : {
          R"({"model":"sim-vlm"})",
          R"({"model":"sim-vlm","messages":"hi"})",
          R"({"model":"sim-vlm","messages":[]})",
          R"({"model":"sim-vlm","messages":[{"content":"hi"}]})",
          R"({"model":"sim-vlm","messages":[{"role":"user","content":"hi"}],"max_tokens":0})",
          R"({"model":"sim-vlm","messages":[{"role":"user","content":"hi"}],"max_tokens":"5"})",
          R"({"model":"sim-vlm","messages":[{"role":"user","content":"hi"}],"temperature":"hot"})",
          R"({"model":"sim-vlm","messages":[{"role":"user","content":"hi"}],"response_format":{"type":"xml"}})",
          R"({"model":"sim-vlm","messages":[{"role":"user","content":"hi"}],"structured_outputs":{"choice":["a"],"regex":"b"}})",
          R"({"model":"sim-vlm","messages":[{"role":"user","content":"hi"}],"structured_outputs":{"regex":"(a)\\1"}})",
          R"([1,2])",
      }) {
    auto r = PlanChat(body, c);
    EXPECT_EQ(r.error.status, 400) << body;
    EXPECT_EQ(r.error.type, "BadRequestError") << body;
    EXPECT_FALSE(r.error.message.empty());
  }
}

TEST(PlanChat, MaxTokensCutsTheAnswerWithFinishReasonLength) {
  auto r = PlanChat(Body(R"(,"max_tokens":2)", "Describe the weather in detail."),
                    Config(Api::kVllm012));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.plan.finish_reason, "length");
  EXPECT_EQ(r.plan.completion_tokens, 2);
  EXPECT_LE(r.plan.content.size(), 8u);
}

TEST(PlanChat, LengthFaultLeavesJsonThatDoesNotParse) {
  for (int seed = 0; seed < 30; ++seed) {
    ChatConfig c = Config(Api::kVllm012);
    c.seed = seed;
    auto r = PlanChat(Body(kSchemaRf), c);
    ASSERT_TRUE(r.ok());
    TruncateForLengthFault(&r.plan);
    EXPECT_EQ(r.plan.finish_reason, "length");
    EXPECT_FALSE(json::accept(r.plan.content)) << r.plan.content;
  }
}

TEST(StreamBody, EndsWithUsageAndDone) {
  auto r = PlanChat(Body(R"(,"stream":true,"stream_options":{"include_usage":true})"),
                    Config(Api::kVllm012));
  ASSERT_TRUE(r.ok());
  std::string sse = StreamBody(r.plan, "chatcmpl-1", 1);
  EXPECT_TRUE(sse.ends_with("data: [DONE]\n\n"));
  std::string content;
  bool saw_usage = false, saw_finish = false;
  size_t pos = 0;
  while ((pos = sse.find("data: ", pos)) != std::string::npos) {
    size_t end = sse.find("\n\n", pos);
    std::string payload = sse.substr(pos + 6, end - pos - 6);
    pos = end;
    if (payload == "[DONE]") break;
    json chunk = json::parse(payload);
    EXPECT_EQ(chunk["object"], "chat.completion.chunk");
    if (chunk["choices"].empty()) {
      saw_usage = true;
      EXPECT_EQ(chunk["usage"]["completion_tokens"], r.plan.completion_tokens);
      continue;
    }
    content += chunk["choices"][0]["delta"].value("content", "");
    if (!chunk["choices"][0]["finish_reason"].is_null()) saw_finish = true;
  }
  EXPECT_EQ(content, r.plan.content);
  EXPECT_TRUE(saw_usage);
  EXPECT_TRUE(saw_finish);
}

}  // namespace
}  // namespace structflow::sim

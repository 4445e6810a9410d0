// PlanChat and the response bodies per server family: what each honours and ignores, anchoring,
// free whitespace, and the errors users meet (read from each server's source; see chat.cpp).
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <regex>

#include "sim/chat.h"

namespace structflow::sim {
namespace {

using nlohmann::json;

ChatConfig Config(Api api, uint64_t seed = 0) {
  ChatConfig c;
  c.api = api;
  c.models = {"tiny"};
  c.seed = seed;
  return c;
}

std::string Body(const std::string& extra, const std::string& model = "tiny") {
  return R"({"model":")" + model +
         R"(","messages":[{"role":"user","content":"Pick one: A) red B) blue"}])" + extra + "}";
}

const char* kRfSchema =
    R"(,"response_format":{"type":"json_schema","json_schema":{"name":"o","schema":{"type":"object","properties":{"x":{"type":"integer"}},"required":["x"]}}})";
const char* kTopSchema =
    R"(,"json_schema":{"type":"object","properties":{"x":{"type":"integer"}},"required":["x"]})";
const char* kGrammar = R"(,"grammar":"root ::= \"yes\" | \"no\"")";
const char* kSoChoice = R"(,"structured_outputs":{"choice":["yes","no"]})";
const char* kGuidedChoice = R"(,"guided_choice":["yes","no"])";
const char* kRegex = R"j(,"regex":"(yes|no)")j";
const char* kEbnf = R"(,"ebnf":"root ::= \"yes\" | \"no\"")";

ConstraintKind KindOf(Api api, const std::string& extra) {
  auto r = PlanChat(Body(extra), Config(api));
  EXPECT_TRUE(r.ok()) << ApiName(api) << ": " << r.error.message;
  return r.plan.constraint;
}

TEST(PlanChatFamilies, EachFamilyHonoursItsOwnParametersAndIgnoresTheRest) {
  using K = ConstraintKind;
  EXPECT_EQ(KindOf(Api::kLlamaCpp, kRfSchema), K::kJsonSchema);
  EXPECT_EQ(KindOf(Api::kLlamaCpp, kTopSchema), K::kJsonSchema);
  EXPECT_EQ(KindOf(Api::kLlamaCpp, kGrammar), K::kGrammar);
  EXPECT_EQ(KindOf(Api::kLlamaCpp, R"(,"response_format":{"type":"json_object"})"), K::kJsonObject);
  EXPECT_EQ(KindOf(Api::kLlamaCpp, kSoChoice), K::kNone);
  EXPECT_EQ(KindOf(Api::kLlamaCpp, kGuidedChoice), K::kNone);
  EXPECT_EQ(KindOf(Api::kLlamaCpp, kRegex), K::kNone);

  // Before PR 12168 a shadowed variable dropped response_format json_schema.
  EXPECT_EQ(KindOf(Api::kLlamaCppB4800, kRfSchema), K::kNone);
  EXPECT_EQ(KindOf(Api::kLlamaCppB4800, kTopSchema), K::kJsonSchema);
  EXPECT_EQ(KindOf(Api::kLlamaCppB4800, kGrammar), K::kGrammar);

  EXPECT_EQ(KindOf(Api::kSglang, kRfSchema), K::kJsonSchema);
  EXPECT_EQ(KindOf(Api::kSglang, kRegex), K::kRegex);
  EXPECT_EQ(KindOf(Api::kSglang, kEbnf), K::kGrammar);
  EXPECT_EQ(KindOf(Api::kSglang, kTopSchema), K::kNone);
  EXPECT_EQ(KindOf(Api::kSglang, kSoChoice), K::kNone);
  EXPECT_EQ(KindOf(Api::kSglang, kGuidedChoice), K::kNone);

  EXPECT_EQ(KindOf(Api::kOllama, kRfSchema), K::kJsonSchema);
  EXPECT_EQ(KindOf(Api::kOllama, R"(,"response_format":{"type":"json_object"})"), K::kJsonObject);
  EXPECT_EQ(KindOf(Api::kOllama, kTopSchema), K::kNone);
  EXPECT_EQ(KindOf(Api::kOllama, kGrammar), K::kNone);
  EXPECT_EQ(KindOf(Api::kOllama, kSoChoice), K::kNone);
  EXPECT_EQ(KindOf(Api::kOllama, R"(,"response_format":{"type":"xml"})"), K::kNone);
}

TEST(PlanChatFamilies, GrammarAndRegexAnswersFit) {
  const std::pair<Api, const char*> cases[] = {
      {Api::kLlamaCpp, kGrammar}, {Api::kSglang, kEbnf}, {Api::kSglang, kRegex}};
  for (uint64_t seed = 0; seed < 8; ++seed) {
    for (auto [api, extra] : cases) {
      auto r = PlanChat(Body(extra), Config(api, seed));
      ASSERT_TRUE(r.ok()) << r.error.message;
      EXPECT_TRUE(r.plan.content == "yes" || r.plan.content == "no") << r.plan.content;
    }
  }
}

TEST(PlanChatFamilies, WrongParametersGiveEachFamilysError) {
  auto llama = PlanChat(Body(R"(,"response_format":{"type":"xml"})"), Config(Api::kLlamaCpp));
  EXPECT_EQ(llama.error.status, 400);
  EXPECT_EQ(llama.error.type, "invalid_request_error");
  EXPECT_EQ(llama.error.message,
            "response_format type must be one of \"text\" or \"json_object\", but got: xml");
  auto old = PlanChat(Body(R"(,"response_format":{"type":"xml"})"), Config(Api::kLlamaCppB4800));
  EXPECT_EQ(old.error.status, 500);
  EXPECT_EQ(old.error.type, "server_error");
  auto both = PlanChat(Body(std::string(kTopSchema) + kGrammar), Config(Api::kLlamaCpp));
  EXPECT_EQ(both.error.status, 500);
  EXPECT_EQ(both.error.message, "Cannot use both json_schema and grammar");
  auto two = PlanChat(Body(std::string(kRfSchema) + kRegex), Config(Api::kSglang));
  EXPECT_EQ(two.error.status, 400);
  EXPECT_EQ(two.error.message, "Only one of regex, json_schema, or ebnf can be set.");
  auto bad_json = PlanChat("{not json", Config(Api::kLlamaCpp));
  EXPECT_EQ(bad_json.error.status, 500);
  EXPECT_NE(bad_json.error.message.find("parse_error"), std::string::npos);
}

std::string PatternBody(const std::string& pattern) {
  return Body(
      R"(,"response_format":{"type":"json_schema","json_schema":{"name":"o","schema":{"type":"object","properties":{"code":{"type":"string","pattern":")" +
      pattern + R"("}},"required":["code"]}}})");
}

TEST(PlanChatFamilies, LlamaCppAcceptsAnyStringForAnUnanchoredPattern) {
  const std::regex full("[A-Z]{3}");
  int misses = 0;
  for (uint64_t seed = 0; seed < 20; ++seed) {
    auto anchored = PlanChat(PatternBody("^[A-Z]{3}$"), Config(Api::kLlamaCpp, seed));
    ASSERT_TRUE(anchored.ok()) << anchored.error.message;
    EXPECT_TRUE(
        std::regex_match(json::parse(anchored.plan.content)["code"].get<std::string>(), full));
    auto loose = PlanChat(PatternBody("[A-Z]{3}"), Config(Api::kLlamaCpp, seed));
    ASSERT_TRUE(loose.ok()) << loose.error.message;
    if (!std::regex_match(json::parse(loose.plan.content)["code"].get<std::string>(), full)) {
      ++misses;
    }
    // vLLM's grammar matches the pattern in full whether anchored or not.
    auto vllm = PlanChat(PatternBody("[A-Z]{3}"), Config(Api::kVllm012, seed));
    ASSERT_TRUE(vllm.ok());
    EXPECT_TRUE(std::regex_match(json::parse(vllm.plan.content)["code"].get<std::string>(), full));
  }
  EXPECT_GT(misses, 10);
  // b4800 ignores response_format json_schema, so its schema comes as top-level json_schema.
  auto old = PlanChat(
      Body(
          R"(,"json_schema":{"type":"object","properties":{"code":{"type":"string","pattern":"[A-Z]{3}"}}})"),
      Config(Api::kLlamaCppB4800));
  EXPECT_EQ(old.error.status, 400);
  EXPECT_NE(old.error.message.find("Pattern must start with '^' and end with '$'"),
            std::string::npos);
}

TEST(PlanChatFamilies, UnknownModelPerFamily) {
  auto vllm = PlanChat(Body("", "nope"), Config(Api::kVllm012));
  EXPECT_EQ(vllm.error.status, 404);
  auto llama = PlanChat(Body("", "nope"), Config(Api::kLlamaCpp));
  ASSERT_TRUE(llama.ok());
  EXPECT_EQ(llama.plan.model, "nope");
  EXPECT_TRUE(PlanChat(Body("", "nope"), Config(Api::kSglang)).ok());
  auto ollama = PlanChat(Body("", "nope"), Config(Api::kOllama));
  EXPECT_EQ(ollama.error.status, 404);
  EXPECT_EQ(ollama.error.type, "not_found_error");
  EXPECT_EQ(ollama.error.message, "model \"nope\" not found, try pulling it first");
  EXPECT_EQ(json::parse(ErrorBody(ollama.error, Api::kOllama)),
            json::parse(R"({"error":{"message":"model \"nope\" not found, try pulling it first",
                            "type":"not_found_error","param":null,"code":null}})"));
}

std::string ImageBody() {
  return R"({"model":"tiny","messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="}},{"type":"text","text":"what?"}]}]})";
}

TEST(PlanChatFamilies, ImagesToATextOnlyModelPerFamily) {
  auto text_only = [](Api api) {
    ChatConfig c = Config(api);
    c.image_support = false;
    return PlanChat(ImageBody(), c);
  };
  auto llama = text_only(Api::kLlamaCpp);
  EXPECT_EQ(llama.error.status, 500);
  EXPECT_EQ(llama.error.type, "server_error");
  EXPECT_EQ(llama.error.message,
            "image input is not supported - hint: if this is unexpected, you may need to provide "
            "the mmproj");
  EXPECT_EQ(json::parse(ErrorBody(llama.error, Api::kLlamaCpp))["error"]["code"], 500);
  EXPECT_EQ(text_only(Api::kSglang).error.status, 400);
  auto ollama = text_only(Api::kOllama);
  EXPECT_EQ(ollama.error.status, 500);
  EXPECT_EQ(ollama.error.message, "this model is missing data required for image input");
  // b4800 had no multimodal path at all.
  auto old = PlanChat(ImageBody(), Config(Api::kLlamaCppB4800));
  EXPECT_EQ(old.error.status, 500);
  // With vision, every family answers.
  for (Api api : {Api::kLlamaCpp, Api::kSglang, Api::kOllama}) {
    auto r = PlanChat(ImageBody(), Config(api));
    EXPECT_TRUE(r.ok()) << ApiName(api) << ": " << r.error.message;
  }
}

TEST(PlanChatFamilies, ContextOverflowPerFamily) {
  auto small = [](Api api) {
    ChatConfig c = Config(api);
    c.max_model_len = 10;
    return PlanChat(Body(R"(,"max_tokens":5)"), c);
  };
  auto llama = small(Api::kLlamaCpp);
  ASSERT_EQ(llama.error.status, 400);
  json body = json::parse(ErrorBody(llama.error, Api::kLlamaCpp));
  EXPECT_EQ(body["error"]["type"], "exceed_context_size_error");
  EXPECT_EQ(body["error"]["n_ctx"], 10);
  EXPECT_EQ(body["error"]["n_prompt_tokens"], llama.plan.prompt_tokens);
  EXPECT_EQ(body["error"]["message"], "request (" + std::to_string(llama.plan.prompt_tokens) +
                                          " tokens) exceeds the available context size (10 "
                                          "tokens), try increasing it");
  auto sglang = small(Api::kSglang);
  EXPECT_EQ(sglang.error.status, 400);
  EXPECT_NE(sglang.error.message.find("is longer than the model's context length (10 tokens)"),
            std::string::npos);
  json flat = json::parse(ErrorBody(sglang.error, Api::kSglang));
  EXPECT_EQ(flat["object"], "error");
  EXPECT_EQ(flat["code"], 400);
  // Ollama truncates the prompt instead.
  EXPECT_TRUE(small(Api::kOllama).ok());
  // llama.cpp lets max_tokens exceed the context: generation stops at its end.
  ChatConfig c = Config(Api::kLlamaCpp);
  c.max_model_len = 200;
  auto cut = PlanChat(Body(R"(,"max_tokens":100000)"), c);
  ASSERT_TRUE(cut.ok()) << cut.error.message;
  EXPECT_LE(cut.plan.max_tokens, 200 - cut.plan.prompt_tokens);
}

TEST(PlanChatFamilies, NoChatTemplatePerFamily) {
  for (Api api : {Api::kVllm012, Api::kSglang, Api::kLlamaCpp, Api::kOllama}) {
    ChatConfig c = Config(api);
    c.chat_template = false;
    auto r = PlanChat(Body(""), c);
    const bool fallback = api == Api::kLlamaCpp || api == Api::kOllama;
    EXPECT_EQ(r.ok(), fallback) << ApiName(api);
    if (!fallback) {
      EXPECT_EQ(r.error.status, 400);
    }
  }
}

TEST(PlanChatFamilies, FreeWhitespaceIsValidJsonAndCountsAsTokens) {
  ChatConfig c = Config(Api::kLlamaCpp);
  c.json_whitespace = 1.0;
  int with_newlines = 0;
  for (uint64_t seed = 0; seed < 10; ++seed) {
    c.seed = seed;
    auto r = PlanChat(Body(kRfSchema), c);
    ASSERT_TRUE(r.ok()) << r.error.message;
    EXPECT_TRUE(json::accept(r.plan.content)) << r.plan.content;
    EXPECT_EQ(json::parse(r.plan.content).dump(),
              R"({"x":)" + json::parse(r.plan.content)["x"].dump() + "}");
    size_t ws = 0;
    for (char ch : r.plan.content) ws += ch == ' ' || ch == '\n';
    EXPECT_GE(r.plan.completion_tokens, static_cast<int>(ws));
    with_newlines += r.plan.content.find('\n') != std::string::npos;
  }
  EXPECT_GT(with_newlines, 0);
}

TEST(PlanChatFamilies, MaxTokensCutsFreeWhitespaceWithFinishReasonLength) {
  ChatConfig c = Config(Api::kLlamaCpp);
  c.json_whitespace = 1.0;
  int cut = 0;
  for (uint64_t seed = 0; seed < 10; ++seed) {
    c.seed = seed;
    auto full = PlanChat(Body(kRfSchema), c);
    auto r = PlanChat(Body(std::string(kRfSchema) + R"(,"max_tokens":8)"), c);
    ASSERT_TRUE(r.ok());
    EXPECT_LE(r.plan.completion_tokens, 8);
    if (r.plan.finish_reason == "length") {
      ++cut;
      EXPECT_FALSE(json::accept(r.plan.content));
    }
    ASSERT_TRUE(full.ok());
  }
  EXPECT_GT(cut, 0);
  // Without whitespace the same answer fits.
  c.json_whitespace = 0;
  auto r = PlanChat(Body(std::string(kRfSchema) + R"(,"max_tokens":8)"), c);
  EXPECT_EQ(r.plan.finish_reason, "stop");
}

TEST(ModelsBody, CarriesEachFamilysContextField) {
  json llama = json::parse(ModelsBody({"tiny"}, 2048, 1, Api::kLlamaCpp, false));
  EXPECT_EQ(llama["data"][0]["meta"]["n_ctx_train"], 2048);
  EXPECT_EQ(llama["models"][0]["capabilities"], json::array({"completion"}));
  json sglang = json::parse(ModelsBody({"tiny"}, 2048, 1, Api::kSglang));
  EXPECT_EQ(sglang["data"][0]["max_model_len"], 2048);
  json ollama = json::parse(ModelsBody({"tiny"}, 2048, 1, Api::kOllama));
  EXPECT_EQ(ollama["data"][0]["owned_by"], "library");
}

TEST(ParseApi, KnowsEveryFamilyAndNamesTheChoices) {
  for (const auto& name : ApiNames()) {
    auto api = ParseApi(name);
    ASSERT_TRUE(api.ok()) << name;
    EXPECT_EQ(ApiName(*api), name);
  }
  auto bad = ParseApi("tgi");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("llama.cpp"), std::string::npos);
}

}  // namespace
}  // namespace structflow::sim

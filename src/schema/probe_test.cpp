// ProbeDialect against in-test servers that behave like the real ones at the level the probe
// sees: each honours one dialect's members and answers free text when it does not find them
// (servers silently ignore unknown members). The simulator-backed tests are in
// sim_dialect_integration_test.cpp.
#include "schema/probe.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

namespace structflow::schema {
namespace {

std::string Completion(const std::string& content) {
  nlohmann::json body = {
      {"choices",
       {{{"message", {{"role", "assistant"}, {"content", content}}}, {"finish_reason", "stop"}}}}};
  return body.dump();
}

// Answers the first choice when the request carries `honoured` members, else prose.
struct FakeServer {
  Dialect honoured;
  std::vector<std::string> requests;
  Result<std::string> operator()(const std::string& body) {
    requests.push_back(body);
    auto req = nlohmann::json::parse(body);
    if (honoured == Dialect::kVllm && req.contains("structured_outputs")) {
      auto so = req["structured_outputs"];
      if (so.contains("choice")) return Completion(so["choice"][0]);
      return Completion("{}");
    }
    if (honoured == Dialect::kVllmLegacy && req.contains("guided_choice")) {
      return Completion(req["guided_choice"][0]);
    }
    if (honoured == Dialect::kOpenAI && req.contains("response_format")) {
      auto schema = req["response_format"]["json_schema"]["schema"];
      if (schema["properties"].contains("answer")) {
        return Completion(
            nlohmann::json{{"answer", schema["properties"]["answer"]["enum"][0]}}.dump());
      }
      return Completion("{}");
    }
    return Completion("Sure! Here is one word: hello.");
  }
};

TEST(ProbeDialect, FindsTheDialectEachServerHonours) {
  auto c = *Constraint::FromChoices({"yes", "no"});
  for (Dialect d : {Dialect::kVllm, Dialect::kOpenAI, Dialect::kVllmLegacy}) {
    FakeServer server{d, {}};
    auto found = ProbeDialect([&](const std::string& b) { return server(b); }, "m", c);
    ASSERT_TRUE(found.ok()) << found.status().ToString();
    EXPECT_EQ(*found, d);
    // The last request checks the job's own constraint under the found dialect.
    auto last = nlohmann::json::parse(server.requests.back());
    EXPECT_EQ(last["max_tokens"], 1);
    EXPECT_EQ(last["model"], "m");
    if (d == Dialect::kVllm) {
      EXPECT_EQ(last["structured_outputs"]["choice"][0], "yes");
    }
  }
}

TEST(ProbeDialect, TriesVllmFirstThenOpenAIThenLegacy) {
  FakeServer server{Dialect::kVllmLegacy, {}};
  auto c = *Constraint::FromRegex("[a-z]+");
  ASSERT_TRUE(ProbeDialect([&](const std::string& b) { return server(b); }, "m", c).ok());
  ASSERT_EQ(server.requests.size(), 4u);
  EXPECT_TRUE(nlohmann::json::parse(server.requests[0]).contains("structured_outputs"));
  EXPECT_TRUE(nlohmann::json::parse(server.requests[1]).contains("response_format"));
  EXPECT_TRUE(nlohmann::json::parse(server.requests[2]).contains("guided_choice"));
}

TEST(ProbeDialect, ServerIgnoringEverythingIsAnErrorNamingEachDialect) {
  auto c = *Constraint::FromChoices({"yes", "no"});
  auto ignoring = [](const std::string&) -> Result<std::string> {
    return Completion("```json\n{\"answer\": \"yes\"}\n```");
  };
  auto found = ProbeDialect(ignoring, "m", c);
  ASSERT_FALSE(found.ok());
  const std::string& m = found.status().message();
  EXPECT_NE(m.find("vllm:"), std::string::npos) << m;
  EXPECT_NE(m.find("openai:"), std::string::npos) << m;
  EXPECT_NE(m.find("vllm-legacy:"), std::string::npos) << m;
  EXPECT_NE(m.find("--dialect"), std::string::npos) << m;
}

TEST(ProbeDialect, RejectedRequestsMoveOnAndAJobConstraintRejectionFails) {
  // A strict OpenAI-like server: unknown members are a 400, response_format works.
  int calls = 0;
  auto strict = [&](const std::string& body) -> Result<std::string> {
    ++calls;
    auto req = nlohmann::json::parse(body);
    if (!req.contains("response_format")) {
      return Status::InvalidArgument("HTTP 400: Unrecognized request argument supplied");
    }
    if (req["max_tokens"] == 1) return Status::InvalidArgument("HTTP 400: invalid schema");
    return Completion(R"({"answer":"zqxv"})");
  };
  auto c = *Constraint::FromChoices({"yes", "no"});
  auto found = ProbeDialect(strict, "m", c);
  ASSERT_FALSE(found.ok());
  EXPECT_NE(found.status().message().find("'openai'"), std::string::npos);
  EXPECT_NE(found.status().message().find("rejected the job's constraint"), std::string::npos);
  EXPECT_NE(found.status().message().find("invalid schema"), std::string::npos);
  EXPECT_EQ(calls, 3);
}

std::string CutCompletion(const std::string& content) {
  nlohmann::json body = {{"choices",
                          {{{"message", {{"role", "assistant"}, {"content", content}}},
                            {"finish_reason", "length"}}}}};
  return body.dump();
}

TEST(ProbeDialect, AnAnswerCutInWhitespaceIsAskedAgainWithMoreTokens) {
  // llama.cpp's JSON grammar lets a small model spend its first tokens on whitespace: at 16
  // tokens the answer is cut while still fitting; with more tokens it completes.
  std::vector<int> max_tokens;
  auto server = [&](const std::string& body) -> Result<std::string> {
    auto req = nlohmann::json::parse(body);
    max_tokens.push_back(req["max_tokens"]);
    if (!req.contains("response_format")) return Completion("Sure: hello");
    if (req["max_tokens"] == 16) return CutCompletion("\n\n\n   \n  {\n   ");
    return Completion("\n\n\n   \n  {\n   \"answer\" : \"zqxv\"\n}");
  };
  auto c = *Constraint::FromChoices({"yes", "no"});
  ProbeOptions o;
  o.order = {Dialect::kOpenAI};
  auto found = ProbeDialect(server, "m", c, o);
  ASSERT_TRUE(found.ok()) << found.status().ToString();
  EXPECT_EQ(*found, Dialect::kOpenAI);
  EXPECT_EQ(max_tokens, (std::vector<int>{16, 64, 1}));  // the last: the job's own constraint
}

TEST(ProbeDialect, ACutAnswerThatFitsNoValueIsIgnoredNotRetried) {
  int calls = 0;
  auto server = [&](const std::string&) -> Result<std::string> {
    ++calls;
    return CutCompletion("Sure! The word I would pick is");
  };
  auto c = *Constraint::FromChoices({"yes", "no"});
  ProbeOptions o;
  o.order = {Dialect::kOpenAI, Dialect::kVllm};
  auto found = ProbeDialect(server, "m", c, o);
  ASSERT_FALSE(found.ok());
  EXPECT_EQ(calls, 2);  // one request per dialect
  EXPECT_EQ(JudgeProbeAnswer("zq", "length", Dialect::kVllm), ProbeVerdict::kInconclusive);
  EXPECT_EQ(JudgeProbeAnswer("Reply", "length", Dialect::kVllm), ProbeVerdict::kIgnored);
}

TEST(ProbeDialect, IdenticalFailuresAreSaidOnce) {
  auto c = *Constraint::FromChoices({"yes", "no"});
  auto missing = [](const std::string&) -> Result<std::string> {
    return Status::Unavailable("HTTP 404: The model `m` does not exist.");
  };
  auto found = ProbeDialect(missing, "m", c);
  ASSERT_FALSE(found.ok());
  const std::string& m = found.status().message();
  EXPECT_NE(m.find("every dialect: "), std::string::npos) << m;
  EXPECT_EQ(m.find("does not exist"), m.rfind("does not exist")) << m;
}

TEST(ProbeDialect, ImageJobsProbeWithTheImage) {
  std::string seen;
  auto server = [&](const std::string& body) -> Result<std::string> {
    seen = body;
    return Completion("zqxv");
  };
  ProbeOptions o;
  o.order = {Dialect::kVllm};
  o.image_data_url = "data:image/png;base64,AAAA";
  ASSERT_TRUE(ProbeDialect(server, "m", *Constraint::FromChoices({"a", "b"}), o).ok());
  auto first = nlohmann::json::parse(ProbeRequestBody("m", Dialect::kVllm, 16, o.image_data_url));
  EXPECT_EQ(first["messages"][0]["content"][1]["image_url"]["url"], o.image_data_url);
}

TEST(ProbeDialect, ProbeBodiesAreValidJson) {
  for (Dialect d : {Dialect::kVllm, Dialect::kOpenAI, Dialect::kVllmLegacy}) {
    auto body = nlohmann::json::parse(ProbeRequestBody("a \"model\"", d));
    EXPECT_EQ(body["model"], "a \"model\"");
    EXPECT_EQ(body["max_tokens"], 16);
  }
}

}  // namespace
}  // namespace structflow::schema

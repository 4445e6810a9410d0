#include "sim/logprobs.h"

#include <gtest/gtest.h>

#include <cmath>
#include <nlohmann/json.hpp>

#include "sim/chat.h"

namespace structflow::sim {
namespace {

TEST(SimLogprobs, DistributionsAreDeterministicAndSumToOne) {
  auto a = ValueDistribution(3, "row 1", "", 4);
  EXPECT_EQ(a, ValueDistribution(3, "row 1", "", 4));
  EXPECT_NE(a, ValueDistribution(3, "row 2", "", 4));
  EXPECT_NE(a, ValueDistribution(3, "row 1", "tone", 4));
  double sum = 0;
  for (double p : a) sum += p;
  EXPECT_NEAR(sum, 1.0, 1e-12);
}

TEST(SimLogprobs, SamplesFollowTheDistribution) {
  const std::vector<double> p = {0.7, 0.2, 0.1};
  Rng rng(5);
  std::vector<int> n(3);
  for (int i = 0; i < 20000; ++i) ++n[SampleIndex(p, rng)];
  for (int k = 0; k < 3; ++k) EXPECT_NEAR(n[k] / 20000.0, p[k], 0.015) << k;  // > 4 sigma
}

TEST(SimLogprobs, MultiTokenValuesArePathsOfConditionalProbabilities) {
  // 4 bytes a token: "neutral" is "neut"+"ral", "neutron" "neut"+"ron", "positive" "posi"+"tive".
  AnswerPiece v{"", {"neutral", "neutron", "positive"}, {0.5, 0.2, 0.3}, 1};
  auto toks = TokenizePieces({AnswerPiece{"x=", {}, {}, 0}, v}, 4, 5, 0.0);
  ASSERT_EQ(toks.size(), 3u);
  EXPECT_EQ(toks[0].text, "x=");
  EXPECT_DOUBLE_EQ(toks[0].logprob, 0.0);
  EXPECT_EQ(toks[1].text, "neut");
  EXPECT_NEAR(std::exp(toks[1].logprob), 0.7, 1e-12);
  EXPECT_EQ(toks[2].text, "ron");
  EXPECT_NEAR(std::exp(toks[2].logprob), 0.2 / 0.7, 1e-12);
  // top_logprobs: K entries, most likely first, the rest of the vocabulary at -9999.
  ASSERT_EQ(toks[1].top.size(), 5u);
  EXPECT_EQ(toks[1].top[0].first, "neut");
  EXPECT_EQ(toks[1].top[1].first, "posi");
  EXPECT_DOUBLE_EQ(toks[1].top[4].second, -9999.0);
}

TEST(SimLogprobs, BeforeTheMaskTheOffGrammarTokensTakeTheirShare) {
  AnswerPiece v{"", {"yes", "no"}, {0.6, 0.4}, 0};
  auto toks = TokenizePieces({v}, 4, 4, kOffGrammarMass);
  ASSERT_EQ(toks.size(), 1u);
  double allowed = 0, total = 0;
  for (const auto& [t, lp] : toks[0].top) {
    total += std::exp(lp);
    if (t == "yes" || t == "no") allowed += std::exp(lp);
  }
  EXPECT_NEAR(allowed, 1 - kOffGrammarMass, 1e-12);
  EXPECT_NEAR(total, 1.0, 1e-12);  // K = 4: yes, no and two off-grammar tokens hold it all
  EXPECT_NEAR(std::exp(toks[0].logprob), 0.6 * (1 - kOffGrammarMass), 1e-12);
}

TEST(SimLogprobs, JsonPiecesRedrawEnumsAndBooleansFromTheirDistribution) {
  const nlohmann::json schema = nlohmann::json::parse(
      R"({"type":"object","properties":{"t":{"enum":["a","b"]},"ok":{"type":"boolean"},
          "n":{"type":"integer"}}})");
  nlohmann::json value = {{"t", "a"}, {"ok", true}, {"n", 3}};
  Rng rng(1);
  auto pieces = JsonAnswerPieces(schema, &value, 9, "q", rng);
  std::string text;
  int sites = 0;
  for (const auto& p : pieces) {
    text += p.alts.empty() ? p.text : p.alts[p.chosen];
    sites += !p.alts.empty();
  }
  EXPECT_EQ(text, value.dump());
  EXPECT_EQ(sites, 2);
  for (const auto& p : pieces) {
    if (p.alts.size() == 2 && p.alts[0] == "true") {
      EXPECT_EQ(p.p, ValueDistribution(9, "q", "ok", 2));
    }
  }
}

TEST(SimLogprobs, LiteralAlternationsAreChoices) {
  EXPECT_EQ(LiteralAlternation("(?:A|B\\.c|d\\|e)"), (std::vector<std::string>{"A", "B.c", "d|e"}));
  EXPECT_TRUE(LiteralAlternation("(?:a|b+)").empty());
  EXPECT_TRUE(LiteralAlternation("(?:a|\\d)").empty());
  EXPECT_TRUE(LiteralAlternation("[ab]").empty());
  EXPECT_TRUE(LiteralAlternation("(?:a||b)").empty());
}

TEST(SimLogprobs, EachFamilyAnswersLogprobsItsWay) {
  const std::string body =
      R"({"model":"sim-vlm","messages":[{"role":"user","content":"q"}],"max_tokens":16,)"
      R"("structured_outputs":{"choice":["yes","no"]},"response_format":{"type":"json_schema",)"
      R"("json_schema":{"name":"o","schema":{"type":"object","properties":{"answer":)"
      R"({"enum":["yes","no"]}},"required":["answer"]}}},"logprobs":true,"top_logprobs":3})";
  for (Api api : {Api::kVllm012, Api::kLlamaCpp, Api::kSglang, Api::kOllama}) {
    SCOPED_TRACE(std::string(ApiName(api)));
    ChatConfig config;
    config.api = api;
    config.models = {"sim-vlm"};
    ChatOutcome o = PlanChat(body, config);
    ASSERT_TRUE(o.ok()) << o.error.message;
    auto doc = nlohmann::json::parse(CompletionBody(o.plan, "id", 0));
    const auto& lp = doc["choices"][0]["logprobs"];
    if (api == Api::kOllama) {
      EXPECT_TRUE(lp.is_null());
      continue;
    }
    std::string spelled;
    for (const auto& t : lp["content"]) {
      spelled += t["token"].get<std::string>();
      EXPECT_EQ(t["top_logprobs"].size(), 3u);
      EXPECT_EQ(t.contains("id"), api == Api::kLlamaCpp);
    }
    EXPECT_EQ(spelled, doc["choices"][0]["message"]["content"].get<std::string>());
  }
  ChatConfig vllm;
  vllm.models = {"sim-vlm"};
  std::string too_many = body;
  too_many.replace(too_many.find("\"top_logprobs\":3"), 16, "\"top_logprobs\":21");
  ChatOutcome refused = PlanChat(too_many, vllm);
  EXPECT_EQ(refused.error.status, 400);
  EXPECT_NE(refused.error.message.find("max allowed: 20"), std::string::npos);
}

}  // namespace
}  // namespace structflow::sim

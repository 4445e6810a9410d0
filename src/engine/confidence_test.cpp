#include "engine/confidence.h"

#include <gtest/gtest.h>

#include <cmath>

#include "engine/answer_stage.h"

namespace structflow::engine {
namespace {

using schema::TokenLogprob;

// A token taken with probability `p` and its alternatives (text, probability).
TokenLogprob Tok(std::string text, double p, std::vector<std::pair<std::string, double>> top = {}) {
  TokenLogprob t;
  t.token = std::move(text);
  t.logprob = std::log(p);
  for (auto& [s, q] : top) t.top.emplace_back(s, std::log(q));
  return t;
}

struct SiteCase {
  const char* name;
  std::string text;
  size_t begin, end;
  std::vector<TokenLogprob> tokens;
  std::vector<std::string> targets;
  bool ok;
  int chosen;
  std::vector<double> p;
};

TEST(ScoreSiteTest, Table) {
  const std::vector<std::string> sentiment = {"positive", "negative", "neutral"};
  const std::vector<SiteCase> cases = {
      {"first token decides, the rest forced",
       "positive",
       0,
       8,
       {Tok("posi", 0.6, {{"posi", 0.6}, {"nega", 0.3}, {"neut", 0.1}}), Tok("tive", 1.0)},
       sentiment,
       true,
       0,
       {0.6, 0.3, 0.1}},
      {"mass on tokens no value starts with (before the mask) is renormalised away",
       "negative",
       0,
       8,
       {Tok("nega", 0.15, {{"The", 0.5}, {"posi", 0.3}, {"nega", 0.15}, {"neut", 0.05}}),
        Tok("tive", 0.9, {{"tive", 0.9}, {"!", 0.1}})},
       sentiment,
       true,
       1,
       {0.6, 0.3, 0.1}},
      {"a shared first token splits at the next step",
       "neutron",
       0,
       7,
       {Tok("neut", 0.7, {{"neut", 0.7}, {"posi", 0.3}}),
        Tok("ron", 0.5, {{"ral", 0.5}, {"ron", 0.5}})},
       {"neutral", "neutron", "positive"},
       true,
       1,
       {0.35, 0.35, 0.3}},
      {"a value missing from top_logprobs scores 0",
       "positive",
       0,
       8,
       {Tok("posi", 0.9, {{"posi", 0.9}, {"nega", 0.1}}), Tok("tive", 1.0)},
       sentiment,
       true,
       0,
       {0.9, 0.1, 0.0}},
      {"JSON value starting inside a token (the lead)",
       R"({"answer":"no"})",
       10,
       14,
       {Tok(R"({"answer)", 1.0), Tok(R"(":"n)", 0.6, {{R"(":"n)", 0.6}, {R"(":"y)", 0.4}}),
        Tok(R"(o"})", 1.0)},
       {R"("yes")", R"("no")"},
       true,
       1,
       {0.4, 0.6}},
      {"a token crossing the value's end",
       R"({"a":true})",
       5,
       9,
       {Tok(R"({"a":)", 1.0), Tok("true}", 0.25, {{"false", 0.75}, {"true}", 0.25}})},
       {"true", "false"},
       true,
       0,
       {0.25, 0.75}},
      {"tokens that do not spell the text",
       "positive",
       0,
       8,
       {Tok("posx", 0.6), Tok("tive", 1.0)},
       sentiment,
       false,
       -1,
       {}},
      {"an answer that is no allowed value",
       "maybe",
       0,
       5,
       {Tok("maybe", 1.0)},
       sentiment,
       false,
       -1,
       {}},
      {"tokens ending inside the value",
       "positive",
       0,
       8,
       {Tok("posi", 1.0)},
       sentiment,
       false,
       -1,
       {}},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    SiteScore s = ScoreSite(c.text, c.begin, c.end, c.tokens, c.targets);
    ASSERT_EQ(s.ok, c.ok);
    if (!c.ok) continue;
    EXPECT_EQ(s.chosen, c.chosen);
    ASSERT_EQ(s.p.size(), c.p.size());
    for (size_t k = 0; k < c.p.size(); ++k) EXPECT_NEAR(s.p[k], c.p[k], 1e-9) << k;
  }
}

TEST(ConfidenceTest, SchemaSitesScoresAndColumns) {
  auto constraint = schema::Constraint::FromSchemaText(
      R"({"type":"object","$defs":{"L":{"enum":["a","b"],"type":"string"}},
          "properties":{"label":{"$ref":"#/$defs/L"},
                        "meta":{"type":"object","properties":{"ok":{"type":"boolean"},
                                                              "note":{"type":"string"}}},
                        "n":{"type":"integer"}},
          "required":["label","meta","n"]})",
      "t.json");
  ASSERT_TRUE(constraint.ok()) << constraint.status().message();
  auto conf = Confidence::Make(*constraint, ConfidenceMode::kFull, "t.json");
  ASSERT_TRUE(conf.ok()) << conf.status().message();
  ASSERT_EQ(conf->sites().size(), 2u);
  EXPECT_EQ(conf->sites()[1].path, (std::vector<std::string>{"meta", "ok"}));
  EXPECT_EQ(conf->TopLogprobs(), 5);
  EXPECT_EQ(conf->AnswerType()->ToString(), "struct<label: double, meta: struct<ok: double>>");

  const std::string content = R"({"label":"b","meta":{"ok":true,"note":"x"},"n":3})";
  std::vector<TokenLogprob> tokens = {
      Tok(R"({"label":)", 1.0), Tok(R"("b")", 0.7, {{R"("b")", 0.7}, {R"("a")", 0.2}, {"x", 0.1}}),
      Tok(R"(,"meta":{"ok":)", 1.0), Tok("true", 0.4, {{"false", 0.6}, {"true", 0.4}}),
      Tok(R"(,"note":"x"},"n":3})", 1.0)};
  std::string why;
  std::string stored = conf->Score(content, &tokens, schema::Dialect::kVllm, &why);
  EXPECT_EQ(why, "");
  table::Column answer(conf->AnswerType());
  table::Column dist(conf->DistributionType());
  conf->AppendColumns(stored, &answer, &dist);
  ASSERT_TRUE(answer.IsValid(0)) << stored;
  EXPECT_NEAR(answer.child(0).GetDouble(0), 0.7 / 0.9, 1e-9);
  EXPECT_NEAR(answer.child(1).child(0).GetDouble(0), 0.4, 1e-9);
  const table::Column& label_dist = dist.child(0);
  auto [first, last] = label_dist.ListRange(0);
  ASSERT_EQ(last - first, 2);
  EXPECT_EQ(label_dist.child(0).child(0).GetBytes(first), "a");
  EXPECT_NEAR(label_dist.child(0).child(1).GetDouble(first), 0.2 / 0.9, 1e-9);

  // No log-probabilities: "null" with the reason, and null columns.
  stored = conf->Score(content, nullptr, schema::Dialect::kVllm, &why);
  EXPECT_EQ(stored, "null");
  EXPECT_NE(why.find("no log-probabilities"), std::string::npos);
  conf->AppendColumns(stored, &answer, &dist);
  EXPECT_TRUE(answer.IsNull(1));
  EXPECT_TRUE(dist.IsNull(1));
}

TEST(ConfidenceTest, ChoiceWrappedUnderJsonDialects) {
  auto constraint = schema::Constraint::FromChoices({"yes", "no"});
  ASSERT_TRUE(constraint.ok());
  auto conf = Confidence::Make(*constraint, ConfidenceMode::kAnswer, "--choice");
  ASSERT_TRUE(conf.ok());
  EXPECT_EQ(conf->RequestMembers(), R"("logprobs":true,"top_logprobs":5)");
  std::vector<TokenLogprob> tokens = {Tok(R"({"answer":)", 1.0),
                                      Tok(R"("no")", 0.3, {{R"("yes")", 0.6}, {R"("no")", 0.3}}),
                                      Tok("}", 1.0)};
  std::string why;
  std::string stored = conf->Score(R"({"answer":"no"})", &tokens, schema::Dialect::kOpenAI, &why);
  table::Column answer(conf->AnswerType());
  conf->AppendColumns(stored, &answer, nullptr);
  ASSERT_TRUE(answer.IsValid(0)) << stored;
  EXPECT_NEAR(answer.GetDouble(0), 1.0 / 3, 1e-9);
}

TEST(ConfidenceTest, ToleratesWhatDetokenizersDrop) {
  // A leading word-start space on the first token and an end-of-turn token after the answer, as
  // SentencePiece models on some servers list them; the content has neither.
  auto constraint = schema::Constraint::FromChoices({"yes", "no"});
  ASSERT_TRUE(constraint.ok());
  auto conf = Confidence::Make(*constraint, ConfidenceMode::kAnswer, "--choice");
  ASSERT_TRUE(conf.ok());
  std::vector<TokenLogprob> tokens = {Tok(" no", 0.2, {{" yes", 0.8}, {" no", 0.2}}),
                                      Tok("<|im_end|>", 1.0)};
  std::string why;
  std::string stored = conf->Score("no", &tokens, schema::Dialect::kVllm, &why);
  EXPECT_EQ(why, "");
  table::Column answer(conf->AnswerType());
  conf->AppendColumns(stored, &answer, nullptr);
  ASSERT_TRUE(answer.IsValid(0)) << stored;
  EXPECT_NEAR(answer.GetDouble(0), 0.2, 1e-9);
  // Tokens that spell something else: null, and why.
  tokens = {Tok("maybe", 1.0)};
  EXPECT_EQ(conf->Score("no", &tokens, schema::Dialect::kVllm, &why), "null");
  EXPECT_NE(why.find("cannot be laid over"), std::string::npos);
}

TEST(ConfidenceTest, NothingToScoreIsRefused) {
  auto regex = schema::Constraint::FromRegex("[0-9]+");
  ASSERT_TRUE(regex.ok());
  EXPECT_FALSE(Confidence::Make(*regex, ConfidenceMode::kAnswer, "--regex").ok());
  auto plain = schema::Constraint::FromSchemaText(
      R"({"type":"object","properties":{"s":{"type":"string"}}})", "p.json");
  ASSERT_TRUE(plain.ok());
  auto c = Confidence::Make(*plain, ConfidenceMode::kAnswer, "p.json");
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find("p.json has no enum or boolean"), std::string::npos);
}

TEST(ConfidenceTest, JudgeRecordsScoresFromTheBody) {
  auto constraint = schema::Constraint::FromChoices({"A", "B"});
  ASSERT_TRUE(constraint.ok());
  auto conf = Confidence::Make(*constraint, ConfidenceMode::kAnswer, "--choice");
  ASSERT_TRUE(conf.ok());
  AnswerPolicy policy;
  policy.constraint = &*constraint;
  policy.confidence = &*conf;
  client::Completion c;
  c.http_status = 200;
  c.attempts = 1;
  c.body =
      R"({"choices":[{"index":0,"message":{"role":"assistant","content":"B"},"finish_reason":"stop",)"
      R"("logprobs":{"content":[{"token":"B","logprob":-1.2039728,"bytes":[66],)"
      R"("top_logprobs":[{"token":"A","logprob":-0.35667494,"bytes":[65]},)"
      R"({"token":"B","logprob":-1.2039728,"bytes":[66]}]}]}}]})";
  table::Column scratch(constraint->OutputType());
  AnswerVerdict v = Judge(policy, schema::Dialect::kVllm, c, AnswerAttempt{}, &scratch);
  ASSERT_TRUE(v.record.error.ok()) << v.record.error.message;
  EXPECT_EQ(v.confidence_missing, "");
  table::Column answer(conf->AnswerType());
  conf->AppendColumns(v.record.confidence, &answer, nullptr);
  EXPECT_NEAR(answer.GetDouble(0), 0.3, 1e-6);

  c.body =
      R"({"choices":[{"index":0,"message":{"role":"assistant","content":"B"},"finish_reason":"stop","logprobs":null}]})";
  v = Judge(policy, schema::Dialect::kVllm, c, AnswerAttempt{}, &scratch);
  ASSERT_TRUE(v.record.error.ok());
  EXPECT_EQ(v.record.confidence, "null");
  EXPECT_NE(v.confidence_missing, "");
}

}  // namespace
}  // namespace structflow::engine

#include "engine/eval.h"

#include <gtest/gtest.h>

#include <fstream>

namespace structflow::engine {
namespace {

RowOutcome Row(std::string pred, std::string key, bool failed = false) {
  RowOutcome r;
  r.pred = std::move(pred);
  r.key = std::move(key);
  r.has_key = !r.key.empty();
  r.failed = failed;
  return r;
}

TEST(Eval, FailedRowsAreCountedApartNeverScoredAsWrong) {
  std::vector<RowOutcome> rows = {Row("A", "A"), Row("B", "A"), Row("", "C", true), Row("C", "")};
  Score s = ScoreOutcomes("r.jsonl", rows);
  EXPECT_EQ(s.scored, 2);
  EXPECT_EQ(s.correct, 1);
  EXPECT_EQ(s.failed, 1);
  EXPECT_EQ(s.no_key, 1);
  EXPECT_DOUBLE_EQ(s.accuracy, 0.5);
  EXPECT_EQ(s.confusion["A"]["B"], 1);
}

TEST(Eval, WilsonIntervalMatchesKnownValues) {
  double lo, hi;
  WilsonInterval(50, 100, &lo, &hi);
  EXPECT_NEAR(lo, 0.4038, 1e-3);
  EXPECT_NEAR(hi, 0.5962, 1e-3);
  WilsonInterval(0, 10, &lo, &hi);
  EXPECT_EQ(lo, 0);
  EXPECT_NEAR(hi, 0.2775, 1e-3);
}

TEST(Eval, FourWayTableSplitsRowsByWhichRunGotThemRight) {
  std::vector<RowOutcome> with = {Row("A", "A"), Row("A", "A"), Row("B", "A"), Row("B", "A"),
                                  Row("C", "C", true)};
  std::vector<RowOutcome> without = {Row("A", "A"), Row("B", "A"), Row("A", "A"), Row("B", "A"),
                                     Row("C", "C")};
  auto c = Compare(with, without);
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->both_right, 1);
  EXPECT_EQ(c->first_only, 1);
  EXPECT_EQ(c->second_only, 1);
  EXPECT_EQ(c->both_wrong, 1);
  EXPECT_EQ(c->not_scored, 1);
}

TEST(Eval, RefusesFilesOfDifferentRows) {
  EXPECT_FALSE(Compare({Row("A", "A")}, {}).ok());
  auto st = Compare({Row("A", "A")}, {Row("A", "B")}).status();
  EXPECT_NE(st.message().find("do not hold the same rows"), std::string::npos);
}

TEST(Eval, McNemarExactMatchesHandComputedBinomialTails) {
  // b = 1, c = 5: n = 6, P(X <= 1) = (1 + 6) / 64; two-sided 14 / 64.
  EXPECT_DOUBLE_EQ(McNemarExactP(1, 5), 14.0 / 64);
  EXPECT_NEAR(McNemarExactP(5, 1), 14.0 / 64, 1e-12);
  // b = 0, c = 10: 2 / 1024.
  EXPECT_NEAR(McNemarExactP(0, 10), 2.0 / 1024, 1e-12);
  // Equal counts: the tail is over one half, capped at 1.
  EXPECT_DOUBLE_EQ(McNemarExactP(3, 3), 1.0);
  EXPECT_DOUBLE_EQ(McNemarExactP(0, 0), 1.0);
  // Large n (terms far below the smallest double one by one), values from Python's math.comb.
  EXPECT_NEAR(McNemarExactP(100, 200) / 8.014875216538918e-09, 1.0, 1e-6);
  EXPECT_NEAR(McNemarExactP(20, 31), 0.16077960181198847, 1e-9);
  EXPECT_NEAR(McNemarExactP(2000, 2200), 0.0021323556719912346, 1e-9);
}

TEST(Eval, ComparisonCarriesMcNemarAndThePairedDifference) {
  // 2 rows right only in the first, 0 only in the second, 1 both right, 1 both wrong.
  std::vector<RowOutcome> a = {Row("A", "A"), Row("B", "B"), Row("C", "C"), Row("A", "D")};
  std::vector<RowOutcome> b = {Row("A", "A"), Row("A", "B"), Row("A", "C"), Row("A", "D")};
  auto c = Compare(a, b);
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->mcnemar.discordant, 2);
  EXPECT_DOUBLE_EQ(c->mcnemar.p_value, 0.5);  // 2 * (1/4)
  EXPECT_DOUBLE_EQ(c->difference, 0.5);
}

TEST(Eval, NormalizeAnswerDropsLabelsCaseAndWhitespace) {
  EXPECT_EQ(NormalizeAnswer("Answer: C"), "C");
  EXPECT_EQ(NormalizeAnswer("  c \n"), "C");
  EXPECT_EQ(NormalizeAnswer("answer - b"), "B");
  EXPECT_EQ(NormalizeAnswer("The answer is D."), "D");
  EXPECT_EQ(NormalizeAnswer("(B)"), "B");
  EXPECT_EQ(NormalizeAnswer("\"Paris\""), "paris");
  EXPECT_EQ(NormalizeAnswer("New   York\tCity"), "new york city");
  EXPECT_EQ(NormalizeAnswer("Final answer: 42"), "42");
  // Words that only start like a label are answers, not labels.
  EXPECT_EQ(NormalizeAnswer("Answered"), "answered");
  EXPECT_EQ(NormalizeAnswer("answer"), "answer");
  EXPECT_EQ(NormalizeAnswer(""), "");
}

TEST(Eval, ReadOutcomesNormalisesSoAnswerLabelsMatchLetters) {
  std::string path = ::testing::TempDir() + "/eval_norm.jsonl";
  {
    std::ofstream f(path);
    f << R"({"key": "Answer: A", "output": "A", "src": "x", "error": null})"
      << "\n"
      << R"({"key": "Answer: B", "output": "b", "src": "y", "error": null})"
      << "\n"
      << R"({"key": "Answer: C", "output": "D", "src": "y", "error": null})"
      << "\n";
  }
  EvalOptions o;
  o.by = "src";
  auto rows = ReadOutcomes(path, o);
  ASSERT_TRUE(rows.ok()) << rows.status().message();
  Score s = ScoreOutcomes(path, *rows, o);
  EXPECT_EQ(s.scored, 3);
  EXPECT_EQ(s.correct, 2);
  EXPECT_TRUE(s.warnings.empty());
  EXPECT_EQ(s.groups["x"].correct, 1);
  EXPECT_EQ(s.groups["y"].scored, 2);
  EXPECT_EQ(s.groups["y"].correct, 1);
  // Per class: D was predicted once, never right; C has one row, never found.
  EXPECT_EQ(s.per_class["D"].predicted, 1);
  EXPECT_DOUBLE_EQ(s.per_class["D"].precision, 0);
  EXPECT_DOUBLE_EQ(s.per_class["C"].recall, 0);
  EXPECT_DOUBLE_EQ(s.per_class["A"].precision, 1);

  o.normalize = false;
  rows = ReadOutcomes(path, o);
  ASSERT_TRUE(rows.ok());
  s = ScoreOutcomes(path, *rows, o);
  EXPECT_EQ(s.correct, 0);
  ASSERT_EQ(s.warnings.size(), 1u);
  EXPECT_NE(s.warnings[0].find("no prediction matches any key"), std::string::npos);
  EXPECT_NE(s.warnings[0].find("'Answer: A'"), std::string::npos);
}

TEST(Eval, WarnsWhenNoPredictionMatchesAnyKey) {
  Score s = ScoreOutcomes("r.jsonl", {Row("yes", "A"), Row("no", "B")});
  ASSERT_EQ(s.warnings.size(), 1u);
  EXPECT_NE(s.warnings[0].find("no prediction matches any key"), std::string::npos);
  // Wrong answers that could match are no reason to warn.
  EXPECT_TRUE(ScoreOutcomes("r.jsonl", {Row("B", "A"), Row("A", "B")}).warnings.empty());
}

}  // namespace
}  // namespace structflow::engine

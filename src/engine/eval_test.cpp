#include "engine/eval.h"

#include <gtest/gtest.h>

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

}  // namespace
}  // namespace structflow::engine

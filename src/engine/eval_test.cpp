#include "engine/eval.h"

#include <gtest/gtest.h>

#include <fstream>
#include <random>

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

// ---- Calibration ----

RowOutcome Conf(double confidence, bool right) {
  RowOutcome r = Row(right ? "A" : "B", "A");
  r.confidence_column = true;
  r.has_confidence = true;
  r.confidence = confidence;
  return r;
}

// Ten scored rows with a confidence, plus a failed row, a row without a key and a scored row
// whose confidence is null (none of them in the calibration figures). By hand, with 10 bins:
//   bin [0.3,0.4): 0.35 W               rows 1, conf 0.35,  acc 0    gap 0.35
//   bin [0.5,0.6): 0.55 R, 0.55 W       rows 2, conf 0.55,  acc 0.5  gap 0.05
//   bin [0.6,0.7): 0.65 W               rows 1, conf 0.65,  acc 0    gap 0.65
//   bin [0.7,0.8): 0.75 R               rows 1, conf 0.75,  acc 1    gap 0.25
//   bin [0.8,0.9): 0.85 R, 0.85 W       rows 2, conf 0.85,  acc 0.5  gap 0.35
//   bin [0.9,1.0]: 0.95 R, 0.95 R, 1 R  rows 3, conf 2.9/3, acc 1    gap 0.1/3
//   ECE = (0.35 + 2*0.05 + 0.65 + 0.25 + 2*0.35 + 3*0.1/3) / 10 = 2.15 / 10 = 0.215; MCE 0.65
//   mean confidence 7.45 / 10 = 0.745, accuracy 6 / 10
//   Brier = (0.05^2*2 + 0.15^2 + 0.85^2 + 0.25^2 + 0.65^2 + 0.45^2 + 0.55^2 + 0.35^2 + 0) / 10
//         = 1.8625 / 10 = 0.18625
// Sorted by confidence: 1 R, .95 R, .95 R, .85 R, .85 W, .75 R, .65 W, .55 R, .55 W, .35 W
//   50%: 5 rows, the .85 pair wholly inside: 4 right, 0.8, threshold .85
//   80%: 8 rows, the cut splits the .55 pair (one of two taken, one of them right): 5 + 1/2 =
//        5.5 right, 5.5 / 8 = 0.6875, 2 rows tied
//   90%: 9 rows, 6 right, 2/3;  95%: ceil(9.5) = 10 rows, 0.6;  100%: 10 rows, 0.6
//   --min-confidence 0.8: answered 1, .95, .95, .85, .85 (5, 4 right: 0.8, coverage 0.5);
//        abstained 5, of which right .75 and .55: 2
std::vector<RowOutcome> CalibrationRows() {
  std::vector<RowOutcome> rows = {
      Conf(0.95, true),  Conf(0.95, true), Conf(0.85, true),  Conf(0.85, false), Conf(0.75, true),
      Conf(0.65, false), Conf(0.55, true), Conf(0.55, false), Conf(0.35, false), Conf(1.0, true)};
  RowOutcome failed = Row("", "A", true), no_key = Row("A", ""), null_conf = Row("A", "A");
  for (RowOutcome* r : {&failed, &no_key, &null_conf}) r->confidence_column = true;
  rows.push_back(failed);
  rows.push_back(no_key);
  rows.push_back(null_conf);
  return rows;
}

TEST(EvalCalibration, BinsEceBrierAndCoverageMatchHandComputedFigures) {
  EvalOptions o;
  o.min_confidence = 0.8;
  Score s = ScoreOutcomes("r.jsonl", CalibrationRows(), o);
  ASSERT_TRUE(s.calibration.has_value());
  const Calibration& c = *s.calibration;
  EXPECT_EQ(c.column, "confidence");
  EXPECT_EQ(c.rows, 10);
  EXPECT_EQ(c.correct, 6);
  EXPECT_EQ(c.no_confidence, 1);
  EXPECT_EQ(s.scored, 11);  // the null-confidence row is scored for accuracy
  EXPECT_NEAR(c.mean_confidence, 0.745, 1e-12);
  EXPECT_NEAR(c.accuracy, 0.6, 1e-12);
  EXPECT_NEAR(c.ece, 0.215, 1e-12);
  EXPECT_NEAR(c.mce, 0.65, 1e-12);
  EXPECT_NEAR(c.brier, 0.18625, 1e-12);
  ASSERT_EQ(c.bins.size(), 10u);
  std::vector<int64_t> rows, right;
  for (const auto& b : c.bins) {
    rows.push_back(b.rows);
    right.push_back(b.correct);
  }
  EXPECT_EQ(rows, (std::vector<int64_t>{0, 0, 0, 1, 0, 2, 1, 1, 2, 3}));
  EXPECT_EQ(right, (std::vector<int64_t>{0, 0, 0, 0, 0, 1, 0, 1, 1, 3}));
  EXPECT_NEAR(c.bins[9].mean_confidence, 2.9 / 3, 1e-12);
  EXPECT_DOUBLE_EQ(c.bins[5].accuracy, 0.5);
  EXPECT_DOUBLE_EQ(c.bins[3].low, 0.3);
  EXPECT_DOUBLE_EQ(c.bins[9].high, 1.0);

  ASSERT_EQ(c.coverage.size(), 5u);
  EXPECT_EQ(c.coverage[0].rows, 5);
  EXPECT_DOUBLE_EQ(c.coverage[0].accuracy, 0.8);
  EXPECT_DOUBLE_EQ(c.coverage[0].threshold, 0.85);
  EXPECT_EQ(c.coverage[0].tied, 0);
  EXPECT_EQ(c.coverage[1].rows, 8);
  EXPECT_DOUBLE_EQ(c.coverage[1].correct, 5.5);
  EXPECT_DOUBLE_EQ(c.coverage[1].accuracy, 0.6875);
  EXPECT_EQ(c.coverage[1].tied, 2);
  EXPECT_EQ(c.coverage[2].rows, 9);  // 0.9 * 10 is 9.000000000000002 in doubles: still 9 rows
  EXPECT_NEAR(c.coverage[2].accuracy, 6.0 / 9, 1e-12);
  EXPECT_EQ(c.coverage[3].rows, 10);
  EXPECT_DOUBLE_EQ(c.coverage[4].accuracy, 0.6);
  EXPECT_DOUBLE_EQ(c.coverage[4].threshold, 0.35);
  ASSERT_EQ(c.curve.size(), 100u);
  EXPECT_DOUBLE_EQ(c.curve[79].accuracy, 0.6875);  // 80%

  EXPECT_EQ(c.answered, 5);
  EXPECT_EQ(c.answered_correct, 4);
  EXPECT_DOUBLE_EQ(c.answered_accuracy, 0.8);
  EXPECT_DOUBLE_EQ(c.answered_coverage, 0.5);
  EXPECT_EQ(c.abstained, 5);
  EXPECT_EQ(c.abstained_correct, 2);

  // The text teaches what the figures mean and says what the main accuracy includes.
  std::string text = FormatScore(s);
  EXPECT_NE(text.find("expected calibration error (ECE) 21.5%"), std::string::npos) << text;
  EXPECT_NE(text.find("Brier score 0.186"), std::string::npos) << text;
  EXPECT_NE(text.find("the 5 below --min-confidence 0.8 included"), std::string::npos) << text;
  EXPECT_NE(text.find("5 rows answered (coverage 50.0%), accuracy 80.0%"), std::string::npos)
      << text;
  EXPECT_NE(text.find("1 more with a null confidence"), std::string::npos) << text;
  EXPECT_NE(text.find("2 rows tied at the cut"), std::string::npos) << text;
  // The JSON carries the same figures.
  std::string json = ScoreJson(s);
  EXPECT_NE(json.find("\"ece\":0.215"), std::string::npos) << json;
  EXPECT_NE(json.find("\"answered\":5"), std::string::npos) << json;
  EXPECT_NE(json.find("\"no_confidence\":1"), std::string::npos) << json;
}

TEST(EvalCalibration, ACalibratedSourceHasASmallEceAnOverconfidentOneItsGap) {
  // 20,000 rows whose confidence is uniform in [0.2, 1] and which are right with exactly that
  // probability: every bin's accuracy is its mean confidence up to sampling noise (a bin of
  // ~2,500 rows: standard error <= 0.01), so ECE is small. The same confidences on rows right
  // with probability confidence - 0.2 are overconfident by 0.2 in every bin: ECE ~ 0.2.
  std::mt19937_64 rng(21);
  std::uniform_real_distribution<double> conf(0.2, 1.0), u(0.0, 1.0);
  std::vector<RowOutcome> calibrated, overconfident;
  for (int i = 0; i < 20000; ++i) {
    const double c = conf(rng), draw = u(rng);
    calibrated.push_back(Conf(c, draw < c));
    overconfident.push_back(Conf(c, draw < c - 0.2));
  }
  Calibration good = Calibrate(calibrated, "confidence");
  Calibration bad = Calibrate(overconfident, "confidence");
  EXPECT_LT(good.ece, 0.02);
  EXPECT_NEAR(bad.ece, 0.2, 0.02);
  EXPECT_NEAR(bad.mean_confidence - bad.accuracy, 0.2, 0.02);
  // Brier of a calibrated source: E[c (1 - c)] = E[c] - E[c^2], with c ~ U(0.2, 1):
  // 0.6 - (1 - 0.2^3) / (3 * 0.8) = 0.6 - 0.41333 = 0.18667.
  EXPECT_NEAR(good.brier, 0.1867, 0.01);
  // The most confident rows are the most accurate: accuracy falls as coverage grows.
  EXPECT_GT(good.coverage[0].accuracy, good.coverage[4].accuracy + 0.1);
}

TEST(EvalCalibration, OneBinEceIsTheGapBetweenMeanConfidenceAndAccuracy) {
  // One bin holds every row: ECE = |0.6 - 0.745| = 0.145.
  Calibration c = Calibrate(CalibrationRows(), "confidence", 1);
  ASSERT_EQ(c.bins.size(), 1u);
  EXPECT_EQ(c.bins[0].rows, 10);
  EXPECT_NEAR(c.ece, 0.145, 1e-12);
  EXPECT_EQ(c.min_confidence, -1);
  EXPECT_EQ(c.answered + c.abstained, 0);  // no threshold: no abstentions
}

TEST(EvalCalibration, BoundariesGoUpAndOneGoesInTheLastBin) {
  // 0.3 and 0.7 sit on bin edges: they belong to the bin they open. 1.0 closes the last bin;
  // 0.0 opens the first.
  Calibration c = Calibrate({Conf(0.3, true), Conf(0.7, true), Conf(1.0, true), Conf(0.0, false)},
                            "confidence", 10);
  EXPECT_EQ(c.bins[3].rows, 1);
  EXPECT_EQ(c.bins[2].rows, 0);
  EXPECT_EQ(c.bins[7].rows, 1);
  EXPECT_EQ(c.bins[9].rows, 1);
  EXPECT_EQ(c.bins[0].rows, 1);
  // Perfect on the sure rows: 1.0 right, 0.0 wrong; 0.3 and 0.7 both right.
  EXPECT_NEAR(c.ece, (0.7 + 0.3) / 4, 1e-12);
}

TEST(EvalCalibration, AllNullConfidencesGiveNoFiguresAndAWarning) {
  std::vector<RowOutcome> rows = {Row("A", "A"), Row("B", "A")};
  for (auto& r : rows) r.confidence_column = true;
  Score s = ScoreOutcomes("r.jsonl", rows);
  ASSERT_TRUE(s.calibration.has_value());
  EXPECT_EQ(s.calibration->rows, 0);
  EXPECT_EQ(s.calibration->no_confidence, 2);
  EXPECT_TRUE(s.calibration->coverage.empty());
  EXPECT_DOUBLE_EQ(s.calibration->ece, 0);
  ASSERT_EQ(s.warnings.size(), 1u);
  EXPECT_NE(s.warnings[0].find("null on all 2 scored rows"), std::string::npos);
  // Without a confidence column there is no calibration at all.
  EXPECT_FALSE(ScoreOutcomes("r.jsonl", {Row("A", "A")}).calibration.has_value());
}

TEST(EvalCalibration, AllRowsTiedCountTheTieByItsShare) {
  // Four rows at 0.5, three right: any cut takes a share of the one tie, so every coverage
  // level's accuracy is 3/4 whatever the rows' order.
  Calibration c = Calibrate({Conf(0.5, false), Conf(0.5, true), Conf(0.5, true), Conf(0.5, true)},
                            "confidence");
  EXPECT_EQ(c.coverage[0].rows, 2);
  EXPECT_DOUBLE_EQ(c.coverage[0].correct, 1.5);
  EXPECT_DOUBLE_EQ(c.coverage[0].accuracy, 0.75);
  EXPECT_EQ(c.coverage[0].tied, 4);
  EXPECT_EQ(c.coverage[4].tied, 0);  // 100%: the tie lies wholly inside
}

TEST(EvalCalibration, DefaultConfidencePathFollowsThePrediction) {
  EXPECT_EQ(DefaultConfidencePath("output"), "confidence");
  EXPECT_EQ(DefaultConfidencePath("output.answer"), "confidence.answer");
  EXPECT_EQ(DefaultConfidencePath("output.scene.kind"), "confidence.scene.kind");
  EXPECT_EQ(DefaultConfidencePath("label"), "");
  EXPECT_EQ(DefaultConfidencePath("outputs"), "");
}

std::string WriteFile(const std::string& name, const std::string& text) {
  std::string path = ::testing::TempDir() + "/" + name;
  std::ofstream(path) << text;
  return path;
}

TEST(EvalCalibration, ReadsTheSchemaFieldsConfidenceAndNulls) {
  std::string path = WriteFile(
      "eval_conf_schema.jsonl",
      R"({"key": "A", "output": {"answer": "A", "ok": true}, "confidence": {"answer": 0.9, "ok": 0.6}, "error": null})"
      "\n"
      R"({"key": "B", "output": {"answer": "C", "ok": false}, "confidence": {"answer": null, "ok": 1}, "error": null})"
      "\n"
      R"({"key": "C", "output": {"answer": "C", "ok": true}, "confidence": {"answer": 1, "ok": 0.5}, "error": null})"
      "\n");
  EvalOptions o;
  o.pred = "output.answer";
  auto rows = ReadOutcomes(path, o);
  ASSERT_TRUE(rows.ok()) << rows.status().message();
  ASSERT_EQ(rows->size(), 3u);
  EXPECT_TRUE((*rows)[0].confidence_column);
  EXPECT_DOUBLE_EQ((*rows)[0].confidence, 0.9);
  EXPECT_FALSE((*rows)[1].has_confidence);
  EXPECT_DOUBLE_EQ((*rows)[2].confidence, 1.0);
  Score s = ScoreOutcomes(path, *rows, o);
  ASSERT_TRUE(s.calibration.has_value());
  EXPECT_EQ(s.calibration->column, "confidence.answer");
  EXPECT_EQ(s.calibration->rows, 2);
  EXPECT_EQ(s.calibration->no_confidence, 1);
  // An explicit --confidence takes another field.
  o.confidence = "confidence.ok";
  rows = ReadOutcomes(path, o);
  ASSERT_TRUE(rows.ok()) << rows.status().message();
  EXPECT_DOUBLE_EQ((*rows)[1].confidence, 1.0);
  // A struct is not a probability: the message says which field to name.
  o.confidence = "confidence";
  auto bad = ReadOutcomes(path, o);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("--confidence confidence.answer"), std::string::npos)
      << bad.status().message();
}

TEST(EvalCalibration, AColumnNullThroughoutMeansNoConfidenceNotAnError) {
  // A server without usable log-probabilities leaves every confidence null; JSONL then infers the
  // column as text. Scoring goes on, with the rows counted apart and a warning.
  std::string path =
      WriteFile("eval_conf_allnull.jsonl", R"({"key": "A", "output": "A", "confidence": null})"
                                           "\n"
                                           R"({"key": "A", "output": "B", "confidence": null})"
                                           "\n");
  auto rows = ReadOutcomes(path, EvalOptions{});
  ASSERT_TRUE(rows.ok()) << rows.status().message();
  Score s = ScoreOutcomes(path, *rows);
  EXPECT_EQ(s.correct, 1);
  ASSERT_TRUE(s.calibration.has_value());
  EXPECT_EQ(s.calibration->no_confidence, 2);
  ASSERT_EQ(s.warnings.size(), 1u);
  EXPECT_NE(s.warnings[0].find("structflow doctor"), std::string::npos);
}

TEST(EvalCalibration, OutOfRangeConfidenceNamesTheRowAndColumn) {
  for (const char* bad : {"1.5", "-0.1", "\"high\""}) {
    std::string path =
        WriteFile("eval_conf_bad.jsonl",
                  std::string(R"({"key": "A", "output": "A", "confidence": 0.5})") + "\n" +
                      R"({"key": "A", "output": "B", "confidence": )" + bad + "}\n");
    auto rows = ReadOutcomes(path, EvalOptions{});
    ASSERT_FALSE(rows.ok()) << bad;
    const std::string& m = rows.status().message();
    EXPECT_NE(m.find("row 1 (counting from 0), column confidence"), std::string::npos) << m;
    EXPECT_NE(m.find("--confidence COLUMN"), std::string::npos) << m;
  }
  // CSV can hold NaN, which is no probability either.
  std::string csv = WriteFile("eval_conf_nan.csv", "key,output,confidence\nA,A,0.5\nA,A,nan\n");
  auto rows = ReadOutcomes(csv, EvalOptions{});
  ASSERT_FALSE(rows.ok());
  EXPECT_NE(rows.status().message().find("row 1 (counting from 0), column confidence"),
            std::string::npos)
      << rows.status().message();
}

TEST(EvalCalibration, MinConfidenceNeedsAConfidenceColumn) {
  std::string path = WriteFile("eval_conf_none.jsonl", R"({"key": "A", "output": "A"})"
                                                       "\n");
  EvalOptions o;
  o.min_confidence = 0.5;
  auto rows = ReadOutcomes(path, o);
  ASSERT_FALSE(rows.ok());
  EXPECT_NE(rows.status().message().find("run --confidence"), std::string::npos)
      << rows.status().message();
  // Without a threshold the file is scored as before, with no calibration.
  o.min_confidence = -1;
  rows = ReadOutcomes(path, o);
  ASSERT_TRUE(rows.ok());
  EXPECT_FALSE(ScoreOutcomes(path, *rows, o).calibration.has_value());
}

TEST(EvalCalibration, ComparisonShowsEachFilesCalibration) {
  std::vector<RowOutcome> a = CalibrationRows(), b = CalibrationRows();
  auto c = Compare(a, b);
  ASSERT_TRUE(c.ok());
  std::string text =
      FormatComparison(ScoreOutcomes("a", a), ScoreOutcomes("b", b), *c, "first", "second");
  EXPECT_NE(text.find("\nfirst\n  calibration"), std::string::npos) << text;
  EXPECT_NE(text.find("\nsecond\n  calibration"), std::string::npos) << text;
  EXPECT_NE(text.find("calibration: ECE 21.5% with first vs 21.5% with second"), std::string::npos)
      << text;
  EXPECT_NE(text.find("most confident 80%: 68.8% vs 68.8%"), std::string::npos) << text;
  std::string json = ComparisonJson(ScoreOutcomes("a", a), ScoreOutcomes("b", b), *c);
  // One calibration object per file.
  size_t first = json.find("\"calibration\"");
  ASSERT_NE(first, std::string::npos);
  EXPECT_NE(json.find("\"calibration\"", first + 1), std::string::npos) << json;
}

}  // namespace
}  // namespace structflow::engine

// Scoring a results file: accuracy with a 95% confidence interval, per-class precision and recall,
// a confusion table and a breakdown by a column (`--by`); for two results files of the same rows
// (say, with and without the image), both accuracies, the four-way table and McNemar's exact test
// of the paired difference. Rows that failed (non-null `error`) or have no key are counted apart
// and never scored as wrong.
//
// Keys and predictions are normalised before they are compared (NormalizeAnswer): a key
// `Answer: C` matches a prediction `c `. When no prediction matches any key at all, the score
// carries a warning that says what the two look like.
//
// Calibration: when the results carry the probability of each scored answer (the `confidence`
// column `run --confidence` writes: a float for a choice, `confidence.FIELD` for a schema's enum
// or boolean field), the score also says how far that probability can be trusted: a reliability
// diagram (equal-width bins of confidence, each with its rows' mean confidence and accuracy), the
// expected calibration error, the Brier score and the accuracy of the most confident X% of rows;
// with a minimum confidence, the rows below it count as abstentions (sent to a person).
// Thread-safety: plain functions and values.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace structflow::engine {

struct EvalOptions {
  std::string pred = "output";  // column path of the prediction
  std::string key = "key";      // column path of the answer key
  std::string error = "error";  // the error column ("" to ignore)
  std::string by;               // column path to break the score down by ("" for none)
  bool normalize = true;        // compare NormalizeAnswer(key) with NormalizeAnswer(pred)
  // Column path of the prediction's confidence, a probability in [0, 1]. Empty: the one `run
  // --confidence` writes for --pred, used when the file has it (`output` -> `confidence`,
  // `output.answer` -> `confidence.answer`); none: no calibration.
  std::string confidence;
  // Rows whose confidence is below this count as abstentions (answered by a person instead);
  // negative: no threshold. Needs a confidence column.
  double min_confidence = -1;
  int calibration_bins = 10;  // equal-width bins of the reliability diagram
};

// The confidence path `run --confidence` writes for a prediction path: `output` -> `confidence`,
// `output.answer` -> `confidence.answer`; "" when the prediction is not under `output`.
std::string DefaultConfidencePath(const std::string& pred);

// The form keys and predictions are compared in: surrounding whitespace trimmed, inner runs of
// whitespace made one space, a leading answer label dropped (`Answer:`, `answer -`, `The answer
// is`), enclosing brackets or quotes and a trailing period dropped, then case folded: a single
// letter upper case (choice letters: `c` -> `C`), anything else lower case.
std::string NormalizeAnswer(std::string_view text);

// The per-row outcome used for scoring.
struct RowOutcome {
  bool failed = false;   // the row carries an error: not scored
  bool has_key = false;  // the key is present: scorable
  std::string pred;      // as compared (normalised unless EvalOptions::normalize is off)
  std::string key;
  std::string group;       // the value of EvalOptions::by ("" when none or null)
  std::string error_kind;  // when failed
  std::string error_message;
  bool confidence_column = false;  // the file has a confidence column (set on every row)
  bool has_confidence = false;     // and this row's cell is not null
  double confidence = 0;           // in [0, 1] (ReadOutcomes refuses anything else)
  bool correct() const { return !failed && has_key && pred == key; }
  bool scored() const { return !failed && has_key; }
};

struct GroupScore {
  int64_t rows = 0;
  int64_t scored = 0;
  int64_t correct = 0;
  double accuracy = 0;
  double ci_low = 0;
  double ci_high = 0;
};

struct ClassScore {
  int64_t rows = 0;       // scored rows whose key is this class
  int64_t correct = 0;    // of which predicted right
  int64_t predicted = 0;  // scored rows predicted as this class
  double precision = 0;   // correct / predicted (0 when never predicted)
  double recall = 0;      // correct / rows (0 when no row has this key)
};

// One bar of the reliability diagram: the scored rows whose confidence is in [low, high) (the
// last bin also takes 1.0).
struct CalibrationBin {
  double low = 0;
  double high = 0;
  int64_t rows = 0;
  int64_t correct = 0;
  double mean_confidence = 0;  // 0 when the bin is empty
  double accuracy = 0;         // 0 when the bin is empty
};

// The accuracy of the most confident `coverage` share of the rows with a confidence: the rows
// sorted by confidence, highest first, and the first ceil(coverage * n) taken. Rows tied at the
// cut count by their share (each of the t tied rows counts (taken of them) / t), so the figure
// is the expected accuracy if the tie were broken at random, and does not depend on row order.
struct CoveragePoint {
  double coverage = 0;   // the share asked for (0.5 = the most confident half)
  int64_t rows = 0;      // ceil(coverage * n)
  double correct = 0;    // may be fractional when rows are tied at the cut
  double accuracy = 0;   // correct / rows
  double threshold = 0;  // the lowest confidence taken: answer rows at or above it
  int64_t tied = 0;      // rows with exactly that confidence, some inside the cut, some not
};

struct Calibration {
  std::string column;          // the confidence column's path
  int64_t rows = 0;            // scored rows with a confidence: the denominator of what follows
  int64_t correct = 0;         // of which right
  int64_t no_confidence = 0;   // scored rows whose confidence is null: not in any figure here
  double mean_confidence = 0;  // over `rows`
  double accuracy = 0;         // over `rows`
  // Expected calibration error: sum over bins of (bin rows / rows) * |accuracy - mean
  // confidence|. 0 when every bin's accuracy equals its mean confidence.
  double ece = 0;
  double mce = 0;    // maximum calibration error: the largest |accuracy - mean confidence| of a bin
  double brier = 0;  // mean of (confidence - (1 if right else 0))^2 over `rows`
  std::vector<CalibrationBin> bins;
  std::vector<CoveragePoint> coverage;  // at 50%, 80%, 90%, 95% and 100%
  // Accuracy against coverage at every whole percent 1..100 (for a chart), same tie rule.
  std::vector<CoveragePoint> curve;
  // With EvalOptions::min_confidence (else min_confidence < 0 and the rest 0): the rows at or
  // above it are answered, the rest abstain. Both out of `rows`.
  double min_confidence = -1;
  int64_t answered = 0;
  int64_t answered_correct = 0;
  int64_t abstained = 0;
  int64_t abstained_correct = 0;  // what the model got right among the rows it abstains on
  double answered_accuracy = 0;
  double answered_ci_low = 0;  // Wilson, 95%
  double answered_ci_high = 0;
  double answered_coverage = 0;  // answered / rows
};

// The calibration figures of the scored rows of `rows` that carry a confidence.
Calibration Calibrate(const std::vector<RowOutcome>& rows, const std::string& column, int bins = 10,
                      double min_confidence = -1);

struct Score {
  std::string file;
  int64_t rows = 0;
  int64_t failed = 0;
  int64_t no_key = 0;
  int64_t scored = 0;  // rows with a key and no error: the denominator of the accuracy
  int64_t correct = 0;
  double accuracy = 0;
  double ci_low = 0;  // Wilson score interval, 95%
  double ci_high = 0;
  bool normalized = true;
  std::map<std::string, ClassScore> per_class;  // every key and every predicted label
  std::map<std::string, std::map<std::string, int64_t>> confusion;  // key -> pred -> count
  std::string by;                                                   // the --by column, if any
  std::map<std::string, GroupScore> groups;                         // by value -> score
  std::map<std::string, int64_t> errors;                            // error kind -> rows
  std::vector<std::string> warnings;       // things the user should look at (no match, ...)
  std::optional<Calibration> calibration;  // when the rows carry a confidence column
};

struct McNemar {
  int64_t discordant = 0;  // first_only + second_only
  double p_value = 1;      // exact two-sided binomial test of first_only vs second_only at 1/2
};

struct Comparison {
  int64_t both_right = 0;
  int64_t first_only =
      0;  // right with the first file's setting, wrong with the second's ("image helped")
  int64_t second_only = 0;  // "image hurt"
  int64_t both_wrong = 0;
  int64_t not_scored = 0;  // failed or without a key in either file
  McNemar mcnemar;
  // (first_only - second_only) / rows scored in both: the paired accuracy difference.
  double difference = 0;
};

// Reads the rows of a results file. A confidence outside [0, 1] (or NaN) is an error naming the
// file, row and column; so is --min-confidence, or an explicit --confidence, without a usable
// confidence column.
Result<std::vector<RowOutcome>> ReadOutcomes(const std::string& file, const EvalOptions& options);
// Scores the rows; with a confidence column (RowOutcome::confidence_column), also calibrates them.
Score ScoreOutcomes(const std::string& file, const std::vector<RowOutcome>& rows,
                    const EvalOptions& options = {});
// Errors when the files do not hold the same rows (different counts or keys).
Result<Comparison> Compare(const std::vector<RowOutcome>& a, const std::vector<RowOutcome>& b);
// Wilson score interval for k successes out of n at 95%.
void WilsonInterval(int64_t k, int64_t n, double* low, double* high);
// McNemar's exact test: the two-sided binomial p-value of b against c with n = b + c trials at
// probability 1/2 (1 when b + c is 0).
double McNemarExactP(int64_t b, int64_t c);

// Human-readable report, and the same as JSON.
std::string FormatScore(const Score& s);
std::string FormatComparison(const Score& a, const Score& b, const Comparison& c,
                             const std::string& first_label, const std::string& second_label);
std::string ScoreJson(const Score& s);
std::string ComparisonJson(const Score& a, const Score& b, const Comparison& c);

}  // namespace structflow::engine

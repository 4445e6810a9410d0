// Scoring a results file: accuracy with a 95% confidence interval, per-class precision and recall,
// a confusion table and a breakdown by a column (`--by`); for two results files of the same rows
// (say, with and without the image), both accuracies, the four-way table and McNemar's exact test
// of the paired difference. Rows that failed (non-null `error`) or have no key are counted apart
// and never scored as wrong.
//
// Keys and predictions are normalised before they are compared (NormalizeAnswer): a key
// `Answer: C` matches a prediction `c `. When no prediction matches any key at all, the score
// carries a warning that says what the two look like.
// Thread-safety: plain functions and values.
#pragma once

#include <cstdint>
#include <map>
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
};

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
  std::vector<std::string> warnings;  // things the user should look at (no match, ...)
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

Result<std::vector<RowOutcome>> ReadOutcomes(const std::string& file, const EvalOptions& options);
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

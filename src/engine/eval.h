// Scoring a results file: accuracy with a 95% confidence interval, per-class counts and a
// confusion table; for two results files of the same rows (say, with and without the image),
// both accuracies and the four-way table. Rows that failed (non-null `error`) or have no key are
// counted apart and never scored as wrong.
// Thread-safety: plain functions and values.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "common/status.h"

namespace structflow::engine {

struct EvalOptions {
  std::string pred = "output";  // column path of the prediction
  std::string key = "key";      // column path of the answer key
  std::string error = "error";  // the error column ("" to ignore)
};

// The per-row outcome used for scoring.
struct RowOutcome {
  bool failed = false;   // the row carries an error: not scored
  bool has_key = false;  // the key is present: scorable
  std::string pred;
  std::string key;
  bool correct() const { return !failed && has_key && pred == key; }
  bool scored() const { return !failed && has_key; }
};

struct Score {
  std::string file;
  int64_t rows = 0;
  int64_t failed = 0;
  int64_t no_key = 0;
  int64_t scored = 0;
  int64_t correct = 0;
  double accuracy = 0;
  double ci_low = 0;  // Wilson score interval, 95%
  double ci_high = 0;
  std::map<std::string, int64_t> key_counts;
  std::map<std::string, int64_t> key_correct;
  std::map<std::string, std::map<std::string, int64_t>> confusion;  // key -> pred -> count
};

struct Comparison {
  int64_t both_right = 0;
  int64_t first_only =
      0;  // right with the first file's setting, wrong with the second's ("image helped")
  int64_t second_only = 0;  // "image hurt"
  int64_t both_wrong = 0;
  int64_t not_scored = 0;  // failed or without a key in either file
};

Result<std::vector<RowOutcome>> ReadOutcomes(const std::string& file, const EvalOptions& options);
Score ScoreOutcomes(const std::string& file, const std::vector<RowOutcome>& rows);
// Errors when the files do not hold the same rows (different counts or keys).
Result<Comparison> Compare(const std::vector<RowOutcome>& a, const std::vector<RowOutcome>& b);
// Wilson score interval for k successes out of n at 95%.
void WilsonInterval(int64_t k, int64_t n, double* low, double* high);

// Human-readable report, and the same as JSON.
std::string FormatScore(const Score& s);
std::string FormatComparison(const Score& a, const Score& b, const Comparison& c,
                             const std::string& first_label, const std::string& second_label);
std::string ScoreJson(const Score& s);
std::string ComparisonJson(const Score& a, const Score& b, const Comparison& c);

}  // namespace structflow::engine

#include "engine/eval.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <optional>
#include <set>
#include <utility>
#include <vector>

#include "common/json_writer.h"
#include "io/source.h"
#include "table/column_path.h"

namespace structflow::engine {

void WilsonInterval(int64_t k, int64_t n, double* low, double* high) {
  if (n <= 0) {
    *low = 0;
    *high = 0;
    return;
  }
  const double z = 1.959963984540054;
  double p = static_cast<double>(k) / n;
  double denom = 1 + z * z / n;
  double center = (p + z * z / (2.0 * n)) / denom;
  double half = z * std::sqrt(p * (1 - p) / n + z * z / (4.0 * n * n)) / denom;
  *low = std::max(0.0, center - half);
  *high = std::min(1.0, center + half);
}

double McNemarExactP(int64_t b, int64_t c) {
  const int64_t n = b + c;
  if (n <= 0) return 1;
  const int64_t k = std::min(b, c);
  // Sum the binomial(n, 1/2) probabilities of 0..k in log space: for large n each term is far
  // below the smallest double, but their ratio to the largest is not.
  const double log_half_n = static_cast<double>(n) * std::log(0.5);
  auto log_term = [&](int64_t i) {
    return std::lgamma(static_cast<double>(n) + 1) - std::lgamma(static_cast<double>(i) + 1) -
           std::lgamma(static_cast<double>(n - i) + 1) + log_half_n;
  };
  double top = log_term(k);  // the largest term: k <= n / 2
  double sum = 0;
  for (int64_t i = 0; i <= k; ++i) sum += std::exp(log_term(i) - top);
  double p = 2 * std::exp(top + std::log(sum));
  return std::min(1.0, p);
}

namespace {

bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f'; }

char Lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

// `text` starts with `prefix`, ignoring ASCII case.
bool StartsWithNoCase(std::string_view text, std::string_view prefix) {
  if (text.size() < prefix.size()) return false;
  for (size_t i = 0; i < prefix.size(); ++i) {
    if (Lower(text[i]) != Lower(prefix[i])) return false;
  }
  return true;
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && IsSpace(s.front())) s.remove_prefix(1);
  while (!s.empty() && IsSpace(s.back())) s.remove_suffix(1);
  return s;
}

bool NumericOrText(table::TypeId t) {
  using table::TypeId;
  // Text: JSONL infers a column that is null throughout (a server without log-probabilities)
  // as strings; CSV keeps a column whose numbers typing would change as strings.
  return t == TypeId::kDouble || t == TypeId::kFloat || t == TypeId::kInt32 ||
         t == TypeId::kInt64 || t == TypeId::kString;
}

// The confidence column ReadOutcomes reads: the one named, else the default for --pred when the
// file has it as numbers (or text); nothing when there is none.
Result<std::optional<table::ColumnPath>> FindConfidence(const std::string& file,
                                                        const table::Schema& schema,
                                                        const EvalOptions& options) {
  if (!options.confidence.empty()) {
    SF_ASSIGN_OR_RAISE(auto path, table::ColumnPath::Parse(options.confidence));
    auto type = path.Resolve(schema);
    SF_RETURN_NOT_OK(type.status().WithContext(file + ": --confidence"));
    if (!NumericOrText((*type)->id())) {
      return Status::InvalidArgument(fmt::format(
          "{}: --confidence {} holds {}, not a probability per row; name the field that goes "
          "with --pred (for --pred output.answer: --confidence confidence.answer)",
          file, options.confidence, (*type)->ToString()));
    }
    return std::optional<table::ColumnPath>(std::move(path));
  }
  const std::string d = DefaultConfidencePath(options.pred);
  if (!d.empty()) {
    auto path = table::ColumnPath::Parse(d);
    if (path.ok()) {
      auto type = path->Resolve(schema);
      if (type.ok() && NumericOrText((*type)->id())) {
        return std::optional<table::ColumnPath>(std::move(*path));
      }
    }
  }
  if (options.min_confidence >= 0) {
    return Status::InvalidArgument(fmt::format(
        "{}: --min-confidence needs the confidence of each prediction, and the file has no "
        "{}; write it with `structflow run --confidence`, or name the column with --confidence "
        "COLUMN",
        file, d.empty() ? "confidence column for --pred " + options.pred : "column " + d));
  }
  return std::optional<table::ColumnPath>();
}

// The confidence in one cell, checked to be a probability.
Status ReadConfidence(const table::Column& col, int64_t i, const std::string& file, int64_t row,
                      const std::string& column, double* out) {
  using table::TypeId;
  double v = 0;
  std::string text;
  switch (col.type_id()) {
    case TypeId::kDouble:
    case TypeId::kFloat:
      v = col.GetDouble(i);
      break;
    case TypeId::kInt32:
    case TypeId::kInt64:
      v = static_cast<double>(col.GetInt(i));
      break;
    default: {
      table::AppendCellText(col, i, &text);
      std::string t(Trim(text));
      char* end = nullptr;
      v = t.empty() ? std::nan("") : std::strtod(t.c_str(), &end);
      if (t.empty() || end != t.c_str() + t.size()) {
        return Status::InvalidArgument(fmt::format(
            "{}: row {} (counting from 0), column {}: '{}' is not a number; the confidence "
            "column must hold the probability of the predicted answer (as `run --confidence` "
            "writes it), or be null; name another column with --confidence COLUMN",
            file, row, column, text.substr(0, 40)));
      }
    }
  }
  if (!(v >= 0 && v <= 1)) {  // also NaN
    return Status::InvalidArgument(fmt::format(
        "{}: row {} (counting from 0), column {}: confidence {} is not a probability in [0, 1]; "
        "the confidence column must hold the probability of the predicted answer (as `run "
        "--confidence` writes it), or be null; name another column with --confidence COLUMN",
        file, row, column, text.empty() ? fmt::format("{}", v) : text));
  }
  *out = v;
  return Status::OK();
}

}  // namespace

std::string DefaultConfidencePath(const std::string& pred) {
  if (pred == "output") return "confidence";
  if (pred.rfind("output.", 0) == 0) return "confidence" + pred.substr(6);
  return "";
}

std::string NormalizeAnswer(std::string_view text) {
  std::string s;
  s.reserve(text.size());
  for (char c : Trim(text)) {
    if (IsSpace(c)) {
      if (!s.empty() && s.back() != ' ') s.push_back(' ');
    } else {
      s.push_back(c);
    }
  }
  std::string_view v = s;
  // A leading answer label: "Answer: C", "answer - C", "The answer is C", "Final answer: C".
  for (std::string_view label :
       {"the final answer is", "the answer is", "final answer", "answer"}) {
    if (!StartsWithNoCase(v, label)) continue;
    std::string_view rest = v.substr(label.size());
    // Only as a label: followed by a separator or a space, not "answered".
    if (rest.empty() || !(rest[0] == ':' || rest[0] == ' ' || rest[0] == '-' || rest[0] == '=')) {
      continue;
    }
    rest = Trim(rest);
    while (!rest.empty() && (rest[0] == ':' || rest[0] == '-' || rest[0] == '=')) {
      rest = Trim(rest.substr(1));
    }
    if (!rest.empty()) v = rest;
    break;
  }
  if (v.size() >= 2 && v.back() == '.') v = Trim(v.substr(0, v.size() - 1));
  for (bool again = true; again && v.size() >= 2;) {
    again = false;
    for (std::string_view pair : {"()", "[]", "\"\"", "''", "``", "**"}) {
      if (v.front() == pair[0] && v.back() == pair[1]) {
        v = Trim(v.substr(1, v.size() - 2));
        again = true;
        break;
      }
    }
  }
  std::string out(v);
  if (out.size() == 1 && out[0] >= 'a' && out[0] <= 'z') {
    out[0] = static_cast<char>(out[0] - 'a' + 'A');
  } else if (out.size() > 1) {
    for (char& c : out) c = Lower(c);
  }
  return out;
}

Result<std::vector<RowOutcome>> ReadOutcomes(const std::string& file, const EvalOptions& options) {
  SF_ASSIGN_OR_RAISE(auto source, io::OpenSource({file}));
  const table::Schema& schema = source->schema();
  SF_ASSIGN_OR_RAISE(auto pred, table::ColumnPath::Parse(options.pred));
  SF_RETURN_NOT_OK(pred.Resolve(schema).status().WithContext(file + ": --pred"));
  // No key (the report of a run without one): every row counts as without a key.
  std::optional<table::ColumnPath> key;
  if (!options.key.empty()) {
    SF_ASSIGN_OR_RAISE(key, table::ColumnPath::Parse(options.key));
    SF_RETURN_NOT_OK(key->Resolve(schema).status().WithContext(file + ": --key"));
  }
  std::optional<table::ColumnPath> by;
  if (!options.by.empty()) {
    SF_ASSIGN_OR_RAISE(by, table::ColumnPath::Parse(options.by));
    SF_RETURN_NOT_OK(by->Resolve(schema).status().WithContext(file + ": --by"));
  }
  bool has_error = !options.error.empty() && schema.FieldIndex(options.error) >= 0;
  // The error column `run` writes is {kind, message, http_status, attempts}; other files may
  // hold any value there, shown as text.
  std::optional<table::ColumnPath> err_kind, err_message;
  if (has_error) {
    auto k = table::ColumnPath::Parse(options.error + ".kind");
    auto m = table::ColumnPath::Parse(options.error + ".message");
    if (k.ok() && m.ok() && k->Resolve(schema).ok() && m->Resolve(schema).ok()) {
      err_kind = std::move(*k);
      err_message = std::move(*m);
    }
  }
  if (options.min_confidence > 1) {
    return Status::InvalidArgument(fmt::format(
        "--min-confidence {}: a confidence is a probability in [0, 1]; give a threshold in that "
        "range (0.8: rows below 80% abstain)",
        options.min_confidence));
  }
  SF_ASSIGN_OR_RAISE(auto conf, FindConfidence(file, schema, options));
  std::vector<RowOutcome> out;
  while (true) {
    SF_ASSIGN_OR_RAISE(auto batch, source->Next());
    if (!batch) break;
    const table::Column* err = has_error ? batch->ColumnByName(options.error) : nullptr;
    for (int64_t r = 0; r < batch->num_rows(); ++r) {
      RowOutcome o;
      if (conf) {
        o.confidence_column = true;
        if (auto c = conf->Locate(*batch, r)) {
          SF_RETURN_NOT_OK(ReadConfidence(*c->column, c->index, file,
                                          static_cast<int64_t>(out.size()), conf->text(),
                                          &o.confidence));
          o.has_confidence = true;
        }
      }
      o.failed = err && err->IsValid(r);
      if (o.failed) {
        if (err_kind) {
          if (auto c = err_kind->Locate(*batch, r)) {
            table::AppendCellText(*c->column, c->index, &o.error_kind);
          }
          if (auto c = err_message->Locate(*batch, r)) {
            table::AppendCellText(*c->column, c->index, &o.error_message);
          }
        } else {
          o.error_kind = "error";
          table::AppendCellText(*err, r, &o.error_message);
        }
      }
      if (auto k = key ? key->Locate(*batch, r) : std::nullopt) {
        o.has_key = true;
        table::AppendCellText(*k->column, k->index, &o.key);
        if (options.normalize) o.key = NormalizeAnswer(o.key);
      }
      // A null prediction on a row without an error stays "" and scores as wrong.
      if (auto p = pred.Locate(*batch, r)) {
        table::AppendCellText(*p->column, p->index, &o.pred);
        if (options.normalize) o.pred = NormalizeAnswer(o.pred);
      }
      if (by) {
        if (auto g = by->Locate(*batch, r)) table::AppendCellText(*g->column, g->index, &o.group);
      }
      out.push_back(std::move(o));
    }
  }
  return out;
}

namespace {

std::string Quoted(const std::set<std::string>& values, size_t n) {
  std::string out;
  size_t i = 0;
  for (const auto& v : values) {
    if (i++ == n) {
      out += ", ...";
      break;
    }
    if (!out.empty()) out += ", ";
    out += "'" + (v.size() > 40 ? v.substr(0, 40) + "..." : v) + "'";
  }
  return out;
}

}  // namespace

namespace {

// The shares of the most confident rows Calibrate reports the accuracy of.
constexpr double kCoverageLevels[] = {0.5, 0.8, 0.9, 0.95, 1.0};

// `sorted`: (confidence, right) by confidence, highest first; `prefix[i]`: right among the
// first i. See CoveragePoint for the tie rule.
CoveragePoint AtCoverage(const std::vector<std::pair<double, bool>>& sorted,
                         const std::vector<int64_t>& prefix, double share) {
  CoveragePoint p;
  p.coverage = share;
  const auto n = static_cast<int64_t>(sorted.size());
  if (n == 0) return p;
  // ceil(share * n), with a margin so 0.9 * 10 (9.000000000000002 in doubles) takes 9 rows.
  int64_t k = static_cast<int64_t>(std::ceil(share * static_cast<double>(n) - 1e-9));
  k = std::clamp<int64_t>(k, 1, n);
  const double t = sorted[static_cast<size_t>(k - 1)].first;
  // The tie group [first, last) of rows whose confidence is exactly t.
  auto by_conf = [](const std::pair<double, bool>& a, const std::pair<double, bool>& b) {
    return a.first > b.first;
  };
  auto range = std::equal_range(sorted.begin(), sorted.end(), std::make_pair(t, false), by_conf);
  const int64_t first = range.first - sorted.begin(), last = range.second - sorted.begin();
  const int64_t group_right =
      prefix[static_cast<size_t>(last)] - prefix[static_cast<size_t>(first)];
  p.rows = k;
  p.correct = static_cast<double>(prefix[static_cast<size_t>(first)]) +
              static_cast<double>(group_right) * static_cast<double>(k - first) /
                  static_cast<double>(last - first);
  p.accuracy = p.correct / static_cast<double>(k);
  p.threshold = t;
  p.tied = last > k ? last - first : 0;
  return p;
}

}  // namespace

Calibration Calibrate(const std::vector<RowOutcome>& rows, const std::string& column, int bins,
                      double min_confidence) {
  Calibration c;
  c.column = column;
  c.min_confidence = min_confidence;
  bins = std::max(bins, 1);
  for (int b = 0; b < bins; ++b) {
    CalibrationBin bin;
    bin.low = static_cast<double>(b) / bins;
    bin.high = static_cast<double>(b + 1) / bins;
    c.bins.push_back(bin);
  }
  std::vector<double> bin_conf(static_cast<size_t>(bins), 0);
  std::vector<std::pair<double, bool>> sorted;
  double conf_sum = 0, brier = 0;
  for (const auto& r : rows) {
    if (!r.scored()) continue;
    if (!r.has_confidence) {
      ++c.no_confidence;
      continue;
    }
    const double x = r.confidence;
    const bool right = r.correct();
    ++c.rows;
    c.correct += right;
    conf_sum += x;
    brier += (x - (right ? 1 : 0)) * (x - (right ? 1 : 0));
    // [low, high): a confidence on a boundary goes up; 1.0 into the last bin.
    const int b = std::min(static_cast<int>(x * bins), bins - 1);
    ++c.bins[static_cast<size_t>(b)].rows;
    c.bins[static_cast<size_t>(b)].correct += right;
    bin_conf[static_cast<size_t>(b)] += x;
    sorted.emplace_back(x, right);
    if (min_confidence >= 0) {
      if (x >= min_confidence) {
        ++c.answered;
        c.answered_correct += right;
      } else {
        ++c.abstained;
        c.abstained_correct += right;
      }
    }
  }
  if (c.rows == 0) return c;
  const auto n = static_cast<double>(c.rows);
  c.mean_confidence = conf_sum / n;
  c.accuracy = static_cast<double>(c.correct) / n;
  c.brier = brier / n;
  for (size_t b = 0; b < c.bins.size(); ++b) {
    CalibrationBin& bin = c.bins[b];
    if (bin.rows == 0) continue;
    bin.mean_confidence = bin_conf[b] / static_cast<double>(bin.rows);
    bin.accuracy = static_cast<double>(bin.correct) / static_cast<double>(bin.rows);
    const double gap = std::fabs(bin.accuracy - bin.mean_confidence);
    c.ece += static_cast<double>(bin.rows) / n * gap;
    c.mce = std::max(c.mce, gap);
  }
  if (min_confidence >= 0) {
    c.answered_accuracy =
        c.answered ? static_cast<double>(c.answered_correct) / static_cast<double>(c.answered) : 0;
    WilsonInterval(c.answered_correct, c.answered, &c.answered_ci_low, &c.answered_ci_high);
    c.answered_coverage = static_cast<double>(c.answered) / n;
  }
  std::sort(sorted.begin(), sorted.end(),
            [](const auto& a, const auto& b) { return a.first > b.first; });
  std::vector<int64_t> prefix(sorted.size() + 1, 0);
  for (size_t i = 0; i < sorted.size(); ++i) prefix[i + 1] = prefix[i] + sorted[i].second;
  for (double share : kCoverageLevels) c.coverage.push_back(AtCoverage(sorted, prefix, share));
  for (int pct = 1; pct <= 100; ++pct) c.curve.push_back(AtCoverage(sorted, prefix, pct / 100.0));
  return c;
}

Score ScoreOutcomes(const std::string& file, const std::vector<RowOutcome>& rows,
                    const EvalOptions& options) {
  Score s;
  s.file = file;
  s.by = options.by;
  s.normalized = options.normalize;
  s.rows = static_cast<int64_t>(rows.size());
  std::set<std::string> keys, preds;
  for (const auto& r : rows) {
    GroupScore* g = options.by.empty() ? nullptr : &s.groups[r.group];
    if (g) ++g->rows;
    if (r.failed) {
      ++s.failed;
      ++s.errors[r.error_kind.empty() ? "error" : r.error_kind];
      continue;
    }
    if (!r.has_key) {
      ++s.no_key;
      continue;
    }
    ++s.scored;
    keys.insert(r.key);
    preds.insert(r.pred);
    ++s.per_class[r.key].rows;
    ++s.per_class[r.pred].predicted;
    ++s.confusion[r.key][r.pred];
    if (g) ++g->scored;
    if (r.correct()) {
      ++s.correct;
      ++s.per_class[r.key].correct;
      if (g) ++g->correct;
    }
  }
  s.accuracy = s.scored ? static_cast<double>(s.correct) / s.scored : 0;
  WilsonInterval(s.correct, s.scored, &s.ci_low, &s.ci_high);
  for (auto& [k, c] : s.per_class) {
    c.precision = c.predicted ? static_cast<double>(c.correct) / c.predicted : 0;
    c.recall = c.rows ? static_cast<double>(c.correct) / c.rows : 0;
  }
  for (auto& [k, g] : s.groups) {
    g.accuracy = g.scored ? static_cast<double>(g.correct) / g.scored : 0;
    WilsonInterval(g.correct, g.scored, &g.ci_low, &g.ci_high);
  }
  if (s.scored > 0 && s.correct == 0) {
    bool any = false;
    for (const auto& p : preds) any = any || keys.count(p) > 0;
    if (!any) {
      s.warnings.push_back(fmt::format(
          "{}: no prediction matches any key (predictions look like {}; keys like {}){}; check "
          "that --pred and --key name columns holding the same kind of answer, or extract the "
          "answer from the key with `run --extract 'key=COLUMN:Answer: ([A-D])'`",
          file, Quoted(preds, 4), Quoted(keys, 4),
          options.normalize ? " even after normalising case, whitespace and 'Answer:' labels"
                            : " (normalisation is off: drop --no-normalize)"));
    }
  }
  if (s.rows > 0 && s.scored == 0 && !options.key.empty()) {
    s.warnings.push_back(fmt::format(
        "{}: no row was scored: {} rows failed and {} have no key in --key {}; a row is scored "
        "when it has a key and no error",
        file, s.failed, s.no_key, options.key));
  }
  if (!rows.empty() && rows[0].confidence_column) {
    const std::string column =
        options.confidence.empty() ? DefaultConfidencePath(options.pred) : options.confidence;
    s.calibration = Calibrate(rows, column, options.calibration_bins, options.min_confidence);
    if (s.scored > 0 && s.calibration->rows == 0) {
      s.warnings.push_back(fmt::format(
          "{}: the confidence column {} is null on all {} scored rows, so there are no "
          "calibration figures; `structflow doctor` says whether the server returns usable "
          "log-probabilities",
          file, column, s.scored));
    }
  }
  return s;
}

Result<Comparison> Compare(const std::vector<RowOutcome>& a, const std::vector<RowOutcome>& b) {
  if (a.size() != b.size()) {
    return Status::InvalidArgument(
        fmt::format("the two results files hold {} and {} rows: compare files of the same rows "
                    "(same input, --limit and --shard)",
                    a.size(), b.size()));
  }
  Comparison c;
  for (size_t i = 0; i < a.size(); ++i) {
    if (a[i].has_key && b[i].has_key && a[i].key != b[i].key) {
      return Status::InvalidArgument(
          fmt::format("row {} has key '{}' in the first file and '{}' in the second: the files do "
                      "not hold the same rows",
                      i, a[i].key, b[i].key));
    }
    if (!a[i].scored() || !b[i].scored()) {
      ++c.not_scored;
    } else if (a[i].correct() && b[i].correct()) {
      ++c.both_right;
    } else if (a[i].correct()) {
      ++c.first_only;
    } else if (b[i].correct()) {
      ++c.second_only;
    } else {
      ++c.both_wrong;
    }
  }
  c.mcnemar.discordant = c.first_only + c.second_only;
  c.mcnemar.p_value = McNemarExactP(c.first_only, c.second_only);
  int64_t paired = c.both_right + c.first_only + c.second_only + c.both_wrong;
  c.difference = paired ? static_cast<double>(c.first_only - c.second_only) / paired : 0;
  return c;
}

namespace {

std::string Pct(int64_t k, int64_t n) { return n ? fmt::format("{:.1f}%", 100.0 * k / n) : "-"; }

std::string Label(const std::string& v) { return v.empty() ? "(empty)" : v; }

std::string PValue(double p) {
  if (p < 1e-300) return "< 1e-300";
  if (p < 0.001) return fmt::format("{:.2e}", p);
  return fmt::format("{:.3f}", p);
}

std::string FormatCalibration(const Calibration& c) {
  std::string out = fmt::format(
      "  calibration (confidence column {}): {} scored rows with a confidence{}\n", c.column,
      c.rows,
      c.no_confidence ? fmt::format(" ({} more with a null confidence, left out of what follows)",
                                    c.no_confidence)
                      : std::string());
  if (c.rows == 0) return out;
  const double gap = c.mean_confidence - c.accuracy;
  out += fmt::format("    mean confidence {:.1f}%, accuracy {:.1f}%: {}\n", 100 * c.mean_confidence,
                     100 * c.accuracy,
                     std::fabs(gap) < 0.005 ? std::string("as confident as it is right")
                     : gap > 0 ? fmt::format("overconfident by {:.1f} points", 100 * gap)
                               : fmt::format("underconfident by {:.1f} points", -100 * gap));
  out += fmt::format(
      "    expected calibration error (ECE) {:.1f}%: how far, weighted by rows, each bin's "
      "accuracy is from its mean confidence (0: rows stated at 80% are right 80% of the time); "
      "largest bin gap {:.1f}%\n",
      100 * c.ece, 100 * c.mce);
  out += fmt::format(
      "    Brier score {:.3f}: the mean of (confidence - 1 if right, 0 if wrong)^2 (0 is best; "
      "always saying 50% gives 0.250)\n",
      c.brier);
  out += "    reliability diagram (confidence bin, rows, mean confidence, accuracy)\n";
  for (size_t b = 0; b < c.bins.size(); ++b) {
    const CalibrationBin& bin = c.bins[b];
    out += fmt::format("      [{:.2f}, {:.2f}{} {:>7}  {:>7}  {:>7}\n", bin.low, bin.high,
                       b + 1 == c.bins.size() ? "]" : ")", bin.rows,
                       bin.rows ? fmt::format("{:.1f}%", 100 * bin.mean_confidence) : "-",
                       bin.rows ? fmt::format("{:.1f}%", 100 * bin.accuracy) : "-");
  }
  out +=
      "    accuracy at coverage: answer only the most confident share of the rows (rows tied at "
      "the cut count by their share: the expected accuracy if the tie were broken at random)\n";
  for (const auto& p : c.coverage) {
    out += fmt::format("      {:>5.0f}%  {:>7} rows  confidence >= {:.3f}  accuracy {:.1f}%{}\n",
                       100 * p.coverage, p.rows, p.threshold, 100 * p.accuracy,
                       p.tied ? fmt::format("  ({} rows tied at the cut)", p.tied) : "");
  }
  if (c.min_confidence >= 0) {
    out += fmt::format(
        "    --min-confidence {:g}: {} rows answered (coverage {:.1f}%), accuracy {} [{:.1f}%, "
        "{:.1f}%]; {} rows abstained (below {:g}: for a person to answer), of which the model "
        "had {} right{}\n",
        c.min_confidence, c.answered, 100 * c.answered_coverage,
        c.answered ? fmt::format("{:.1f}%", 100 * c.answered_accuracy) : std::string("-"),
        100 * c.answered_ci_low, 100 * c.answered_ci_high, c.abstained, c.min_confidence,
        c.abstained_correct,
        c.no_confidence
            ? fmt::format("; the {} with a null confidence are in neither count", c.no_confidence)
            : std::string());
  }
  return out;
}

}  // namespace

std::string FormatScore(const Score& s) {
  const Calibration* cal = s.calibration ? &*s.calibration : nullptr;
  std::string out = fmt::format(
      "{}\n  accuracy {:.1f}% ({} correct of {} scored{}), 95% CI [{:.1f}%, {:.1f}%]\n", s.file,
      100 * s.accuracy, s.correct, s.scored,
      cal && cal->min_confidence >= 0
          ? fmt::format(", the {} below --min-confidence {:g} included; the answered rows' "
                        "accuracy is under calibration",
                        cal->abstained, cal->min_confidence)
          : std::string(),
      100 * s.ci_low, 100 * s.ci_high);
  out += fmt::format(
      "  rows {}: {} scored (a key and no error), {} failed, {} without a key (neither "
      "scored)\n",
      s.rows, s.scored, s.failed, s.no_key);
  if (!s.normalized) out += "  keys and predictions compared as they are (--no-normalize)\n";
  std::set<std::string> preds;
  for (const auto& [k, row] : s.confusion) {
    for (const auto& [p, n] : row) preds.insert(p);
  }
  if (!s.per_class.empty()) {
    out += "  per class (rows with this key, correct, recall; predicted as it, precision)\n";
    for (const auto& [k, c] : s.per_class) {
      out +=
          fmt::format("    {:<12} {:>6} {:>6} {:>7}   {:>6} {:>7}\n", Label(k), c.rows, c.correct,
                      Pct(c.correct, c.rows), c.predicted, Pct(c.correct, c.predicted));
    }
  }
  if (!s.confusion.empty() && preds.size() <= 12) {
    out += "  confusion (rows: key, columns: prediction)\n    " + std::string(12, ' ');
    for (const auto& p : preds) out += fmt::format(" {:>8}", p.empty() ? "(none)" : p.substr(0, 8));
    out += "\n";
    for (const auto& [k, row] : s.confusion) {
      out += fmt::format("    {:<12}", k.substr(0, 12));
      for (const auto& p : preds) out += fmt::format(" {:>8}", row.count(p) ? row.at(p) : 0);
      out += "\n";
    }
  }
  if (!s.groups.empty()) {
    out += fmt::format("  by {} (rows, correct of scored, accuracy, 95% CI)\n", s.by);
    for (const auto& [k, g] : s.groups) {
      out += fmt::format("    {:<28} {:>6} {:>6} of {:<6} {:>7}  [{:.1f}%, {:.1f}%]\n",
                         Label(k).substr(0, 28), g.rows, g.correct, g.scored,
                         Pct(g.correct, g.scored), 100 * g.ci_low, 100 * g.ci_high);
    }
  }
  if (!s.errors.empty()) {
    out += "  failed rows by kind:";
    for (const auto& [k, n] : s.errors) out += fmt::format(" {} {}", k, n);
    out += "\n";
  }
  if (cal) out += FormatCalibration(*cal);
  return out;
}

std::string FormatComparison(const Score& a, const Score& b, const Comparison& c,
                             const std::string& first_label, const std::string& second_label) {
  int64_t n = c.both_right + c.first_only + c.second_only + c.both_wrong;
  std::string out;
  for (const auto* s : {&a, &b}) {
    out += fmt::format(
        "{:<22} accuracy {:>6.1f}%  95% CI [{:.1f}%, {:.1f}%]  ({} correct of {} scored, {} "
        "failed, {} without a key)\n",
        s == &a ? first_label : second_label, 100 * s->accuracy, 100 * s->ci_low, 100 * s->ci_high,
        s->correct, s->scored, s->failed, s->no_key);
  }
  out += fmt::format(
      "four-way table over {} rows scored in both files ({} failed or without a key in one or "
      "both):\n",
      n, c.not_scored);
  out += fmt::format("  both right                 {:>7}  {:>6}\n", c.both_right,
                     Pct(c.both_right, n));
  out += fmt::format("  right only {:<15} {:>7}  {:>6}\n", first_label.substr(0, 15), c.first_only,
                     Pct(c.first_only, n));
  out += fmt::format("  right only {:<15} {:>7}  {:>6}\n", second_label.substr(0, 15),
                     c.second_only, Pct(c.second_only, n));
  out += fmt::format("  both wrong                 {:>7}  {:>6}\n", c.both_wrong,
                     Pct(c.both_wrong, n));
  out += fmt::format(
      "paired difference {:+.1f} points; McNemar's exact test over the {} rows that differ: "
      "p = {}{}\n",
      100 * c.difference, c.mcnemar.discordant, PValue(c.mcnemar.p_value),
      c.mcnemar.discordant == 0  ? " (no row differs)"
      : c.mcnemar.p_value < 0.05 ? " (the difference is unlikely to be chance)"
                                 : " (a difference this size is common by chance)");
  if (a.calibration && b.calibration && a.calibration->rows && b.calibration->rows) {
    const Calibration &ca = *a.calibration, &cb = *b.calibration;
    auto at80 = [](const Calibration& c) {
      for (const auto& p : c.coverage) {
        if (std::fabs(p.coverage - 0.8) < 1e-9) return p.accuracy;
      }
      return 0.0;
    };
    out += fmt::format(
        "calibration: ECE {:.1f}% with {} vs {:.1f}% with {} (lower is better calibrated); "
        "accuracy of the most confident 80%: {:.1f}% vs {:.1f}%\n",
        100 * ca.ece, first_label, 100 * cb.ece, second_label, 100 * at80(ca), 100 * at80(cb));
  }
  for (const auto* s : {&a, &b}) {
    if (!s->groups.empty()) {
      out += "\n" + FormatScore(*s);
    } else if (s->calibration) {
      out += fmt::format("\n{}\n{}", s == &a ? first_label : second_label,
                         FormatCalibration(*s->calibration));
    }
  }
  return out;
}

namespace {

void CoverageMembers(JsonWriter& w, const CoveragePoint& p) {
  w.BeginObject().Key("coverage").Double(p.coverage).Key("rows").Int(p.rows);
  w.Key("correct").Double(p.correct).Key("accuracy").Double(p.accuracy);
  w.Key("threshold").Double(p.threshold).Key("tied").Int(p.tied).EndObject();
}

void CalibrationMembers(JsonWriter& w, const Calibration& c) {
  w.BeginObject().Key("column").String(c.column).Key("rows").Int(c.rows);
  w.Key("correct").Int(c.correct).Key("no_confidence").Int(c.no_confidence);
  w.Key("rows_counts").String("scored rows with a non-null confidence");
  w.Key("mean_confidence").Double(c.mean_confidence).Key("accuracy").Double(c.accuracy);
  w.Key("ece").Double(c.ece).Key("mce").Double(c.mce).Key("brier").Double(c.brier);
  w.Key("bins").BeginArray();
  for (const auto& b : c.bins) {
    w.BeginObject().Key("low").Double(b.low).Key("high").Double(b.high);
    w.Key("rows").Int(b.rows).Key("correct").Int(b.correct);
    w.Key("mean_confidence");
    b.rows ? w.Double(b.mean_confidence) : w.Null();
    w.Key("accuracy");
    b.rows ? w.Double(b.accuracy) : w.Null();
    w.EndObject();
  }
  w.EndArray().Key("coverage").BeginArray();
  for (const auto& p : c.coverage) CoverageMembers(w, p);
  w.EndArray();
  w.Key("coverage_ties")
      .String(
          "rows tied at the cut count by their share (expected accuracy under random "
          "tie-breaking)");
  w.Key("curve").BeginArray();
  for (const auto& p : c.curve) w.BeginArray().Double(p.coverage).Double(p.accuracy).EndArray();
  w.EndArray();
  if (c.min_confidence >= 0) {
    w.Key("min_confidence").BeginObject().Key("threshold").Double(c.min_confidence);
    w.Key("answered").Int(c.answered).Key("answered_correct").Int(c.answered_correct);
    w.Key("abstained").Int(c.abstained).Key("abstained_correct").Int(c.abstained_correct);
    w.Key("accuracy").Double(c.answered_accuracy).Key("coverage").Double(c.answered_coverage);
    w.Key("ci95").BeginArray().Double(c.answered_ci_low).Double(c.answered_ci_high).EndArray();
    w.EndObject();
  }
  w.EndObject();
}

void ScoreMembers(JsonWriter& w, const Score& s) {
  w.Key("file")
      .String(s.file)
      .Key("rows")
      .Int(s.rows)
      .Key("failed")
      .Int(s.failed)
      .Key("no_key")
      .Int(s.no_key);
  w.Key("scored").Int(s.scored).Key("correct").Int(s.correct).Key("accuracy").Double(s.accuracy);
  w.Key("scored_counts").String("rows with a key and no error");
  w.Key("normalized").Bool(s.normalized);
  w.Key("ci95").BeginArray().Double(s.ci_low).Double(s.ci_high).EndArray();
  w.Key("per_class").BeginObject();
  for (const auto& [k, c] : s.per_class) {
    w.Key(k).BeginObject().Key("rows").Int(c.rows).Key("correct").Int(c.correct);
    w.Key("predicted").Int(c.predicted).Key("precision").Double(c.precision);
    w.Key("recall").Double(c.recall).EndObject();
  }
  w.EndObject().Key("confusion").BeginObject();
  for (const auto& [k, row] : s.confusion) {
    w.Key(k).BeginObject();
    for (const auto& [p, n] : row) w.Key(p).Int(n);
    w.EndObject();
  }
  w.EndObject();
  if (!s.by.empty()) {
    w.Key("by").BeginObject().Key("column").String(s.by).Key("groups").BeginObject();
    for (const auto& [k, g] : s.groups) {
      w.Key(k).BeginObject().Key("rows").Int(g.rows).Key("scored").Int(g.scored);
      w.Key("correct").Int(g.correct).Key("accuracy").Double(g.accuracy);
      w.Key("ci95").BeginArray().Double(g.ci_low).Double(g.ci_high).EndArray().EndObject();
    }
    w.EndObject().EndObject();
  }
  w.Key("errors").BeginObject();
  for (const auto& [k, n] : s.errors) w.Key(k).Int(n);
  w.EndObject().Key("warnings").BeginArray();
  for (const auto& m : s.warnings) w.String(m);
  w.EndArray();
  if (s.calibration) CalibrationMembers(w.Key("calibration"), *s.calibration);
}

}  // namespace

std::string ScoreJson(const Score& s) {
  std::string out;
  JsonWriter w(&out);
  w.BeginObject();
  ScoreMembers(w, s);
  w.EndObject();
  return out;
}

std::string ComparisonJson(const Score& a, const Score& b, const Comparison& c) {
  std::string out;
  JsonWriter w(&out);
  w.BeginObject().Key("first").BeginObject();
  ScoreMembers(w, a);
  w.EndObject().Key("second").BeginObject();
  ScoreMembers(w, b);
  w.EndObject().Key("four_way").BeginObject();
  w.Key("both_right").Int(c.both_right).Key("first_only").Int(c.first_only);
  w.Key("second_only")
      .Int(c.second_only)
      .Key("both_wrong")
      .Int(c.both_wrong)
      .Key("not_scored")
      .Int(c.not_scored);
  w.EndObject();
  w.Key("difference").Double(c.difference);
  w.Key("mcnemar").BeginObject().Key("discordant").Int(c.mcnemar.discordant);
  w.Key("p_value").Double(c.mcnemar.p_value).Key("test").String("exact binomial, two-sided");
  w.EndObject().EndObject();
  return out;
}

}  // namespace structflow::engine

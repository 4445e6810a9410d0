#include "engine/eval.h"

#include <fmt/format.h>

#include <cmath>
#include <set>

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

Result<std::vector<RowOutcome>> ReadOutcomes(const std::string& file, const EvalOptions& options) {
  SF_ASSIGN_OR_RAISE(auto source, io::OpenSource({file}));
  SF_ASSIGN_OR_RAISE(auto pred, table::ColumnPath::Parse(options.pred));
  SF_ASSIGN_OR_RAISE(auto key, table::ColumnPath::Parse(options.key));
  SF_RETURN_NOT_OK(pred.Resolve(source->schema()).status().WithContext(file + ": --pred"));
  SF_RETURN_NOT_OK(key.Resolve(source->schema()).status().WithContext(file + ": --key"));
  bool has_error = !options.error.empty() && source->schema().FieldIndex(options.error) >= 0;
  std::vector<RowOutcome> out;
  while (true) {
    SF_ASSIGN_OR_RAISE(auto batch, source->Next());
    if (!batch) break;
    const table::Column* err = has_error ? batch->ColumnByName(options.error) : nullptr;
    for (int64_t r = 0; r < batch->num_rows(); ++r) {
      RowOutcome o;
      o.failed = err && err->IsValid(r);
      if (auto k = key.Locate(*batch, r)) {
        o.has_key = true;
        table::AppendCellText(*k->column, k->index, &o.key);
      }
      if (auto p = pred.Locate(*batch, r)) {
        table::AppendCellText(*p->column, p->index, &o.pred);
      } else if (!o.failed) {
        o.pred = "";  // a null prediction on a row without an error scores as wrong
      }
      out.push_back(std::move(o));
    }
  }
  return out;
}

Score ScoreOutcomes(const std::string& file, const std::vector<RowOutcome>& rows) {
  Score s;
  s.file = file;
  s.rows = static_cast<int64_t>(rows.size());
  for (const auto& r : rows) {
    if (r.failed) {
      ++s.failed;
      continue;
    }
    if (!r.has_key) {
      ++s.no_key;
      continue;
    }
    ++s.scored;
    ++s.key_counts[r.key];
    ++s.confusion[r.key][r.pred];
    if (r.correct()) {
      ++s.correct;
      ++s.key_correct[r.key];
    }
  }
  s.accuracy = s.scored ? static_cast<double>(s.correct) / s.scored : 0;
  WilsonInterval(s.correct, s.scored, &s.ci_low, &s.ci_high);
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
  return c;
}

namespace {

std::string Pct(int64_t k, int64_t n) { return n ? fmt::format("{:.1f}%", 100.0 * k / n) : "-"; }

}  // namespace

std::string FormatScore(const Score& s) {
  std::string out =
      fmt::format("{}\n  accuracy {:.1f}% ({} of {} scored), 95% CI [{:.1f}%, {:.1f}%]\n", s.file,
                  100 * s.accuracy, s.correct, s.scored, 100 * s.ci_low, 100 * s.ci_high);
  out += fmt::format("  rows {}; failed {} (not scored); without a key {} (not scored)\n", s.rows,
                     s.failed, s.no_key);
  std::set<std::string> preds;
  for (const auto& [k, row] : s.confusion) {
    for (const auto& [p, n] : row) preds.insert(p);
  }
  if (s.key_counts.empty()) return out;
  out += "  per class (key: rows, correct, accuracy)\n";
  for (const auto& [k, n] : s.key_counts) {
    int64_t c = s.key_correct.count(k) ? s.key_correct.at(k) : 0;
    out +=
        fmt::format("    {:<12} {:>6} {:>6} {:>7}\n", k.empty() ? "(empty)" : k, n, c, Pct(c, n));
  }
  if (preds.size() <= 12) {
    out += "  confusion (rows: key, columns: prediction)\n    " + std::string(12, ' ');
    for (const auto& p : preds) out += fmt::format(" {:>8}", p.empty() ? "(none)" : p.substr(0, 8));
    out += "\n";
    for (const auto& [k, row] : s.confusion) {
      out += fmt::format("    {:<12}", k.substr(0, 12));
      for (const auto& p : preds) out += fmt::format(" {:>8}", row.count(p) ? row.at(p) : 0);
      out += "\n";
    }
  }
  return out;
}

std::string FormatComparison(const Score& a, const Score& b, const Comparison& c,
                             const std::string& first_label, const std::string& second_label) {
  int64_t n = c.both_right + c.first_only + c.second_only + c.both_wrong;
  std::string out;
  out += fmt::format(
      "{:<22} accuracy {:>6.1f}%  95% CI [{:.1f}%, {:.1f}%]  ({} of {} scored, {} failed)\n",
      first_label, 100 * a.accuracy, 100 * a.ci_low, 100 * a.ci_high, a.correct, a.scored,
      a.failed);
  out += fmt::format(
      "{:<22} accuracy {:>6.1f}%  95% CI [{:.1f}%, {:.1f}%]  ({} of {} scored, {} failed)\n",
      second_label, 100 * b.accuracy, 100 * b.ci_low, 100 * b.ci_high, b.correct, b.scored,
      b.failed);
  out += fmt::format("four-way table over {} rows scored in both ({} not scored in one or both):\n",
                     n, c.not_scored);
  out += fmt::format("  both right                 {:>7}  {:>6}\n", c.both_right,
                     Pct(c.both_right, n));
  out += fmt::format("  right only {:<15} {:>7}  {:>6}\n", first_label.substr(0, 15), c.first_only,
                     Pct(c.first_only, n));
  out += fmt::format("  right only {:<15} {:>7}  {:>6}\n", second_label.substr(0, 15),
                     c.second_only, Pct(c.second_only, n));
  out += fmt::format("  both wrong                 {:>7}  {:>6}\n", c.both_wrong,
                     Pct(c.both_wrong, n));
  return out;
}

namespace {

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
  w.Key("ci95").BeginArray().Double(s.ci_low).Double(s.ci_high).EndArray();
  w.Key("per_class").BeginObject();
  for (const auto& [k, n] : s.key_counts) {
    w.Key(k).BeginObject().Key("rows").Int(n).Key("correct").Int(
        s.key_correct.count(k) ? s.key_correct.at(k) : 0);
    w.EndObject();
  }
  w.EndObject().Key("confusion").BeginObject();
  for (const auto& [k, row] : s.confusion) {
    w.Key(k).BeginObject();
    for (const auto& [p, n] : row) w.Key(p).Int(n);
    w.EndObject();
  }
  w.EndObject();
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
  w.EndObject().EndObject();
  return out;
}

}  // namespace structflow::engine

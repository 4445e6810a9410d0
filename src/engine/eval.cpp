#include "engine/eval.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <optional>
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

}  // namespace

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
  std::vector<RowOutcome> out;
  while (true) {
    SF_ASSIGN_OR_RAISE(auto batch, source->Next());
    if (!batch) break;
    const table::Column* err = has_error ? batch->ColumnByName(options.error) : nullptr;
    for (int64_t r = 0; r < batch->num_rows(); ++r) {
      RowOutcome o;
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

}  // namespace

std::string FormatScore(const Score& s) {
  std::string out =
      fmt::format("{}\n  accuracy {:.1f}% ({} correct of {} scored), 95% CI [{:.1f}%, {:.1f}%]\n",
                  s.file, 100 * s.accuracy, s.correct, s.scored, 100 * s.ci_low, 100 * s.ci_high);
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
  for (const auto* s : {&a, &b}) {
    if (!s->groups.empty()) {
      out += "\n" + FormatScore(*s);
    }
  }
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

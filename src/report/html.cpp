#include "report/html.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <set>

namespace structflow::report {
namespace {

using table::TypeId;

// Rows with their full message shown per error kind.
constexpr int kErrorExamples = 3;

// Figures the page shows carry their place in `structflow eval --json` (a JSON array of keys)
// and how they are shown, so a test can hold the page against eval's numbers.
enum class Fmt { kInt, kPct, kP, kPoints, kDec };

std::string FmtName(Fmt f) {
  switch (f) {
    case Fmt::kInt:
      return "int";
    case Fmt::kPct:
      return "pct";
    case Fmt::kP:
      return "p";
    case Fmt::kPoints:
      return "points";
    case Fmt::kDec:
      return "dec";
  }
  return "";
}

std::string JsonString(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      out += fmt::format("\\u{:04x}", static_cast<int>(c));
    } else {
      out += c;
    }
  }
  return out + "\"";
}

std::string Thousands(int64_t v) {
  std::string s = std::to_string(v < 0 ? -v : v);
  for (int i = static_cast<int>(s.size()) - 3; i > 0; i -= 3) s.insert(static_cast<size_t>(i), ",");
  return v < 0 ? "-" + s : s;
}

std::string PValueText(double p) {
  if (p < 1e-300) return "&lt; 1e-300";
  if (p < 0.001) return fmt::format("{:.2e}", p);
  return fmt::format("{:.3f}", p);
}

// <span data-figure='["first","accuracy"]' data-format="pct">27.3%</span>
std::string Figure(const std::vector<std::string>& path, Fmt f, double value) {
  std::string keys = "[";
  for (size_t i = 0; i < path.size(); ++i) keys += (i ? "," : "") + JsonString(path[i]);
  keys += "]";
  std::string text;
  switch (f) {
    case Fmt::kInt:
      text = Thousands(static_cast<int64_t>(std::llround(value)));
      break;
    case Fmt::kPct:
      text = fmt::format("{:.1f}%", 100 * value);
      break;
    case Fmt::kP:
      text = PValueText(value);
      break;
    case Fmt::kPoints:
      text = fmt::format("{:+.1f}", 100 * value);
      break;
    case Fmt::kDec:
      text = fmt::format("{:.3f}", value);
      break;
  }
  return fmt::format("<span class=\"fig\" data-figure=\"{}\" data-format=\"{}\">{}</span>",
                     EscapeHtml(keys), FmtName(f), text);
}

std::vector<std::string> Path(const std::string& prefix, std::vector<std::string> rest) {
  if (!prefix.empty()) rest.insert(rest.begin(), prefix);
  return rest;
}

std::string Label(const std::string& v) { return v.empty() ? "(empty)" : v; }

// A bar histogram as inline SVG.
std::string SvgHistogram(const std::vector<double>& values, const std::string& unit,
                         const std::string& title) {
  if (values.empty()) return "<p class=\"muted\">no values</p>";
  std::vector<double> v = values;
  std::sort(v.begin(), v.end());
  double lo = v.front();
  // The tail past the 99.5th percentile would squash the rest: fold it into the last bar.
  double hi = v[static_cast<size_t>(0.995 * static_cast<double>(v.size() - 1))];
  if (hi <= lo) hi = v.back();
  bool integers = std::all_of(v.begin(), v.end(), [](double d) { return d == std::floor(d); });
  int bins = 30;
  if (integers && hi - lo + 1 <= 30) {
    bins = static_cast<int>(hi - lo + 1);
    hi = lo + bins;  // one bar per integer value
  } else if (hi <= lo) {
    bins = 1;
    hi = lo + 1;
  }
  std::vector<int64_t> counts(static_cast<size_t>(bins), 0);
  for (double d : v) {
    int b = static_cast<int>((d - lo) / (hi - lo) * bins);
    counts[static_cast<size_t>(std::clamp(b, 0, bins - 1))]++;
  }
  const int64_t top = *std::max_element(counts.begin(), counts.end());
  const double w = 560, h = 160, left = 40, bottom = 22;
  const double bw = (w - left) / bins;
  std::string svg =
      fmt::format("<svg class=\"chart\" viewBox=\"0 0 {} {}\" role=\"img\" aria-label=\"{}\">", w,
                  h + bottom, EscapeHtml(title));
  svg += fmt::format("<text x=\"0\" y=\"12\" class=\"axis\">{}</text>", Thousands(top));
  svg += fmt::format("<line x1=\"{}\" y1=\"{}\" x2=\"{}\" y2=\"{}\" class=\"axisline\"/>", left, h,
                     w, h);
  for (int b = 0; b < bins; ++b) {
    double bh = top ? (h - 16) * static_cast<double>(counts[static_cast<size_t>(b)]) / top : 0;
    double from = lo + (hi - lo) * b / bins, to = lo + (hi - lo) * (b + 1) / bins;
    std::string range = integers && bins == static_cast<int>(hi - lo)
                            ? fmt::format("{}", from)
                            : fmt::format("{:.4g}-{:.4g}", from, to);
    svg += fmt::format(
        "<rect x=\"{:.1f}\" y=\"{:.1f}\" width=\"{:.1f}\" height=\"{:.1f}\" "
        "class=\"bar\"><title>{} "
        "{}: {} rows</title></rect>",
        left + b * bw + 1, h - bh, std::max(bw - 2, 1.0), bh, range, unit,
        counts[static_cast<size_t>(b)]);
  }
  svg += fmt::format("<text x=\"{}\" y=\"{}\" class=\"axis\">{:.4g} {}</text>", left, h + 16, lo,
                     unit);
  svg +=
      fmt::format("<text x=\"{}\" y=\"{}\" class=\"axis\" text-anchor=\"end\">{}{:.4g} {}</text>",
                  w, h + 16, hi < v.back() ? "&#8805; " : "", hi, unit);
  return svg + "</svg>";
}

// Rows finished per second over the run, as an SVG area chart.
std::string SvgThroughput(const std::vector<engine::RowTiming>& timings) {
  if (timings.size() < 2) return "<p class=\"muted\">too few rows with timings</p>";
  std::vector<double> t;
  t.reserve(timings.size());
  for (const auto& r : timings) t.push_back(r.finished_at_s);
  std::sort(t.begin(), t.end());
  const double start = t.front(), span = std::max(t.back() - start, 1e-3);
  // About ten rows a bin at least, so a short run is not drawn as noise; at most 60 bins.
  const int bins = std::clamp(static_cast<int>(t.size() / 10), 2, 60);
  const double width_s = span / bins;
  std::vector<double> rate(static_cast<size_t>(bins), 0);
  for (double x : t) {
    int b = std::clamp(static_cast<int>((x - start) / width_s), 0, bins - 1);
    rate[static_cast<size_t>(b)] += 1 / width_s;
  }
  const double top = *std::max_element(rate.begin(), rate.end());
  const double w = 560, h = 160, left = 40, bottom = 22;
  std::string svg = fmt::format(
      "<svg class=\"chart\" viewBox=\"0 0 {} {}\" role=\"img\" aria-label=\"rows per second over "
      "time\">",
      w, h + bottom);
  svg += fmt::format("<text x=\"0\" y=\"12\" class=\"axis\">{:.4g}/s</text>", top);
  std::string points = fmt::format("{},{} ", left, h);
  for (int b = 0; b < bins; ++b) {
    double x = left + (w - left) * (b + 0.5) / bins;
    double y = h - (top > 0 ? (h - 16) * rate[static_cast<size_t>(b)] / top : 0);
    points += fmt::format("{:.1f},{:.1f} ", x, y);
  }
  points += fmt::format("{},{}", w, h);
  svg += fmt::format("<polygon points=\"{}\" class=\"area\"/>", points);
  for (int b = 0; b < bins; ++b) {
    double x = left + (w - left) * b / bins;
    svg += fmt::format(
        "<rect x=\"{:.1f}\" y=\"16\" width=\"{:.1f}\" height=\"{}\" class=\"hover\"><title>{:.3g}-"
        "{:.3g} s: {:.1f} rows/s</title></rect>",
        x, (w - left) / bins, h - 16, b * width_s, (b + 1) * width_s, rate[static_cast<size_t>(b)]);
  }
  svg += fmt::format("<line x1=\"{}\" y1=\"{}\" x2=\"{}\" y2=\"{}\" class=\"axisline\"/>", left, h,
                     w, h);
  svg += fmt::format("<text x=\"{}\" y=\"{}\" class=\"axis\">0 s</text>", left, h + 16);
  svg += fmt::format("<text x=\"{}\" y=\"{}\" class=\"axis\" text-anchor=\"end\">{:.3g} s</text>",
                     w, h + 16, span);
  return svg + "</svg>";
}

std::string Css() {
  return R"(
:root{--fg:#1d2329;--muted:#66717d;--line:#d9dee3;--accent:#2f6fb3;--good:#2e8540;--bad:#c0392b;--bg:#fff;--soft:#f4f6f8}
*{box-sizing:border-box}body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:var(--fg);background:var(--bg);margin:0}
header{background:#1f3349;color:#fff;padding:16px 28px}header h1{margin:0;font-size:20px}header p{margin:4px 0 0;color:#c9d6e3;font-size:13px;word-break:break-all}header code{background:rgba(255,255,255,.12);color:#fff}
nav{position:sticky;top:0;background:var(--soft);border-bottom:1px solid var(--line);padding:6px 28px;z-index:2}nav a{margin-right:14px;color:var(--accent);text-decoration:none;font-size:13px}
main{padding:8px 28px 40px;max-width:1280px}section{margin-top:22px}h2{font-size:17px;border-bottom:1px solid var(--line);padding-bottom:4px}h3{font-size:14px;margin:14px 0 6px}
table{border-collapse:collapse;margin:6px 0}th,td{border:1px solid var(--line);padding:3px 8px;text-align:right;vertical-align:top}th{background:var(--soft);font-weight:600}td.l,th.l{text-align:left}
.cards{display:flex;flex-wrap:wrap;gap:10px}.card{border:1px solid var(--line);border-radius:6px;padding:8px 12px;min-width:150px}.card .v{font-size:20px;font-weight:600}.card .k{color:var(--muted);font-size:12px}
.muted{color:var(--muted)}.note{background:#fff8e1;border:1px solid #f0d98a;border-radius:4px;padding:6px 10px;margin:6px 0}
.cols{display:flex;flex-wrap:wrap;gap:28px}.col{flex:1 1 520px;min-width:0}
.chart{width:100%;max-width:620px;height:auto}.bar{fill:var(--accent)}.area{fill:#9cc0e6;stroke:var(--accent)}.hover{fill:transparent}.hover:hover{fill:rgba(0,0,0,.06)}.axis{font-size:11px;fill:var(--muted)}.axisline{stroke:var(--line)}
.hbar{display:inline-block;height:10px;background:var(--accent);vertical-align:middle}
.heat td{min-width:44px}
.diag{stroke:var(--muted);stroke-dasharray:4 3}.gap{fill:rgba(192,57,43,.18);stroke:var(--bad)}.curve{fill:none;stroke:var(--accent);stroke-width:2}.dot{fill:var(--accent)}.calcharts{display:flex;flex-wrap:wrap;gap:20px}.calcharts>div{flex:1 1 300px;max-width:420px}
pre{white-space:pre-wrap;word-break:break-word;background:var(--soft);border:1px solid var(--line);padding:6px 8px;margin:4px 0;font-size:12px}
code{background:var(--soft);padding:1px 4px}
.filters{display:flex;flex-wrap:wrap;gap:10px;align-items:center;margin:8px 0}.filters select,.filters input{font:inherit;padding:3px 6px}
.gallery{display:grid;grid-template-columns:repeat(auto-fill,minmax(230px,1fr));gap:10px}
.item{border:1px solid var(--line);border-radius:6px;padding:8px;background:#fff}.item img{display:block;max-width:100%;height:auto;margin:0 auto 6px;background:var(--soft)}
.item .q{font-size:12px;max-height:7.5em;overflow:auto;margin-bottom:6px}.item .a{font-size:12px}.ok{color:var(--good);font-weight:600}.no{color:var(--bad);font-weight:600}
.tag{display:inline-block;font-size:11px;border-radius:3px;padding:0 5px;color:#fff}.tag.hurt{background:var(--bad)}.tag.helped{background:var(--good)}.tag.wrong{background:var(--bad)}
)";
}

// The page's only script: filters the gallery and checks that its images decode.
std::string Script() {
  return R"(
(function(){
  var items=[].slice.call(document.querySelectorAll('.gallery .item'));
  var dir=document.getElementById('f-dir'),key=document.getElementById('f-key'),grp=document.getElementById('f-group'),txt=document.getElementById('f-text'),shown=document.getElementById('f-shown');
  function apply(){
    var n=0,q=txt?txt.value.toLowerCase():'';
    items.forEach(function(it){
      var ok=(!dir||!dir.value||it.dataset.dir===dir.value)&&(!key||!key.value||it.dataset.key===key.value)&&(!grp||!grp.value||it.dataset.group===grp.value)&&(!q||it.textContent.toLowerCase().indexOf(q)>=0);
      it.style.display=ok?'':'none';if(ok)n++;
    });
    if(shown)shown.textContent=n+' shown';
  }
  [dir,key,grp].forEach(function(e){if(e)e.addEventListener('change',apply);});
  if(txt)txt.addEventListener('input',apply);
  apply();
  var imgs=[].slice.call(document.querySelectorAll('.gallery img'));
  Promise.all(imgs.map(function(im){return im.decode().then(function(){return 1;},function(){return 0;});})).then(function(r){
    var ok=r.reduce(function(a,b){return a+b;},0);
    document.body.setAttribute('data-images-decoded',ok);
    document.body.setAttribute('data-images-total',imgs.length);
    var s=document.getElementById('img-status');if(s)s.textContent=ok+' of '+imgs.length+' thumbnails decoded';
  });
  // How long the page took to parse and load in this browser (read by bench/report/run.sh).
  addEventListener('load',function(){
    var n=performance.getEntriesByType('navigation')[0];
    if(n)document.body.setAttribute('data-dom-content-loaded-ms',Math.round(n.domContentLoadedEventEnd));
    document.body.setAttribute('data-load-ms',Math.round(performance.now()));
  });
})();
)";
}

void Summary(const ReportData& d, std::string* out) {
  *out += "<section id=\"summary\"><h2>Summary</h2>";
  for (const auto& run : d.runs) {
    *out += fmt::format("<h3>{} <span class=\"muted\">{}</span></h3>", EscapeHtml(run.label),
                        EscapeHtml(run.file));
    std::map<std::string, std::string> s(run.stats.begin(), run.stats.end());
    auto get = [&](const std::string& k) { return s.count(k) ? s.at(k) : std::string("-"); };
    *out += "<div class=\"cards\">";
    auto card = [&](const std::string& k, const std::string& v) {
      *out += fmt::format(
          "<div class=\"card\"><div class=\"v\">{}</div><div class=\"k\">{}</div></div>", v,
          EscapeHtml(k));
    };
    card("rows in the results file", Thousands(run.score.rows));
    card("succeeded", Thousands(run.score.rows - run.score.failed));
    card("failed", Thousands(run.score.failed));
    card("model", EscapeHtml(get("model").empty() ? "(the server's only model)" : get("model")));
    card("dialect", EscapeHtml(get("dialect")));
    card("rows/s", EscapeHtml(get("rows_per_s")));
    card("latency p50 / p90 / p99 (s)",
         EscapeHtml(get("latency_s.p50") + " / " + get("latency_s.p90") + " / " +
                    get("latency_s.p99")));
    card("tokens prompt / completion",
         EscapeHtml(get("tokens.prompt") + " / " + get("tokens.completion")));
    *out += "</div>";
    if (!run.stats.empty()) {
      *out +=
          "<details><summary>everything in the stats file (settings, retries, bytes)</summary>"
          "<table>";
      for (const auto& [k, v] : run.stats) {
        *out += fmt::format("<tr><th class=\"l\">{}</th><td class=\"l\">{}</td></tr>",
                            EscapeHtml(k), EscapeHtml(v));
      }
      *out += "</table></details>";
    }
  }
  *out += "</section>";
}

void Scores(const ReportData& d, std::string* out) {
  const bool two = d.runs.size() == 2;
  *out += "<section id=\"accuracy\"><h2>Accuracy</h2>";
  if (d.options.eval.normalize) {
    *out +=
        "<p class=\"muted\">Keys and predictions are compared after normalising case, "
        "whitespace and answer labels (<code>Answer: C</code> matches <code>c</code>).</p>";
  }
  *out +=
      "<table><tr><th class=\"l\">run</th><th>accuracy</th><th>95% interval</th><th>correct"
      "</th><th>scored</th><th>failed</th><th>without a key</th><th>rows</th></tr>";
  for (size_t i = 0; i < d.runs.size(); ++i) {
    const auto& s = d.runs[i].score;
    const std::string p = two ? (i == 0 ? "first" : "second") : "";
    *out += fmt::format(
        "<tr><td class=\"l\">{}</td><td>{}</td><td>[{}, {}]</td><td>{}</td><td>{}</td><td>{}</td>"
        "<td>{}</td><td>{}</td></tr>",
        EscapeHtml(d.runs[i].label), Figure(Path(p, {"accuracy"}), Fmt::kPct, s.accuracy),
        Figure(Path(p, {"ci95", "0"}), Fmt::kPct, s.ci_low),
        Figure(Path(p, {"ci95", "1"}), Fmt::kPct, s.ci_high),
        Figure(Path(p, {"correct"}), Fmt::kInt, static_cast<double>(s.correct)),
        Figure(Path(p, {"scored"}), Fmt::kInt, static_cast<double>(s.scored)),
        Figure(Path(p, {"failed"}), Fmt::kInt, static_cast<double>(s.failed)),
        Figure(Path(p, {"no_key"}), Fmt::kInt, static_cast<double>(s.no_key)),
        Figure(Path(p, {"rows"}), Fmt::kInt, static_cast<double>(s.rows)));
  }
  *out +=
      "</table><p class=\"muted\">A row is scored when it has a key and no error; failed rows "
      "and rows without a key are counted apart, never as wrong. The interval is Wilson's.</p>";
  for (const auto& run : d.runs) {
    for (const auto& w : run.score.warnings) {
      *out += fmt::format("<p class=\"note\">{}</p>", EscapeHtml(w));
    }
  }
  *out += "<div class=\"cols\">";
  for (size_t i = 0; i < d.runs.size(); ++i) {
    const auto& s = d.runs[i].score;
    const std::string p = two ? (i == 0 ? "first" : "second") : "";
    *out += "<div class=\"col\">";
    *out += fmt::format("<h3>Per class: {}</h3>", EscapeHtml(d.runs[i].label));
    *out +=
        "<table><tr><th class=\"l\">class</th><th>rows with this key</th><th>predicted as it"
        "</th><th>correct</th><th>precision</th><th>recall</th></tr>";
    for (const auto& [k, c] : s.per_class) {
      *out += fmt::format(
          "<tr><td class=\"l\">{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
          EscapeHtml(Label(k)),
          Figure(Path(p, {"per_class", k, "rows"}), Fmt::kInt, static_cast<double>(c.rows)),
          Figure(Path(p, {"per_class", k, "predicted"}), Fmt::kInt,
                 static_cast<double>(c.predicted)),
          Figure(Path(p, {"per_class", k, "correct"}), Fmt::kInt, static_cast<double>(c.correct)),
          c.predicted ? Figure(Path(p, {"per_class", k, "precision"}), Fmt::kPct, c.precision)
                      : "-",
          c.rows ? Figure(Path(p, {"per_class", k, "recall"}), Fmt::kPct, c.recall) : "-");
    }
    *out += "</table>";
    // The confusion matrix as a heatmap (a table whose cells are shaded by their share of the
    // key's row).
    std::set<std::string> preds;
    for (const auto& [k, row] : s.confusion) {
      for (const auto& [pr, n] : row) preds.insert(pr);
    }
    if (!s.confusion.empty() && preds.size() <= 40 && s.confusion.size() <= 40) {
      *out += fmt::format("<h3>Confusion matrix: {}</h3>", EscapeHtml(d.runs[i].label));
      *out += "<table class=\"heat\"><tr><th class=\"l\">key \\ prediction</th>";
      for (const auto& pr : preds) *out += fmt::format("<th>{}</th>", EscapeHtml(Label(pr)));
      *out += "</tr>";
      for (const auto& [k, row] : s.confusion) {
        int64_t total = 0;
        for (const auto& [pr, n] : row) total += n;
        *out += fmt::format("<tr><th class=\"l\">{}</th>", EscapeHtml(Label(k)));
        for (const auto& pr : preds) {
          int64_t n = row.count(pr) ? row.at(pr) : 0;
          double share = total ? static_cast<double>(n) / total : 0;
          const char* rgb = pr == k ? "46,133,64" : "192,57,43";
          *out += fmt::format(
              "<td style=\"background:rgba({},{:.2f});color:{}\" title=\"key {}, predicted {}: {} "
              "rows ({:.1f}% of the key's rows)\">{}</td>",
              rgb, 0.08 + 0.85 * share, share > 0.55 ? "#fff" : "inherit", EscapeHtml(Label(k)),
              EscapeHtml(Label(pr)), n, 100 * share,
              // eval --json lists only the cells that occur.
              n ? Figure(Path(p, {"confusion", k, pr}), Fmt::kInt, static_cast<double>(n))
                : std::string("0"));
        }
        *out += "</tr>";
      }
      *out += "</table>";
    } else if (!s.confusion.empty()) {
      *out += fmt::format(
          "<p class=\"muted\">{} keys and {} predicted values: too many for a "
          "confusion matrix.</p>",
          s.confusion.size(), preds.size());
    }
    *out += "</div>";
  }
  *out += "</div>";
  if (!d.options.eval.by.empty()) {
    *out += fmt::format("<h3>By <code>{}</code></h3>", EscapeHtml(d.options.eval.by));
    std::set<std::string> groups;
    for (const auto& run : d.runs) {
      for (const auto& [g, gs] : run.score.groups) groups.insert(g);
    }
    *out += "<table><tr><th class=\"l\">value</th>";
    for (const auto& run : d.runs) {
      *out += fmt::format("<th colspan=\"3\">{}</th>", EscapeHtml(run.label));
    }
    *out += "</tr><tr><th></th>";
    for (size_t i = 0; i < d.runs.size(); ++i) {
      *out += "<th>accuracy</th><th>correct of scored</th><th class=\"l\">95% interval</th>";
    }
    *out += "</tr>";
    for (const auto& g : groups) {
      *out += fmt::format("<tr><td class=\"l\">{}</td>", EscapeHtml(Label(g)));
      for (size_t i = 0; i < d.runs.size(); ++i) {
        const std::string p = two ? (i == 0 ? "first" : "second") : "";
        auto it = d.runs[i].score.groups.find(g);
        if (it == d.runs[i].score.groups.end()) {
          *out += "<td>-</td><td>-</td><td>-</td>";
          continue;
        }
        const auto& gs = it->second;
        // The interval drawn as a bar on a 0-100% scale, the accuracy as a tick.
        std::string bar = fmt::format(
            "<svg width=\"120\" height=\"12\" viewBox=\"0 0 100 12\"><rect x=\"0\" y=\"5\" "
            "width=\"100\" height=\"2\" fill=\"#d9dee3\"/><rect x=\"{:.1f}\" y=\"3\" "
            "width=\"{:.1f}\" height=\"6\" fill=\"#9cc0e6\"/><rect x=\"{:.1f}\" y=\"0\" "
            "width=\"2\" "
            "height=\"12\" fill=\"#2f6fb3\"/></svg> [{:.1f}%, {:.1f}%]",
            100 * gs.ci_low, 100 * (gs.ci_high - gs.ci_low), std::max(0.0, 100 * gs.accuracy - 1),
            100 * gs.ci_low, 100 * gs.ci_high);
        *out += fmt::format(
            "<td>{}</td><td>{} of {}</td><td class=\"l\">{}</td>",
            gs.scored ? Figure(Path(p, {"by", "groups", g, "accuracy"}), Fmt::kPct, gs.accuracy)
                      : "-",
            Figure(Path(p, {"by", "groups", g, "correct"}), Fmt::kInt,
                   static_cast<double>(gs.correct)),
            Figure(Path(p, {"by", "groups", g, "scored"}), Fmt::kInt,
                   static_cast<double>(gs.scored)),
            bar);
      }
      *out += "</tr>";
    }
    *out += "</table>";
  }
  *out += "</section>";
}

// A square plot of [0, 1] x [0, 1] (both axes in percent) as the start of an SVG: the frame,
// the axis labels and the x caption. Calibration charts draw into it with x() and y().
struct UnitPlot {
  static constexpr double kW = 360, kH = 300, kLeft = 36, kTop = 18, kBottom = 34;
  static constexpr double kPw = kW - kLeft - 18, kPh = kH - kTop - kBottom;
  static double x(double v) { return kLeft + kPw * v; }
  static double y(double v) { return kTop + kPh * (1 - v); }
  static std::string Open(const std::string& cls, const std::string& label,
                          const std::string& caption) {
    std::string svg =
        fmt::format("<svg class=\"chart {}\" viewBox=\"0 0 {} {}\" role=\"img\" aria-label=\"{}\">",
                    cls, kW, kH, EscapeHtml(label));
    for (double v : {0.0, 0.5, 1.0}) {
      svg += fmt::format(
          "<text x=\"{:.1f}\" y=\"{:.1f}\" class=\"axis\" text-anchor=\"end\">{:.0f}%</text>",
          kLeft - 4, y(v) + 4, 100 * v);
      svg += fmt::format(
          "<text x=\"{:.1f}\" y=\"{:.1f}\" class=\"axis\" text-anchor=\"middle\">{:.0f}%</text>",
          x(v), kTop + kPh + 14, 100 * v);
    }
    svg += fmt::format(
        "<text x=\"{:.1f}\" y=\"{:.1f}\" class=\"axis\" text-anchor=\"middle\">{}</text>",
        kLeft + kPw / 2, kH - 4, caption);
    svg += fmt::format("<line x1=\"{}\" y1=\"{}\" x2=\"{}\" y2=\"{}\" class=\"axisline\"/>", kLeft,
                       y(0), x(1), y(0));
    return svg;
  }
};

// The reliability diagram: one bar per confidence bin, as high as the bin's accuracy, with the
// gap to its mean confidence shaded (red) and the diagonal of perfect calibration.
std::string SvgReliability(const engine::Calibration& c) {
  using P = UnitPlot;
  const double pw = P::kPw, ph = P::kPh;
  auto x = P::x;
  auto y = P::y;
  std::string svg = P::Open("reliability", "reliability diagram of " + c.column,
                            "stated confidence (bars: accuracy of the bin's rows)");
  for (const auto& b : c.bins) {
    if (b.rows == 0) continue;
    const double bx = x(b.low) + 1, bw = std::max(pw * (b.high - b.low) - 2, 1.0);
    svg += fmt::format(
        "<rect x=\"{:.1f}\" y=\"{:.1f}\" width=\"{:.1f}\" height=\"{:.1f}\" class=\"bar\"><title>"
        "confidence {:.2f}-{:.2f}: {} rows, mean confidence {:.1f}%, accuracy {:.1f}%</title>"
        "</rect>",
        bx, y(b.accuracy), bw, ph * b.accuracy, b.low, b.high, b.rows, 100 * b.mean_confidence,
        100 * b.accuracy);
    const double lo = std::min(b.accuracy, b.mean_confidence);
    const double hi = std::max(b.accuracy, b.mean_confidence);
    svg += fmt::format(
        "<rect x=\"{:.1f}\" y=\"{:.1f}\" width=\"{:.1f}\" height=\"{:.1f}\" class=\"gap\"><title>"
        "gap {:.1f} points</title></rect>",
        bx, y(hi), bw, std::max(ph * (hi - lo), 0.5), 100 * (hi - lo));
    svg += fmt::format(
        "<text x=\"{:.1f}\" y=\"{:.1f}\" class=\"axis\" text-anchor=\"middle\">{}</text>",
        bx + bw / 2, y(hi) - 3, b.rows);
  }
  svg +=
      fmt::format("<line x1=\"{:.1f}\" y1=\"{:.1f}\" x2=\"{:.1f}\" y2=\"{:.1f}\" class=\"diag\"/>",
                  x(0), y(0), x(1), y(1));
  return svg + "</svg>";
}

// Accuracy against coverage: answering only the most confident share of the rows.
std::string SvgCoverage(const engine::Calibration& c) {
  using P = UnitPlot;
  auto x = P::x;
  auto y = P::y;
  std::string svg = P::Open("coverage", "accuracy at coverage of " + c.column,
                            "coverage (the most confident share of the rows answered)");
  // The accuracy of answering every row, for reference.
  svg += fmt::format(
      "<line x1=\"{:.1f}\" y1=\"{:.1f}\" x2=\"{:.1f}\" y2=\"{:.1f}\" class=\"diag\"><title>every "
      "row: {:.1f}%</title></line>",
      x(0), y(c.accuracy), x(1), y(c.accuracy), 100 * c.accuracy);
  std::string points;
  for (const auto& p : c.curve) {
    points += fmt::format("{:.1f},{:.1f} ", x(p.coverage), y(p.accuracy));
  }
  svg += fmt::format("<polyline points=\"{}\" class=\"curve\"/>", points);
  for (const auto& p : c.coverage) {
    svg += fmt::format(
        "<circle cx=\"{:.1f}\" cy=\"{:.1f}\" r=\"3.5\" class=\"dot\"><title>{:.0f}% of the rows "
        "(confidence &#8805; {:.3f}): accuracy {:.1f}%</title></circle>",
        x(p.coverage), y(p.accuracy), 100 * p.coverage, p.threshold, 100 * p.accuracy);
  }
  return svg + "</svg>";
}

void CalibrationSection(const ReportData& d, std::string* out) {
  const bool two = d.runs.size() == 2;
  *out +=
      "<section id=\"calibration\"><h2>Calibration</h2><p class=\"muted\">How far the "
      "confidence each answer came with can be trusted. The reliability diagram bins the scored "
      "rows by their stated confidence: in a calibrated run each bar reaches the diagonal (rows "
      "stated at 80% are right 80% of the time); the red part is the gap. The expected "
      "calibration error (ECE) is that gap averaged over the rows; the Brier score is the mean "
      "of (confidence - 1 if right, 0 if wrong)&#178;. Accuracy at coverage: answer only the "
      "most confident share of the rows (rows tied at the cut count by their share). Rows with a "
      "null confidence are counted apart.</p><div class=\"cols\">";
  for (size_t i = 0; i < d.runs.size(); ++i) {
    const std::string p = two ? (i == 0 ? "first" : "second") : "";
    auto fig = [&](std::vector<std::string> rest, Fmt f, double v) {
      rest.insert(rest.begin(), "calibration");
      return Figure(Path(p, std::move(rest)), f, v);
    };
    *out += fmt::format("<div class=\"col\"><h3>{}</h3>", EscapeHtml(d.runs[i].label));
    if (!d.runs[i].score.calibration) {
      *out += "<p class=\"muted\">No confidence column in this run.</p></div>";
      continue;
    }
    const engine::Calibration& c = *d.runs[i].score.calibration;
    *out += fmt::format(
        "<p>Confidence column <code>{}</code>: {} scored rows with a confidence, {} with a null "
        "confidence (left out).</p>",
        EscapeHtml(c.column), fig({"rows"}, Fmt::kInt, static_cast<double>(c.rows)),
        fig({"no_confidence"}, Fmt::kInt, static_cast<double>(c.no_confidence)));
    if (c.rows == 0) {
      *out +=
          "<p class=\"note\">Every confidence is null: the server gave no usable "
          "log-probabilities (<code>structflow doctor</code> says which do).</p></div>";
      continue;
    }
    auto card = [&](const std::string& k, const std::string& v) {
      *out += fmt::format(
          "<div class=\"card\"><div class=\"v\">{}</div><div class=\"k\">{}</div></div>", v, k);
    };
    *out += "<div class=\"cards\">";
    card("expected calibration error", fig({"ece"}, Fmt::kPct, c.ece));
    card("mean confidence", fig({"mean_confidence"}, Fmt::kPct, c.mean_confidence));
    card("accuracy of these rows", fig({"accuracy"}, Fmt::kPct, c.accuracy));
    card("Brier score (0 is best)", fig({"brier"}, Fmt::kDec, c.brier));
    *out += "</div>";
    if (c.min_confidence >= 0) {
      *out += fmt::format(
          "<p>With a minimum confidence of {}: {} rows answered (coverage {}), accuracy "
          "<b>{}</b>; {} rows abstained (for a person to answer), of which the model had {} "
          "right.</p>",
          fig({"min_confidence", "threshold"}, Fmt::kDec, c.min_confidence),
          fig({"min_confidence", "answered"}, Fmt::kInt, static_cast<double>(c.answered)),
          fig({"min_confidence", "coverage"}, Fmt::kPct, c.answered_coverage),
          c.answered ? fig({"min_confidence", "accuracy"}, Fmt::kPct, c.answered_accuracy)
                     : std::string("-"),
          fig({"min_confidence", "abstained"}, Fmt::kInt, static_cast<double>(c.abstained)),
          fig({"min_confidence", "abstained_correct"}, Fmt::kInt,
              static_cast<double>(c.abstained_correct)));
    }
    *out += "<div class=\"calcharts\"><div><h3>Reliability diagram</h3>" + SvgReliability(c);
    *out +=
        "<table><tr><th class=\"l\">confidence</th><th>rows</th><th>mean confidence</th>"
        "<th>accuracy</th></tr>";
    for (size_t b = 0; b < c.bins.size(); ++b) {
      const auto& bin = c.bins[b];
      if (bin.rows == 0) continue;
      const std::string k = std::to_string(b);
      *out += fmt::format(
          "<tr><td class=\"l\">{:.2f}-{:.2f}</td><td>{}</td><td>{}</td><td>{}</td></tr>", bin.low,
          bin.high, fig({"bins", k, "rows"}, Fmt::kInt, static_cast<double>(bin.rows)),
          fig({"bins", k, "mean_confidence"}, Fmt::kPct, bin.mean_confidence),
          fig({"bins", k, "accuracy"}, Fmt::kPct, bin.accuracy));
    }
    *out += "</table></div><div><h3>Accuracy at coverage</h3>" + SvgCoverage(c);
    *out +=
        "<table><tr><th>coverage</th><th>rows</th><th>confidence at least</th><th>accuracy</th>"
        "</tr>";
    for (size_t k = 0; k < c.coverage.size(); ++k) {
      const auto& pt = c.coverage[k];
      const std::string ks = std::to_string(k);
      *out += fmt::format(
          "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}{}</td></tr>",
          fig({"coverage", ks, "coverage"}, Fmt::kPct, pt.coverage),
          fig({"coverage", ks, "rows"}, Fmt::kInt, static_cast<double>(pt.rows)),
          fig({"coverage", ks, "threshold"}, Fmt::kDec, pt.threshold),
          fig({"coverage", ks, "accuracy"}, Fmt::kPct, pt.accuracy),
          pt.tied ? fmt::format(" <span class=\"muted\">({} tied at the cut)</span>", pt.tied)
                  : std::string());
    }
    *out += "</table></div></div></div>";
  }
  *out += "</div></section>";
}

void Comparison(const ReportData& d, std::string* out) {
  const auto& c = *d.comparison;
  const std::string& a = d.runs[0].label;
  const std::string& b = d.runs[1].label;
  const int64_t n = c.both_right + c.first_only + c.second_only + c.both_wrong;
  *out += "<section id=\"paired\"><h2>Paired comparison</h2>";
  *out += fmt::format(
      "<p>Over the {} rows scored in both runs ({} failed or had no key in one or both):</p>",
      Thousands(n),
      Figure({"four_way", "not_scored"}, Fmt::kInt, static_cast<double>(c.not_scored)));
  *out += fmt::format(
      "<table><tr><th></th><th>{b} right</th><th>{b} wrong</th></tr>"
      "<tr><th class=\"l\">{a} right</th><td>{br}</td><td>{fo}</td></tr>"
      "<tr><th class=\"l\">{a} wrong</th><td>{so}</td><td>{bw}</td></tr></table>",
      fmt::arg("a", EscapeHtml(a)), fmt::arg("b", EscapeHtml(b)),
      fmt::arg("br",
               Figure({"four_way", "both_right"}, Fmt::kInt, static_cast<double>(c.both_right))),
      fmt::arg("fo",
               Figure({"four_way", "first_only"}, Fmt::kInt, static_cast<double>(c.first_only))),
      fmt::arg("so",
               Figure({"four_way", "second_only"}, Fmt::kInt, static_cast<double>(c.second_only))),
      fmt::arg("bw",
               Figure({"four_way", "both_wrong"}, Fmt::kInt, static_cast<double>(c.both_wrong))));
  *out += fmt::format(
      "<p>Paired difference ({} minus {}): {} points. McNemar's exact test over the {} rows where "
      "the runs differ: <b>p = {}</b>. {}</p>",
      EscapeHtml(a), EscapeHtml(b), Figure({"difference"}, Fmt::kPoints, c.difference),
      Figure({"mcnemar", "discordant"}, Fmt::kInt, static_cast<double>(c.mcnemar.discordant)),
      Figure({"mcnemar", "p_value"}, Fmt::kP, c.mcnemar.p_value),
      c.mcnemar.discordant == 0 ? "No row differs."
      : c.mcnemar.p_value < 0.05
          ? "A split this uneven is unlikely if neither setting were better."
          : "A split like this is common by chance: no evidence either setting is better.");
  *out += "</section>";
}

void Gallery(const ReportData& d, std::string* out) {
  const bool two = d.runs.size() == 2;
  *out += fmt::format("<section id=\"gallery\"><h2>{}</h2>",
                      two ? "Rows that flipped" : "Rows answered wrong");
  const int64_t shown = static_cast<int64_t>(d.gallery.size());
  if (d.gallery_candidates == 0) {
    *out += fmt::format("<p>{}</p></section>", two ? "No row flipped between the two runs."
                                                   : "No scored row was answered wrong.");
    return;
  }
  *out += fmt::format(
      "<p>{} {} rows{}. {}</p>", two ? "The" : "The", Thousands(d.gallery_candidates),
      two ? fmt::format(" right in one run and wrong in the other; the rows the first run ({}) "
                        "got wrong come first",
                        EscapeHtml(d.runs[0].label))
          : " with a key and a wrong answer",
      shown < d.gallery_candidates
          ? fmt::format("<b>Showing a sample of {} of them</b> (evenly spaced, so the share of "
                        "each kind is kept) to keep the page small.",
                        Thousands(shown))
          : "All of them are shown.");
  if (d.image_column.empty()) {
    *out +=
        "<p class=\"note\">No thumbnails: the results hold no image column. Run with "
        "<code>--keep-binary</code> or pass <code>--image COLUMN</code>.</p>";
  } else {
    *out += fmt::format(
        "<p class=\"muted\">Thumbnails from <code>{}</code>; <span "
        "id=\"img-status\"></span></p>",
        EscapeHtml(d.image_column));
  }
  std::set<std::string> keys, groups;
  for (const auto& g : d.gallery) {
    keys.insert(d.runs[0].rows[static_cast<size_t>(g.row)].key);
    groups.insert(d.runs[0].rows[static_cast<size_t>(g.row)].group);
  }
  *out += "<div class=\"filters\">";
  if (two) {
    *out += fmt::format(
        "<label>which <select id=\"f-dir\"><option value=\"\">both ways</option><option "
        "value=\"hurt\">wrong with {a}</option><option value=\"helped\">right with "
        "{a}</option></select></label>",
        fmt::arg("a", EscapeHtml(d.runs[0].label)));
  }
  *out += "<label>key <select id=\"f-key\"><option value=\"\">any</option>";
  for (const auto& k : keys) {
    *out += fmt::format("<option value=\"{0}\">{1}</option>", EscapeHtml(k), EscapeHtml(Label(k)));
  }
  *out += "</select></label>";
  if (!d.options.eval.by.empty()) {
    *out += fmt::format("<label>{} <select id=\"f-group\"><option value=\"\">any</option>",
                        EscapeHtml(d.options.eval.by));
    for (const auto& g : groups) {
      *out +=
          fmt::format("<option value=\"{0}\">{1}</option>", EscapeHtml(g), EscapeHtml(Label(g)));
    }
    *out += "</select></label>";
  }
  *out +=
      "<label>text <input id=\"f-text\" type=\"search\" placeholder=\"question, answer, "
      "row\"></label><span id=\"f-shown\" class=\"muted\"></span></div><div class=\"gallery\">";
  for (const auto& g : d.gallery) {
    const auto& r0 = d.runs[0].rows[static_cast<size_t>(g.row)];
    std::string dir = two ? (r0.correct() ? "helped" : "hurt") : "wrong";
    *out += fmt::format(
        "<div class=\"item\" data-dir=\"{}\" data-key=\"{}\" data-group=\"{}\" data-row=\"{}\">",
        dir, EscapeHtml(r0.key), EscapeHtml(r0.group), g.row);
    if (!g.thumbnail.empty()) {
      *out += fmt::format("<img src=\"{}\" alt=\"row {}\" loading=\"eager\">", g.thumbnail, g.row);
    } else if (!g.thumbnail_error.empty()) {
      *out += fmt::format("<p class=\"muted\">no thumbnail: {}</p>", EscapeHtml(g.thumbnail_error));
    }
    *out +=
        fmt::format("<div class=\"muted\">row {} {}</div>", g.row,
                    two ? fmt::format("<span class=\"tag {}\">{}</span>", dir,
                                      dir == "hurt" ? "wrong with " + EscapeHtml(d.runs[0].label)
                                                    : "right with " + EscapeHtml(d.runs[0].label))
                        : "");
    if (!g.question.empty()) {
      *out += fmt::format("<div class=\"q\">{}</div>", EscapeHtml(g.question));
    }
    *out += "<div class=\"a\">";
    for (const auto& run : d.runs) {
      const auto& r = run.rows[static_cast<size_t>(g.row)];
      *out += fmt::format("{}: <span class=\"{}\">{}</span>{}<br>", EscapeHtml(run.label),
                          r.correct() ? "ok" : "no", EscapeHtml(Label(r.pred)),
                          r.has_confidence
                              ? fmt::format(" <span class=\"muted\">(confidence {:.0f}%)</span>",
                                            100 * r.confidence)
                              : std::string());
    }
    *out += fmt::format("key: <b>{}</b>", EscapeHtml(Label(r0.key)));
    if (!r0.group.empty()) {
      *out += fmt::format(" &middot; {}: {}", EscapeHtml(d.options.eval.by), EscapeHtml(r0.group));
    }
    *out += "</div></div>";
  }
  *out += "</div></section>";
}

bool Passing(const engine::RowOutcome& r) {
  if (r.error_kind == "connect" || r.error_kind == "timeout" || r.error_kind == "reset")
    return true;
  if (r.error_kind != "http_status") return false;
  for (const char* code : {"HTTP 408", "HTTP 409", "HTTP 429", "HTTP 5"}) {
    if (r.error_message.find(code) != std::string::npos) return true;
  }
  return false;
}

void Errors(const ReportData& d, std::string* out) {
  const bool two = d.runs.size() == 2;
  *out += "<section id=\"errors\"><h2>Errors</h2>";
  for (size_t i = 0; i < d.runs.size(); ++i) {
    const auto& run = d.runs[i];
    const std::string p = two ? (i == 0 ? "first" : "second") : "";
    *out += fmt::format("<h3>{}</h3>", EscapeHtml(run.label));
    if (run.score.errors.empty()) {
      *out += "<p>No row failed.</p>";
      continue;
    }
    *out += "<table><tr><th class=\"l\">kind</th><th>rows</th></tr>";
    for (const auto& [k, n] : run.score.errors) {
      *out += fmt::format("<tr><td class=\"l\">{}</td><td>{}</td></tr>", EscapeHtml(k),
                          Figure(Path(p, {"errors", k}), Fmt::kInt, static_cast<double>(n)));
    }
    *out += "</table>";
    int64_t passing = 0, lasting = 0;
    std::map<std::string, int> shown;
    for (size_t r = 0; r < run.rows.size(); ++r) {
      const auto& row = run.rows[r];
      if (!row.failed) continue;
      (Passing(row) ? passing : lasting)++;
      if (shown[row.error_kind]++ < kErrorExamples) {
        *out += fmt::format("<pre>row {} &middot; {}\n{}</pre>", r, EscapeHtml(row.error_kind),
                            EscapeHtml(row.error_message));
      }
    }
    const std::string cp = run.file + ".checkpoint";
    *out +=
        "<p>To send the failed rows again, run the command that wrote this file again with "
        "<code>--retry-failed</code>: rows that finished are kept in the checkpoint, only the "
        "failed ones are sent.";
    if (lasting == 0) {
      *out += fmt::format(
          " All {} failed for a passing reason (connection, timeout, HTTP 408, "
          "409, 429, 5xx), which the same command re-sends even without the flag.",
          Thousands(passing));
    }
    *out += "</p>";
    if (!run.command.empty()) {
      *out += fmt::format("<pre>{} --retry-failed</pre>", EscapeHtml(run.command));
    } else {
      *out += fmt::format(
          "<pre>structflow run ... --out {} --retry-failed</pre><p class=\"muted\">({} does not "
          "record the command; use the same arguments as before.)</p>",
          EscapeHtml(run.file), EscapeHtml(cp));
    }
  }
  *out += "</section>";
}

void Outputs(const ReportData& d, std::string* out) {
  *out +=
      "<section id=\"outputs\"><h2>Output fields</h2><p class=\"muted\">Over the rows that "
      "succeeded: how often each field is filled, its most common values (text, choices, "
      "booleans) or its histogram (numbers; for lists, their lengths).</p><div class=\"cols\">";
  for (const auto& run : d.runs) {
    *out += fmt::format("<div class=\"col\"><h3>{}</h3>", EscapeHtml(run.label));
    if (run.field_order.empty()) *out += "<p>No row succeeded.</p>";
    for (const auto& path : run.field_order) {
      const FieldStats& f = run.fields.at(path);
      *out += fmt::format(
          "<h3><code>{}</code> <span class=\"muted\">filled in {} of {} ({:.1f}%)</span></h3>",
          EscapeHtml(path), Thousands(f.present), Thousands(f.total),
          f.total ? 100.0 * f.present / f.total : 0.0);
      if (f.type == TypeId::kStruct) continue;
      if (!f.numbers.empty()) {
        *out +=
            SvgHistogram(f.numbers, f.type == TypeId::kList ? "items" : "", "histogram of " + path);
        continue;
      }
      if (f.values.empty()) continue;
      std::vector<std::pair<int64_t, std::string>> top;
      for (const auto& [v, n] : f.values) top.emplace_back(-n, v);
      std::sort(top.begin(), top.end());
      const int64_t most = -top[0].first;
      int64_t rest = f.other_values;
      *out += "<table>";
      for (size_t k = 0; k < top.size(); ++k) {
        if (k >= 12) {
          rest -= top[k].first;
          continue;
        }
        *out += fmt::format(
            "<tr><td class=\"l\">{}</td><td>{}</td><td class=\"l\"><span class=\"hbar\" "
            "style=\"width:{}px\"></span> {:.1f}%</td></tr>",
            EscapeHtml(Label(top[k].second)), Thousands(-top[k].first),
            std::max<int64_t>(1, 160 * -top[k].first / most),
            f.present ? 100.0 * -top[k].first / f.present : 0.0);
      }
      if (rest > 0) {
        *out +=
            fmt::format("<tr><td class=\"l muted\">{} other values</td><td>{}</td><td></td></tr>",
                        top.size() > 12 ? Thousands(static_cast<int64_t>(top.size()) - 12) + "+"
                                        : std::string("more"),
                        Thousands(rest));
      }
      *out += "</table>";
    }
    *out += "</div>";
  }
  *out += "</div></section>";
}

void Charts(const ReportData& d, std::string* out) {
  *out +=
      "<section id=\"charts\"><h2>Latency and throughput</h2><p class=\"muted\">From the "
      "finish time and latency of each row, kept in the checkpoint beside each result (rows "
      "sent in this run and earlier runs it resumed).</p><div class=\"cols\">";
  for (const auto& run : d.runs) {
    *out += fmt::format("<div class=\"col\"><h3>{}</h3>", EscapeHtml(run.label));
    if (run.timings.empty()) {
      *out += "<p class=\"muted\">No per-row timings (see the notes above).</p></div>";
      continue;
    }
    std::vector<double> lat;
    lat.reserve(run.timings.size());
    for (const auto& t : run.timings) lat.push_back(t.latency_s);
    *out +=
        fmt::format("<h3>Latency of {} requests</h3>", Thousands(static_cast<int64_t>(lat.size())));
    *out += SvgHistogram(lat, "s", "latency histogram");
    *out += "<h3>Rows finished per second</h3>";
    *out += SvgThroughput(run.timings);
    *out += "</div>";
  }
  *out += "</div></section>";
}

}  // namespace

std::string EscapeHtml(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

std::string RenderHtml(const ReportData& d) {
  const bool scoring = !d.options.eval.key.empty();
  std::string title = d.runs.size() == 2 ? fmt::format("{} vs {}", d.runs[0].label, d.runs[1].label)
                                         : d.runs[0].label;
  std::string out;
  out.reserve(1 << 20);
  out +=
      "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">"
      "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">";
  // Nothing is fetched: inline styles, scripts and images (data: URLs) only.
  out +=
      "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; img-src "
      "data:; style-src 'unsafe-inline'; script-src 'unsafe-inline'\">";
  out += fmt::format("<title>structflow report: {}</title><style>{}</style></head><body>",
                     EscapeHtml(title), Css());
  out += fmt::format("<header><h1>structflow report: {}</h1><p>", EscapeHtml(title));
  for (const auto& run : d.runs) out += EscapeHtml(run.file) + "<br>";
  if (!d.options.command.empty()) out += "<code>" + EscapeHtml(d.options.command) + "</code>";
  out += "</p></header><nav><a href=\"#summary\">summary</a>";
  if (scoring) out += "<a href=\"#accuracy\">accuracy</a>";
  bool calibration = false;
  for (const auto& run : d.runs) calibration = calibration || run.score.calibration.has_value();
  calibration = calibration && scoring;
  if (calibration) out += "<a href=\"#calibration\">calibration</a>";
  if (d.comparison) out += "<a href=\"#paired\">paired</a>";
  if (scoring) out += "<a href=\"#gallery\">gallery</a>";
  out +=
      "<a href=\"#errors\">errors</a><a href=\"#outputs\">output fields</a><a "
      "href=\"#charts\">latency</a></nav><main>";
  for (const auto& n : d.notes) out += fmt::format("<p class=\"note\">{}</p>", EscapeHtml(n));
  Summary(d, &out);
  if (scoring) Scores(d, &out);
  if (calibration) CalibrationSection(d, &out);
  if (d.comparison) Comparison(d, &out);
  if (scoring) Gallery(d, &out);
  Errors(d, &out);
  Outputs(d, &out);
  Charts(d, &out);
  out += "</main><script>" + Script() + "</script></body></html>\n";
  return out;
}

}  // namespace structflow::report

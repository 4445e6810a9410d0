// `structflow report`: one self-contained HTML page about one run, or two runs of the same rows
// (see report/report.h).
#include <CLI/CLI.hpp>
#include <cstdio>
#include <memory>

#include "cli/command_line.h"
#include "cli/commands.h"
#include "report/report.h"

namespace structflow::cli {
void AddReportCommand(CLI::App& app, int* exit_code) {
  struct Opts {
    report::ReportOptions report;
    std::string out = "report.html";
  };
  auto o = std::make_shared<Opts>();
  o->report.eval.key.clear();  // no key: no scoring sections
  auto* sub = app.add_subcommand(
      "report",
      "Write one self-contained HTML page (no network needed to open it) about a results file, or\n"
      "two results files of the same rows (say, with and without the image): the run's summary,\n"
      "with --key the same scores as `structflow eval` (accuracy, per-class precision and recall,\n"
      "confusion heatmap, --by breakdown; when the results carry a confidence column, its\n"
      "calibration: reliability diagram, ECE, accuracy at coverage; for two runs the four-way "
      "table, McNemar's test and a\n"
      "filterable gallery of the rows that flipped, with thumbnails), the errors with the command\n"
      "that re-sends them, the distribution of each output field, and latency and throughput\n"
      "charts (from RESULT.stats.json and RESULT.checkpoint beside each result).\n\n"
      "Example:\n"
      "  structflow report with_image.parquet without_image.parquet --key key --by texts.source "
      "\\\n"
      "    -o report.html\n");
  sub->add_option("results", o->report.results, "One results file, or two of the same rows")
      ->required()
      ->expected(1, 2);
  sub->add_option("--key", o->report.eval.key,
                  "Column path of the answer key; without it, no scoring sections");
  sub->add_option("--pred", o->report.eval.pred, "Column path of the prediction")
      ->capture_default_str();
  sub->add_option("--by", o->report.eval.by,
                  "Column path to break the accuracy down by (e.g. the question's source)");
  sub->add_flag("!--no-normalize", o->report.eval.normalize,
                "Compare key and prediction exactly as stored");
  sub->add_option("--confidence", o->report.eval.confidence,
                  "Column path of the prediction's confidence, as for `eval` (default: the one "
                  "`run --confidence` writes for --pred, when the file has it)");
  sub->add_option("--min-confidence", o->report.eval.min_confidence,
                  "Count rows whose confidence is below this as abstentions, as for `eval`")
      ->check(CLI::Range(0.0, 1.0));
  sub->add_option("--calibration-bins", o->report.eval.calibration_bins,
                  "Equal-width confidence bins of the reliability diagram")
      ->capture_default_str()
      ->check(CLI::Range(1, 1000));
  sub->add_option("--labels", o->report.labels, "Names for the runs in the page")
      ->expected(1, 2)
      ->delimiter(',');
  sub->add_option("--image", o->report.image,
                  "Column of the images for the gallery's thumbnails (default: the first column "
                  "holding images; `run` keeps them with --keep-binary)");
  sub->add_option("--question", o->report.question,
                  "Column path of the question shown in the gallery (default: question, prompt, "
                  "texts.user or text)");
  sub->add_option("--gallery-max", o->report.gallery_max,
                  "At most this many rows in the gallery; more are sampled evenly")
      ->capture_default_str()
      ->check(CLI::Range(0, 100000));
  sub->add_option("-o,--out", o->out, "The HTML file to write")->capture_default_str();
  sub->callback([o, exit_code] {
    o->report.command = CommandLine();
    report::ReportSummary summary;
    auto bytes = report::WriteReport(o->report, o->out, &summary);
    if (!bytes.ok()) {
      std::fprintf(stderr, "structflow report: %s\n", bytes.status().message().c_str());
      *exit_code = 1;
      return;
    }
    for (const auto& n : summary.notes)
      std::fprintf(stderr, "structflow report: note: %s\n", n.c_str());
    if (summary.gallery_shown < summary.gallery_candidates) {
      std::fprintf(stderr, "structflow report: the gallery shows a sample of %lld of %lld rows\n",
                   static_cast<long long>(summary.gallery_shown),
                   static_cast<long long>(summary.gallery_candidates));
    }
    std::printf("wrote %s (%.1f MB)\n", o->out.c_str(), static_cast<double>(*bytes) / 1e6);
    *exit_code = 0;
  });
}

}  // namespace structflow::cli

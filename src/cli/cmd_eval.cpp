// `structflow eval`: score a results file against its answer key, or compare two runs of the
// same rows (say, with and without the image).
#include <CLI/CLI.hpp>
#include <cstdio>
#include <memory>

#include "cli/commands.h"
#include "common/text.h"
#include "engine/eval.h"

namespace structflow::cli {

void AddEvalCommand(CLI::App& app, int* exit_code) {
  struct Opts {
    std::vector<std::string> files;
    engine::EvalOptions eval;
    std::vector<std::string> labels;
    bool json = false;
  };
  auto o = std::make_shared<Opts>();
  auto* sub = app.add_subcommand(
      "eval",
      "Score results against an answer key: accuracy with a 95% confidence interval, per-class\n"
      "precision and recall, a confusion table and, with --by, a breakdown by a column. Given two\n"
      "results files of the same rows (say, with and without the image), also the four-way table\n"
      "(both right, right only in the first, right only in the second, both wrong) and McNemar's\n"
      "exact test of the paired difference. A row is scored when it has a key and no error; rows\n"
      "whose `error` is set are counted apart, never scored as wrong. Keys and predictions are\n"
      "normalised before comparing (`Answer: C` matches `c`; case, whitespace).\n\n"
      "Calibration: when the results carry the probability of each answer (the `confidence`\n"
      "column of `run --confidence`; for --pred output.answer, confidence.answer), eval also says\n"
      "whether to trust it: a reliability diagram (rows binned by confidence: does a bin stated "
      "at\n"
      "80% get 80% right?), the expected calibration error (ECE: that gap averaged over the rows;\n"
      "0 is perfect), the Brier score, and the accuracy at coverage (answer only the most\n"
      "confident 50%, 80%, ... of the rows: their accuracy). With --min-confidence P the rows\n"
      "below P count as abstentions (for a person to answer): their number, and the coverage and\n"
      "accuracy of the rows answered. Rows with a null confidence are counted apart.\n\n"
      "Examples:\n"
      "  structflow eval with_image.parquet without_image.parquet --key key --by texts.source\n"
      "  structflow eval labelled.parquet --key key --min-confidence 0.8\n");
  sub->add_option("files", o->files, "One results file, or two of the same rows to compare")
      ->required()
      ->expected(1, 2);
  sub->add_option("--pred", o->eval.pred, "Column path of the prediction")->capture_default_str();
  sub->add_option("--key", o->eval.key,
                  "Column path of the answer key (e.g. made with run --extract)")
      ->capture_default_str();
  sub->add_option("--by", o->eval.by,
                  "Column path to break the accuracy down by (e.g. the question's source)");
  sub->add_flag("!--no-normalize", o->eval.normalize,
                "Compare key and prediction exactly as stored (no case, whitespace or 'Answer:' "
                "normalisation)");
  sub->add_option("--confidence", o->eval.confidence,
                  "Column path of the prediction's confidence, a probability in [0, 1] (default: "
                  "the one `run --confidence` writes for --pred, when the file has it: "
                  "confidence, or confidence.FIELD for --pred output.FIELD)");
  sub->add_option("--min-confidence", o->eval.min_confidence,
                  "Count rows whose confidence is below this as abstentions, and report the "
                  "coverage and accuracy of the rows answered (e.g. 0.8)")
      ->check(CLI::Range(0.0, 1.0));
  sub->add_option("--calibration-bins", o->eval.calibration_bins,
                  "Equal-width confidence bins of the reliability diagram and the ECE")
      ->capture_default_str()
      ->check(CLI::Range(1, 1000));
  sub->add_option("--labels", o->labels, "Names for the two files in the report")
      ->expected(2)
      ->delimiter(',');
  sub->add_flag("--json", o->json, "Print the same figures as JSON");
  sub->callback([o, exit_code] {
    std::vector<std::vector<engine::RowOutcome>> rows;
    std::vector<engine::Score> scores;
    for (const auto& f : o->files) {
      auto r = engine::ReadOutcomes(f, o->eval);
      if (!r.ok()) {
        std::fprintf(stderr, "structflow eval: %s\n", ForTerminal(r.status().message()).c_str());
        *exit_code = 1;
        return;
      }
      scores.push_back(engine::ScoreOutcomes(f, *r, o->eval));
      for (const auto& w : scores.back().warnings) {
        std::fprintf(stderr, "structflow eval: warning: %s\n", w.c_str());
      }
      rows.push_back(std::move(*r));
    }
    if (rows.size() == 1) {
      std::string text =
          o->json ? engine::ScoreJson(scores[0]) + "\n" : engine::FormatScore(scores[0]);
      std::fputs(text.c_str(), stdout);
      *exit_code = 0;
      return;
    }
    auto c = engine::Compare(rows[0], rows[1]);
    if (!c.ok()) {
      std::fprintf(stderr, "structflow eval: %s\n", ForTerminal(c.status().message()).c_str());
      *exit_code = 1;
      return;
    }
    std::string a = o->labels.size() == 2 ? o->labels[0] : o->files[0];
    std::string b = o->labels.size() == 2 ? o->labels[1] : o->files[1];
    std::string text = o->json ? engine::ComparisonJson(scores[0], scores[1], *c) + "\n"
                               : engine::FormatComparison(scores[0], scores[1], *c, a, b);
    std::fputs(text.c_str(), stdout);
    *exit_code = 0;
  });
}

}  // namespace structflow::cli

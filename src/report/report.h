// `structflow report`: one self-contained HTML page (inline CSS, JS and SVG; nothing fetched) to
// look at the results of one run, or of two runs of the same rows (say, with and without the
// image): the run's summary from RESULT.stats.json, the scores `structflow eval` computes (the
// same figures: engine/eval.h), the flipped or wrong rows with their images as thumbnails, the
// errors, the distribution of each output field, and latency and throughput charts from the
// per-row timings in RESULT.checkpoint.
//
// Thread-safety: BuildReport is a plain function; call it from any one thread.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/status.h"
#include "engine/eval.h"

namespace structflow::report {

struct ReportOptions {
  std::vector<std::string> results;  // one results file, or two of the same rows
  std::vector<std::string> labels;   // names of the runs (default: the file names)
  // pred, key, by and normalisation as `eval` takes them; an empty key: no scoring sections.
  engine::EvalOptions eval;
  // The image shown in the gallery: a column path of image bytes, {bytes, path} structs, paths
  // or URLs (a list: the first image). Empty: the first column holding images, if any.
  std::string image;
  // The question shown in the gallery. Empty: the first of question, prompt, texts.user, text.
  std::string question;
  // At most this many rows in the gallery; more are sampled (evenly, the same every time).
  int gallery_max = 300;
  int thumbnail_side = 160;
  // The command that made the report, shown in the page ("" to leave out).
  std::string command;
};

struct ReportSummary {
  int64_t gallery_candidates = 0;  // rows that flipped (two runs) or were wrong (one run)
  int64_t gallery_shown = 0;
  int64_t thumbnails = 0;          // gallery rows with a decoded thumbnail
  std::string image_column;        // "" when none was found
  std::string question_column;     // "" when none was found
  std::vector<std::string> notes;  // what the user should know (no stats file, no timings, ...)
};

// Builds the page. Errors name the file and the option to fix (missing column, files of
// different rows, unreadable file).
Result<std::string> BuildReport(const ReportOptions& options, ReportSummary* summary);

// BuildReport, then writes the page to `path` atomically (a temporary file renamed when whole).
// Returns the page's size in bytes.
Result<int64_t> WriteReport(const ReportOptions& options, const std::string& path,
                            ReportSummary* summary);

}  // namespace structflow::report

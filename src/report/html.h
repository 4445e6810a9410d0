// The data a report page is drawn from, and the renderer that turns it into one HTML document.
// Internal to the report module (report.cpp gathers, html.cpp draws).
// Thread-safety: plain values and a pure function.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "engine/checkpoint.h"
#include "engine/eval.h"
#include "report/report.h"
#include "table/types.h"

namespace structflow::report {

// One output field (a column, a struct field `a.b`, list elements `a[]`) over the rows that
// succeeded.
struct FieldStats {
  table::TypeId type = table::TypeId::kNull;
  int64_t total = 0;                      // rows (or list elements) where the field could be
  int64_t present = 0;                    // of which not null
  std::map<std::string, int64_t> values;  // strings, enums, booleans: value -> rows
  int64_t other_values = 0;               // past the distinct-value cap
  std::vector<double> numbers;            // numbers; for lists, their lengths
};

struct RunData {
  std::string file;
  std::string label;
  std::vector<engine::RowOutcome> rows;
  engine::Score score;
  std::vector<std::pair<std::string, std::string>> stats;  // RESULT.stats.json, flattened
  std::vector<engine::RowTiming> timings;                  // from RESULT.checkpoint
  std::string command;  // the `structflow run` command that wrote it, when recorded
  std::map<std::string, FieldStats> fields;
  std::vector<std::string> field_order;
};

struct GalleryItem {
  int64_t row = 0;
  std::string question;
  std::string thumbnail;  // a data URL, or ""
  std::string thumbnail_error;
};

struct ReportData {
  ReportOptions options;
  std::vector<RunData> runs;
  std::optional<engine::Comparison> comparison;
  std::vector<GalleryItem> gallery;
  int64_t gallery_candidates = 0;
  std::string image_column;
  std::string question_column;
  std::vector<std::string> notes;
};

std::string RenderHtml(const ReportData& data);

// HTML text escaping (& < > " ').
std::string EscapeHtml(std::string_view text);

}  // namespace structflow::report

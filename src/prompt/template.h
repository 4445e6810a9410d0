// Prompt templates: text with `{column}`, `{column.field}` and `{column[0]}` placeholders, and
// `{{` / `}}` for literal braces. Parse once, Bind to the table's schema before any request (a
// missing column fails the job there, naming the columns that exist), then Render per row.
// A value renders as text: strings as they are, other values as JSON (numbers, lists, structs);
// a null value (or a list index past the end) renders as nothing.
// Thread-safety: immutable after Bind; Render may be called from many threads at once.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "table/column_path.h"
#include "table/record_batch.h"

namespace structflow::prompt {

class Template {
 public:
  // Errors name the character position and how to write a literal brace.
  static Result<Template> Parse(std::string_view text);

  // Checks every placeholder against `schema`; the error names the missing column (or field)
  // and the ones that exist.
  Status Bind(const table::Schema& schema);

  // Appends the text for row `row` of `batch` (whose schema is the one bound) to *out.
  void Render(const table::RecordBatch& batch, int64_t row, std::string* out) const;

  // Appends to *out the index (into placeholders()) of each placeholder that renders as nothing
  // in row `row`: its value is null, or a list index is past the end.
  void NullPlaceholders(const table::RecordBatch& batch, int64_t row, std::vector<int>* out) const;

  const std::string& text() const { return text_; }
  // The placeholders, in order of appearance.
  std::vector<const table::ColumnPath*> placeholders() const;
  // True when the template has no placeholders (the same text for every row).
  bool is_constant() const;

 private:
  struct Segment {
    std::string literal;                  // used when !is_path
    std::vector<table::ColumnPath> path;  // one element when is_path (ColumnPath has no default)
    bool is_path = false;
  };
  std::string text_;
  std::vector<Segment> segments_;
};

// Counts, over the rows of a job, how often each placeholder rendered as nothing, so a job can
// say once, with the count, that a column it puts in the prompt is null in some rows (the model
// then saw the prompt without it) instead of sending those prompts silently.
// Thread-safety: one thread (the reader, which sees each row once) calls Observe; not shared.
class NullTally {
 public:
  explicit NullTally(const Template& t) : template_(&t), counts_(t.placeholders().size()) {}

  void Observe(const table::RecordBatch& batch, int64_t row);
  int64_t rows() const { return rows_; }
  // Per placeholder that was ever null: "{texts.user} was null in 12 of 400 rows; those prompts
  // had nothing in its place (fill the column, or leave such rows out)". Empty when none was.
  std::vector<std::string> Warnings() const;

 private:
  const Template* template_;  // not owned; must outlive the tally
  std::vector<int64_t> counts_;
  std::vector<int> scratch_;
  int64_t rows_ = 0;
};

}  // namespace structflow::prompt

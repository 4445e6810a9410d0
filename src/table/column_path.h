// ColumnPath: a path into nested columns, as users write it on the command line:
// `question`, `texts[0].user`, `images[0].bytes`, `meta.source`. Parse once, Resolve against the
// schema before any work starts (so a typo fails the job early, naming the columns that do
// exist), then Locate per row.
// Thread-safety: immutable after Parse; Locate may be called from any thread.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "common/status.h"
#include "table/record_batch.h"

namespace structflow::table {

// One located value: row `index` of `column`.
struct CellRef {
  const Column* column;
  int64_t index;
};

class ColumnPath {
 public:
  struct Step {
    std::string field;   // a struct field (or the top-level column for the first step)
    int64_t index = -1;  // >= 0: a list element; then `field` is empty
  };

  static Result<ColumnPath> Parse(std::string_view text);

  // The type at the end of the path, or an error naming the missing part and what exists there.
  Result<TypePtr> Resolve(const Schema& schema) const;
  // The cell for `row`, or nothing when a value on the way is null or an index is out of range.
  std::optional<CellRef> Locate(const RecordBatch& batch, int64_t row) const;

  const std::string& text() const { return text_; }
  const std::vector<Step>& steps() const { return steps_; }
  // The top-level column the path starts from.
  const std::string& root() const { return steps_[0].field; }

 private:
  std::string text_;
  std::vector<Step> steps_;
};

}  // namespace structflow::table

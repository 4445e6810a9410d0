// RecordBatch: a slice of a table, a schema and one column per field, all the same length.
// Sources produce batches, the pipeline passes them along, sinks consume them. A batch is the
// unit of streaming: memory is bounded by the number of batches in flight, not the dataset.
// Thread-safety: a plain value; build on one thread, then read from many.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "common/status.h"
#include "table/column.h"
#include "table/types.h"

namespace structflow::table {

struct RecordBatch {
  Schema schema;
  std::vector<Column> columns;

  // An empty batch with one empty column per field.
  static RecordBatch Empty(const Schema& schema);

  int64_t num_rows() const { return columns.empty() ? 0 : columns[0].length(); }
  int num_columns() const { return static_cast<int>(columns.size()); }
  // The column named `name`, or nullptr.
  const Column* ColumnByName(std::string_view name) const;
  // Checks that every column matches its field's type and all have the same length.
  Status Validate() const;
  size_t ByteSize() const;
};

// Appends row `row` of `column` as JSON. Binary values become base64 strings; dates
// "YYYY-MM-DD"; timestamps ISO 8601; decimals exact decimal strings; maps JSON objects when
// their keys are strings, else arrays of {key, value}.
void AppendCellJson(const Column& column, int64_t row, std::string* out);
// Appends row `row` of the batch as one JSON object.
void AppendRowJson(const RecordBatch& batch, int64_t row, std::string* out);
// Appends a cell as display text: strings as they are (no quotes), other values as JSON.
void AppendCellText(const Column& column, int64_t row, std::string* out);

}  // namespace structflow::table

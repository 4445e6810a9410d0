// OutputAssembler: turns walked rows and their stored records into output batches: the input's
// columns (binary ones only with keep_binary) or, results-only, the row id; then the result
// column (the answer parsed again into its type), optionally the raw answer, with --confidence
// the confidence columns, and the error struct (kind, message, http_status, attempts).
//
// Thread-safety: one thread (the output pass).
#pragma once

#include <cstdint>
#include <string>

#include "engine/confidence.h"
#include "schema/constraint.h"
#include "structflow/data.h"
#include "table/record_batch.h"

namespace structflow::engine {

struct OutputLayout {
  table::Schema input;  // after the transforms
  const schema::Constraint* constraint = nullptr;
  std::string output_column = "output";
  bool keep_raw = false;
  bool keep_binary = false;
  bool results_only = false;
  // Non-empty: a first column of this name holding each row's id (the number errors cite).
  std::string row_id_column;
  // Non-null (--confidence): after the result (and raw) columns, `confidence` and, in full mode,
  // `confidence_distribution` (see engine/confidence.h).
  const Confidence* confidence = nullptr;
};

class OutputAssembler {
 public:
  explicit OutputAssembler(OutputLayout layout);
  const table::Schema& schema() const { return schema_; }
  // Appends one row; returns true when the row carries an error.
  bool Add(const table::RecordBatch& batch, int64_t row, int64_t row_id, const RowRecord& record);
  int64_t rows() const { return out_.num_rows(); }
  // The rows added since the last Take.
  table::RecordBatch Take();

 private:
  OutputLayout layout_;
  table::Schema schema_;
  std::vector<int> kept_;  // input columns copied
  // Per kept column: for a struct with binary fields (an image's {bytes, path}) dropped without
  // keep_binary, the indices of the fields kept (its path); empty: copied whole.
  std::vector<std::vector<int>> kept_fields_;
  table::RecordBatch out_;
};

bool TypeHasBinary(const table::DataType& type);

}  // namespace structflow::engine

#include "engine/output_assembler.h"

namespace structflow::engine {

using table::Column;
using table::DataType;
using table::TypeId;

bool TypeHasBinary(const DataType& t) {
  if (t.id() == TypeId::kBinary) return true;
  for (const auto& f : t.fields()) {
    if (TypeHasBinary(*f.type)) return true;
  }
  return false;
}

OutputAssembler::OutputAssembler(OutputLayout layout) : layout_(std::move(layout)) {
  if (layout_.results_only) {
    schema_.fields.push_back({"row_id", DataType::Int64(), false});
  } else {
    if (!layout_.row_id_column.empty())
      schema_.fields.push_back({layout_.row_id_column, DataType::Int64(), false});
    for (int c = 0; c < static_cast<int>(layout_.input.fields.size()); ++c) {
      const auto& f = layout_.input.fields[c];
      if (layout_.keep_binary || !TypeHasBinary(*f.type)) {
        schema_.fields.push_back(f);
        kept_.push_back(c);
      }
    }
  }
  schema_.fields.push_back(
      {layout_.output_column,
       layout_.constraint ? layout_.constraint->OutputType() : DataType::String(), true});
  if (layout_.keep_raw)
    schema_.fields.push_back({layout_.output_column + "_raw", DataType::String(), true});
  schema_.fields.push_back({"error",
                            DataType::Struct({{"kind", DataType::String(), false},
                                              {"message", DataType::String(), false},
                                              {"http_status", DataType::Int32(), true},
                                              {"attempts", DataType::Int32(), false}}),
                            true});
  out_ = table::RecordBatch::Empty(schema_);
}

bool OutputAssembler::Add(const table::RecordBatch& b, int64_t r, int64_t row_id,
                          const RowRecord& rec) {
  int col = 0;
  if (layout_.results_only) {
    out_.columns[col++].AppendInt(row_id);
  } else {
    if (!layout_.row_id_column.empty()) out_.columns[col++].AppendInt(row_id);
    for (int c : kept_) out_.columns[col++].AppendFrom(b.columns[c], r);
  }
  Column& result = out_.columns[col++];
  RowError err = rec.error;
  if (err.ok()) {
    if (layout_.constraint) {
      auto d = schema::ParseDialect(rec.dialect);
      auto pr =
          layout_.constraint->ParseInto(rec.raw, d.ok() ? *d : schema::Dialect::kVllm, &result);
      if (!pr.error.ok()) {
        err = pr.error;
        result.AppendNull();
      }
    } else {
      result.AppendBytes(rec.raw);
    }
  } else {
    result.AppendNull();
  }
  if (layout_.keep_raw) {
    Column& raw = out_.columns[col++];
    if (rec.raw.empty() && !rec.error.ok())
      raw.AppendNull();
    else
      raw.AppendBytes(rec.raw);
  }
  Column& e = out_.columns[col++];
  if (err.ok()) {
    e.AppendNull();
    return false;
  }
  e.child(0).AppendBytes(ErrorKindName(err.kind));
  e.child(1).AppendBytes(err.message);
  if (err.http_status)
    e.child(2).AppendInt(err.http_status);
  else
    e.child(2).AppendNull();
  e.child(3).AppendInt(err.attempts);
  e.CloseStruct();
  return true;
}

table::RecordBatch OutputAssembler::Take() {
  table::RecordBatch b = std::move(out_);
  out_ = table::RecordBatch::Empty(schema_);
  return b;
}

}  // namespace structflow::engine

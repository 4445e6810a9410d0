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

namespace {

// The struct fields (of a struct, or of a list's struct element) that hold no binary data;
// empty when the type is neither or keeps nothing.
std::vector<int> KeptFields(const DataType& t) {
  const DataType* st = &t;
  if (t.id() == TypeId::kList) st = t.element().get();
  if (st->id() != TypeId::kStruct) return {};
  std::vector<int> kept;
  for (int k = 0; k < static_cast<int>(st->fields().size()); ++k) {
    if (!TypeHasBinary(*st->fields()[k].type)) kept.push_back(k);
  }
  return kept;
}

table::TypePtr Project(const DataType& t, const std::vector<int>& kept) {
  const DataType& st = t.id() == TypeId::kList ? *t.element() : t;
  std::vector<table::Field> fields;
  for (int k : kept) fields.push_back(st.fields()[k]);
  auto projected = DataType::Struct(std::move(fields));
  return t.id() == TypeId::kList ? DataType::List(projected, t.fields()[0].nullable) : projected;
}

void AppendStructFields(const Column& src, int64_t i, const std::vector<int>& kept, Column* dst) {
  if (src.IsNull(i)) {
    dst->AppendNull();
    return;
  }
  for (size_t j = 0; j < kept.size(); ++j) {
    dst->child(static_cast<int>(j)).AppendFrom(src.child(kept[j]), i);
  }
  dst->CloseStruct();
}

void AppendProjected(const Column& src, int64_t r, const std::vector<int>& kept, Column* dst) {
  if (src.type()->id() != TypeId::kList) {
    AppendStructFields(src, r, kept, dst);
    return;
  }
  if (src.IsNull(r)) {
    dst->AppendNull();
    return;
  }
  auto [first, last] = src.ListRange(r);
  for (int64_t e = first; e < last; ++e) AppendStructFields(src.child(0), e, kept, &dst->child(0));
  dst->CloseList();
}

}  // namespace

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
        kept_fields_.emplace_back();
      } else if (auto kept = KeptFields(*f.type); !kept.empty()) {
        // An image struct (or a list of them) keeps what traces the row back to its input: its
        // path and the like; the bytes are dropped.
        schema_.fields.push_back({f.name, Project(*f.type, kept), f.nullable});
        kept_.push_back(c);
        kept_fields_.push_back(std::move(kept));
      }
    }
  }
  schema_.fields.push_back(
      {layout_.output_column,
       layout_.constraint ? layout_.constraint->OutputType() : DataType::String(), true});
  if (layout_.keep_raw)
    schema_.fields.push_back({layout_.output_column + "_raw", DataType::String(), true});
  if (layout_.confidence) {
    schema_.fields.push_back({"confidence", layout_.confidence->AnswerType(), true});
    if (layout_.confidence->mode() == ConfidenceMode::kFull) {
      schema_.fields.push_back(
          {"confidence_distribution", layout_.confidence->DistributionType(), true});
    }
  }
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
    for (size_t i = 0; i < kept_.size(); ++i) {
      const Column& src = b.columns[kept_[i]];
      Column& dst = out_.columns[col++];
      const std::vector<int>& fields = kept_fields_[i];
      if (fields.empty()) {
        dst.AppendFrom(src, r);
      } else {
        AppendProjected(src, r, fields, &dst);
      }
    }
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
  if (layout_.confidence) {
    Column& answer = out_.columns[col++];
    Column* dist =
        layout_.confidence->mode() == ConfidenceMode::kFull ? &out_.columns[col++] : nullptr;
    layout_.confidence->AppendColumns(err.ok() ? std::string_view(rec.confidence) : "", &answer,
                                      dist);
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

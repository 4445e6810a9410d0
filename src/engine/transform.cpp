#include "engine/transform.h"

#include <fmt/format.h>
#include <re2/re2.h>

namespace structflow::engine {

using table::Column;
using table::DataType;
using table::RecordBatch;
using table::TypeId;

Result<ExtractSpec> ExtractSpec::Parse(const std::string& text) {
  size_t eq = text.find('=');
  size_t colon = eq == std::string::npos ? std::string::npos : text.find(':', eq + 1);
  if (eq == 0 || eq == std::string::npos || colon == std::string::npos || colon == eq + 1) {
    return Status::InvalidArgument(
        fmt::format("--extract '{}': expected NAME=COLUMN_PATH:REGEX, e.g. "
                    "answer=texts.assistant:Answer: ([A-D])",
                    text));
  }
  ExtractSpec s{text.substr(0, eq), text.substr(eq + 1, colon - eq - 1), text.substr(colon + 1)};
  return s;
}

Result<Transformer> Transformer::Make(const table::Schema& input,
                                      const std::vector<std::string>& explode,
                                      const std::vector<ExtractSpec>& extracts) {
  Transformer t;
  t.output_ = input;
  for (const auto& name : explode) {
    SF_ASSIGN_OR_RAISE(auto path, table::ColumnPath::Parse(name));
    if (path.steps().size() != 1) {
      return Status::InvalidArgument(fmt::format(
          "--explode {}: only top-level list columns can be exploded; explode '{}' first", name,
          path.root()));
    }
    SF_ASSIGN_OR_RAISE(auto type, path.Resolve(t.output_));
    if (type->id() != TypeId::kList) {
      return Status::InvalidArgument(fmt::format(
          "--explode {}: the column is {}, not a list; drop the flag or name a list column", name,
          type->ToString()));
    }
    int i = t.output_.FieldIndex(name);
    t.output_.fields[i].type = type->element();
    t.explode_.push_back(name);
  }
  for (const auto& spec : extracts) {
    SF_ASSIGN_OR_RAISE(auto path, table::ColumnPath::Parse(spec.source));
    SF_RETURN_NOT_OK(path.Resolve(t.output_).status().WithContext("--extract " + spec.name));
    auto re = std::make_shared<re2::RE2>(spec.regex, re2::RE2::Quiet);
    if (!re->ok()) {
      return Status::InvalidArgument(
          fmt::format("--extract {}: bad regex '{}': {}", spec.name, spec.regex, re->error()));
    }
    if (t.output_.FieldIndex(spec.name) >= 0) {
      return Status::InvalidArgument(fmt::format(
          "--extract {}: a column of that name exists already; pick another name", spec.name));
    }
    t.output_.fields.push_back(table::Field{spec.name, DataType::String(), true});
    t.extracts_.push_back(Extract{std::move(path), std::move(re)});
    t.extract_names_.push_back(spec.name);
  }
  return t;
}

namespace {

// One output row per list element; a null or empty list keeps one row with a null.
RecordBatch ExplodeOne(const RecordBatch& in, int col) {
  RecordBatch out;
  out.schema = in.schema;
  out.schema.fields[col].type = in.columns[col].type()->element();
  for (const auto& f : out.schema.fields) out.columns.emplace_back(f.type);
  const Column& list = in.columns[col];
  for (int64_t r = 0; r < in.num_rows(); ++r) {
    auto [b, e] = list.IsNull(r) ? std::pair<int64_t, int64_t>{0, 0} : list.ListRange(r);
    int64_t n = e > b ? e - b : 1;
    for (int64_t k = 0; k < n; ++k) {
      for (int c = 0; c < in.num_columns(); ++c) {
        if (c == col) {
          if (e > b)
            out.columns[c].AppendFrom(list.child(0), b + k);
          else
            out.columns[c].AppendNull();
        } else {
          out.columns[c].AppendFrom(in.columns[c], r);
        }
      }
    }
  }
  return out;
}

}  // namespace

RecordBatch Transformer::Apply(RecordBatch batch) const {
  for (const auto& name : explode_) batch = ExplodeOne(batch, batch.schema.FieldIndex(name));
  for (size_t k = 0; k < extracts_.size(); ++k) {
    const Extract& ex = extracts_[k];
    Column out(DataType::String());
    std::string text;
    for (int64_t r = 0; r < batch.num_rows(); ++r) {
      auto cell = ex.path.Locate(batch, r);
      if (!cell) {
        out.AppendNull();
        continue;
      }
      text.clear();
      table::AppendCellText(*cell->column, cell->index, &text);
      re2::StringPiece match[2];
      int groups = std::min(ex.re->NumberOfCapturingGroups(), 1);
      if (ex.re->Match(text, 0, text.size(), re2::RE2::UNANCHORED, match, groups + 1) &&
          match[groups].data()) {
        out.AppendBytes(std::string_view(match[groups].data(), match[groups].size()));
      } else {
        out.AppendNull();
      }
    }
    batch.schema.fields.push_back(table::Field{extract_names_[k], DataType::String(), true});
    batch.columns.push_back(std::move(out));
  }
  return batch;
}

}  // namespace structflow::engine

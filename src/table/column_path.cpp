#include "table/column_path.h"

#include <fmt/format.h>

#include <cctype>

namespace structflow::table {
namespace {

std::string FieldNames(const std::vector<Field>& fields) {
  std::string out;
  for (const auto& f : fields) {
    if (!out.empty()) out += ", ";
    out += f.name;
  }
  return out.empty() ? "(none)" : out;
}

}  // namespace

Result<ColumnPath> ColumnPath::Parse(std::string_view text) {
  ColumnPath path;
  path.text_ = std::string(text);
  size_t i = 0;
  auto bad = [&](std::string_view why) {
    return Status::InvalidArgument(fmt::format(
        "column path '{}': {} at character {}; write paths like texts[0].user", text, why, i + 1));
  };
  bool expect_field = true;
  while (i < text.size()) {
    if (expect_field) {
      size_t start = i;
      while (i < text.size() && text[i] != '.' && text[i] != '[') ++i;
      if (i == start) return bad("expected a column or field name");
      path.steps_.push_back(Step{std::string(text.substr(start, i - start)), -1});
      expect_field = false;
    } else if (text[i] == '.') {
      ++i;
      expect_field = true;
    } else if (text[i] == '[') {
      ++i;
      size_t start = i;
      while (i < text.size() && std::isdigit(static_cast<unsigned char>(text[i]))) ++i;
      if (i == start || i >= text.size() || text[i] != ']')
        return bad("expected a list index like [0]");
      path.steps_.push_back(Step{"", std::stoll(std::string(text.substr(start, i - start)))});
      ++i;
    } else {
      return bad("unexpected character");
    }
  }
  if (path.steps_.empty() || expect_field) return bad("the path ends where a name was expected");
  return path;
}

Result<TypePtr> ColumnPath::Resolve(const Schema& schema) const {
  int top = schema.FieldIndex(steps_[0].field);
  if (top < 0) {
    return Status::NotFound(fmt::format("column '{}' does not exist; the columns are: {}",
                                        steps_[0].field, FieldNames(schema.fields)));
  }
  TypePtr t = schema.fields[top].type;
  std::string so_far = steps_[0].field;
  for (size_t s = 1; s < steps_.size(); ++s) {
    const Step& step = steps_[s];
    if (step.index >= 0) {
      if (t->id() != TypeId::kList) {
        return Status::InvalidArgument(
            fmt::format("column path '{}': '{}' is {}, not a list, so it has no [{}]", text_,
                        so_far, t->ToString(), step.index));
      }
      t = t->element();
      so_far += fmt::format("[{}]", step.index);
    } else {
      if (t->id() != TypeId::kStruct) {
        return Status::InvalidArgument(
            fmt::format("column path '{}': '{}' is {}, not a struct, so it has no field '{}'",
                        text_, so_far, t->ToString(), step.field));
      }
      int k = t->FieldIndex(step.field);
      if (k < 0) {
        return Status::NotFound(
            fmt::format("column path '{}': '{}' has no field '{}'; its fields are: {}", text_,
                        so_far, step.field, FieldNames(t->fields())));
      }
      t = t->fields()[k].type;
      so_far += "." + step.field;
    }
  }
  return t;
}

std::optional<CellRef> ColumnPath::Locate(const RecordBatch& batch, int64_t row) const {
  int top = batch.schema.FieldIndex(steps_[0].field);
  if (top < 0) return std::nullopt;
  const Column* c = &batch.columns[top];
  int64_t i = row;
  for (size_t s = 1; s < steps_.size(); ++s) {
    if (c->IsNull(i)) return std::nullopt;
    const Step& step = steps_[s];
    if (step.index >= 0) {
      if (c->type_id() != TypeId::kList) return std::nullopt;
      auto [b, e] = c->ListRange(i);
      if (b + step.index >= e) return std::nullopt;
      i = b + step.index;
      c = &c->child(0);
    } else {
      if (c->type_id() != TypeId::kStruct) return std::nullopt;
      int k = c->type()->FieldIndex(step.field);
      if (k < 0) return std::nullopt;
      c = &c->child(k);
    }
  }
  if (c->IsNull(i)) return std::nullopt;
  return CellRef{c, i};
}

}  // namespace structflow::table

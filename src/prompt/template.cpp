#include "prompt/template.h"

#include <fmt/format.h>

namespace structflow::prompt {
namespace {

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

}  // namespace

Result<Template> Template::Parse(std::string_view text) {
  Template t;
  t.text_ = std::string(text);
  std::string literal;
  auto flush = [&] {
    if (literal.empty()) return;
    Segment s;
    s.literal = std::move(literal);
    t.segments_.push_back(std::move(s));
    literal.clear();
  };
  size_t i = 0;
  while (i < text.size()) {
    char c = text[i];
    if (c == '{') {
      if (i + 1 < text.size() && text[i + 1] == '{') {
        literal.push_back('{');
        i += 2;
        continue;
      }
      size_t close = text.find_first_of("{}", i + 1);
      if (close == std::string_view::npos || text[close] != '}') {
        return Status::InvalidArgument(fmt::format(
            "prompt template: '{{' at character {} has no matching '}}'; write {{{{ for a "
            "literal brace",
            i + 1));
      }
      std::string_view inner = Trim(text.substr(i + 1, close - i - 1));
      if (inner.empty()) {
        return Status::InvalidArgument(fmt::format(
            "prompt template: empty placeholder {{}} at character {}; name a column like "
            "{{question}}, or write {{{{}}}} for literal braces",
            i + 1));
      }
      auto path = table::ColumnPath::Parse(inner);
      if (!path.ok()) {
        return path.status().WithContext(
            fmt::format("prompt template, placeholder at character {}", i + 1));
      }
      flush();
      Segment s;
      s.path.push_back(std::move(path).value());
      s.is_path = true;
      t.segments_.push_back(std::move(s));
      i = close + 1;
    } else if (c == '}') {
      if (i + 1 < text.size() && text[i + 1] == '}') {
        literal.push_back('}');
        i += 2;
        continue;
      }
      return Status::InvalidArgument(fmt::format(
          "prompt template: '}}' at character {} closes nothing; write }}}} for a literal brace",
          i + 1));
    } else {
      literal.push_back(c);
      ++i;
    }
  }
  flush();
  return t;
}

Status Template::Bind(const table::Schema& schema) {
  for (const Segment& s : segments_) {
    if (!s.is_path) continue;
    auto type = s.path[0].Resolve(schema);
    if (!type.ok()) {
      Status st = type.status().WithContext(
          fmt::format("prompt template placeholder {{{}}}", s.path[0].text()));
      // JSON examples in a prompt are the usual way to hit this by accident.
      if (s.path[0].text().find_first_of("\"':,") != std::string::npos) {
        st = Status(st.code(), st.message() +
                                   "; if the braces are meant literally (say, a JSON example), "
                                   "double them: {{ and }}");
      }
      return st;
    }
  }
  return Status::OK();
}

void Template::Render(const table::RecordBatch& batch, int64_t row, std::string* out) const {
  for (const Segment& s : segments_) {
    if (!s.is_path) {
      out->append(s.literal);
      continue;
    }
    auto cell = s.path[0].Locate(batch, row);
    if (cell) table::AppendCellText(*cell->column, cell->index, out);
  }
}

void Template::NullPlaceholders(const table::RecordBatch& batch, int64_t row,
                                std::vector<int>* out) const {
  int index = 0;
  for (const Segment& s : segments_) {
    if (!s.is_path) continue;
    if (!s.path[0].Locate(batch, row)) out->push_back(index);
    ++index;
  }
}

void NullTally::Observe(const table::RecordBatch& batch, int64_t row) {
  ++rows_;
  scratch_.clear();
  template_->NullPlaceholders(batch, row, &scratch_);
  for (int i : scratch_) ++counts_[static_cast<size_t>(i)];
}

std::vector<std::string> NullTally::Warnings() const {
  std::vector<std::string> out;
  auto placeholders = template_->placeholders();
  for (size_t i = 0; i < counts_.size(); ++i) {
    if (counts_[i] == 0) continue;
    out.push_back(fmt::format(
        "prompt placeholder {{{}}} was null in {} of {} rows; those prompts had nothing in its "
        "place (fill the column, or leave such rows out)",
        placeholders[i]->text(), counts_[i], rows_));
  }
  return out;
}

std::vector<const table::ColumnPath*> Template::placeholders() const {
  std::vector<const table::ColumnPath*> out;
  for (const Segment& s : segments_) {
    if (s.is_path) out.push_back(&s.path[0]);
  }
  return out;
}

bool Template::is_constant() const {
  for (const Segment& s : segments_) {
    if (s.is_path) return false;
  }
  return true;
}

}  // namespace structflow::prompt

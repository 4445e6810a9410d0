#include "schema/pattern_anchor.h"

namespace structflow::schema {
namespace {

// \d \w \s as classes (inside a class: as ranges), other escapes kept.
std::string SpellShorthands(std::string_view r) {
  std::string out;
  bool in_class = false;
  for (size_t i = 0; i < r.size(); ++i) {
    char c = r[i];
    if (c == '\\' && i + 1 < r.size()) {
      char e = r[++i];
      const char* range = e == 'd' ? "0-9" : e == 'w' ? "0-9A-Za-z_" : e == 's' ? " \\t\\n\\r" : "";
      if (*range) {
        out += in_class ? std::string(range) : "[" + std::string(range) + "]";
      } else {
        out.push_back('\\');
        out.push_back(e);
      }
      continue;
    }
    if (c == '[' && !in_class)
      in_class = true;
    else if (c == ']' && in_class)
      in_class = false;
    out.push_back(c);
  }
  return out;
}

// Whether `r` ends with a '$' that is not escaped.
bool EndsWithAnchor(std::string_view r) {
  if (r.empty() || r.back() != '$') return false;
  size_t backslashes = 0;
  for (size_t i = r.size() - 1; i > 0 && r[i - 1] == '\\'; --i) ++backslashes;
  return backslashes % 2 == 0;
}

}  // namespace

std::string AnchoredFullMatch(std::string_view r) {
  if (!r.empty() && r.front() == '^') r.remove_prefix(1);
  if (EndsWithAnchor(r)) r.remove_suffix(1);
  return "^(?:" + SpellShorthands(r) + ")$";
}

std::string AnchoredSearch(std::string_view p) {
  bool left = !p.empty() && p.front() == '^';
  if (left) p.remove_prefix(1);
  bool right = EndsWithAnchor(p);
  if (right) p.remove_suffix(1);
  return std::string("^") + (left ? "" : ".*") + "(?:" + SpellShorthands(p) + ")" +
         (right ? "" : ".*") + "$";
}

void AnchorSchemaPatterns(nlohmann::ordered_json* schema) {
  if (schema->is_object()) {
    for (auto it = schema->begin(); it != schema->end(); ++it) {
      if (it.key() == "pattern" && it->is_string()) {
        *it = AnchoredSearch(it->get<std::string>());
      } else if (it.key() == "properties" || it.key() == "$defs" || it.key() == "definitions") {
        // Keys here are names, not keywords: a property called "pattern" is a schema.
        if (it->is_object()) {
          for (auto& sub : *it) AnchorSchemaPatterns(&sub);
        }
      } else if (it.key() == "enum" || it.key() == "const" || it.key() == "default" ||
                 it.key() == "examples") {
        continue;  // values, not schemas
      } else {
        AnchorSchemaPatterns(&*it);
      }
    }
  } else if (schema->is_array()) {
    for (auto& sub : *schema) AnchorSchemaPatterns(&sub);
  }
}

}  // namespace structflow::schema

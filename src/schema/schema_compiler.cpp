#include "schema/schema_compiler.h"

#include <re2/re2.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <regex>
#include <set>
#include <string_view>

#include "schema/validator_internal.h"

namespace structflow::schema {
namespace {

using OJson = nlohmann::ordered_json;
using Json = nlohmann::json;
using Kind = TypeNode::Kind;

bool IsInt64(const Json& v) {
  if (v.is_number_integer() && !v.is_number_unsigned()) return true;
  if (v.is_number_unsigned()) {
    return v.get<uint64_t>() <= static_cast<uint64_t>(std::numeric_limits<int64_t>::max());
  }
  if (v.is_number_float()) {
    double d = v.get<double>();
    return std::isfinite(d) && std::floor(d) == d && d >= -9.2233720368547758e18 &&
           d < 9.2233720368547758e18;
  }
  return false;
}

int64_t GetInt64(const Json& v) {
  if (v.is_number_float()) return static_cast<int64_t>(v.get<double>());
  if (v.is_number_unsigned()) return static_cast<int64_t>(v.get<uint64_t>());
  return v.get<int64_t>();
}

using table::DataType;

constexpr std::string_view kTypeNames = "string, integer, number, boolean, object, array, null";

bool IsTypeName(std::string_view t) {
  return t == "string" || t == "integer" || t == "number" || t == "boolean" || t == "object" ||
         t == "array" || t == "null";
}

// The JSON Schema spelling of type names people write from other languages.
std::string_view TypeSuggestion(std::string_view t) {
  if (t == "str" || t == "text") return "string";
  if (t == "int" || t == "long" || t == "int64") return "integer";
  if (t == "float" || t == "double" || t == "decimal") return "number";
  if (t == "bool") return "boolean";
  if (t == "dict" || t == "map" || t == "struct") return "object";
  if (t == "list" || t == "tuple") return "array";
  if (t == "none" || t == "None") return "null";
  return {};
}

std::string PointerEscape(std::string_view key) {
  std::string out;
  for (char c : key) {
    if (c == '~') {
      out += "~0";
    } else if (c == '/') {
      out += "~1";
    } else {
      out += c;
    }
  }
  return out;
}

// Decodes the %XX escapes a URI fragment may hold.
std::string PercentDecode(std::string_view s) {
  auto hex = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size()) {
      int h = hex(s[i + 1]);
      int l = hex(s[i + 2]);
      if (h >= 0 && l >= 0) {
        out += static_cast<char>(h * 16 + l);
        i += 2;
        continue;
      }
    }
    out += s[i];
  }
  return out;
}

// The keywords no server backend can enforce (see constraint.h), with the fix to suggest.
// `local` ones are left out of the schema sent to the server and checked here (valijson knows
// them in draft 7), so an answer that breaks them is re-asked like any other invalid output.
// The others (2019-09 keywords valijson 1.0 does not implement, dynamic references) could be
// checked by no one, so they are refused.
struct Unsupported {
  std::string_view keyword;
  std::string_view fix;
  bool local = false;
};
constexpr Unsupported kUnsupported[] = {
    {"not", "express the allowed values positively (enum, anyOf)", true},
    {"if", "use anyOf of the alternatives instead of if/then/else", true},
    {"then", "use anyOf of the alternatives instead of if/then/else", true},
    {"else", "use anyOf of the alternatives instead of if/then/else", true},
    {"dependentSchemas", "use anyOf of the alternatives"},
    {"dependentRequired", "use anyOf of the alternatives"},
    {"dependencies", "use anyOf of the alternatives", true},
    {"patternProperties", "list the properties under 'properties'", true},
    {"propertyNames", "list the properties under 'properties' or use an array of objects", true},
    {"unevaluatedProperties", "use additionalProperties"},
    {"unevaluatedItems", "use items"},
    {"contains", "check it after the run; servers cannot constrain it", true},
    {"minContains", "check it after the run; servers cannot constrain it"},
    {"maxContains", "check it after the run; servers cannot constrain it"},
    {"uniqueItems", "remove it and deduplicate after the run", true},
    {"minProperties", "list the required properties under 'required'", true},
    {"maxProperties", "set additionalProperties to false", true},
    {"$dynamicRef", "use $ref into $defs"},
    {"$recursiveRef", "use $ref into $defs"},
};

class Compiler {
 public:
  Compiler(const OJson& root, const std::string& origin) : root_(root), origin_(origin) {}

  Status Error(const std::string& path, const std::string& what) const {
    return Status::InvalidArgument(origin_ + ": " + path + ": " + what);
  }

  // Checks the subschema at `s` and every subschema inside it.
  Status Check(const OJson& s, const std::string& path, const std::string& pointer) {
    if (s.is_boolean()) return Status::OK();
    if (!s.is_object()) {
      return Error(path,
                   std::string("a schema must be an object or a boolean, not ") + s.type_name());
    }
    for (const auto& u : kUnsupported) {
      if (!s.contains(std::string(u.keyword))) continue;
      if (u.local) {
        local_only_.push_back({pointer, std::string(u.keyword)});
        continue;
      }
      return Error(JsonPathAppendKey(path, u.keyword),
                   "keyword '" + std::string(u.keyword) +
                       "' cannot be enforced by the servers' structured-output backends, nor "
                       "checked by structflow's validator; " +
                       std::string(u.fix));
    }
    if (auto it = s.find("type"); it != s.end()) SF_RETURN_NOT_OK(CheckType(*it, path));
    if (auto it = s.find("$ref"); it != s.end()) {
      if (!it->is_string()) return Error(JsonPathAppendKey(path, "$ref"), "must be a string");
      const OJson* target = nullptr;
      SF_RETURN_NOT_OK(Resolve(it->get<std::string>(), JsonPathAppendKey(path, "$ref"), &target));
    }
    for (const char* k : {"required"}) {
      if (auto it = s.find(k); it != s.end()) {
        if (!it->is_array()) return Error(JsonPathAppendKey(path, k), "must be an array of names");
        for (size_t i = 0; i < it->size(); ++i) {
          if (!(*it)[i].is_string()) {
            return Error(JsonPathAppendIndex(JsonPathAppendKey(path, k), i),
                         "must be a property name (string)");
          }
        }
      }
    }
    if (auto it = s.find("enum"); it != s.end()) {
      if (!it->is_array() || it->empty()) {
        return Error(JsonPathAppendKey(path, "enum"), "must be a non-empty array of values");
      }
    }
    for (const char* k : {"minLength", "maxLength", "minItems", "maxItems"}) {
      if (auto it = s.find(k); it != s.end()) {
        bool ok =
            (it->is_number_unsigned()) || (it->is_number_integer() && it->get<int64_t>() >= 0) ||
            (it->is_number_float() && it->get<double>() >= 0 &&
             it->get<double>() == static_cast<double>(static_cast<int64_t>(it->get<double>())));
        if (!ok) return Error(JsonPathAppendKey(path, k), "must be a non-negative integer");
      }
    }
    for (const char* k : {"minimum", "maximum"}) {
      if (auto it = s.find(k); it != s.end() && !it->is_number()) {
        return Error(JsonPathAppendKey(path, k), "must be a number");
      }
    }
    for (const char* k : {"exclusiveMinimum", "exclusiveMaximum"}) {
      if (auto it = s.find(k); it != s.end() && !it->is_number() && !it->is_boolean()) {
        return Error(JsonPathAppendKey(path, k), "must be a number (or a boolean in draft 4)");
      }
    }
    if (auto it = s.find("multipleOf"); it != s.end()) {
      if (!it->is_number() || it->get<double>() <= 0) {
        return Error(JsonPathAppendKey(path, "multipleOf"), "must be a number above 0");
      }
    }
    for (const char* k : {"title", "description", "format", "$comment"}) {
      if (auto it = s.find(k); it != s.end() && !it->is_string()) {
        return Error(JsonPathAppendKey(path, k), "must be a string");
      }
    }
    if (auto it = s.find("format"); it != s.end() && ParseFormat(*it) != TypeNode::Format::kNone) {
      format_pointers_.push_back(pointer);
    }
    if (auto it = s.find("pattern"); it != s.end()) {
      if (!it->is_string()) return Error(JsonPathAppendKey(path, "pattern"), "must be a string");
      try {
        std::regex re(it->get<std::string>(), std::regex::ECMAScript);
      } catch (const std::regex_error& e) {
        return Error(JsonPathAppendKey(path, "pattern"),
                     "invalid regular expression '" + it->get<std::string>() + "': " + e.what());
      }
    }
    // Subschemas.
    for (const char* k : {"properties", "$defs", "definitions"}) {
      if (auto it = s.find(k); it != s.end()) {
        if (!it->is_object()) {
          return Error(JsonPathAppendKey(path, k), "must be an object of named schemas");
        }
        for (const auto& [name, sub] : it->items()) {
          SF_RETURN_NOT_OK(Check(sub, JsonPathAppendKey(JsonPathAppendKey(path, k), name),
                                 pointer + "/" + k + "/" + PointerEscape(name)));
        }
      }
    }
    for (const char* k : {"additionalProperties", "additionalItems"}) {
      if (auto it = s.find(k); it != s.end()) {
        SF_RETURN_NOT_OK(Check(*it, JsonPathAppendKey(path, k), pointer + "/" + k));
      }
    }
    if (auto it = s.find("items"); it != s.end()) {
      if (it->is_array()) {
        for (size_t i = 0; i < it->size(); ++i) {
          SF_RETURN_NOT_OK(Check((*it)[i], JsonPathAppendIndex(JsonPathAppendKey(path, "items"), i),
                                 pointer + "/items/" + std::to_string(i)));
        }
      } else {
        SF_RETURN_NOT_OK(Check(*it, JsonPathAppendKey(path, "items"), pointer + "/items"));
      }
    }
    if (auto it = s.find("prefixItems"); it != s.end()) {
      if (!it->is_array()) {
        return Error(JsonPathAppendKey(path, "prefixItems"), "must be an array of schemas");
      }
      if (s.contains("items") && s["items"].is_array()) {
        return Error(JsonPathAppendKey(path, "items"),
                     "with prefixItems, items must be one schema (for the rest of the array)");
      }
      prefix_items_pointers_.push_back(pointer);
      for (size_t i = 0; i < it->size(); ++i) {
        SF_RETURN_NOT_OK(Check((*it)[i],
                               JsonPathAppendIndex(JsonPathAppendKey(path, "prefixItems"), i),
                               pointer + "/prefixItems/" + std::to_string(i)));
      }
    }
    for (const char* k : {"anyOf", "oneOf", "allOf"}) {
      if (auto it = s.find(k); it != s.end()) {
        if (!it->is_array() || it->empty()) {
          return Error(JsonPathAppendKey(path, k), "must be a non-empty array of schemas");
        }
        if (std::string_view(k) == "allOf" && it->size() > 1) {
          return Error(JsonPathAppendKey(path, k),
                       "allOf with more than one schema (an intersection) cannot be enforced by "
                       "vLLM's structured-output backends; merge the schemas into one");
        }
        for (size_t i = 0; i < it->size(); ++i) {
          SF_RETURN_NOT_OK(Check((*it)[i], JsonPathAppendIndex(JsonPathAppendKey(path, k), i),
                                 pointer + "/" + k + "/" + std::to_string(i)));
        }
      }
    }
    // OpenAI strict mode: every object closes its properties and requires all of them.
    if (IsObjectSchema(s)) {
      auto ap = s.find("additionalProperties");
      if (ap == s.end() || !(ap->is_boolean() && !ap->get<bool>())) openai_strict_ = false;
      if (auto props = s.find("properties"); props != s.end() && props->is_object()) {
        std::set<std::string> req;
        if (auto r = s.find("required"); r != s.end()) {
          for (const auto& n : *r) req.insert(n.get<std::string>());
        }
        for (const auto& [name, sub] : props->items()) {
          if (!req.count(name)) openai_strict_ = false;
        }
      }
    }
    return Status::OK();
  }

  static bool IsObjectSchema(const OJson& s) {
    auto t = s.find("type");
    if (t != s.end()) return t->is_string() && t->get<std::string>() == "object";
    return s.contains("properties");
  }

  Status CheckType(const OJson& t, const std::string& path) const {
    std::string tpath = JsonPathAppendKey(path, "type");
    auto check_one = [&](const OJson& v, const std::string& p) -> Status {
      if (!v.is_string()) return Error(p, "a type name must be a string");
      std::string name = v.get<std::string>();
      if (IsTypeName(name)) return Status::OK();
      std::string fix = "use one of " + std::string(kTypeNames);
      if (auto s = TypeSuggestion(name); !s.empty()) fix = "use '" + std::string(s) + "'";
      return Error(p, "unknown type '" + name + "'; " + fix);
    };
    if (t.is_array()) {
      if (t.empty()) return Error(tpath, "must name at least one type");
      for (size_t i = 0; i < t.size(); ++i) {
        SF_RETURN_NOT_OK(check_one(t[i], JsonPathAppendIndex(tpath, i)));
      }
      return Status::OK();
    }
    return check_one(t, tpath);
  }

  // Resolves a local reference "#", "#/$defs/Name", "#/definitions/Name", "#/properties/x".
  Status Resolve(const std::string& ref, const std::string& path, const OJson** out) const {
    if (ref.empty() || ref[0] != '#') {
      return Error(path, "remote $ref '" + ref +
                             "' is not supported (servers resolve only references inside the "
                             "schema); copy the definition into $defs and use '#/$defs/NAME'");
    }
    std::string fragment = PercentDecode(std::string_view(ref).substr(1));
    if (!fragment.empty() && fragment[0] != '/') {
      return Error(path, "$ref '" + ref +
                             "' uses an anchor name; use a JSON pointer such as '#/$defs/NAME'");
    }
    try {
      *out = &root_.at(nlohmann::ordered_json::json_pointer(fragment));
    } catch (const std::exception&) {
      return Error(path,
                   "$ref '" + ref + "' points to nothing in the schema; define it under $defs");
    }
    return Status::OK();
  }

  static TypeNode::Format ParseFormat(const OJson& f) {
    if (!f.is_string()) return TypeNode::Format::kNone;
    const auto& name = f.get_ref<const std::string&>();
    if (name == "date") return TypeNode::Format::kDate;
    if (name == "time") return TypeNode::Format::kTime;
    if (name == "date-time") return TypeNode::Format::kDateTime;
    return TypeNode::Format::kNone;
  }

  static TypeNode Leaf(TypeNode::Kind kind, bool nullable) {
    TypeNode n;
    n.kind = kind;
    n.nullable = nullable;
    switch (kind) {
      case TypeNode::Kind::kBool:
        n.type = DataType::Bool();
        break;
      case TypeNode::Kind::kInt:
        n.type = DataType::Int64();
        break;
      case TypeNode::Kind::kDouble:
        n.type = DataType::Double();
        break;
      default:  // null-only, string and JSON text are string columns
        n.type = DataType::String();
        break;
    }
    return n;
  }

  static TypeNode::Kind KindOfValue(const OJson& v) {
    if (v.is_null()) return TypeNode::Kind::kNull;
    if (v.is_boolean()) return TypeNode::Kind::kBool;
    if (v.is_number_integer()) return TypeNode::Kind::kInt;
    if (v.is_number()) return TypeNode::Kind::kDouble;
    if (v.is_string()) return TypeNode::Kind::kString;
    return TypeNode::Kind::kJsonText;
  }

  // One column type for values of several kinds; kNull entries only add nullability.
  static TypeNode MergeKinds(const std::vector<TypeNode::Kind>& kinds) {
    bool nullable = false;
    std::vector<TypeNode::Kind> rest;
    for (auto k : kinds) {
      if (k == TypeNode::Kind::kNull) {
        nullable = true;
      } else if (std::find(rest.begin(), rest.end(), k) == rest.end()) {
        rest.push_back(k);
      }
    }
    if (rest.empty()) return Leaf(TypeNode::Kind::kNull, true);
    if (rest.size() == 1) return Leaf(rest[0], nullable);
    bool numeric = std::all_of(rest.begin(), rest.end(), [](TypeNode::Kind k) {
      return k == TypeNode::Kind::kInt || k == TypeNode::Kind::kDouble;
    });
    return Leaf(numeric ? TypeNode::Kind::kDouble : TypeNode::Kind::kJsonText, nullable);
  }

  Result<TypeNode> Build(const OJson& s, const std::string& path) {
    if (s.is_boolean()) {
      if (!s.get<bool>() && path == "$") {
        return Error(path, "the schema 'false' admits no answer at all");
      }
      // true: any value. false below the root: no value may be there (validation refuses any),
      // so the column is never filled; JSON text is as good as any type.
      return Leaf(TypeNode::Kind::kJsonText, true);
    }
    if (auto it = s.find("$ref"); it != s.end()) {
      const std::string ref = it->get<std::string>();
      if (std::find(ref_stack_.begin(), ref_stack_.end(), ref) != ref_stack_.end()) {
        return Error(JsonPathAppendKey(path, "$ref"),
                     "recursive $ref '" + ref +
                         "' cannot become a column (columns have a fixed depth); limit the "
                         "nesting to a fixed number of levels, or make the recursive field "
                         "{} to keep it as JSON text");
      }
      const OJson* target = nullptr;
      SF_RETURN_NOT_OK(Resolve(ref, JsonPathAppendKey(path, "$ref"), &target));
      ref_stack_.push_back(ref);
      auto r = Build(*target, JsonPathAppendKey(path, "$ref"));
      ref_stack_.pop_back();
      return r;
    }
    if (auto it = s.find("allOf"); it != s.end()) {
      return Build((*it)[0], JsonPathAppendIndex(JsonPathAppendKey(path, "allOf"), 0));
    }
    if (auto it = s.find("const"); it != s.end()) return MergeKinds({KindOfValue(*it)});
    if (auto it = s.find("enum"); it != s.end()) {
      std::vector<TypeNode::Kind> kinds;
      for (const auto& v : *it) kinds.push_back(KindOfValue(v));
      return MergeKinds(kinds);
    }
    for (const char* k : {"anyOf", "oneOf"}) {
      auto it = s.find(k);
      if (it == s.end()) continue;
      std::vector<TypeNode> branches;
      bool nullable = false;
      for (size_t i = 0; i < it->size(); ++i) {
        if ((*it)[i].is_boolean() && !(*it)[i].get<bool>()) continue;  // admits nothing
        SF_ASSIGN_OR_RAISE(TypeNode b,
                           Build((*it)[i], JsonPathAppendIndex(JsonPathAppendKey(path, k), i)));
        nullable = nullable || b.nullable;
        if (b.kind != TypeNode::Kind::kNull) branches.push_back(std::move(b));
      }
      if (branches.empty()) return Leaf(TypeNode::Kind::kNull, true);
      bool same = std::all_of(branches.begin(), branches.end(), [&](const TypeNode& b) {
        return b.kind == branches[0].kind && b.type->Equals(*branches[0].type);
      });
      if (same) {
        TypeNode n = std::move(branches[0]);
        n.nullable = nullable;
        for (const auto& b : branches) {
          // Branches with different formats: the column keeps any string (see constraint.h).
          if (b.format != n.format) n.format = TypeNode::Format::kNone;
        }
        return n;
      }
      std::vector<TypeNode::Kind> kinds;
      for (const auto& b : branches) {
        bool scalar = b.kind == TypeNode::Kind::kInt || b.kind == TypeNode::Kind::kDouble;
        kinds.push_back(scalar ? b.kind : TypeNode::Kind::kJsonText);
      }
      TypeNode n = MergeKinds(kinds);
      n.nullable = nullable;
      return n;
    }
    std::vector<std::string> types;
    if (auto it = s.find("type"); it != s.end()) {
      if (it->is_string()) {
        types.push_back(it->get<std::string>());
      } else {
        for (const auto& t : *it) types.push_back(t.get<std::string>());
      }
    } else if (s.contains("properties")) {
      types.push_back("object");
    } else if (s.contains("items") || s.contains("prefixItems")) {
      types.push_back("array");
    } else {
      return Leaf(TypeNode::Kind::kJsonText, true);  // no type: any JSON value
    }
    bool nullable = std::find(types.begin(), types.end(), "null") != types.end();
    types.erase(std::remove(types.begin(), types.end(), "null"), types.end());
    if (types.empty()) return Leaf(TypeNode::Kind::kNull, true);
    if (types.size() > 1) {
      std::vector<TypeNode::Kind> kinds;
      for (const auto& t : types) {
        kinds.push_back(t == "integer"  ? TypeNode::Kind::kInt
                        : t == "number" ? TypeNode::Kind::kDouble
                                        : TypeNode::Kind::kJsonText);
      }
      TypeNode n = MergeKinds(kinds);
      n.nullable = nullable;
      return n;
    }
    const std::string& t = types[0];
    if (t == "string") {
      TypeNode n = Leaf(TypeNode::Kind::kString, nullable);
      if (auto f = s.find("format"); f != s.end()) n.format = ParseFormat(*f);
      return n;
    }
    if (t == "integer") return Leaf(TypeNode::Kind::kInt, nullable);
    if (t == "number") return Leaf(TypeNode::Kind::kDouble, nullable);
    if (t == "boolean") return Leaf(TypeNode::Kind::kBool, nullable);
    if (t == "array") {
      auto items = s.find("items");
      if (s.contains("prefixItems") || (items != s.end() && items->is_array())) {
        return Leaf(TypeNode::Kind::kJsonText, nullable);  // a tuple: no single element type
      }
      TypeNode element = Leaf(TypeNode::Kind::kJsonText, true);
      if (items != s.end()) {
        SF_ASSIGN_OR_RAISE(element, Build(*items, JsonPathAppendKey(path, "items")));
      }
      TypeNode n;
      n.kind = TypeNode::Kind::kList;
      n.nullable = nullable;
      n.type = DataType::List(element.type, element.nullable);
      n.children.push_back(std::move(element));
      return n;
    }
    // object
    auto props = s.find("properties");
    if (props == s.end() || props->empty()) {
      return Leaf(TypeNode::Kind::kJsonText, nullable);  // a free-form map
    }
    std::set<std::string> req;
    if (auto r = s.find("required"); r != s.end()) {
      for (const auto& n : *r) req.insert(n.get<std::string>());
    }
    TypeNode n;
    n.kind = TypeNode::Kind::kStruct;
    n.nullable = nullable;
    std::vector<table::Field> fields;
    for (const auto& [name, sub] : props->items()) {
      SF_ASSIGN_OR_RAISE(
          TypeNode child,
          Build(sub, JsonPathAppendKey(JsonPathAppendKey(path, "properties"), name)));
      bool required = req.count(name) > 0;
      fields.push_back(table::Field{name, child.type, !required || child.nullable});
      n.names.push_back(name);
      n.required.push_back(required);
      // An absent property takes its default, as Pydantic would fill it in.
      std::shared_ptr<const Json> default_value;
      if (auto d = sub.is_object() ? sub.find("default") : sub.end();
          sub.is_object() && d != sub.end() && !d->is_null()) {
        auto value = std::make_shared<Json>(Json::parse(d->dump()));
        std::string why;
        if (FitsNode(child, *value, "", &why)) default_value = std::move(value);
      }
      n.defaults.push_back(std::move(default_value));
      n.children.push_back(std::move(child));
    }
    n.type = DataType::Struct(std::move(fields));
    return n;
  }

  const std::vector<std::string>& prefix_items_pointers() const { return prefix_items_pointers_; }
  const std::vector<std::string>& format_pointers() const { return format_pointers_; }
  bool openai_strict() const { return openai_strict_; }
  // (JSON pointer of a subschema, keyword) for each keyword checked only here.
  const std::vector<std::pair<std::string, std::string>>& local_only() const { return local_only_; }

 private:
  const OJson& root_;
  const std::string& origin_;
  std::vector<std::string> ref_stack_;
  std::vector<std::string> prefix_items_pointers_;
  std::vector<std::string> format_pointers_;
  std::vector<std::pair<std::string, std::string>> local_only_;
  bool openai_strict_ = true;
};

}  // namespace

// First pass: can `v` be stored in the column of `node` without loss? Appending happens only
// after the whole value passed, so a failure appends nothing.
bool FitsNode(const TypeNode& node, const Json& v, const std::string& path, std::string* why) {
  if (v.is_null()) {
    if (node.nullable) return true;
    *why = path + ": null where a value is required";
    return false;
  }
  auto fail = [&](std::string_view expected) {
    *why = path + ": expected " + std::string(expected) + ", got " + v.type_name();
    return false;
  };
  switch (node.kind) {
    case Kind::kNull:
      return fail("null");
    case Kind::kBool:
      return v.is_boolean() ? true : fail("a boolean");
    case Kind::kInt:
      if (IsInt64(v)) return true;
      if (v.is_number()) {
        *why = path + ": " + v.dump() + " is not an integer in the int64 range";
        return false;
      }
      return fail("an integer");
    case Kind::kDouble:
      return v.is_number() ? true : fail("a number");
    case Kind::kString:
      if (!v.is_string()) return fail("a string");
      if (node.format != TypeNode::Format::kNone &&
          !MatchesFormat(node.format, v.get_ref<const std::string&>())) {
        *why = path + ": String should be a valid " + std::string(FormatName(node.format)) +
               " (got " + v.dump(-1, ' ', false, Json::error_handler_t::replace).substr(0, 60) +
               ")";
        return false;
      }
      return true;
    case Kind::kJsonText:
      return true;
    case Kind::kList:
      if (!v.is_array()) return fail("an array");
      for (size_t i = 0; i < v.size(); ++i) {
        if (!FitsNode(node.children[0], v[i], JsonPathAppendIndex(path, i), why)) return false;
      }
      return true;
    case Kind::kStruct:
      if (!v.is_object()) return fail("an object");
      for (size_t i = 0; i < node.names.size(); ++i) {
        auto it = v.find(node.names[i]);
        if (it == v.end()) {
          if (node.required[i]) {
            *why = path + ": missing required property '" + node.names[i] + "'";
            return false;
          }
          continue;
        }
        if (!FitsNode(node.children[i], *it, JsonPathAppendKey(path, node.names[i]), why)) {
          return false;
        }
      }
      return true;
  }
  return false;
}

// Second pass: appends `v` (already checked by Fits) following the column layout.
void AppendNode(const TypeNode& node, const Json& v, table::Column* out) {
  if (v.is_null()) {
    out->AppendNull();
    return;
  }
  switch (node.kind) {
    case Kind::kNull:
      out->AppendNull();
      break;
    case Kind::kBool:
      out->AppendBool(v.get<bool>());
      break;
    case Kind::kInt:
      out->AppendInt(GetInt64(v));
      break;
    case Kind::kDouble:
      out->AppendDouble(v.get<double>());
      break;
    case Kind::kString:
      out->AppendBytes(v.get_ref<const std::string&>());
      break;
    case Kind::kJsonText:
      out->AppendBytes(v.dump(-1, ' ', false, Json::error_handler_t::replace));
      break;
    case Kind::kList:
      for (const auto& e : v) AppendNode(node.children[0], e, &out->child(0));
      out->CloseList();
      break;
    case Kind::kStruct:
      for (size_t i = 0; i < node.names.size(); ++i) {
        auto it = v.find(node.names[i]);
        if (it == v.end()) {
          if (node.defaults[i]) {
            AppendNode(node.children[i], *node.defaults[i], &out->child(static_cast<int>(i)));
          } else {
            out->child(static_cast<int>(i)).AppendNull();
          }
        } else {
          AppendNode(node.children[i], *it, &out->child(static_cast<int>(i)));
        }
      }
      out->CloseStruct();
      break;
  }
}

std::string_view FormatName(TypeNode::Format format) {
  switch (format) {
    case TypeNode::Format::kDate:
      return "date";
    case TypeNode::Format::kTime:
      return "time";
    case TypeNode::Format::kDateTime:
      return "date-time";
    case TypeNode::Format::kNone:
      break;
  }
  return "";
}

bool MatchesFormat(TypeNode::Format format, std::string_view s) {
  // The patterns valijson uses, compiled once (RE2 objects are thread-safe).
  static const RE2 kDate("[0-9]+-(0[1-9]|1[012])-(0[1-9]|[12][0-9]|3[01])");
  static const RE2 kTime(
      "([01][0-9]|2[0-3]):([0-5][0-9]):([0-5][0-9]|60)(\\.[0-9]+)?(([Zz])|([\\+|\\-]([01][0-9]|2[0-"
      "3]):[0-5][0-9]))");
  static const RE2 kDateTime(
      "[0-9]+-(0[1-9]|1[012])-(0[1-9]|[12][0-9]|3[01])[Tt]([01][0-9]|2[0-3]):([0-5][0-9]):([0-5][0-"
      "9]|60)(\\.[0-9]+)?(([Zz])|([\\+|\\-]([01][0-9]|2[0-3]):[0-5][0-9]))");
  // Day limits per month; February allows 29 (as valijson and the servers' grammars do).
  auto day_ok = [](int month, int day) {
    static constexpr int kDays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return month >= 1 && month <= 12 && day >= 1 && day <= kDays[month - 1];
  };
  re2::StringPiece text(s.data(), s.size());
  int month = 0, day = 0;
  switch (format) {
    case TypeNode::Format::kDate:
      return RE2::FullMatch(text, kDate, &month, &day) && day_ok(month, day);
    case TypeNode::Format::kTime:
      return RE2::FullMatch(text, kTime);
    case TypeNode::Format::kDateTime:
      return RE2::FullMatch(text, kDateTime, &month, &day) && day_ok(month, day);
    case TypeNode::Format::kNone:
      break;
  }
  return true;
}

Result<CompiledSchema> CompileSchema(const nlohmann::ordered_json& document,
                                     const std::string& origin) {
  Compiler compiler(document, origin);
  if (!document.is_object() && !document.is_boolean()) {
    return Status::InvalidArgument(origin + ": $: a JSON Schema must be an object, not " +
                                   std::string(document.type_name()));
  }
  SF_RETURN_NOT_OK(compiler.Check(document, "$", ""));
  CompiledSchema out;
  SF_ASSIGN_OR_RAISE(out.root, compiler.Build(document, "$"));
  out.openai_strict = compiler.openai_strict();
  if (auto it = document.find("$schema"); it != document.end() && it->is_string()) {
    out.draft4 = it->get<std::string>().find("draft-04") != std::string::npos;
  }
  auto t = document.find("type");
  out.top_is_object = t != document.end() && t->is_string() && t->get<std::string>() == "object";
  out.validation_document = nlohmann::json::parse(document.dump());
  if (!compiler.local_only().empty()) {
    out.server_document = document;
    std::set<std::string> names;
    for (const auto& [pointer, keyword] : compiler.local_only()) {
      out.server_document.at(nlohmann::ordered_json::json_pointer(pointer)).erase(keyword);
      names.insert(keyword);
    }
    out.local_only_keywords.assign(names.begin(), names.end());
  }
  for (const auto& pointer : compiler.format_pointers()) {
    out.validation_document.at(nlohmann::json::json_pointer(pointer)).erase("format");
  }
  for (const auto& pointer : compiler.prefix_items_pointers()) {
    auto& node = out.validation_document.at(nlohmann::json::json_pointer(pointer));
    nlohmann::json prefix = node["prefixItems"];
    node.erase("prefixItems");
    if (auto it = node.find("items"); it != node.end()) {
      node["additionalItems"] = *it;
      node.erase("items");
    }
    node["items"] = std::move(prefix);
  }
  return out;
}

}  // namespace structflow::schema

// Internal to src/schema (included by .cpp files only): checks a JSON Schema for what servers
// can constrain and maps it to column types. See constraint.h for the rules it implements.
#pragma once

#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "common/status.h"
#include "table/column.h"
#include "table/types.h"

namespace structflow::schema {

// How one schema position becomes a column value.
struct TypeNode {
  enum class Kind { kNull, kBool, kInt, kDouble, kString, kJsonText, kList, kStruct };
  Kind kind = Kind::kJsonText;
  // Checked here rather than by valijson, whose format check builds a std::regex per value
  // (about 180 us a row); kString only.
  enum class Format { kNone, kDate, kTime, kDateTime };
  Format format = Format::kNone;
  bool nullable = false;           // JSON null is a valid value here
  std::vector<std::string> names;  // kStruct: property names, in schema order
  std::vector<bool> required;      // kStruct: per property
  // kStruct: per property, the schema's "default" for an absent property (null: none, or one
  // that does not fit the column).
  std::vector<std::shared_ptr<const nlohmann::json>> defaults;
  std::vector<TypeNode> children;  // kStruct: one per property; kList: the element
  table::TypePtr type;             // the column type
};

struct CompiledSchema {
  TypeNode root;
  // A copy of the schema for valijson (draft 7): prefixItems rewritten to the draft 7 spelling
  // (items as an array + additionalItems), which valijson 1.0 does not know, and the formats
  // date, time and date-time removed (TypeNode checks them).
  nlohmann::json validation_document;
  // Keywords no server can enforce but the validator checks (uniqueItems, contains, not, ...),
  // sorted; empty when the server can enforce the whole schema. With any, `server_document` is
  // the schema without them: what the server is sent.
  std::vector<std::string> local_only_keywords;
  nlohmann::ordered_json server_document;
  bool draft4 = false;  // "$schema" names draft-04
  bool openai_strict = true;
  bool top_is_object = false;
};

// Checks `document` (parsed with key order kept) and compiles it. Errors are InvalidArgument
// "ORIGIN: $.json.path: problem; fix".
// First pass over an answer: can `v` be stored in `node`'s column without loss? On false,
// `why` gets "PATH: reason". Appending happens only after the whole value passed, so a failure
// appends nothing.
bool FitsNode(const TypeNode& node, const nlohmann::json& v, const std::string& path,
              std::string* why);
// Second pass: appends `v` (already accepted by FitsNode) following the column layout.
void AppendNode(const TypeNode& node, const nlohmann::json& v, table::Column* out);

// Whether `s` is a valid RFC 3339 date / time / date-time as valijson accepts them.
bool MatchesFormat(TypeNode::Format format, std::string_view s);
std::string_view FormatName(TypeNode::Format format);

Result<CompiledSchema> CompileSchema(const nlohmann::ordered_json& document,
                                     const std::string& origin);

}  // namespace structflow::schema

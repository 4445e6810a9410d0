// Constraint: what a model's answer must fit (a JSON Schema, a list of choices or a regex), how to
// ask a server for it in each request dialect, and how to turn an answer into one typed value.
//
// Schemas are checked completely in the factories, before any request is sent: JSON syntax (with
// line and column), schema well-formedness (unknown type names, keywords of the wrong type,
// dangling or remote $ref, invalid regexes) and keywords that servers cannot constrain. Every
// error names the origin (file) and the JSON path of the problem, e.g.
// "invoice.json: $.properties.items.items.type: unknown type 'str'; use one of ...".
//
// Keywords the servers' grammar backends (xgrammar, llguidance/guidance, llama.cpp's
// json-schema-to-grammar) cannot turn into a grammar, so a server would either fail the request
// or silently not enforce them:
// - checked here only (local_only_keywords()): not, if/then/else, dependencies,
//   patternProperties, propertyNames, contains, uniqueItems, minProperties/maxProperties. They
//   are left out of the schema sent to the server and checked on every answer, so a violation is
//   an invalid output that is re-asked (Pydantic's set[str] gives uniqueItems, for example);
// - rejected, because valijson (draft 7) cannot check them either: dependentSchemas,
//   dependentRequired, unevaluatedProperties, unevaluatedItems, minContains/maxContains,
//   $dynamicRef/$recursiveRef, allOf with more than one subschema (an intersection), remote $ref
//   (anything not starting with '#').
// Accepted (enforced by the servers and checked again here): type (single or array), properties,
// required, additionalProperties, items, prefixItems, additionalItems, minItems/maxItems, enum,
// const, anyOf, oneOf, allOf of one subschema, $ref into $defs/definitions, minLength/maxLength,
// pattern, format, minimum/maximum/exclusiveMinimum/exclusiveMaximum, multipleOf. Annotations
// (title, description, default, examples, $schema, $id, $comment, discriminator) are ignored.
//
// Column types (OutputType): object -> struct (fields in property order; a field that is not
// required, or whose schema admits null, is nullable), array -> list, string/enum of strings/
// format -> string, integer -> int64, number -> double, boolean -> bool, {"type": [X, "null"]}
// and anyOf/oneOf [X, {"type": "null"}] -> nullable X, $ref -> the referenced schema (recursive
// $ref is rejected: columns have a fixed depth), const -> the type of its value, anyOf/oneOf of
// branches with one column type -> that type (integer with number -> double). Everything else
// that has no single column type -- anyOf/oneOf of different types, enums mixing types, objects
// without properties, tuples (prefixItems or items as an array), the empty schema -- becomes a
// string column holding the value's JSON text. Properties the schema does not name are validated
// (additionalProperties) but not stored in the struct. An absent property takes the schema's
// "default" when that fits the column (as Pydantic fills it in), else null.
//
// Validation is JSON Schema draft 7 (draft 4 when "$schema" says so) by valijson, plus the
// formats date, time and date-time, checked on string columns with precompiled RE2 patterns
// (valijson would build a std::regex per value, ~180 us a row). Other formats are accepted
// unchecked, as valijson does; a format inside a JSON-text value is not checked.
//
// Ownership: a Constraint holds its compiled schema behind a shared pointer; copies are cheap and
// share it. Thread-safety: immutable after the factory returns; every const method may be called
// from any number of threads at once (per-thread parser state lives in thread_local storage).
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/row_error.h"
#include "common/status.h"
#include "schema/dialect.h"
#include "table/column.h"
#include "table/types.h"

namespace structflow::schema {

class Constraint {
 public:
  enum class Kind { kJsonSchema, kChoice, kRegex };

  // Reads and compiles a JSON Schema file. Errors name the file and the JSON path.
  static Result<Constraint> FromSchemaFile(const std::string& path);
  // Compiles a JSON Schema given as text; `origin` names it in errors (a file name, "--schema").
  static Result<Constraint> FromSchemaText(std::string_view json, std::string_view origin);
  // The answer must be exactly one of `choices` (non-empty, distinct). Each is trimmed of
  // surrounding whitespace (`--choice 'A, B'` hands over " B", which no model answers); when that
  // changes one, *trimmed (when given) says which, for the caller to show once, else it is
  // cleared.
  static Result<Constraint> FromChoices(std::vector<std::string> choices,
                                        std::string* trimmed = nullptr);
  // The whole answer must match `pattern` (RE2 syntax, checked here; the servers anchor it too).
  static Result<Constraint> FromRegex(std::string pattern);

  Kind kind() const;
  // The column type of a parsed answer: see the mapping in the header comment; string for
  // choice and regex.
  table::TypePtr OutputType() const;
  // The compact JSON Schema text as given (JSON Schema kind), empty otherwise.
  const std::string& schema_json() const;
  // The keywords of the schema that no server can enforce and that are checked only here, sorted
  // (empty when the server is sent the whole schema). Callers say so once, or refuse the schema
  // in a strict mode.
  const std::vector<std::string>& local_only_keywords() const;
  const std::vector<std::string>& choices() const;  // kChoice only
  // A max_tokens that fits every allowed answer, for a job that did not set --max-tokens: for
  // choices, the longest choice's bytes (a token is at least one byte) plus room for the JSON
  // object the openai dialect wraps it in and the end token; 0 when the answer's length has no
  // bound known here (schemas, regexes): keep the default.
  int SuggestedMaxTokens() const;
  const std::string& pattern() const;  // kRegex only
  // True when the schema meets OpenAI's strict mode (every object lists all its properties as
  // required and sets additionalProperties false); RequestMembers(kOpenAI) sends "strict": this
  // value, because OpenAI rejects strict:true for other schemas.
  bool openai_strict() const;

  // The request members for `dialect` (resolve kAuto with ProbeDialect first; kAuto gives the
  // vllm members), without the surrounding braces, ready to be
  // appended after a comma to a chat completion body:
  //   openai:      "response_format":{"type":"json_schema","json_schema":{"name":"output",
  //                "schema":{...},"strict":true}} (name: the schema's title when it is a valid
  //                OpenAI name; strict: openai_strict()). OpenAI needs an object at the top, so a
  //                choice becomes
  //                {"type":"object","properties":{"answer":{"type":"string","enum":[...]}},
  //                "required":["answer"],"additionalProperties":false}, a regex the same with
  //                {"type":"string","pattern":...}, and a non-object schema the same around it
  //                ($defs moved to the top); ParseInto unwraps "answer".
  //   vllm:        "structured_outputs":{"json":{...}} / {"choice":[...]} / {"regex":"..."}
  //   vllm-legacy: "guided_json":{...} / "guided_choice":[...] / "guided_regex":"..."
  std::string RequestMembers(Dialect dialect) const;

  struct ParseResult {
    RowError error;  // kNone, or kInvalidOutput with the JSON path and the reason
    // Set on failure when the answer looks like the server ignored the constraint: free text, a
    // fenced ```json block, prose around JSON, a choice inside prose, a bare answer where the
    // openai wrapper was expected. `auto` then switches dialect.
    bool looks_unconstrained = false;
  };
  // Parses and validates the model's message content as sent under `dialect`. On success appends
  // exactly one value to `out` (a column of OutputType()) and returns kNone; on failure appends
  // nothing and returns kInvalidOutput. Never appends a value that does not fit the schema.
  ParseResult ParseInto(std::string_view content, Dialect dialect, table::Column* out) const;

  struct Impl;  // defined in constraint.cpp

 private:
  explicit Constraint(std::shared_ptr<const Impl> impl) : impl_(std::move(impl)) {}
  std::shared_ptr<const Impl> impl_;
};

// JSON Schema validation only (no server-support checks, no column types): the validator that
// Constraint uses, exposed for the JSON-Schema-Test-Suite and for diagnostics.
// Thread-safety: immutable after Make; Validate may be called from many threads at once.
class JsonSchemaValidator {
 public:
  enum class Draft { kDraft4, kDraft7 };
  // `origin` names the schema in errors.
  static Result<JsonSchemaValidator> Make(std::string_view schema_json, Draft draft,
                                          std::string_view origin);
  // OK when `instance_json` is JSON that fits; else InvalidArgument "$.path: reason".
  Status Validate(std::string_view instance_json) const;

  struct Impl;

 private:
  explicit JsonSchemaValidator(std::shared_ptr<const Impl> impl) : impl_(std::move(impl)) {}
  std::shared_ptr<const Impl> impl_;
};

}  // namespace structflow::schema

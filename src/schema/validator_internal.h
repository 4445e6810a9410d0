// Internal to src/schema (included by .cpp files only): the valijson-backed validator behind
// JsonSchemaValidator and Constraint. valijson is used because it is the maintained, header-only
// draft 4/7 validator packaged by Debian and it accepts nlohmann documents directly.
#pragma once

// valijson aborts the process on a malformed schema unless exceptions are enabled.
#ifndef VALIJSON_USE_EXCEPTIONS
#define VALIJSON_USE_EXCEPTIONS 1
#endif

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <valijson/schema.hpp>

#include "common/status.h"
#include "schema/constraint.h"

namespace structflow::schema {

struct JsonSchemaValidator::Impl {
  nlohmann::json document;  // the schema valijson was built from
  valijson::Schema schema;
  std::string origin;

  // Builds `schema` from `document`; InvalidArgument naming `origin` when valijson refuses it.
  Status Build(Draft draft);
  // True when `instance` fits. On failure (and only then) `error` gets "$.path: reason" for the
  // most specific violations.
  bool Validate(const nlohmann::json& instance, std::string* error) const;
};

// "$.a.b[2]['odd key']" for the nlohmann-style path of keys and indices in `parts`.
std::string JsonPathAppendKey(std::string path, std::string_view key);
std::string JsonPathAppendIndex(std::string path, size_t index);

// Line and column (1-based) of byte `offset` in `text`.
std::string LineColumn(std::string_view text, size_t offset);

}  // namespace structflow::schema

#include <exception>
#include <regex>
#include <valijson/adapters/nlohmann_json_adapter.hpp>
#include <valijson/schema_parser.hpp>
#include <valijson/validation_results.hpp>
#include <valijson/validator.hpp>
#include <vector>

#include "schema/validator_internal.h"  // first: it enables valijson exceptions

namespace structflow::schema {
namespace {

bool IsIdentifier(std::string_view s) {
  if (s.empty()) return false;
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == '$' ||
              (i > 0 && c >= '0' && c <= '9');
    if (!ok) return false;
  }
  return true;
}

// valijson reports the location of an error as tokens "<root>", "[name]", "[3]", which cannot
// tell an index from a property named "3"; walking the instance alongside resolves it.
std::string ContextToPath(const std::vector<std::string>& context, const nlohmann::json& root,
                          const nlohmann::json** found) {
  std::string path = "$";
  const nlohmann::json* node = &root;
  for (const auto& token : context) {
    if (token == "<root>") continue;
    std::string_view inner = token;
    if (inner.size() >= 2 && inner.front() == '[' && inner.back() == ']') {
      inner = inner.substr(1, inner.size() - 2);
    }
    if (node != nullptr && node->is_array()) {
      size_t index = 0;
      try {
        index = std::stoul(std::string(inner));
      } catch (const std::exception&) {
        node = nullptr;
        path = JsonPathAppendKey(std::move(path), inner);
        continue;
      }
      path = JsonPathAppendIndex(std::move(path), index);
      node = index < node->size() ? &(*node)[index] : nullptr;
    } else {
      path = JsonPathAppendKey(std::move(path), inner);
      if (node != nullptr && node->is_object()) {
        auto it = node->find(std::string(inner));
        node = it == node->end() ? nullptr : &*it;
      } else {
        node = nullptr;
      }
    }
  }
  *found = node;
  return path;
}

// " (got 5)": the offending value, shortened, so the message stands without the raw answer.
std::string GotValue(const nlohmann::json* node) {
  if (node == nullptr || node->is_object() || node->is_array()) return "";
  std::string text = node->dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  if (text.size() > 60) text = text.substr(0, 57) + "...";
  return " (got " + text + ")";
}

}  // namespace

std::string JsonPathAppendKey(std::string path, std::string_view key) {
  if (IsIdentifier(key)) {
    path += '.';
    path += key;
  } else {
    path += "['";
    for (char c : key) {
      if (c == '\'' || c == '\\') path += '\\';
      path += c;
    }
    path += "']";
  }
  return path;
}

std::string JsonPathAppendIndex(std::string path, size_t index) {
  path += '[';
  path += std::to_string(index);
  path += ']';
  return path;
}

std::string LineColumn(std::string_view text, size_t offset) {
  size_t line = 1, column = 1;
  for (size_t i = 0; i < offset && i < text.size(); ++i) {
    if (text[i] == '\n') {
      ++line;
      column = 1;
    } else {
      ++column;
    }
  }
  return "line " + std::to_string(line) + ", column " + std::to_string(column);
}

Status JsonSchemaValidator::Impl::Build(Draft draft) {
  try {
    valijson::SchemaParser parser(draft == Draft::kDraft4 ? valijson::SchemaParser::kDraft4
                                                          : valijson::SchemaParser::kDraft7);
    valijson::adapters::NlohmannJsonAdapter adapter(document);
    parser.populateSchema(adapter, schema);
  } catch (const std::exception& e) {
    return Status::InvalidArgument(origin + ": not a valid JSON Schema: " + e.what() +
                                   "; fix the schema (see https://json-schema.org)");
  }
  return Status::OK();
}

bool JsonSchemaValidator::Impl::Validate(const nlohmann::json& instance, std::string* error) const {
  // One validator per thread: it caches compiled `pattern` regexes by their text, so a worker
  // compiles each pattern once, and validation itself only reads the shared schema.
  thread_local valijson::Validator validator;
  valijson::adapters::NlohmannJsonAdapter target(instance);
  try {
    if (validator.validate(schema, target, nullptr)) return true;
    // Fast path failed: run again collecting every violation, then report the deepest ones
    // (the most specific; the shallow ones are anyOf/allOf summaries of them).
    valijson::ValidationResults results;
    validator.validate(schema, target, &results);
    std::vector<valijson::ValidationResults::Error> errors;
    valijson::ValidationResults::Error e;
    size_t deepest = 0;
    while (results.popError(e)) {
      deepest = std::max(deepest, e.context.size());
      errors.push_back(std::move(e));
    }
    std::string message;
    int shown = 0;
    for (const auto& err : errors) {
      if (err.context.size() != deepest) continue;
      if (shown == 3) {
        message += "; ...";
        break;
      }
      if (shown++ > 0) message += "; ";
      const nlohmann::json* node = nullptr;
      std::string path = ContextToPath(err.context, instance, &node);
      std::string description = err.description;
      while (!description.empty() && description.back() == '.') description.pop_back();
      message += path + ": " + description + GotValue(node);
    }
    if (message.empty()) message = "$: does not fit the schema";
    *error = std::move(message);
    return false;
  } catch (const std::exception& ex) {
    // std::regex throws on patterns it cannot run on this input (complexity, stack).
    *error = std::string("$: validation could not finish: ") + ex.what();
    return false;
  }
}

Result<JsonSchemaValidator> JsonSchemaValidator::Make(std::string_view schema_json, Draft draft,
                                                      std::string_view origin) {
  auto impl = std::make_shared<Impl>();
  impl->origin = std::string(origin);
  try {
    impl->document = nlohmann::json::parse(schema_json);
  } catch (const nlohmann::json::parse_error& e) {
    return Status::InvalidArgument(std::string(origin) + ": not valid JSON at " +
                                   LineColumn(schema_json, e.byte == 0 ? 0 : e.byte - 1) + ": " +
                                   e.what());
  } catch (const nlohmann::json::exception& e) {  // e.g. out_of_range: a number overflows
    return Status::InvalidArgument(std::string(origin) + ": not valid JSON: " + e.what());
  }
  SF_RETURN_NOT_OK(impl->Build(draft));
  return JsonSchemaValidator(std::move(impl));
}

Status JsonSchemaValidator::Validate(std::string_view instance_json) const {
  nlohmann::json instance;
  try {
    instance = nlohmann::json::parse(instance_json);
  } catch (const nlohmann::json::parse_error& e) {
    return Status::InvalidArgument(std::string("not valid JSON at ") +
                                   LineColumn(instance_json, e.byte == 0 ? 0 : e.byte - 1));
  } catch (const nlohmann::json::exception& e) {
    return Status::InvalidArgument(std::string("not valid JSON: ") + e.what());
  }
  std::string error;
  if (impl_->Validate(instance, &error)) return Status::OK();
  return Status::InvalidArgument(std::move(error));
}

}  // namespace structflow::schema

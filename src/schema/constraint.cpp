#include "schema/constraint.h"

#include <fmt/format.h>
#include <re2/re2.h>

#include <algorithm>
#include <cctype>
#include <fstream>
#include <sstream>
#include <unordered_set>

#include "common/json_writer.h"
#include "schema/pattern_anchor.h"
#include "schema/schema_compiler.h"
#include "schema/validator_internal.h"

namespace structflow::schema {

struct Constraint::Impl {
  Kind kind = Kind::kJsonSchema;
  std::string origin;
  table::TypePtr type;
  // JSON Schema
  TypeNode root;
  std::unique_ptr<JsonSchemaValidator::Impl> validator;
  std::string schema_json;
  std::vector<std::string> local_only_keywords;
  bool openai_strict = true;
  bool openai_wrapped = false;  // the openai request wraps the answer as {"answer": ...}
  // Choice
  std::vector<std::string> choices;
  std::unordered_set<std::string> choice_set;
  // Regex
  std::string pattern;
  std::unique_ptr<RE2> re2;
  // RequestMembers, indexed by Dialect.
  std::string members[6];

  ParseResult Parse(std::string_view content, Dialect dialect, table::Column* out) const;
  ParseResult ParseJson(std::string_view content, Dialect dialect, table::Column* out) const;
  ParseResult ParseText(std::string_view content, Dialect dialect, table::Column* out) const;
};

namespace {

using Json = nlohmann::json;

Constraint::ParseResult Fail(std::string message, bool unconstrained) {
  Constraint::ParseResult r;
  r.error.kind = ErrorKind::kInvalidOutput;
  r.error.message = std::move(message);
  r.looks_unconstrained = unconstrained;
  return r;
}

// The start of an answer, quoted, for error messages (the full raw text is kept elsewhere).
std::string Snippet(std::string_view text) {
  constexpr size_t kMax = 60;
  std::string out;
  AppendJsonString(&out, text.substr(0, kMax));
  if (text.size() > kMax) out.insert(out.size() - 1, "...");
  return out;
}

// Why text that is not JSON looks unconstrained: a fence, prose around JSON, or free text.
std::string DescribeNonJson(std::string_view content) {
  if (content.find("```") != std::string_view::npos) return "a fenced code block";
  size_t brace = content.find_first_of("{[");
  if (brace != std::string_view::npos) return "prose around JSON";
  return "free text";
}

// The name OpenAI shows for the schema: the schema's title when it is a valid name.
std::string OpenAIName(const nlohmann::ordered_json& doc) {
  auto it = doc.find("title");
  if (it != doc.end() && it->is_string()) {
    std::string t = it->get<std::string>();
    bool ok = !t.empty() && t.size() <= 64 && std::all_of(t.begin(), t.end(), [](char c) {
      return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-';
    });
    if (ok) return t;
  }
  return "output";
}

std::string OpenAIMembers(std::string_view name, std::string_view schema, bool strict) {
  std::string out = "\"response_format\":{\"type\":\"json_schema\",\"json_schema\":{\"name\":";
  AppendJsonString(&out, name);
  out += ",\"schema\":";
  out += schema;
  out += ",\"strict\":";
  out += strict ? "true" : "false";
  out += "}}";
  return out;
}

// {"type":"object","properties":{"answer":INNER},"required":["answer"],
//  "additionalProperties":false}, with INNER's $defs/definitions moved to the top so its
// "#/$defs/..." references still resolve.
std::string WrapAnswer(nlohmann::ordered_json inner) {
  nlohmann::ordered_json wrapper;
  wrapper["type"] = "object";
  nlohmann::ordered_json defs[2];
  const char* def_keys[2] = {"$defs", "definitions"};
  for (int i = 0; i < 2; ++i) {
    if (inner.is_object() && inner.contains(def_keys[i])) {
      defs[i] = std::move(inner[def_keys[i]]);
      inner.erase(def_keys[i]);
    }
  }
  wrapper["properties"]["answer"] = std::move(inner);
  wrapper["required"] = nlohmann::ordered_json::array({"answer"});
  wrapper["additionalProperties"] = false;
  for (int i = 0; i < 2; ++i) {
    if (!defs[i].is_null()) wrapper[def_keys[i]] = std::move(defs[i]);
  }
  return wrapper.dump();
}

// `s` with the characters that mean something in a regex escaped.
std::string RegexEscape(std::string_view s) {
  std::string out;
  for (char c : s) {
    if (std::string_view("\\.^$|?*+()[]{}").find(c) != std::string_view::npos) out.push_back('\\');
    out.push_back(c);
  }
  return out;
}

void BuildTextMembers(Constraint::Impl* impl) {
  nlohmann::ordered_json answer;
  answer["type"] = "string";
  std::string list;
  std::string sglang_regex;
  if (impl->kind == Constraint::Kind::kChoice) {
    answer["enum"] = impl->choices;
    JsonWriter w(&list);
    w.BeginArray();
    for (const auto& c : impl->choices) w.String(c);
    w.EndArray();
    impl->members[static_cast<int>(Dialect::kVllm)] =
        "\"structured_outputs\":{\"choice\":" + list + "}";
    impl->members[static_cast<int>(Dialect::kVllmLegacy)] = "\"guided_choice\":" + list;
    // SGLang has no choice member: an alternation of the literal choices, as a full match.
    std::string alternation = "(?:";
    for (size_t i = 0; i < impl->choices.size(); ++i)
      alternation += (i ? "|" : "") + RegexEscape(impl->choices[i]);
    AppendJsonString(&sglang_regex, alternation + ")");
  } else {
    // The JSON dialects go through the servers' json-schema-to-grammar converters, which need
    // the anchors; structflow checks a full match, so "^(?:R)$" means the same.
    answer["pattern"] = AnchoredFullMatch(impl->pattern);
    AppendJsonString(&list, impl->pattern);
    impl->members[static_cast<int>(Dialect::kVllm)] =
        "\"structured_outputs\":{\"regex\":" + list + "}";
    impl->members[static_cast<int>(Dialect::kVllmLegacy)] = "\"guided_regex\":" + list;
    sglang_regex = list;  // SGLang's regex member is a full match already
  }
  impl->openai_wrapped = true;
  std::string wrapped = WrapAnswer(std::move(answer));
  impl->members[static_cast<int>(Dialect::kOpenAI)] = OpenAIMembers("output", wrapped, true);
  impl->members[static_cast<int>(Dialect::kLlamaCpp)] = "\"json_schema\":" + wrapped;
  impl->members[static_cast<int>(Dialect::kSglang)] = "\"regex\":" + sglang_regex;
}

}  // namespace

Constraint::ParseResult Constraint::Impl::ParseJson(std::string_view content, Dialect dialect,
                                                    table::Column* out) const {
  Json doc;
  try {
    doc = Json::parse(content);
  } catch (const Json::parse_error& e) {
    std::string where = LineColumn(content, e.byte == 0 ? 0 : e.byte - 1);
    return Fail("the answer is not JSON (" + where + "): " + DescribeNonJson(content) + " " +
                    Snippet(content) +
                    "; the server seems to ignore the structured-output "
                    "request (try another --dialect)",
                true);
  } catch (const Json::exception& e) {
    // Valid JSON syntax that nlohmann cannot hold, e.g. a number that overflows a double (found by
    // the schema fuzz target: it escaped a parser thread and ended the job).
    return Fail(
        "the answer is JSON that cannot be read: " + std::string(e.what()) + " " + Snippet(content),
        false);
  }
  const Json* value = &doc;
  if (IsJsonWrapped(dialect) && openai_wrapped) {
    auto it = doc.is_object() ? doc.find("answer") : doc.end();
    if (it == doc.end() || doc.size() != 1) {
      return Fail("$: expected {\"answer\": ...} as requested through response_format, got " +
                      Snippet(content) + "; the server seems to ignore response_format",
                  true);
    }
    value = &*it;
  }
  std::string error;
  if (!validator->Validate(*value, &error)) return Fail(std::move(error), false);
  if (!FitsNode(root, *value, "$", &error)) return Fail(std::move(error), false);
  AppendNode(root, *value, out);
  return {};
}

Constraint::ParseResult Constraint::Impl::ParseText(std::string_view content, Dialect dialect,
                                                    table::Column* out) const {
  std::string_view answer = content;
  std::string unwrapped;
  if (IsJsonWrapped(dialect)) {
    Json doc = Json::parse(content, nullptr, /*allow_exceptions=*/false);
    auto it = doc.is_object() ? doc.find("answer") : doc.end();
    if (doc.is_discarded() || it == doc.end() || !it->is_string() || doc.size() != 1) {
      return Fail("$: expected {\"answer\": \"...\"} as requested through response_format, got " +
                      Snippet(content) + "; the server seems to ignore response_format",
                  true);
    }
    unwrapped = it->get<std::string>();
    answer = unwrapped;
  }
  if (kind == Kind::kChoice) {
    if (choice_set.count(std::string(answer))) {
      out->AppendBytes(answer);
      return {};
    }
    std::string message = "the answer " + Snippet(answer) + " is not one of the " +
                          std::to_string(choices.size()) + " choices";
    for (const auto& c : choices) {
      if (!c.empty() && answer.find(c) != std::string_view::npos) {
        message += "; it contains the choice " + Snippet(c) + " inside other text";
        break;
      }
    }
    message += ": the server seems to ignore the choice constraint (try another --dialect)";
    return Fail(std::move(message), true);
  }
  if (RE2::FullMatch(re2::StringPiece(answer.data(), answer.size()), *re2)) {
    out->AppendBytes(answer);
    return {};
  }
  return Fail("the answer " + Snippet(answer) + " does not match the regex " + Snippet(pattern) +
                  ": the server seems to ignore the regex constraint (try another --dialect)",
              true);
}

Constraint::ParseResult Constraint::Impl::Parse(std::string_view content, Dialect dialect,
                                                table::Column* out) const {
  if (kind == Kind::kJsonSchema) return ParseJson(content, dialect, out);
  return ParseText(content, dialect, out);
}

Result<Constraint> Constraint::FromSchemaFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return Status::NotFound("cannot read schema file '" + path +
                            "': check the path given to --schema");
  }
  std::stringstream buffer;
  buffer << in.rdbuf();
  if (in.bad()) return Status::IOError("reading schema file '" + path + "' failed");
  return FromSchemaText(buffer.str(), path);
}

Result<Constraint> Constraint::FromSchemaText(std::string_view json, std::string_view origin) {
  auto impl = std::make_shared<Impl>();
  impl->kind = Kind::kJsonSchema;
  impl->origin = std::string(origin);
  nlohmann::ordered_json doc;
  try {
    doc = nlohmann::ordered_json::parse(json);
  } catch (const nlohmann::json::parse_error& e) {
    std::string what = e.what();
    // "[json.exception.parse_error.101] parse error at line 3, column 5: syntax error ..."
    if (auto p = what.find("syntax error"); p != std::string::npos) what = what.substr(p);
    return Status::InvalidArgument(impl->origin + ": not valid JSON at " +
                                   LineColumn(json, e.byte == 0 ? 0 : e.byte - 1) + ": " + what);
  } catch (const nlohmann::json::exception& e) {
    // Not a parse_error: e.g. out_of_range for a number that overflows (found by schema_fuzz;
    // it escaped as an exception and ended the process).
    return Status::InvalidArgument(impl->origin + ": not valid JSON: " + e.what());
  }
  SF_ASSIGN_OR_RAISE(CompiledSchema compiled, CompileSchema(doc, impl->origin));
  impl->root = std::move(compiled.root);
  impl->type = impl->root.type;
  impl->openai_strict = compiled.openai_strict;
  impl->validator = std::make_unique<JsonSchemaValidator::Impl>();
  impl->validator->origin = impl->origin;
  impl->validator->document = std::move(compiled.validation_document);
  SF_RETURN_NOT_OK(impl->validator->Build(compiled.draft4 ? JsonSchemaValidator::Draft::kDraft4
                                                          : JsonSchemaValidator::Draft::kDraft7));
  impl->schema_json = doc.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  // The server is sent the part of the schema it can enforce; the rest is checked here.
  impl->local_only_keywords = std::move(compiled.local_only_keywords);
  if (!impl->local_only_keywords.empty()) doc = std::move(compiled.server_document);
  const std::string server_json =
      impl->local_only_keywords.empty()
          ? impl->schema_json
          : doc.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  impl->members[static_cast<int>(Dialect::kVllm)] =
      "\"structured_outputs\":{\"json\":" + server_json + "}";
  impl->members[static_cast<int>(Dialect::kVllmLegacy)] = "\"guided_json\":" + server_json;
  impl->openai_wrapped = !compiled.top_is_object;
  // What the JSON dialects send: the patterns anchored for the servers' grammar converters
  // (a JSON Schema pattern is a search; see pattern_anchor.h).
  nlohmann::ordered_json served = doc;
  AnchorSchemaPatterns(&served);
  std::string served_json =
      impl->openai_wrapped ? WrapAnswer(served)
                           : served.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  impl->members[static_cast<int>(Dialect::kOpenAI)] =
      OpenAIMembers(OpenAIName(doc), served_json, impl->openai_strict);
  impl->members[static_cast<int>(Dialect::kLlamaCpp)] = "\"json_schema\":" + served_json;
  // SGLang's chat completions take a schema through response_format only (its top-level
  // json_schema belongs to /v1/completions and /generate); unwrapped, as its answers are bare.
  impl->members[static_cast<int>(Dialect::kSglang)] = OpenAIMembers(
      OpenAIName(doc), served.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace),
      impl->openai_strict);
  return Constraint(std::move(impl));
}

Result<Constraint> Constraint::FromChoices(std::vector<std::string> choices, std::string* trimmed) {
  if (choices.empty()) {
    return Status::InvalidArgument("--choice needs at least one choice, e.g. --choice A,B,C,D");
  }
  std::string changed;
  for (auto& c : choices) {
    size_t b = c.find_first_not_of(" \t\r\n");
    size_t e = c.find_last_not_of(" \t\r\n");
    std::string t = b == std::string::npos ? std::string() : c.substr(b, e - b + 1);
    if (t.empty()) {
      return Status::InvalidArgument(
          "--choice has an empty choice (two commas in a row, or a trailing comma); list "
          "non-empty choices, e.g. --choice A,B,C,D");
    }
    if (t != c) {
      changed += fmt::format("{}'{}' -> '{}'", changed.empty() ? "" : ", ", c, t);
      c = std::move(t);
    }
  }
  if (trimmed) {
    *trimmed = changed.empty() ? std::string()
                               : fmt::format(
                                     "--choice: removed the spaces around {} (write the list "
                                     "without spaces, e.g. --choice A,B,C, to keep this quiet)",
                                     changed);
  }
  auto impl = std::make_shared<Impl>();
  impl->kind = Kind::kChoice;
  impl->origin = "--choice";
  for (const auto& c : choices) {
    if (!impl->choice_set.insert(c).second) {
      return Status::InvalidArgument("--choice lists '" + c + "' twice; list each choice once");
    }
  }
  impl->choices = std::move(choices);
  impl->type = table::DataType::String();
  BuildTextMembers(impl.get());
  return Constraint(std::move(impl));
}

int Constraint::SuggestedMaxTokens() const {
  if (impl_->kind != Kind::kChoice) return 0;
  size_t longest = 0;
  for (const auto& c : impl_->choices) longest = std::max(longest, c.size());
  // {"answer": "..."} with the choice escaped (at most doubling it) and the end token.
  return static_cast<int>(std::min<size_t>(2 * longest + 16, 1 << 20));
}

Result<Constraint> Constraint::FromRegex(std::string pattern) {
  auto impl = std::make_shared<Impl>();
  impl->kind = Kind::kRegex;
  impl->origin = "--regex";
  RE2::Options options;
  options.set_log_errors(false);
  impl->re2 = std::make_unique<RE2>(pattern, options);
  if (!impl->re2->ok()) {
    return Status::InvalidArgument("--regex '" + pattern +
                                   "' is not a valid regular expression: " + impl->re2->error() +
                                   "; use RE2/Python syntax without lookarounds or backreferences");
  }
  impl->pattern = std::move(pattern);
  impl->type = table::DataType::String();
  BuildTextMembers(impl.get());
  return Constraint(std::move(impl));
}

Constraint::Kind Constraint::kind() const { return impl_->kind; }
table::TypePtr Constraint::OutputType() const { return impl_->type; }
const std::string& Constraint::schema_json() const { return impl_->schema_json; }
const std::vector<std::string>& Constraint::local_only_keywords() const {
  return impl_->local_only_keywords;
}
const std::vector<std::string>& Constraint::choices() const { return impl_->choices; }
const std::string& Constraint::pattern() const { return impl_->pattern; }
bool Constraint::openai_strict() const { return impl_->openai_strict; }

std::string Constraint::RequestMembers(Dialect dialect) const {
  if (dialect == Dialect::kAuto) dialect = Dialect::kVllm;  // documented in the header
  return impl_->members[static_cast<int>(dialect)];
}

Constraint::ParseResult Constraint::ParseInto(std::string_view content, Dialect dialect,
                                              table::Column* out) const {
  return impl_->Parse(content, dialect, out);
}

}  // namespace structflow::schema

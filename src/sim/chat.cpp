#include "sim/chat.h"

#include <fmt/format.h>
#include <simdjson.h>

#include <algorithm>
#include <cctype>
#include <nlohmann/json.hpp>
#include <optional>

#include "common/json_writer.h"
#include "sim/grammar_gen.h"
#include "sim/image_check.h"
#include "sim/prefix_cache.h"
#include "sim/regex_gen.h"
#include "sim/rng.h"
#include "sim/schema_gen_internal.h"

namespace structflow::sim {
namespace {

using nlohmann::json;

ApiError BadRequest(std::string message) {
  return ApiError{400, "BadRequestError", std::move(message)};
}

// Request fields are read with simdjson (bodies carry megabytes of base64 images); schemas, which
// are small and need a tree to walk, are handed to nlohmann.
using Element = simdjson::dom::element;
using Object = simdjson::dom::object;

bool Find(Object o, std::string_view key, Element* out) {
  return o.at_key(key).get(*out) == simdjson::SUCCESS && !out->is_null();
}

struct Constraint {
  ConstraintKind kind = ConstraintKind::kNone;
  json schema;  // kJsonSchema
  std::vector<std::string> choices;
  std::string regex;
};

// A schema given as an object or as JSON text (vLLM accepts both for guided_json / json).
ApiError ReadSchema(Element v, std::string_view field, Constraint* c) {
  c->kind = ConstraintKind::kJsonSchema;
  if (v.is_object() || v.is_bool()) {
    c->schema = json::parse(simdjson::to_string(v), nullptr, false);
    return {};
  }
  std::string_view text;
  if (v.get_string().get(text) == simdjson::SUCCESS) {
    c->schema = json::parse(text, nullptr, false);
    if (c->schema.is_discarded()) {
      return BadRequest(fmt::format("{}: the schema string is not valid JSON", field));
    }
    return {};
  }
  return BadRequest(fmt::format("{}: expected a JSON schema object", field));
}

ApiError ReadChoices(Element v, std::string_view field, Constraint* c) {
  simdjson::dom::array a;
  if (v.get_array().get(a) != simdjson::SUCCESS || a.size() == 0) {
    return BadRequest(fmt::format("{}: expected a non-empty list of strings", field));
  }
  for (Element x : a) {
    std::string_view choice;
    if (x.get_string().get(choice) != simdjson::SUCCESS) {
      return BadRequest(fmt::format("{}: every choice must be a string", field));
    }
    c->choices.emplace_back(choice);
  }
  c->kind = ConstraintKind::kChoice;
  return {};
}

ApiError ReadRegex(Element v, std::string_view field, Constraint* c) {
  std::string_view regex;
  if (v.get_string().get(regex) != simdjson::SUCCESS) {
    return BadRequest(fmt::format("{}: expected a string", field));
  }
  c->regex = std::string(regex);
  c->kind = ConstraintKind::kRegex;
  return {};
}

ApiError ReadResponseFormat(Element rf, Constraint* c) {
  Object o;
  if (rf.get_object().get(o) != simdjson::SUCCESS) {
    return BadRequest("response_format: expected an object");
  }
  Element type_el;
  std::string_view t;
  if (!Find(o, "type", &type_el) || type_el.get_string().get(t) != simdjson::SUCCESS) {
    return BadRequest(
        "response_format.type: Field required ('text', 'json_object' or 'json_schema')");
  }
  if (t == "text") return {};
  if (t == "json_object") {
    c->kind = ConstraintKind::kJsonObject;
    return {};
  }
  if (t == "json_schema") {
    Element js_el;
    Object js;
    if (!Find(o, "json_schema", &js_el) || js_el.get_object().get(js) != simdjson::SUCCESS) {
      return BadRequest("response_format.json_schema: Field required when type is 'json_schema'");
    }
    Element schema;
    if (!Find(js, "schema", &schema)) {
      // vLLM accepts a json_schema without "schema" and then constrains to any JSON object.
      c->kind = ConstraintKind::kJsonObject;
      return {};
    }
    return ReadSchema(schema, "response_format.json_schema.schema", c);
  }
  return BadRequest(fmt::format(
      "response_format.type: '{}' is not one of 'text', 'json_object', 'json_schema'", t));
}

ApiError ReadStructuredOutputs(Element so_el, Constraint* c) {
  Object so;
  if (so_el.get_object().get(so) != simdjson::SUCCESS) {
    return BadRequest("structured_outputs: expected an object");
  }
  int kinds = 0;
  for (const char* k : {"json", "regex", "choice", "grammar", "json_object", "structural_tag"}) {
    Element e;
    bool b = true;
    if (Find(so, k, &e) && !(e.get_bool().get(b) == simdjson::SUCCESS && !b)) ++kinds;
  }
  if (kinds > 1) {
    return BadRequest(
        "You can only use one kind of structured outputs constraint but multiple are specified: " +
        simdjson::to_string(so_el));
  }
  Element e;
  if (Find(so, "json", &e)) return ReadSchema(e, "structured_outputs.json", c);
  if (Find(so, "choice", &e)) return ReadChoices(e, "structured_outputs.choice", c);
  if (Find(so, "regex", &e)) return ReadRegex(e, "structured_outputs.regex", c);
  bool on = false;
  if (Find(so, "json_object", &e) && e.get_bool().get(on) == simdjson::SUCCESS && on) {
    c->kind = ConstraintKind::kJsonObject;
    return {};
  }
  if (Find(so, "grammar", &e) || Find(so, "structural_tag", &e)) {
    return BadRequest(
        "structured_outputs: grammar and structural_tag are not supported by the simulator; use "
        "json, choice or regex");
  }
  return {};
}

ApiError ReadGuided(Object req, Constraint* c) {
  int kinds = 0;
  Element e;
  for (const char* k : {"guided_json", "guided_regex", "guided_choice", "guided_grammar"}) {
    if (Find(req, k, &e)) ++kinds;
  }
  if (kinds > 1) {
    return BadRequest(
        "You can only use one kind of guided decoding ('guided_json', 'guided_regex' or "
        "'guided_choice').");
  }
  if (Find(req, "guided_json", &e)) return ReadSchema(e, "guided_json", c);
  if (Find(req, "guided_choice", &e)) return ReadChoices(e, "guided_choice", c);
  if (Find(req, "guided_regex", &e)) return ReadRegex(e, "guided_regex", c);
  if (Find(req, "guided_grammar", &e)) {
    return BadRequest(
        "guided_grammar is not supported by the simulator; use guided_json, guided_choice or "
        "guided_regex");
  }
  return {};
}

constexpr std::string_view kProse[] = {
    "Based on the information provided, ", "Looking at this carefully, ",
    "Here is what I can tell: ", "In short, ", "From the description, "};
constexpr std::string_view kProseTail[] = {
    "the most likely reading is the straightforward one.",
    "there is not enough detail to be certain, but the main point is clear.",
    "the answer depends on context, and the simplest explanation fits best.",
    "it appears consistent with the examples given.",
    "the image and text together suggest a common everyday scene."};

// Finds option letters in a multiple-choice prompt ("A) ...", "(B) ...", "C. ...", "D: ...").
std::vector<char> OptionLetters(std::string_view text) {
  std::vector<char> letters;
  for (size_t i = 0; i + 1 < text.size(); ++i) {
    bool line_start = i == 0 || text[i - 1] == '\n' || text[i - 1] == ' ';
    if (!line_start) continue;
    size_t j = i;
    if (text[j] == '(') ++j;
    if (j + 1 >= text.size()) continue;
    char l = text[j];
    char after = text[j + 1];
    if (l >= 'A' && l <= 'J' && (after == ')' || after == '.' || after == ':')) {
      if (std::find(letters.begin(), letters.end(), l) == letters.end()) letters.push_back(l);
    }
  }
  std::sort(letters.begin(), letters.end());
  // Letters must run A, B, ... to count as options.
  if (letters.size() < 2 || letters[0] != 'A') return {};
  for (size_t i = 1; i < letters.size(); ++i) {
    if (letters[i] != letters[i - 1] + 1) {
      letters.resize(i);
      break;
    }
  }
  return letters.size() >= 2 ? letters : std::vector<char>{};
}

std::string FreeText(std::string_view last_user_text, Rng& rng) {
  std::vector<char> letters = OptionLetters(last_user_text);
  if (!letters.empty()) {
    char l = letters[rng.Below(letters.size())];
    switch (rng.Below(4)) {
      case 0:
        return std::string(1, l);
      case 1:
        return fmt::format("The answer is {}.", l);
      case 2:
        return fmt::format("{}", l) + ") " +
               std::string(kProseTail[rng.Below(std::size(kProseTail))]);
      default:
        return fmt::format("Let me think step by step. {}The correct option is {}.",
                           kProse[rng.Below(std::size(kProse))], l);
    }
  }
  std::string s(kProse[rng.Below(std::size(kProse))]);
  s += kProseTail[rng.Below(std::size(kProseTail))];
  if (rng.Chance(0.5)) {
    s += " ";
    std::string extra(kProse[rng.Below(std::size(kProse))]);
    s += extra;
    s += kProseTail[rng.Below(std::size(kProseTail))];
  }
  return s;
}

// Cuts `s` to at most `n` bytes without splitting a UTF-8 sequence.
void CutUtf8(std::string* s, size_t n) {
  if (s->size() <= n) return;
  while (n > 0 && (static_cast<unsigned char>((*s)[n]) & 0xC0) == 0x80) --n;
  s->resize(n);
}

int CeilDiv(size_t a, int b) { return static_cast<int>((a + static_cast<size_t>(b) - 1) / b); }

}  // namespace

namespace {

struct ApiInfo {
  Api api;
  const char* name;
};
constexpr ApiInfo kApis[] = {{Api::kVllm012, "vllm-0.12"},
                             {Api::kVllm010, "vllm-0.10"},
                             {Api::kOpenAI, "openai"},
                             {Api::kLlamaCpp, "llama.cpp"},
                             {Api::kLlamaCppB4800, "llama.cpp-b4800"},
                             {Api::kSglang, "sglang"},
                             {Api::kOllama, "ollama"}};

// llama.cpp's error types (tools/server/server-common.cpp format_error_response): a thrown
// std::invalid_argument is invalid_request_error 400, any other exception server_error 500.
ApiError LlamaInvalid(std::string message) {
  return ApiError{400, "invalid_request_error", std::move(message)};
}
ApiError LlamaServer(std::string message) {
  return ApiError{500, "server_error", std::move(message)};
}

// Schema `pattern`s as llama.cpp's json-schema-to-grammar treats them (common/
// json-schema-to-grammar.cpp, _visit_pattern): only ^...$ patterns become grammar rules. Recent
// builds log "pattern ... is not supported (not anchored with '^' and '$'), accepting any string"
// and put a free string there (as for lookarounds, named groups and inner anchors); the older
// converter (commit 011c6c3c, the b4800 era) records "Pattern must start with '^' and end with
// '$'" and the whole conversion fails. Walks every subschema in place.
ApiError ApplyLlamaPatternRules(json* schema, bool old_build) {
  if (schema->is_array()) {
    for (auto& v : *schema) {
      ApiError e = ApplyLlamaPatternRules(&v, old_build);
      if (e.status != 0) return e;
    }
    return {};
  }
  if (!schema->is_object()) return {};
  auto it = schema->find("pattern");
  if (it != schema->end() && it->is_string()) {
    std::string p = it->get<std::string>();
    bool anchored = p.size() >= 2 && p.front() == '^' && p.back() == '$';
    if (!anchored && old_build) {
      return LlamaInvalid(
          "\"json_schema\": JSON schema conversion failed:\nPattern must start with '^' and end "
          "with '$'");
    }
    std::string inner = anchored ? p.substr(1, p.size() - 2) : p;
    bool unsupported = !anchored;
    for (size_t i = 0; i < inner.size(); ++i) {
      if (inner[i] == '\\') {
        ++i;
        continue;
      }
      if (inner[i] == '^' || inner[i] == '$') unsupported = true;
      if (inner[i] == '(' && i + 1 < inner.size() && inner[i + 1] == '?' &&
          (i + 2 >= inner.size() || inner[i + 2] != ':')) {
        unsupported = true;
      }
    }
    if (unsupported && !old_build) schema->erase(it);
  }
  for (auto& [key, value] : schema->items()) {
    if (key == "enum" || key == "const" || key == "default" || key == "examples") continue;
    ApiError e = ApplyLlamaPatternRules(&value, old_build);
    if (e.status != 0) return e;
  }
  return {};
}

// An object schema with nothing in it means "any JSON object" to every family.
bool IsAnyObject(const json& schema) {
  if (schema.is_object() && schema.empty()) return true;
  return schema.is_object() && schema.size() == 1 && schema.contains("type") &&
         schema["type"] == "object";
}

// llama.cpp: tools/server/server-common.cpp oaicompat_chat_params_parse (response_format and
// top-level json_schema / grammar) and server-task.cpp params_from_json_cmpl (json_schema wins
// over grammar; a schema that does not convert is `"json_schema": ...` as a 400).
ApiError SelectLlama(Object req, Api api, Constraint* c) {
  const bool old_build = api == Api::kLlamaCppB4800;
  Element e;
  json schema;  // null: none
  if (Find(req, "json_schema", &e)) schema = json::parse(simdjson::to_string(e), nullptr, false);
  std::string grammar;
  std::string_view g;
  if (Find(req, "grammar", &e) && e.get_string().get(g) == simdjson::SUCCESS) grammar = g;
  if (!schema.is_null() && !grammar.empty()) {
    return LlamaServer("Cannot use both json_schema and grammar");
  }
  Object rf;
  if (Find(req, "response_format", &e) && e.get_object().get(rf) == simdjson::SUCCESS) {
    std::string_view type;
    Element t;
    if (Find(rf, "type", &t) && t.get_string().get(type) != simdjson::SUCCESS) type = {};
    if (type == "json_object") {
      Element s;
      if (Find(rf, "schema", &s)) {
        schema = json::parse(simdjson::to_string(s), nullptr, false);
      } else if (schema.is_null() || old_build) {
        schema = json::object();
      }
    } else if (type == "json_schema") {
      // b4800 declared a second `json json_schema` inside this branch, so the value never left
      // it: the request ran unconstrained (fixed by PR 12168, March 2025).
      if (!old_build) {
        Object wrapper;
        Element s;
        schema = json::object();
        if (Find(rf, "json_schema", &s) && s.get_object().get(wrapper) == simdjson::SUCCESS &&
            Find(wrapper, "schema", &s)) {
          schema = json::parse(simdjson::to_string(s), nullptr, false);
        }
      }
    } else if (!type.empty() && type != "text") {
      std::string msg = fmt::format(
          "response_format type must be one of \"text\" or \"json_object\", but got: {}", type);
      // b4800 threw std::runtime_error here (a 500); later builds std::invalid_argument.
      return old_build ? LlamaServer(std::move(msg)) : LlamaInvalid(std::move(msg));
    }
  }
  if (!schema.is_null()) {
    if (!schema.is_object() && !schema.is_boolean()) {
      return LlamaInvalid("\"json_schema\": JSON schema conversion failed: expected an object");
    }
    if (IsAnyObject(schema)) {
      c->kind = ConstraintKind::kJsonObject;
      return {};
    }
    ApiError err = ApplyLlamaPatternRules(&schema, old_build);
    if (err.status != 0) return err;
    c->kind = ConstraintKind::kJsonSchema;
    c->schema = std::move(schema);
    return {};
  }
  if (!grammar.empty()) {
    c->kind = ConstraintKind::kGrammar;
    c->regex = std::move(grammar);
  }
  return {};
}

// SGLang: python/sglang/srt/entrypoints/openai/serving_chat.py _build_sampling_params passes
// `regex` and `ebnf` through and turns response_format json_schema / json_object into
// sampling_params["json_schema"]; the chat request has no top-level json_schema (protocol.py puts
// that field on CompletionRequest only). SamplingParams.verify refuses more than one of them.
ApiError SelectSglang(Object req, Constraint* c) {
  Element e;
  int kinds = 0;
  Constraint rf_c;
  if (Find(req, "response_format", &e)) {
    Object rf;
    if (e.get_object().get(rf) != simdjson::SUCCESS) {
      return BadRequest("response_format: Input should be a valid dictionary");
    }
    Element t;
    std::string_view type;
    if (!Find(rf, "type", &t) || t.get_string().get(type) != simdjson::SUCCESS) {
      return BadRequest("response_format.type: Field required");
    }
    if (type == "json_schema") {
      Element js;
      Object wrapper;
      Element s;
      if (!Find(rf, "json_schema", &js) || js.get_object().get(wrapper) != simdjson::SUCCESS) {
        return BadRequest("response_format.json_schema: Field required");
      }
      if (!Find(wrapper, "schema", &s)) {
        return BadRequest("schema_ is required for json_schema response format request.");
      }
      ApiError err = ReadSchema(s, "response_format.json_schema.schema", &rf_c);
      if (err.status != 0) return err;
      ++kinds;
    } else if (type == "json_object") {
      rf_c.kind = ConstraintKind::kJsonObject;
      ++kinds;
    } else if (type != "text") {
      return BadRequest(fmt::format(
          "response_format.type: Input should be 'text', 'json_object', 'json_schema' or "
          "'structural_tag', got '{}'",
          type));
    }
  }
  Constraint other;
  if (Find(req, "regex", &e)) {
    ApiError err = ReadRegex(e, "regex", &other);
    if (err.status != 0) return err;
    ++kinds;
  }
  std::string_view ebnf;
  if (Find(req, "ebnf", &e) && e.get_string().get(ebnf) == simdjson::SUCCESS) {
    other.kind = ConstraintKind::kGrammar;
    other.regex = std::string(ebnf);
    ++kinds;
  }
  if (kinds > 1) return BadRequest("Only one of regex, json_schema, or ebnf can be set.");
  *c = rf_c.kind != ConstraintKind::kNone ? std::move(rf_c) : std::move(other);
  return {};
}

// Ollama: openai/openai.go FromChatRequest maps response_format json_object to format "json" and
// json_schema to its json_schema.schema (none: no format); any other type is dropped silently.
void SelectOllama(Object req, Constraint* c) {
  Element e;
  Object rf;
  if (!Find(req, "response_format", &e) || e.get_object().get(rf) != simdjson::SUCCESS) return;
  Element t;
  std::string_view type_view;
  if (!Find(rf, "type", &t) || t.get_string().get(type_view) != simdjson::SUCCESS) return;
  std::string type(type_view);
  std::transform(type.begin(), type.end(), type.begin(),
                 [](unsigned char ch) { return static_cast<char>(std::tolower(ch)); });
  type.erase(0, type.find_first_not_of(" \t\n"));
  type.erase(type.find_last_not_of(" \t\n") + 1);
  if (type == "json_object") {
    c->kind = ConstraintKind::kJsonObject;
  } else if (type == "json_schema") {
    Object wrapper;
    Element s;
    if (Find(rf, "json_schema", &e) && e.get_object().get(wrapper) == simdjson::SUCCESS &&
        Find(wrapper, "schema", &s)) {
      c->schema = json::parse(simdjson::to_string(s), nullptr, false);
      // Ollama vendors llama.cpp's schema converter, with its pattern rules.
      if (IsAnyObject(c->schema)) {
        c->kind = ConstraintKind::kJsonObject;
      } else if (ApplyLlamaPatternRules(&c->schema, false).status == 0) {
        c->kind = ConstraintKind::kJsonSchema;
      }
    }
  }
}

// One place of free whitespace, as llama.cpp's SPACE_RULE allows it:
// `| " " | "\n"{1,2} [ \t]{0,20}`.
std::string WhitespaceRun(Rng& rng) {
  if (rng.Chance(0.4)) return " ";
  std::string ws(1 + rng.Below(2), '\n');
  ws.append(rng.Below(21), ' ');
  return ws;
}

// An answer as tokens: text costs one token per bytes_per_token bytes, each free whitespace
// character one token (a small model's tokenizer rarely merges the runs a grammar lets it write).
class TokenWriter {
 public:
  TokenWriter(int bytes_per_token, double rate, Rng& rng)
      : bpt_(bytes_per_token), rate_(rate), rng_(rng) {}
  void Text(std::string_view s) { pending_ += s; }
  void MaybeSpace() {
    if (rate_ <= 0 || !rng_.Chance(rate_)) return;
    Flush();
    for (char ch : WhitespaceRun(rng_)) tokens_.emplace_back(1, ch);
  }
  void Value(const json& v) {
    if (v.is_object()) {
      Text("{");
      MaybeSpace();
      bool first = true;
      for (const auto& [k, item] : v.items()) {
        if (!first) {
          Text(",");
          MaybeSpace();
        }
        first = false;
        Text(json(k).dump());
        MaybeSpace();
        Text(":");
        MaybeSpace();
        Value(item);
      }
      Text("}");
    } else if (v.is_array()) {
      Text("[");
      MaybeSpace();
      bool first = true;
      for (const auto& item : v) {
        if (!first) {
          Text(",");
          MaybeSpace();
        }
        first = false;
        Value(item);
      }
      Text("]");
    } else {
      Text(v.dump());
    }
    MaybeSpace();
  }
  std::vector<std::string> Take() {
    Flush();
    return std::move(tokens_);
  }

 private:
  void Flush() {
    for (size_t i = 0; i < pending_.size();) {
      size_t n = std::min(pending_.size() - i, static_cast<size_t>(bpt_));
      while (i + n < pending_.size() &&
             (static_cast<unsigned char>(pending_[i + n]) & 0xC0) == 0x80) {
        ++n;
      }
      tokens_.push_back(pending_.substr(i, n));
      i += n;
    }
    pending_.clear();
  }

  int bpt_;
  double rate_;
  Rng& rng_;
  std::string pending_;
  std::vector<std::string> tokens_;
};

}  // namespace

Result<Api> ParseApi(std::string_view name) {
  if (name == "vllm") return Api::kVllm012;
  if (name == "llamacpp" || name == "llama-server") return Api::kLlamaCpp;
  for (const auto& a : kApis) {
    if (name == a.name) return a.api;
  }
  return Status::InvalidArgument(fmt::format(
      "--api '{}': use vllm-0.12, vllm-0.10, openai, llama.cpp, llama.cpp-b4800, sglang or ollama",
      name));
}

std::string_view ApiName(Api api) {
  for (const auto& a : kApis) {
    if (a.api == api) return a.name;
  }
  return "vllm-0.12";
}

const std::vector<std::string>& ApiNames() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> v;
    for (const auto& a : kApis) v.emplace_back(a.name);
    return v;
  }();
  return names;
}

Family FamilyOf(Api api) {
  switch (api) {
    case Api::kLlamaCpp:
    case Api::kLlamaCppB4800:
      return Family::kLlamaCpp;
    case Api::kSglang:
      return Family::kSglang;
    case Api::kOllama:
      return Family::kOllama;
    default:
      return Family::kVllm;
  }
}

FamilyDefaults DefaultsFor(Api api) {
  FamilyDefaults d;
  switch (api) {
    case Api::kLlamaCpp:
      // common/arg.cpp: --parallel defaults to auto, which the server resolves to 4 slots with a
      // unified KV cache; --metrics is off unless asked for. tools/server/server-http.cpp (read at
      // ggml-org/llama.cpp 00dd0816) sizes the cpp-httplib pool as max(n_parallel + 4, hardware
      // threads - 1) always-running threads and up to 1024 more started on demand
      // (httplib::ThreadPool(n, n + 1024), cpp-httplib PR 2368);
      // CPPHTTPLIB_KEEPALIVE_TIMEOUT_SECOND is 5, CPPHTTPLIB_KEEPALIVE_MAX_COUNT 100.
      d.slots = 4;
      d.json_whitespace = 0.15;
      d.metrics = false;
      d.http_threads = -1;  // resolved by the server from the slots and hardware threads
      d.http_threads_over_slots = 4;
      d.http_dynamic_threads = 1024;
      break;
    case Api::kLlamaCppB4800:
      // b4800: --parallel defaulted to 1; examples/server/server.cpp made a fixed pool,
      // httplib::ThreadPool(max(n_parallel + 2, hardware threads - 1)), no dynamic threads.
      d.slots = 1;
      d.json_whitespace = 0.15;
      d.metrics = false;
      d.http_threads = -1;
      break;
    case Api::kSglang:
      d.slots = 256;      // --max-running-requests is sized from GPU memory: large
      d.metrics = false;  // server_args.py: --enable-metrics is off by default
      break;
    case Api::kOllama:
      // envconfig: OLLAMA_NUM_PARALLEL defaults to 1; the vendored llama.cpp grammar allows the
      // same whitespace; Ollama has no /metrics.
      d.slots = 1;
      d.json_whitespace = 0.15;
      d.metrics = false;
      break;
    default:
      break;
  }
  return d;
}

ChatOutcome PlanChat(std::string_view body, const ChatConfig& config) {
  ChatOutcome out;
  ChatPlan& plan = out.plan;
  const Api api = config.api;
  const Family family = FamilyOf(api);
  const bool llama = family == Family::kLlamaCpp;
  auto fail = [&](ApiError e) {
    // The vLLM-worded checks below are shared; each family types them its own way.
    if (family == Family::kLlamaCpp || family == Family::kOllama) {
      if (e.type == "BadRequestError") e.type = "invalid_request_error";
      if (e.type == "NotFoundError") e.type = "not_found_error";
    }
    out.error = std::move(e);
    return out;
  };
  // One parser per thread, reused: its buffers grow to the largest body seen.
  thread_local simdjson::dom::parser parser;
  Element root;
  if (parser.parse(body.data(), body.size()).get(root) != simdjson::SUCCESS) {
    if (llama) {
      // json::parse throws a parse_error, which is not an invalid_argument: a 500.
      return fail(LlamaServer(
          "[json.exception.parse_error.101] parse error: syntax error while parsing value - the "
          "request body is not valid JSON"));
    }
    if (family == Family::kOllama) {
      return fail(BadRequest("invalid character in request body: it is not valid JSON"));
    }
    return fail(BadRequest("The request body is not valid JSON: check the quoting and braces"));
  }
  Object req;
  if (root.get_object().get(req) != simdjson::SUCCESS) {
    return fail(BadRequest("The request body must be a JSON object"));
  }
  Element e;

  // Model: vLLM answers 404 for a name it does not serve; without one it uses the first.
  // llama.cpp and SGLang serve whatever name the request gives (neither compares it); Ollama
  // looks the name up (server/routes.go) and answers 404 "model ... not found".
  plan.model = config.models.empty() ? "sim-vlm" : config.models.front();
  if (Find(req, "model", &e)) {
    std::string_view m;
    if (e.get_string().get(m) != simdjson::SUCCESS) {
      return fail(BadRequest("model: Input should be a valid string"));
    }
    bool known = std::find(config.models.begin(), config.models.end(), m) != config.models.end();
    if (!known && (family == Family::kVllm)) {
      return fail(ApiError{404, "NotFoundError", fmt::format("The model `{}` does not exist.", m)});
    }
    if (!known && family == Family::kOllama) {
      return fail(ApiError{404, "not_found_error",
                           fmt::format("model \"{}\" not found, try pulling it first", m)});
    }
    plan.model = std::string(m);
  } else if (family == Family::kOllama) {
    return fail(ApiError{400, "invalid_request_error", "model is required"});
  }

  Element messages_el;
  simdjson::dom::array messages;
  if (!Find(req, "messages", &messages_el)) {
    return fail(BadRequest(llama ? "'messages' is required" : "messages: Field required"));
  }
  if (messages_el.get_array().get(messages) != simdjson::SUCCESS) {
    return fail(BadRequest(llama ? "Expected 'messages' to be an array"
                                 : "messages: Input should be a valid list"));
  }
  if (messages.size() == 0 && !llama) {
    return fail(BadRequest("messages: List should have at least 1 item"));
  }
  size_t text_bytes = 0;
  std::string last_user_text;
  std::vector<std::string_view> image_urls;
  // The prompt as pseudo-tokens, in order, for the prefix cache (prefix_cache.h).
  PromptTokenizer tokens(config.bytes_per_text_token, config.tokens_per_image);
  size_t i = 0;
  for (Element m_el : messages) {
    Object m;
    if (m_el.get_object().get(m) != simdjson::SUCCESS) {
      return fail(BadRequest(fmt::format("messages[{}]: expected an object", i)));
    }
    std::string_view r;
    if (!Find(m, "role", &e) || e.get_string().get(r) != simdjson::SUCCESS) {
      return fail(BadRequest(fmt::format("messages[{}].role: Field required", i)));
    }
    // llama.cpp and Ollama hand any role to the chat template.
    if ((family == Family::kVllm || family == Family::kSglang) && r != "system" && r != "user" &&
        r != "assistant" && r != "tool" && r != "developer") {
      return fail(BadRequest(fmt::format(
          "messages[{}].role: '{}' is not one of system, user, assistant, tool, developer", i, r)));
    }
    std::string text;
    Element content;
    std::string_view s;
    simdjson::dom::array parts;
    if (config.prompt_token_ids) {
      tokens.Message();
      tokens.Text(r);
    }
    if (!Find(m, "content", &content)) {
      if (r != "assistant") {
        return fail(BadRequest(llama ? "All non-assistant messages must contain 'content'"
                                     : fmt::format("messages[{}].content: Field required", i)));
      }
    } else if (content.get_string().get(s) == simdjson::SUCCESS) {
      text = std::string(s);
      if (config.prompt_token_ids) tokens.Text(text);
    } else if (content.get_array().get(parts) == simdjson::SUCCESS) {
      size_t k = 0;
      for (Element part_el : parts) {
        std::string where = fmt::format("messages[{}].content[{}]", i, k++);
        Object part;
        std::string_view type;
        if (part_el.get_object().get(part) != simdjson::SUCCESS || !Find(part, "type", &e) ||
            e.get_string().get(type) != simdjson::SUCCESS) {
          return fail(BadRequest(where + ".type: Field required"));
        }
        if (type == "text") {
          std::string_view t;
          if (!Find(part, "text", &e) || e.get_string().get(t) != simdjson::SUCCESS) {
            return fail(BadRequest(where + ".text: Field required"));
          }
          if (config.prompt_token_ids) {
            if (!text.empty()) tokens.Text("\n");
            tokens.Text(t);
          }
          if (!text.empty()) text += "\n";
          text += t;
        } else if (type == "image_url") {
          if (api == Api::kLlamaCppB4800) {
            // b4800's server had no multimodal path: common/chat.cpp refused any non-text part
            // with a std::runtime_error (a 500).
            return fail(LlamaServer("Unsupported content part type: \"image_url\""));
          }
          std::string_view url;
          bool found = false;
          Object iu;
          if (Find(part, "image_url", &e)) {
            if (e.get_object().get(iu) == simdjson::SUCCESS) {
              Element u;
              found = Find(iu, "url", &u) && u.get_string().get(url) == simdjson::SUCCESS;
            } else {
              found = e.get_string().get(url) == simdjson::SUCCESS;
            }
          }
          if (!found) return fail(BadRequest(where + ".image_url.url: Field required"));
          image_urls.push_back(url);
          if (config.prompt_token_ids) tokens.Image(url);
        } else {
          if (llama) return fail(LlamaInvalid("unsupported content[].type"));
          if (family == Family::kOllama) return fail(BadRequest("invalid message format"));
          return fail(BadRequest(
              fmt::format("{}.type: '{}' is not supported by this model; use 'text' or 'image_url'",
                          where, type)));
        }
      }
    } else {
      if (llama) return fail(LlamaInvalid("Expected 'content' to be a string or an array"));
      return fail(BadRequest(fmt::format(
          "messages[{}].content: Input should be a string or a list of content parts", i)));
    }
    text_bytes += text.size() + r.size();
    if (r == "user") last_user_text = std::move(text);
    ++i;
  }

  // Sampling fields: vLLM and SGLang check their types (pydantic), Ollama's JSON decoder too;
  // llama.cpp's json_value falls back to the default with a warning.
  for (const char* k : {"temperature", "top_p", "presence_penalty", "frequency_penalty"}) {
    if (!llama && Find(req, k, &e) && !e.is_number()) {
      if (family == Family::kOllama) {
        return fail(BadRequest(fmt::format(
            "json: cannot unmarshal into Go struct field ChatCompletionRequest.{} of type float64",
            k)));
      }
      return fail(BadRequest(fmt::format("{}: Input should be a valid number", k)));
    }
  }
  int max_tokens = -1;
  for (const char* k : {"max_completion_tokens", "max_tokens"}) {
    if (!Find(req, k, &e)) continue;
    int64_t v = 0;
    if (e.get_int64().get(v) != simdjson::SUCCESS) {
      if (llama) break;
      return fail(BadRequest(fmt::format("{}: Input should be a valid integer", k)));
    }
    if (v < 1) {
      // llama.cpp's n_predict and Ollama's num_predict take 0 or less as "no limit".
      if (llama || family == Family::kOllama) break;
      return fail(BadRequest(fmt::format("{} must be at least 1, got {}.", k, v)));
    }
    max_tokens = static_cast<int>(std::min<int64_t>(v, 1 << 30));
    break;
  }
  // Log-probabilities. vLLM (entrypoints/openai/protocol.py ChatCompletionRequest
  // check_logprobs; engine max_logprobs default 20), llama.cpp (tools/server/server-common.cpp:
  // n_probs = top_logprobs, default 20) and SGLang take them; Ollama's OpenAI layer is simulated
  // as a version from before it returned any, so it ignores both.
  int top_logprobs = -1;
  if (family != Family::kOllama) {
    if (Find(req, "logprobs", &e)) {
      bool on = false;
      if (e.get_bool().get(on) != simdjson::SUCCESS && !e.is_null()) {
        return fail(BadRequest("logprobs: Input should be a valid boolean"));
      }
      plan.logprobs = on;
    }
    if (Find(req, "top_logprobs", &e) && !e.is_null()) {
      int64_t k = 0;
      if (e.get_int64().get(k) != simdjson::SUCCESS || k < 0) {
        return fail(BadRequest("top_logprobs: Input should be a non-negative integer"));
      }
      if (!plan.logprobs) {
        return fail(BadRequest(llama
                                   ? "top_logprobs requires logprobs to be set to true"
                                   : "when using `top_logprobs`, `logprobs` must be set to true."));
      }
      if (family == Family::kVllm && k > 20) {
        return fail(BadRequest(fmt::format(
            "Requested sample logprobs of {}, which is greater than max allowed: 20", k)));
      }
      top_logprobs = static_cast<int>(std::min<int64_t>(k, 1 << 20));
    }
    if (plan.logprobs && top_logprobs < 0) top_logprobs = llama ? 20 : 0;
    plan.logprob_ids = llama;
  }
  if (Find(req, "stream", &e)) {
    if (e.get_bool().get(plan.stream) != simdjson::SUCCESS) {
      return fail(BadRequest("stream: Input should be a valid boolean"));
    }
  }
  Object so_opts;
  if (Find(req, "stream_options", &e) && e.get_object().get(so_opts) == simdjson::SUCCESS) {
    Element iu;
    bool include = false;
    if (Find(so_opts, "include_usage", &iu) && iu.get_bool().get(include) == simdjson::SUCCESS) {
      plan.include_usage = include;
    }
    if (!plan.stream && family == Family::kVllm) {
      return fail(BadRequest("Stream options can only be defined when `stream=True`."));
    }
  }

  if (!config.chat_template) {
    if (family == Family::kVllm) {
      // What vLLM answers for a model whose tokenizer has no chat template.
      return fail(BadRequest(
          "As of transformers v4.44, default chat template is no longer allowed, so you must "
          "provide a chat template if the tokenizer does not define one."));
    }
    if (family == Family::kSglang) {
      // SGLang calls tokenizer.apply_chat_template; transformers' ValueError becomes a 400.
      return fail(BadRequest(
          "Cannot use chat template functions because tokenizer.chat_template is not set and no "
          "template argument was passed! For information about writing templates and setting the "
          "tokenizer.chat_template attribute, please see the documentation at "
          "https://huggingface.co/docs/transformers/main/en/chat_templating"));
    }
    // llama.cpp falls back to its chatml template and Ollama to "{{ .Prompt }}": chats work.
  }

  // Images: each family checks support its own way, then decodes each one.
  plan.images = static_cast<int>(image_urls.size());
  if (family == Family::kOllama) {
    // openai/openai.go FromChatRequest: only data:image/{jpeg,jpg,png,webp};base64 URLs.
    for (std::string_view url : image_urls) {
      bool ok = url.starts_with("data:;base64,");
      for (std::string_view t : {"jpeg", "jpg", "png", "webp"}) {
        ok = ok || url.starts_with(fmt::format("data:image/{};base64,", t));
      }
      if (!ok) return fail(BadRequest("invalid image input"));
    }
  }
  if (!image_urls.empty() && !config.image_support) {
    switch (family) {
      case Family::kLlamaCpp:
        // server-common.cpp: a std::runtime_error, so a 500 (not a client error).
        return fail(LlamaServer(
            "image input is not supported - hint: if this is unexpected, you may need to provide "
            "the mmproj"));
      case Family::kOllama:
        // model/model.go ErrNoVisionModel, raised by the runner: a 500 through the /v1 writer.
        return fail(
            ApiError{500, "api_error", "this model is missing data required for image input"});
      case Family::kSglang:
        return fail(BadRequest(fmt::format(
            "The model {} is not a multimodal model: image input is not supported; remove the "
            "image_url parts or serve a vision-language model.",
            plan.model)));
      default:
        return fail(BadRequest(fmt::format(
            "The model `{}` does not support image input (it is a text-only model); remove the "
            "image_url parts or use a vision-language model.",
            plan.model)));
    }
  }
  if (family == Family::kVllm && plan.images > config.limit_mm_per_prompt) {
    return fail(BadRequest(fmt::format("At most {} image(s) may be provided in one prompt.",
                                       config.limit_mm_per_prompt)));
  }
  for (std::string_view url : image_urls) {
    Status st = CheckImageUrl(url);
    if (!st.ok()) {
      // llama.cpp's handle_media throws std::runtime_error: a 500.
      if (llama) return fail(LlamaServer("Failed to load image or audio file: " + st.message()));
      return fail(BadRequest(st.message()));
    }
  }

  int bpt = std::max(1, config.bytes_per_text_token);
  plan.prompt_tokens = CeilDiv(text_bytes, bpt) +
                       kTokensPerMessage * static_cast<int>(messages.size()) +
                       plan.images * config.tokens_per_image;
  const int ctx = config.max_model_len;
  switch (family) {
    case Family::kVllm:
      if (max_tokens < 0) {
        if (plan.prompt_tokens >= ctx) {
          return fail(BadRequest(fmt::format(
              "This model's maximum context length is {} tokens. However, you requested {} tokens "
              "in the messages, Please reduce the length of the messages.",
              ctx, plan.prompt_tokens)));
        }
        max_tokens = ctx - plan.prompt_tokens;
      } else if (plan.prompt_tokens + max_tokens > ctx) {
        return fail(BadRequest(fmt::format(
            "This model's maximum context length is {} tokens. However, you requested {} tokens "
            "({} in the messages, {} in the completion). Please reduce the length of the messages "
            "or completion.",
            ctx, plan.prompt_tokens + max_tokens, plan.prompt_tokens, max_tokens)));
      }
      break;
    case Family::kLlamaCpp:
      // server-context.cpp: only the prompt must fit the slot's context; generation then stops
      // at the end of the context with finish_reason "length".
      if (plan.prompt_tokens >= ctx) {
        if (api == Api::kLlamaCppB4800) {
          return fail(LlamaInvalid(
              "the request exceeds the available context size. try increasing the context size "
              "or enable context shift"));
        }
        ApiError err{400, "exceed_context_size_error",
                     fmt::format("request ({} tokens) exceeds the available context size ({} "
                                 "tokens), try increasing it",
                                 plan.prompt_tokens, ctx)};
        err.n_prompt_tokens = plan.prompt_tokens;
        err.n_ctx = ctx;
        return fail(std::move(err));
      }
      max_tokens = max_tokens < 0 ? ctx - plan.prompt_tokens
                                  : std::min(max_tokens, ctx - plan.prompt_tokens);
      break;
    case Family::kSglang:
      // managers/tokenizer_manager.py _validate_one_request (ValueError, answered as a 400).
      if (plan.prompt_tokens >= ctx) {
        return fail(BadRequest(
            fmt::format("The input ({} tokens) is longer than the model's context length ({} "
                        "tokens).",
                        plan.prompt_tokens, ctx)));
      }
      if (max_tokens >= 0 && plan.prompt_tokens + max_tokens >= ctx) {
        return fail(BadRequest(fmt::format(
            "Requested token count exceeds the model's maximum context length of {} tokens. You "
            "requested a total of {} tokens: {} tokens from the input messages and {} tokens for "
            "the completion. Please reduce the number of tokens in the input messages or the "
            "completion to fit within the limit.",
            ctx, plan.prompt_tokens + max_tokens, plan.prompt_tokens, max_tokens)));
      }
      if (max_tokens < 0) max_tokens = ctx - plan.prompt_tokens - 1;
      break;
    case Family::kOllama:
      // Ollama truncates the prompt to num_ctx (server/prompt.go chatPrompt keeps the latest
      // messages) and shifts the context while generating: no error either way.
      plan.prompt_tokens = std::min(plan.prompt_tokens, ctx);
      if (max_tokens < 0) max_tokens = 1 << 30;
      break;
  }
  plan.max_tokens = max_tokens;
  if (config.prompt_token_ids) {
    plan.tokens = tokens.Finish();
    // Counted the same way as prompt_tokens; a truncated (Ollama) prompt is cut alike.
    if (plan.tokens.ids.size() > static_cast<size_t>(plan.prompt_tokens)) {
      plan.tokens.ids.resize(static_cast<size_t>(plan.prompt_tokens));
    }
  }

  // The constraint this server version honours; the others are ignored as a real server does.
  Constraint c;
  ApiError err;
  switch (family) {
    case Family::kVllm:
      if (Find(req, "response_format", &e)) {
        err = ReadResponseFormat(e, &c);
        if (err.status != 0) return fail(err);
      }
      if (api == Api::kVllm012) {
        if (Find(req, "structured_outputs", &e)) {
          Constraint so;
          err = ReadStructuredOutputs(e, &so);
          if (err.status != 0) return fail(err);
          if (so.kind != ConstraintKind::kNone) c = std::move(so);
        }
      } else if (api == Api::kVllm010) {
        Constraint g;
        err = ReadGuided(req, &g);
        if (err.status != 0) return fail(err);
        if (g.kind != ConstraintKind::kNone) c = std::move(g);
      }
      break;
    case Family::kLlamaCpp:
      err = SelectLlama(req, api, &c);
      if (err.status != 0) return fail(err);
      break;
    case Family::kSglang:
      err = SelectSglang(req, &c);
      if (err.status != 0) return fail(err);
      break;
    case Family::kOllama:
      SelectOllama(req, &c);
      break;
  }
  plan.constraint = c.kind;

  plan.hash = Hash64(body, config.seed);
  Rng rng(plan.hash);
  if (plan.logprobs) {
    // The answer drawn from a known distribution at each allowed-values place, and its tokens
    // with their log-probabilities from that same distribution (free whitespace left out).
    std::vector<AnswerPiece> pieces;
    // A regex that only lists literals is a choice (SGLang's way to ask for one).
    const std::vector<std::string> literals =
        c.kind == ConstraintKind::kRegex ? LiteralAlternation(c.regex) : std::vector<std::string>{};
    if (c.kind == ConstraintKind::kChoice || !literals.empty()) {
      AnswerPiece piece;
      piece.alts = literals.empty() ? c.choices : literals;
      piece.p = ValueDistribution(config.seed, last_user_text, "", piece.alts.size());
      piece.chosen = SampleIndex(piece.p, rng);
      pieces.push_back(std::move(piece));
    } else if (c.kind == ConstraintKind::kJsonSchema) {
      auto v = GenerateValue(c.schema, rng);
      if (v.ok()) pieces = JsonAnswerPieces(c.schema, &*v, config.seed, last_user_text, rng);
    }
    if (!pieces.empty()) {
      const double off = llama ? kOffGrammarMass : 0.0;
      plan.logprob_tokens = TokenizePieces(pieces, bpt, top_logprobs, off);
      if (plan.logprob_tokens.size() > static_cast<size_t>(std::max(max_tokens, 1))) {
        plan.logprob_tokens.resize(static_cast<size_t>(std::max(max_tokens, 1)));
        plan.finish_reason = "length";
      }
      for (const auto& t : plan.logprob_tokens) plan.content += t.text;
      plan.completion_tokens = static_cast<int>(plan.logprob_tokens.size());
      return out;
    }
  }
  std::optional<json> json_answer;
  switch (c.kind) {
    case ConstraintKind::kNone:
      plan.content = FreeText(last_user_text, rng);
      break;
    case ConstraintKind::kJsonObject: {
      json o = json::object();
      o["answer"] = FreeText(last_user_text, rng);
      o["confidence"] = static_cast<double>(rng.Range(50, 99)) / 100;
      json_answer = std::move(o);
      break;
    }
    case ConstraintKind::kJsonSchema: {
      auto v = GenerateValue(c.schema, rng);
      if (!v.ok()) {
        if (llama) {
          return fail(LlamaInvalid("\"json_schema\": JSON schema conversion failed:\n" +
                                   v.status().message()));
        }
        return fail(
            BadRequest("Invalid JSON schema for structured output: " + v.status().message()));
      }
      json_answer = std::move(v).value();
      break;
    }
    case ConstraintKind::kChoice:
      plan.content = c.choices[rng.Below(c.choices.size())];
      break;
    case ConstraintKind::kRegex: {
      auto s = GenerateFromRegex(c.regex, rng);
      if (!s.ok()) {
        return fail(BadRequest("Invalid regex for structured output: " + s.status().message()));
      }
      plan.content = std::move(s).value();
      break;
    }
    case ConstraintKind::kGrammar: {
      auto s = GenerateFromGrammar(c.regex, rng);
      if (!s.ok()) {
        if (llama) return fail(LlamaInvalid("Failed to parse grammar: " + s.status().message()));
        return fail(BadRequest("Invalid ebnf grammar: " + s.status().message()));
      }
      plan.content = std::move(s).value();
      break;
    }
  }

  if (json_answer.has_value() && config.json_whitespace > 0) {
    // Free whitespace where the grammar allows it, counted token by token so that max_tokens
    // cuts it like a real server does.
    TokenWriter w(bpt, config.json_whitespace, rng);
    w.Value(*json_answer);
    std::vector<std::string> tokens = w.Take();
    const size_t keep = std::min(tokens.size(), static_cast<size_t>(std::max(max_tokens, 1)));
    for (size_t t = 0; t < keep; ++t) plan.content += tokens[t];
    plan.completion_tokens = static_cast<int>(std::max<size_t>(keep, 1));
    if (keep < tokens.size()) plan.finish_reason = "length";
    return out;
  }
  if (json_answer.has_value()) plan.content = json_answer->dump();

  if (plan.logprobs) {
    // No known distribution (free text, regex, grammar): every token forced.
    plan.logprob_tokens =
        TokenizePieces({AnswerPiece{plan.content, {}, {}, 0}}, bpt, top_logprobs, 0.0);
  }
  plan.completion_tokens = std::max(1, CeilDiv(plan.content.size(), bpt));
  if (plan.completion_tokens > max_tokens) {
    CutUtf8(&plan.content, static_cast<size_t>(max_tokens) * bpt);
    plan.completion_tokens = max_tokens;
    plan.finish_reason = "length";
  }
  return out;
}

void TruncateForLengthFault(ChatPlan* plan) {
  std::string& s = plan->content;
  CutUtf8(&s, s.size() / 2);
  if (plan->constraint == ConstraintKind::kJsonSchema ||
      plan->constraint == ConstraintKind::kJsonObject) {
    if (s.empty() || json::accept(s)) s += "\"";
  }
  plan->finish_reason = "length";
  plan->completion_tokens = std::max(1, plan->max_tokens);
}

std::string ErrorBody(const ApiError& error, Api api) {
  std::string out;
  JsonWriter w(&out);
  switch (FamilyOf(api)) {
    case Family::kLlamaCpp:
      // tools/server/server.cpp ex_wrapper: {"error": format_error_response(...)}.
      w.BeginObject().Key("error").BeginObject();
      w.Key("code").Int(error.status).Key("message").String(error.message);
      w.Key("type").String(error.type);
      if (error.n_prompt_tokens >= 0) w.Key("n_prompt_tokens").Int(error.n_prompt_tokens);
      if (error.n_ctx >= 0) w.Key("n_ctx").Int(error.n_ctx);
      w.EndObject().EndObject();
      return out;
    case Family::kOllama:
      // openai/openai.go ErrorResponse: param and code are always null.
      w.BeginObject().Key("error").BeginObject();
      w.Key("message").String(error.message).Key("type").String(error.type);
      w.Key("param").Null().Key("code").Null().EndObject().EndObject();
      return out;
    default:
      break;
  }
  // SGLang's ErrorResponse (entrypoints/openai/protocol.py) is vLLM 0.10's flat shape.
  const bool flat = api == Api::kVllm010 || api == Api::kSglang;
  if (flat) {
    w.BeginObject().Key("object").String("error");
  } else {
    w.BeginObject().Key("error").BeginObject();
  }
  w.Key("message")
      .String(error.message)
      .Key("type")
      .String(error.type)
      .Key("param")
      .Null()
      .Key("code")
      .Int(error.status)
      .EndObject();
  if (!flat) w.EndObject();
  return out;
}

ApiError ServerError(int status, std::string message, Api api) {
  ApiError e{status, "", std::move(message)};
  switch (FamilyOf(api)) {
    case Family::kLlamaCpp:
      e.type = status == 503  ? "unavailable_error"
               : status < 500 ? "invalid_request_error"
                              : "server_error";
      break;
    case Family::kOllama:
      e.type = status == 400 ? "invalid_request_error" : "api_error";
      break;
    default:
      e.type = status == 429   ? "RateLimitError"
               : status == 503 ? "ServiceUnavailableError"
               : status == 500 ? "InternalServerError"
                               : "BadRequestError";
  }
  return e;
}

namespace {
void WriteUsage(JsonWriter& w, const ChatPlan& plan) {
  w.Key("usage")
      .BeginObject()
      .Key("prompt_tokens")
      .Int(plan.prompt_tokens)
      .Key("total_tokens")
      .Int(plan.prompt_tokens + plan.completion_tokens)
      .Key("completion_tokens")
      .Int(plan.completion_tokens)
      .Key("prompt_tokens_details");
  // vLLM (serving_chat.py, with --enable-prompt-tokens-details) and SGLang (usage_processor.py,
  // with --enable-cache-report) both write the details only when some tokens were cached.
  if (plan.report_cached_tokens && plan.cached_tokens > 0) {
    w.BeginObject().Key("cached_tokens").Int(plan.cached_tokens).EndObject();
  } else {
    w.Null();
  }
  w.EndObject();
}
}  // namespace

namespace {
// choices[0].logprobs as the families write it: vLLM (protocol.py ChatCompletionLogProbsContent:
// token, logprob, bytes, top_logprobs [{token, logprob, bytes}]), SGLang alike, llama.cpp
// (completion_token_output::probs_vector_to_json) with an `id` before each token.
void WriteToken(JsonWriter& w, const std::string& text, double logprob, bool ids) {
  if (ids) w.Key("id").Int(static_cast<int64_t>(Hash64(text, 7) % 151936));
  w.Key("token").String(text).Key("logprob").Double(logprob).Key("bytes").BeginArray();
  for (unsigned char ch : text) w.Int(ch);
  w.EndArray();
}

void WriteLogprobs(JsonWriter& w, const ChatPlan& plan) {
  if (!plan.logprobs) {
    w.Null();
    return;
  }
  w.BeginObject().Key("content").BeginArray();
  for (const SimToken& t : plan.logprob_tokens) {
    w.BeginObject();
    WriteToken(w, t.text, t.logprob, plan.logprob_ids);
    w.Key("top_logprobs").BeginArray();
    for (const auto& [text, lp] : t.top) {
      w.BeginObject();
      WriteToken(w, text, lp, plan.logprob_ids);
      w.EndObject();
    }
    w.EndArray().EndObject();
  }
  w.EndArray().EndObject();
}
}  // namespace

std::string CompletionBody(const ChatPlan& plan, std::string_view id, int64_t created) {
  std::string out;
  out.reserve(plan.content.size() + 512);
  JsonWriter w(&out);
  w.BeginObject()
      .Key("id")
      .String(id)
      .Key("object")
      .String("chat.completion")
      .Key("created")
      .Int(created)
      .Key("model")
      .String(plan.model)
      .Key("choices")
      .BeginArray()
      .BeginObject()
      .Key("index")
      .Int(0)
      .Key("message")
      .BeginObject()
      .Key("role")
      .String("assistant")
      .Key("content")
      .String(plan.content)
      .Key("refusal")
      .Null()
      .Key("annotations")
      .Null()
      .Key("audio")
      .Null()
      .Key("function_call")
      .Null()
      .Key("tool_calls")
      .BeginArray()
      .EndArray()
      .Key("reasoning_content")
      .Null()
      .EndObject()
      .Key("logprobs");
  WriteLogprobs(w, plan);
  w.Key("finish_reason")
      .String(plan.finish_reason)
      .Key("stop_reason")
      .Null()
      .EndObject()
      .EndArray()
      .Key("service_tier")
      .Null()
      .Key("system_fingerprint")
      .Null();
  WriteUsage(w, plan);
  w.Key("prompt_logprobs").Null().Key("kv_transfer_params").Null().EndObject();
  return out;
}

// "data: {" and the members every chunk starts with, up to the open "choices" array.
void BeginStreamChunk(JsonWriter& w, std::string* out, const ChatPlan& plan, std::string_view id,
                      int64_t created) {
  out->append("data: ");
  w.BeginObject().Key("id").String(id).Key("object").String("chat.completion.chunk");
  w.Key("created").Int(created).Key("model").String(plan.model).Key("choices").BeginArray();
}

void AppendStreamChunk(std::string* out, const ChatPlan& plan, std::string_view id, int64_t created,
                       std::string_view content, bool role, bool finish) {
  JsonWriter w(out);
  BeginStreamChunk(w, out, plan, id, created);
  w.BeginObject().Key("index").Int(0).Key("delta").BeginObject();
  if (role) w.Key("role").String("assistant");
  w.Key("content").String(content).EndObject();
  w.Key("logprobs").Null();
  if (finish) {
    w.Key("finish_reason").String(plan.finish_reason).Key("stop_reason").Null();
  } else {
    w.Key("finish_reason").Null();
  }
  w.EndObject().EndArray().EndObject();
  out->append("\n\n");
}

void AppendStreamUsage(std::string* out, const ChatPlan& plan, std::string_view id,
                       int64_t created) {
  JsonWriter w(out);
  BeginStreamChunk(w, out, plan, id, created);
  w.EndArray();
  WriteUsage(w, plan);
  w.EndObject();
  out->append("\n\n");
}

std::string StreamBody(const ChatPlan& plan, std::string_view id, int64_t created) {
  std::string out;
  out.reserve(plan.content.size() * 8 + 1024);
  AppendStreamChunk(&out, plan, id, created, "", /*role=*/true, /*finish=*/false);
  // Pieces of about one token each, never splitting a UTF-8 sequence.
  std::string_view rest = plan.content;
  const size_t piece = 4;
  while (!rest.empty()) {
    size_t n = std::min(piece, rest.size());
    while (n < rest.size() && (static_cast<unsigned char>(rest[n]) & 0xC0) == 0x80) ++n;
    bool last = n == rest.size();
    AppendStreamChunk(&out, plan, id, created, rest.substr(0, n), false, last);
    rest.remove_prefix(n);
  }
  if (plan.content.empty()) AppendStreamChunk(&out, plan, id, created, "", false, true);
  if (plan.include_usage) AppendStreamUsage(&out, plan, id, created);
  out.append("data: [DONE]\n\n");
  return out;
}

NativeChat FromOllamaNative(std::string_view body) {
  NativeChat out;
  json req = json::parse(body, nullptr, false);
  if (!req.is_object()) {
    out.error = ApiError{400, "invalid_request_error", "invalid character in request body"};
    return out;
  }
  if (!req.contains("model") || !req["model"].is_string() || req["model"] == "") {
    out.error = ApiError{400, "invalid_request_error", "model is required"};
    return out;
  }
  json v1 = json::object();
  v1["model"] = req["model"];
  v1["stream"] = false;
  if (req.contains("stream") && req["stream"].is_boolean()) out.stream = req["stream"];
  json messages = json::array();
  if (req.contains("messages") && req["messages"].is_array()) {
    for (const auto& m : req["messages"]) {
      if (!m.is_object()) continue;
      json msg = {{"role", m.value("role", "user")}};
      std::string text = m.contains("content") && m["content"].is_string() ? m["content"] : "";
      if (m.contains("images") && m["images"].is_array() && !m["images"].empty()) {
        json parts = json::array({{{"type", "text"}, {"text", text}}});
        for (const auto& img : m["images"]) {
          if (!img.is_string()) continue;
          parts.push_back(
              {{"type", "image_url"},
               {"image_url", {{"url", "data:image/png;base64," + img.get<std::string>()}}}});
        }
        msg["content"] = std::move(parts);
      } else {
        msg["content"] = text;
      }
      messages.push_back(std::move(msg));
    }
  }
  v1["messages"] = std::move(messages);
  if (req.contains("options") && req["options"].is_object() &&
      req["options"].contains("num_predict") && req["options"]["num_predict"].is_number_integer()) {
    v1["max_tokens"] = req["options"]["num_predict"];
  }
  if (req.contains("format")) {
    const json& f = req["format"];
    if (f.is_string() && f == "json") {
      v1["response_format"] = {{"type", "json_object"}};
    } else if (f.is_object()) {
      v1["response_format"] = {{"type", "json_schema"},
                               {"json_schema", {{"name", "format"}, {"schema", f}}}};
    } else if (!f.is_null() && !(f.is_string() && f == "")) {
      // server/routes.go: a format that is neither "json" nor a schema object.
      out.error = ApiError{400, "invalid_request_error",
                           "invalid format: expected \"json\" or a valid JSON schema"};
      return out;
    }
  }
  out.openai_body = v1.dump();
  return out;
}

std::string OllamaNativeBody(const ChatPlan& plan, bool stream) {
  std::string out;
  auto head = [&](JsonWriter& w, std::string_view content) {
    w.BeginObject().Key("model").String(plan.model);
    w.Key("created_at").String("2025-10-01T00:00:00.000000000Z");
    w.Key("message").BeginObject().Key("role").String("assistant").Key("content").String(content);
    w.EndObject();
  };
  auto final_members = [&](JsonWriter& w) {
    w.Key("done_reason").String(plan.finish_reason == "length" ? "length" : "stop");
    w.Key("done").Bool(true).Key("total_duration").Int(0).Key("load_duration").Int(0);
    w.Key("prompt_eval_count").Int(plan.prompt_tokens).Key("prompt_eval_duration").Int(0);
    w.Key("eval_count").Int(plan.completion_tokens).Key("eval_duration").Int(0).EndObject();
  };
  JsonWriter w(&out);
  if (!stream) {
    head(w, plan.content);
    final_members(w);
    return out;
  }
  std::string_view rest = plan.content;
  while (!rest.empty()) {
    size_t n = std::min<size_t>(4, rest.size());
    while (n < rest.size() && (static_cast<unsigned char>(rest[n]) & 0xC0) == 0x80) ++n;
    head(w, rest.substr(0, n));
    w.Key("done").Bool(false).EndObject();
    out += '\n';
    rest.remove_prefix(n);
  }
  head(w, "");
  final_members(w);
  out += '\n';
  return out;
}

std::string OllamaNativeErrorBody(const ApiError& error) {
  return json{{"error", error.message}}.dump();
}

std::string ModelsBody(const std::vector<std::string>& models, int max_model_len, int64_t created,
                       Api api, bool image_support) {
  std::string out;
  JsonWriter w(&out);
  const Family family = FamilyOf(api);
  w.BeginObject();
  if (api == Api::kLlamaCpp) {
    // Recent llama-server lists the model twice: an Ollama-style "models" array (with
    // capabilities) and the OpenAI "data" array (server-context.cpp, handle_models).
    w.Key("models").BeginArray();
    for (const auto& m : models) {
      w.BeginObject().Key("name").String(m).Key("model").String(m);
      w.Key("modified_at").String("").Key("size").String("").Key("digest").String("");
      w.Key("type").String("model").Key("description").String("").Key("tags").BeginArray();
      w.EndArray().Key("capabilities").BeginArray().String("completion");
      if (image_support) w.String("multimodal");
      w.EndArray().Key("parameters").String("").Key("details").BeginObject();
      w.Key("parent_model").String("").Key("format").String("gguf").Key("family").String("");
      w.Key("families").BeginArray().String("").EndArray();
      w.Key("parameter_size").String("").Key("quantization_level").String("");
      w.EndObject().EndObject();
    }
    w.EndArray();
  }
  w.Key("object").String("list").Key("data").BeginArray();
  for (const auto& m : models) {
    w.BeginObject().Key("id").String(m).Key("object").String("model").Key("created").Int(created);
    switch (family) {
      case Family::kLlamaCpp:
        // model_meta(): the training context and model facts; the slot context as n_ctx.
        w.Key("owned_by").String("llamacpp").Key("meta").BeginObject();
        w.Key("vocab_type").Int(2).Key("n_vocab").Int(32000);
        w.Key("n_ctx_train").Int(max_model_len).Key("n_ctx").Int(max_model_len);
        w.Key("n_embd").Int(2048).Key("n_params").Int(1100048384).Key("size").Int(667814912);
        w.EndObject();
        break;
      case Family::kSglang:
        // entrypoints/openai/protocol.py ModelCard: owned_by "sglang", root, max_model_len.
        w.Key("owned_by").String("sglang").Key("root").String(m).Key("parent").Null();
        w.Key("max_model_len").Int(max_model_len);
        break;
      case Family::kOllama:
        // openai/openai.go ToListCompletion: owned_by is the name's namespace.
        w.Key("owned_by").String("library");
        break;
      default:
        w.Key("owned_by").String("vllm").Key("root").String(m).Key("parent").Null();
        w.Key("max_model_len").Int(max_model_len).Key("permission").BeginArray().EndArray();
    }
    w.EndObject();
  }
  w.EndArray().EndObject();
  return out;
}

}  // namespace structflow::sim

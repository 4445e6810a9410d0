#include "sim/chat.h"

#include <fmt/format.h>
#include <simdjson.h>

#include <algorithm>
#include <nlohmann/json.hpp>

#include "common/json_writer.h"
#include "sim/image_check.h"
#include "sim/regex_gen.h"
#include "sim/rng.h"
#include "sim/schema_gen_internal.h"

namespace structflow::sim {
namespace {

using nlohmann::json;

// Chat templates add a few tokens per message (role markers, separators).
constexpr int kTokensPerMessage = 4;

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

Result<Api> ParseApi(std::string_view name) {
  if (name == "vllm-0.12" || name == "vllm") return Api::kVllm012;
  if (name == "vllm-0.10") return Api::kVllm010;
  if (name == "openai") return Api::kOpenAI;
  return Status::InvalidArgument(
      fmt::format("--api '{}': use vllm-0.12, vllm-0.10 or openai", name));
}

ChatOutcome PlanChat(std::string_view body, const ChatConfig& config) {
  ChatOutcome out;
  ChatPlan& plan = out.plan;
  auto fail = [&](ApiError e) {
    out.error = std::move(e);
    return out;
  };
  // One parser per thread, reused: its buffers grow to the largest body seen.
  thread_local simdjson::dom::parser parser;
  Element root;
  if (parser.parse(body.data(), body.size()).get(root) != simdjson::SUCCESS) {
    return fail(BadRequest("The request body is not valid JSON: check the quoting and braces"));
  }
  Object req;
  if (root.get_object().get(req) != simdjson::SUCCESS) {
    return fail(BadRequest("The request body must be a JSON object"));
  }
  Element e;

  // Model: vLLM answers 404 for a name it does not serve; without one it uses the first.
  if (Find(req, "model", &e)) {
    std::string_view m;
    if (e.get_string().get(m) != simdjson::SUCCESS) {
      return fail(BadRequest("model: Input should be a valid string"));
    }
    if (std::find(config.models.begin(), config.models.end(), m) == config.models.end()) {
      return fail(ApiError{404, "NotFoundError", fmt::format("The model `{}` does not exist.", m)});
    }
    plan.model = std::string(m);
  } else {
    plan.model = config.models.empty() ? "sim-vlm" : config.models.front();
  }

  Element messages_el;
  simdjson::dom::array messages;
  if (!Find(req, "messages", &messages_el)) return fail(BadRequest("messages: Field required"));
  if (messages_el.get_array().get(messages) != simdjson::SUCCESS) {
    return fail(BadRequest("messages: Input should be a valid list"));
  }
  if (messages.size() == 0) return fail(BadRequest("messages: List should have at least 1 item"));
  size_t text_bytes = 0;
  std::string last_user_text;
  std::vector<std::string_view> image_urls;
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
    if (r != "system" && r != "user" && r != "assistant" && r != "tool" && r != "developer") {
      return fail(BadRequest(fmt::format(
          "messages[{}].role: '{}' is not one of system, user, assistant, tool, developer", i, r)));
    }
    std::string text;
    Element content;
    std::string_view s;
    simdjson::dom::array parts;
    if (!Find(m, "content", &content)) {
      if (r != "assistant") {
        return fail(BadRequest(fmt::format("messages[{}].content: Field required", i)));
      }
    } else if (content.get_string().get(s) == simdjson::SUCCESS) {
      text = std::string(s);
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
          if (!text.empty()) text += "\n";
          text += t;
        } else if (type == "image_url") {
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
        } else {
          return fail(BadRequest(
              fmt::format("{}.type: '{}' is not supported by this model; use 'text' or 'image_url'",
                          where, type)));
        }
      }
    } else {
      return fail(BadRequest(fmt::format(
          "messages[{}].content: Input should be a string or a list of content parts", i)));
    }
    text_bytes += text.size() + r.size();
    if (r == "user") last_user_text = std::move(text);
    ++i;
  }

  // Sampling fields: only their types are checked, like pydantic does.
  for (const char* k : {"temperature", "top_p", "presence_penalty", "frequency_penalty"}) {
    if (Find(req, k, &e) && !e.is_number()) {
      return fail(BadRequest(fmt::format("{}: Input should be a valid number", k)));
    }
  }
  int max_tokens = -1;
  for (const char* k : {"max_completion_tokens", "max_tokens"}) {
    if (!Find(req, k, &e)) continue;
    int64_t v = 0;
    if (e.get_int64().get(v) != simdjson::SUCCESS) {
      return fail(BadRequest(fmt::format("{}: Input should be a valid integer", k)));
    }
    if (v < 1) return fail(BadRequest(fmt::format("{} must be at least 1, got {}.", k, v)));
    max_tokens = static_cast<int>(std::min<int64_t>(v, 1 << 30));
    break;
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
    if (!plan.stream) {
      return fail(BadRequest("Stream options can only be defined when `stream=True`."));
    }
  }

  if (!config.chat_template) {
    // What vLLM answers for a model whose tokenizer has no chat template.
    return fail(BadRequest(
        "As of transformers v4.44, default chat template is no longer allowed, so you must provide "
        "a chat template if the tokenizer does not define one."));
  }

  // Images: vLLM checks support, the per-prompt limit, then fetches and decodes each one.
  plan.images = static_cast<int>(image_urls.size());
  if (!image_urls.empty() && !config.image_support) {
    return fail(BadRequest(fmt::format(
        "The model `{}` does not support image input (it is a text-only model); remove the "
        "image_url parts or use a vision-language model.",
        plan.model)));
  }
  if (plan.images > config.limit_mm_per_prompt) {
    return fail(BadRequest(fmt::format("At most {} image(s) may be provided in one prompt.",
                                       config.limit_mm_per_prompt)));
  }
  for (std::string_view url : image_urls) {
    Status st = CheckImageUrl(url);
    if (!st.ok()) return fail(BadRequest(st.message()));
  }

  int bpt = std::max(1, config.bytes_per_text_token);
  plan.prompt_tokens = CeilDiv(text_bytes, bpt) +
                       kTokensPerMessage * static_cast<int>(messages.size()) +
                       plan.images * config.tokens_per_image;
  if (max_tokens < 0) {
    if (plan.prompt_tokens >= config.max_model_len) {
      return fail(BadRequest(fmt::format(
          "This model's maximum context length is {} tokens. However, you requested {} tokens in "
          "the messages, Please reduce the length of the messages.",
          config.max_model_len, plan.prompt_tokens)));
    }
    max_tokens = config.max_model_len - plan.prompt_tokens;
  } else if (plan.prompt_tokens + max_tokens > config.max_model_len) {
    return fail(BadRequest(fmt::format(
        "This model's maximum context length is {} tokens. However, you requested {} tokens ({} "
        "in the messages, {} in the completion). Please reduce the length of the messages or "
        "completion.",
        config.max_model_len, plan.prompt_tokens + max_tokens, plan.prompt_tokens, max_tokens)));
  }
  plan.max_tokens = max_tokens;

  // The constraint this server version honours; the others are ignored as a real server does.
  Constraint c;
  ApiError err;
  if (Find(req, "response_format", &e)) {
    err = ReadResponseFormat(e, &c);
    if (err.status != 0) return fail(err);
  }
  if (config.api == Api::kVllm012) {
    if (Find(req, "structured_outputs", &e)) {
      Constraint so;
      err = ReadStructuredOutputs(e, &so);
      if (err.status != 0) return fail(err);
      if (so.kind != ConstraintKind::kNone) c = std::move(so);
    }
  } else if (config.api == Api::kVllm010) {
    Constraint g;
    err = ReadGuided(req, &g);
    if (err.status != 0) return fail(err);
    if (g.kind != ConstraintKind::kNone) c = std::move(g);
  }
  plan.constraint = c.kind;

  plan.hash = Hash64(body, config.seed);
  Rng rng(plan.hash);
  switch (c.kind) {
    case ConstraintKind::kNone:
      plan.content = FreeText(last_user_text, rng);
      break;
    case ConstraintKind::kJsonObject: {
      json o = json::object();
      o["answer"] = FreeText(last_user_text, rng);
      o["confidence"] = static_cast<double>(rng.Range(50, 99)) / 100;
      plan.content = o.dump();
      break;
    }
    case ConstraintKind::kJsonSchema: {
      auto v = GenerateValue(c.schema, rng);
      if (!v.ok()) {
        return fail(
            BadRequest("Invalid JSON schema for structured output: " + v.status().message()));
      }
      plan.content = v->dump();
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
  if (api == Api::kVllm010) {
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
  if (api != Api::kVllm010) w.EndObject();
  return out;
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
      .Key("prompt_tokens_details")
      .Null()
      .EndObject();
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
      .Key("logprobs")
      .Null()
      .Key("finish_reason")
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

std::string ModelsBody(const std::vector<std::string>& models, int max_model_len, int64_t created) {
  std::string out;
  JsonWriter w(&out);
  w.BeginObject().Key("object").String("list").Key("data").BeginArray();
  for (const auto& m : models) {
    w.BeginObject()
        .Key("id")
        .String(m)
        .Key("object")
        .String("model")
        .Key("created")
        .Int(created)
        .Key("owned_by")
        .String("vllm")
        .Key("root")
        .String(m)
        .Key("parent")
        .Null()
        .Key("max_model_len")
        .Int(max_model_len)
        .Key("permission")
        .BeginArray()
        .EndArray()
        .EndObject();
  }
  w.EndArray().EndObject();
  return out;
}

}  // namespace structflow::sim

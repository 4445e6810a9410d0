// One chat completion request, from body to answer, as a server of the chosen family and version
// would treat it: validation with that server's statuses and wording, the structured-output
// parameters it honours (and the ones it silently ignores), the answer, and the response bodies.
// No networking here: the server calls PlanChat on an I/O thread and writes what it returns.
//
// Parameters honoured per --api (each read from the server's own source; see chat.cpp):
//   vllm-0.12:  response_format {"type": "text" | "json_object" | "json_schema"};
//   structured_outputs
//               {"json" | "choice" | "regex" | "json_object"} (wins); guided_* ignored
//   vllm-0.10:  response_format; guided_json, guided_choice, guided_regex (win);
//               structured_outputs ignored
//   openai:     response_format only
//   llama.cpp:  response_format json_schema / json_object (with optional "schema"), top-level
//               json_schema, grammar (GBNF); everything else ignored. A JSON Schema `pattern` not
//               anchored with ^...$ accepts any string.
//   llama.cpp-b4800: as llama.cpp, but response_format json_schema is ignored (a shadowed
//               variable, fixed by PR 12168 in March 2025) and an unanchored `pattern` is a 400.
//   sglang:     response_format (json_schema, json_object), regex, ebnf; at most one of them;
//               top-level json_schema (a /v1/completions field), structured_outputs, guided_*
//               ignored
//   ollama:     response_format json_schema / json_object on /v1; everything else ignored
// Log-probabilities (`logprobs`, `top_logprobs`): vLLM, SGLang and llama.cpp answer with
// choices[0].logprobs.content drawn from the answer's own distribution (sim/logprobs.h); vLLM
// refuses top_logprobs above its default --max-logprobs 20; Ollama ignores both.
// Thread-safety: pure functions of their arguments.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "sim/logprobs.h"
#include "sim/prefix_cache.h"

namespace structflow::sim {

enum class Api { kVllm012, kVllm010, kOpenAI, kLlamaCpp, kLlamaCppB4800, kSglang, kOllama };
// The server program behind an Api: decides error bodies, endpoints, metrics and HTTP handling.
// `openai` answers like vLLM 0.12 apart from the parameters it honours.
enum class Family { kVllm, kLlamaCpp, kSglang, kOllama };

// "vllm-0.12", "vllm-0.10", "openai", "llama.cpp", "llama.cpp-b4800", "sglang", "ollama".
Result<Api> ParseApi(std::string_view name);
std::string_view ApiName(Api api);
Family FamilyOf(Api api);
// Every --api name, for help texts and checks.
const std::vector<std::string>& ApiNames();

// What a family does when the user gives no flag (read from each server's argument defaults).
struct FamilyDefaults {
  int slots = 256;             // requests decoded at once
  double json_whitespace = 0;  // chance of free whitespace at each place a JSON grammar allows it
  bool metrics = true;         // /metrics served without asking
  int http_threads = 0;        // 0: no HTTP thread pool (every connection is served at once)
  int http_threads_over_slots = 2;  // with http_threads -1: max(slots + this, cores - 1) threads
  int http_dynamic_threads = 0;     // threads started on demand beyond those
  double keep_alive_s = 5;  // with a pool: idle time before a kept-alive connection is let go
};
FamilyDefaults DefaultsFor(Api api);

struct ChatConfig {
  Api api = Api::kVllm012;
  std::vector<std::string> models;
  int max_model_len = 8192;
  int limit_mm_per_prompt = 1;
  int bytes_per_text_token = 4;
  int tokens_per_image = 576;
  bool image_support = true;
  bool chat_template = true;  // false: a base model without one (see PlanChat for each family)
  // Chance, at each place the family's JSON grammar allows whitespace, that the answer has some
  // there (counted in completion tokens, one per whitespace character).
  double json_whitespace = 0;
  uint64_t seed = 0;
  // Fill ChatPlan::tokens (the prompt as the prefix cache sees it).
  bool prompt_token_ids = false;
};

// An error answered with vLLM's body: see ErrorBody for the shape per version.
struct ApiError {
  int status = 0;  // 0: no error
  std::string type;
  std::string message;
  // llama.cpp's exceed_context_size_error carries both numbers beside the message.
  int n_prompt_tokens = -1;
  int n_ctx = -1;
};

enum class ConstraintKind { kNone, kJsonObject, kJsonSchema, kChoice, kRegex, kGrammar };

struct ChatPlan {
  std::string model;
  std::string content;
  std::string finish_reason = "stop";
  ConstraintKind constraint = ConstraintKind::kNone;
  int prompt_tokens = 0;
  int completion_tokens = 0;
  int max_tokens = 0;  // as requested, or what the context leaves
  int images = 0;
  bool stream = false;
  bool include_usage = false;
  uint64_t hash = 0;  // of the request body and seed: drives every choice
  // With ChatConfig::prompt_token_ids: the prompt's pseudo-tokens (prompt_tokens of them).
  PromptTokens tokens;
  // Prompt tokens the prefix cache held (set by the server when the request starts), and
  // whether usage.prompt_tokens_details reports them (vLLM --enable-prompt-tokens-details,
  // SGLang --enable-cache-report).
  int cached_tokens = 0;
  bool report_cached_tokens = false;
  // `logprobs: true` honoured (not by Ollama): the answer's tokens with their log-probabilities
  // (sim/logprobs.h), written as choices[0].logprobs.content; llama.cpp adds token ids.
  bool logprobs = false;
  bool logprob_ids = false;
  std::vector<SimToken> logprob_tokens;
};

struct ChatOutcome {
  ApiError error;
  ChatPlan plan;
  bool ok() const { return error.status == 0; }
};

// Parses, validates and answers one request body. Images are decoded (header only) to check
// they are real.
ChatOutcome PlanChat(std::string_view body, const ChatConfig& config);

// Cuts the answer as a "length" fault does: finish_reason "length" and content that no longer
// parses (nor matches a choice).
void TruncateForLengthFault(ChatPlan* plan);

// The error body as the chosen server writes it. vLLM changed it in 0.10.1 (PR 22099) to
// OpenAI's nested shape, so:
//   vllm-0.10, sglang: {"object":"error","message":"...","type":"BadRequestError","param":null,
//                       "code":400}
//   vllm-0.12, openai: {"error":{"message":"...","type":"BadRequestError","param":null,"code":400}}
//   llama.cpp:         {"error":{"code":400,"message":"...","type":"invalid_request_error"}} (plus
//                      n_prompt_tokens and n_ctx for exceed_context_size_error)
//   ollama:            {"error":{"message":"...","type":"invalid_request_error","param":null,
//                       "code":null}}
// (the OpenAI SDKs read the nested ones into APIError.error).
std::string ErrorBody(const ApiError& error, Api api);
// The error a fault or a server-side condition gives, typed the family's way: `status` 429, 500,
// 503 or 413 with `message`.
ApiError ServerError(int status, std::string message, Api api);
// The non-streamed chat.completion body.
std::string CompletionBody(const ChatPlan& plan, std::string_view id, int64_t created);
// The whole server-sent-events body of a streamed answer: a role chunk, content chunks, a finish
// chunk, a usage chunk when include_usage, then "data: [DONE]".
std::string StreamBody(const ChatPlan& plan, std::string_view id, int64_t created);
// Appends one "data: {...}\n\n" event of the stream; `index` 0 is the role chunk, the content
// pieces follow, finish_reason on the last; used by StreamBody and by the paced streamer.
void AppendStreamChunk(std::string* out, const ChatPlan& plan, std::string_view id, int64_t created,
                       std::string_view content, bool role, bool finish);
void AppendStreamUsage(std::string* out, const ChatPlan& plan, std::string_view id,
                       int64_t created);
// Ollama's native POST /api/chat (api/types.go ChatRequest): `format` ("json" or a JSON Schema),
// `options.num_predict`, `images` per message, `stream` (default true: NDJSON). It is rewritten as
// the /v1 body Ollama's openai layer would build (openai/openai.go FromChatRequest in reverse),
// so PlanChat applies the same rules; `error` is set when the body is not a chat request.
struct NativeChat {
  std::string openai_body;
  bool stream = true;
  ApiError error;
};
NativeChat FromOllamaNative(std::string_view body);
// The native answer: one JSON object, or (stream) NDJSON message chunks ending with done:true.
std::string OllamaNativeBody(const ChatPlan& plan, bool stream);
// Native errors are gin's {"error":"..."}.
std::string OllamaNativeErrorBody(const ApiError& error);

// The models list of GET /v1/models, in the family's shape (vLLM max_model_len, llama.cpp meta,
// SGLang max_model_len, Ollama owned_by "library").
std::string ModelsBody(const std::vector<std::string>& models, int max_model_len, int64_t created,
                       Api api = Api::kVllm012, bool image_support = true);

}  // namespace structflow::sim

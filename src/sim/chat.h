// One chat completion request, from body to answer, as a vLLM server of the chosen version would
// treat it: validation with vLLM's statuses and wording, the structured-output parameters that
// version honours (and the ones it silently ignores), the answer, and the response bodies.
// No networking here: the server calls PlanChat on an I/O thread and writes what it returns.
//
// Parameters honoured per --api:
//   all:        response_format {"type": "text" | "json_object" | "json_schema",
//               "json_schema": {"name", "schema", "strict"}}
//   vllm-0.12:  structured_outputs {"json" | "choice" | "regex" | "json_object"} (wins over
//               response_format); guided_* ignored (free text)
//   vllm-0.10:  guided_json, guided_choice, guided_regex (win over response_format);
//               structured_outputs ignored
//   openai:     structured_outputs and guided_* ignored
// Thread-safety: pure functions of their arguments.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace structflow::sim {

enum class Api { kVllm012, kVllm010, kOpenAI };
// "vllm-0.12", "vllm-0.10", "openai".
Result<Api> ParseApi(std::string_view name);

struct ChatConfig {
  Api api = Api::kVllm012;
  std::vector<std::string> models;
  int max_model_len = 8192;
  int limit_mm_per_prompt = 1;
  int bytes_per_text_token = 4;
  int tokens_per_image = 576;
  bool image_support = true;
  bool chat_template = true;  // false: a base model without one; every chat is vLLM's 400
  uint64_t seed = 0;
};

// An error answered with vLLM's body: see ErrorBody for the shape per version.
struct ApiError {
  int status = 0;  // 0: no error
  std::string type;
  std::string message;
};

enum class ConstraintKind { kNone, kJsonObject, kJsonSchema, kChoice, kRegex };

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
//   vllm-0.10: {"object":"error","message":"...","type":"BadRequestError","param":null,"code":400}
//   vllm-0.12, openai: {"error":{"message":"...","type":"BadRequestError","param":null,"code":400}}
// (the OpenAI SDKs read the nested one into APIError.error).
std::string ErrorBody(const ApiError& error, Api api);
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
// The models list of GET /v1/models.
std::string ModelsBody(const std::vector<std::string>& models, int max_model_len, int64_t created);

}  // namespace structflow::sim

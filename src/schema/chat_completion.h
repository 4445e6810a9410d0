// Reading a chat completion response body: the first choice's message content, its
// finish_reason and the token usage. Runs per row on worker threads.
// Thread-safety: ParseChatCompletion may be called from any number of threads at once (each
// thread reuses its own simdjson parser).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "common/status.h"

namespace structflow::schema {

struct ChatAnswer {
  std::string content;        // "" when the message has no content (null)
  std::string finish_reason;  // "stop", "length", ...; "" when absent
  std::string refusal;        // OpenAI structured outputs: the model refused; content is empty
  int64_t prompt_tokens = 0;
  int64_t completion_tokens = 0;
  // usage.prompt_tokens_details.cached_tokens: prompt tokens the server's prefix cache held;
  // -1 when the answer does not say (vLLM without --enable-prompt-tokens-details, SGLang without
  // --enable-cache-report, and both when nothing was cached; Ollama).
  int64_t cached_tokens = -1;
};

// Errors (the caller turns them into kInvalidResponse rows): not JSON, an {"error": ...} body,
// no choices, a choice without a message.
Result<ChatAnswer> ParseChatCompletion(std::string_view body);

}  // namespace structflow::schema

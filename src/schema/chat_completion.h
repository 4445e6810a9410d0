// Reading a chat completion response body: the first choice's message content, its
// finish_reason and the token usage. Runs per row on worker threads.
// Thread-safety: ParseChatCompletion may be called from any number of threads at once (each
// thread reuses its own simdjson parser).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/status.h"

namespace structflow::schema {

// One generated token of choices[0].logprobs.content (the OpenAI chat format that vLLM, SGLang
// and llama.cpp's OpenAI layer all write): its text (from `bytes` when given, so a token that is
// part of a UTF-8 character keeps its exact bytes), its natural-log probability, and the
// top_logprobs alternatives at its position (text, logprob).
struct TokenLogprob {
  std::string token;
  double logprob = 0;
  std::vector<std::pair<std::string, double>> top;
};

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
  // With want_logprobs: whether choices[0].logprobs.content was there (an array of tokens), and
  // its tokens.
  bool has_logprobs = false;
  std::vector<TokenLogprob> logprobs;
};

// Errors (the caller turns them into kInvalidResponse rows): not JSON, an {"error": ...} body,
// no choices, a choice without a message.
// With `want_logprobs`, also reads choices[0].logprobs.content (else it is not looked at).
Result<ChatAnswer> ParseChatCompletion(std::string_view body, bool want_logprobs = false);

}  // namespace structflow::schema

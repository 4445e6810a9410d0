#include "schema/chat_completion.h"

#include <simdjson.h>

namespace structflow::schema {
namespace {

std::string Snip(std::string_view s) {
  constexpr size_t kMax = 200;
  return std::string(s.substr(0, kMax)) + (s.size() > kMax ? "..." : "");
}

// The token's exact text: its `bytes` (a list of byte values) when given, else `token`.
bool TokenText(simdjson::dom::object t, std::string* out) {
  out->clear();
  simdjson::dom::array bytes;
  if (t["bytes"].get(bytes) == simdjson::SUCCESS) {
    for (auto b : bytes) {
      int64_t v = 0;
      if (b.get(v) != simdjson::SUCCESS || v < 0 || v > 255) return false;
      out->push_back(static_cast<char>(v));
    }
    return true;
  }
  std::string_view text;
  if (t["token"].get(text) != simdjson::SUCCESS) return false;
  out->assign(text);
  return true;
}

// choices[0].logprobs.content: [{token, logprob, bytes, top_logprobs: [{token, logprob, bytes}]}]
// as vLLM (entrypoints/openai/protocol.py ChatCompletionLogProbsContent), SGLang
// (srt/entrypoints/openai/protocol.py) and llama.cpp (tools/server/server-common.cpp,
// completion_token_output::probs_vector_to_json without post_sampling_probs) write it. A logprob
// of -inf/-9999 style values is kept as given.
void ReadLogprobs(simdjson::dom::element choice, ChatAnswer* answer) {
  simdjson::dom::object lp;
  simdjson::dom::array content;
  if (choice["logprobs"].get(lp) != simdjson::SUCCESS ||
      lp["content"].get(content) != simdjson::SUCCESS) {
    return;
  }
  answer->has_logprobs = true;
  for (auto item : content) {
    simdjson::dom::object t;
    TokenLogprob tok;
    if (item.get(t) != simdjson::SUCCESS || !TokenText(t, &tok.token) ||
        t["logprob"].get(tok.logprob) != simdjson::SUCCESS) {
      answer->has_logprobs = false;  // unusable: confidence says so instead of guessing
      answer->logprobs.clear();
      return;
    }
    simdjson::dom::array top;
    if (t["top_logprobs"].get(top) == simdjson::SUCCESS) {
      std::string text;
      for (auto alt : top) {
        simdjson::dom::object a;
        double v = 0;
        if (alt.get(a) != simdjson::SUCCESS || !TokenText(a, &text) ||
            a["logprob"].get(v) != simdjson::SUCCESS) {
          continue;
        }
        tok.top.emplace_back(text, v);
      }
    }
    answer->logprobs.push_back(std::move(tok));
  }
}

}  // namespace

Result<ChatAnswer> ParseChatCompletion(std::string_view body, bool want_logprobs) {
  // One DOM parser per thread: it keeps its buffers between rows.
  thread_local simdjson::dom::parser parser;
  simdjson::dom::element doc;
  if (auto err = parser.parse(body.data(), body.size()).get(doc); err) {
    return Status::Corrupt(std::string("the response body is not JSON (") +
                           simdjson::error_message(err) + "): " + Snip(body));
  }
  if (!doc.is_object()) {
    return Status::Corrupt("the response body is not a chat completion object: " + Snip(body));
  }
  simdjson::dom::element error;
  if (doc["error"].get(error) == simdjson::SUCCESS && !error.is_null()) {
    std::string_view message;
    if (error.is_object() && error["message"].get(message) == simdjson::SUCCESS) {
      return Status::Corrupt("the server answered with an error: " + std::string(message));
    }
    return Status::Corrupt("the server answered with an error: " + Snip(simdjson::minify(error)));
  }
  simdjson::dom::array choices;
  if (doc["choices"].get(choices) != simdjson::SUCCESS || choices.size() == 0) {
    return Status::Corrupt("the chat completion has no choices: " + Snip(body));
  }
  simdjson::dom::element choice = *choices.begin();
  simdjson::dom::object message;
  if (choice["message"].get(message) != simdjson::SUCCESS) {
    return Status::Corrupt("the chat completion's first choice has no message object: " +
                           Snip(body));
  }
  ChatAnswer answer;
  std::string_view text;
  if (message["content"].get(text) == simdjson::SUCCESS) answer.content = std::string(text);
  if (message["refusal"].get(text) == simdjson::SUCCESS) answer.refusal = std::string(text);
  if (choice["finish_reason"].get(text) == simdjson::SUCCESS) {
    answer.finish_reason = std::string(text);
  }
  if (want_logprobs) ReadLogprobs(choice, &answer);
  simdjson::dom::object usage;
  if (doc["usage"].get(usage) == simdjson::SUCCESS) {
    int64_t n = 0;
    if (usage["prompt_tokens"].get(n) == simdjson::SUCCESS) answer.prompt_tokens = n;
    if (usage["completion_tokens"].get(n) == simdjson::SUCCESS) answer.completion_tokens = n;
    // vLLM (entrypoints/openai/serving_chat.py, with --enable-prompt-tokens-details), SGLang
    // (usage_processor.py, with --enable-cache-report) and llama.cpp (tools/server/
    // server-task.cpp usage_json_oaicompat: always, n_prompt_tokens_cache) all write
    // usage.prompt_tokens_details.cached_tokens.
    simdjson::dom::object details;
    if (usage["prompt_tokens_details"].get(details) == simdjson::SUCCESS &&
        details["cached_tokens"].get(n) == simdjson::SUCCESS) {
      answer.cached_tokens = n;
    }
  }
  return answer;
}

}  // namespace structflow::schema

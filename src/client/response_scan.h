// Cheap scans of response bodies, cheap enough for the I/O thread: no JSON tree is built. The
// full parse of the answer happens later, on the worker threads.
// Thread-safety: pure functions.
#pragma once

#include <cstdint>
#include <string_view>

namespace structflow::client {

// True when `body` looks like a chat (or text) completion: a JSON object (first and last
// non-blank characters are braces) holding a "choices" key. Catches truncated, empty and
// non-JSON answers; a full validation would need a parse.
bool LooksLikeCompletion(std::string_view body);

// True when `body` is a JSON object at all (first and last non-blank characters are braces).
bool LooksLikeJsonObject(std::string_view body);

struct Usage {
  int64_t prompt_tokens = 0;
  int64_t completion_tokens = 0;
  bool found = false;
};

// Reads "prompt_tokens" and "completion_tokens" from the "usage" object of an OpenAI-style
// answer, by a forward scan from the last "usage" key (servers put it at the end).
Usage ScanUsage(std::string_view body);

}  // namespace structflow::client

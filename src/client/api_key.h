// Where the API key comes from, and how it is kept out of messages. The key is sent only as an
// `Authorization: Bearer` header; it never appears in logs, errors, stats or outputs.
// Thread-safety: free functions, callable from any thread. They never read the environment: the
// caller (the CLI) passes OPENAI_API_KEY's value in.
#pragma once

#include <string>
#include <string_view>

#include "common/status.h"

namespace structflow::client {

// The key from `flag_value` (--api-key) when set, else `env_value` (the OPENAI_API_KEY environment
// variable, read by the caller), else from the first line of `key_file` when a path is given, else
// "" (no key: no Authorization header is sent). Surrounding whitespace is trimmed. Fails when the
// file cannot be read or the key holds a control character (it would break the HTTP header);
// messages never quote the key.
Result<std::string> ResolveApiKey(const std::string& flag_value, const std::string& key_file,
                                  std::string_view env_value = {});

// `url` with any user:password@ part replaced by "***@", for messages.
std::string RedactUrl(std::string_view url);

// `text` with every occurrence of `secret` replaced by "***" (a no-op for an empty secret).
std::string RedactSecret(std::string text, std::string_view secret);

}  // namespace structflow::client

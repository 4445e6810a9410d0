// Whether an answer cut at max_tokens could still have become one that fits: the difference
// between "truncated" (ask again with more tokens) and "the server ignored the constraint"
// (no number of tokens helps; say so, and do not double max_tokens for it).
// Thread-safety: pure functions.
#pragma once

#include <string_view>

#include "schema/constraint.h"
#include "schema/dialect.h"

namespace structflow::schema {

// True when `content` is a prefix of some answer that `c` accepts under `dialect`, as far as
// can be told cheaply: for choices, a prefix of a choice (inside the {"answer": ...} wrapper
// for the JSON dialects, whitespace between JSON tokens allowed); for JSON Schema, a prefix of
// some JSON document (strings, numbers, literals and brackets well formed so far); for a
// regex, always true (RE2 cannot test prefixes), unless the dialect wraps it in JSON and the
// JSON is already broken.
bool IsViablePrefix(const Constraint& c, Dialect dialect, std::string_view content);

// True when `text` is a prefix of some JSON text: whitespace anywhere between tokens, strings
// with valid escapes, number characters, prefixes of true/false/null, brackets that match.
bool IsJsonPrefix(std::string_view text);

}  // namespace structflow::schema

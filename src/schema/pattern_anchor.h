// Regexes as the servers' grammar converters need them. structflow checks a --regex answer as a
// full match and a JSON Schema "pattern" as a search (JSON Schema: "contains"), but llama.cpp's
// json-schema-to-grammar (common/json-schema-to-grammar.cpp, _visit_pattern) refuses or ignores
// a pattern that does not start with '^' and end with '$' (older builds fail the request with
// "Pattern must start with '^' and end with '$'"; newer ones log "not anchored ... accepting any
// string"), reads '^'/'$' only at the two ends, and copies escapes into GBNF literals, where
// only \x \u \U \t \n \r \\ \" \[ \] are known (so \d, \w, \s must be spelled as classes).
// Ollama converts schemas with the same code. vLLM's and SGLang's xgrammar accept the anchored
// forms too, so the JSON dialects (response_format, top-level json_schema) send these forms to
// every family.
// Thread-safety: pure functions.
#pragma once

#include <string>
#include <string_view>

#include "nlohmann/json.hpp"

namespace structflow::schema {

// The full-match regex `r` as "^(?:r)$" (an outer ^ or $ of `r` dropped first), with \d \w \s
// spelled as classes.
std::string AnchoredFullMatch(std::string_view r);

// The JSON Schema (search) pattern `p` as an anchored regex that matches the same strings:
// "^.*(?:p).*$", without the ".*" on a side where `p` is anchored already ("^abc" ->
// "^(?:abc).*$"), with \d \w \s spelled as classes.
std::string AnchoredSearch(std::string_view p);

// Rewrites, in place, every string-valued "pattern" keyword of a JSON Schema document with
// AnchoredSearch.
void AnchorSchemaPatterns(nlohmann::ordered_json* schema);

}  // namespace structflow::schema

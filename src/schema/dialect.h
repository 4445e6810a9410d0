// Request dialects: the ways servers accept a structured-output constraint in a chat completion
// request. Thread-safety: plain values and pure functions.
#pragma once

#include <string_view>

#include "common/status.h"

namespace structflow::schema {

enum class Dialect {
  kAuto,        // learn it from the server (ProbeDialect)
  kOpenAI,      // "response_format": {"type": "json_schema", ...}: OpenAI, vLLM, SGLang, llama.cpp
  kVllm,        // "structured_outputs": {...}: vLLM 0.12 and later
  kVllmLegacy,  // "guided_json" / "guided_choice" / "guided_regex": vLLM up to 0.10
  // SGLang's own "regex" member for choices and regexes (srt/entrypoints/openai/protocol.py
  // ChatCompletionRequest: regex, ebnf), "response_format" (unwrapped) for schemas.
  kSglang,
  // Top-level "json_schema" (an object): llama.cpp's server (tools/server, params_from_json_cmpl),
  // the one its builds before March 2025 honoured while ignoring response_format json_schema.
  kLlamaCpp,
};

// Every dialect a request can be sent in (kAuto aside), for probes and tables.
inline constexpr Dialect kAllDialects[] = {Dialect::kVllm, Dialect::kOpenAI, Dialect::kVllmLegacy,
                                           Dialect::kSglang, Dialect::kLlamaCpp};

// Parses "auto", "openai", "vllm", "vllm-legacy", "sglang", "llama.cpp"; the error lists the
// accepted names.
Result<Dialect> ParseDialect(std::string_view name);
// The inverse of ParseDialect.
std::string_view DialectName(Dialect dialect);
// True for the dialects whose answer is a JSON document shaped by a JSON Schema that structflow
// wraps ({"answer": ...} around choices, regexes and non-object schemas): openai, llama.cpp.
bool IsJsonWrapped(Dialect dialect);

}  // namespace structflow::schema

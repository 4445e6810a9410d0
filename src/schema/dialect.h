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
};

// Parses "auto", "openai", "vllm", "vllm-legacy"; the error lists the accepted names.
Result<Dialect> ParseDialect(std::string_view name);
// The inverse of ParseDialect.
std::string_view DialectName(Dialect dialect);

}  // namespace structflow::schema

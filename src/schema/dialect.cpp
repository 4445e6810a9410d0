#include "schema/dialect.h"

#include <string>

namespace structflow::schema {

Result<Dialect> ParseDialect(std::string_view name) {
  if (name == "auto") return Dialect::kAuto;
  if (name == "openai") return Dialect::kOpenAI;
  if (name == "vllm") return Dialect::kVllm;
  if (name == "vllm-legacy") return Dialect::kVllmLegacy;
  if (name == "sglang") return Dialect::kSglang;
  if (name == "llama.cpp" || name == "llamacpp") return Dialect::kLlamaCpp;
  return Status::InvalidArgument(
      "unknown structured-output dialect '" + std::string(name) +
      "': use one of auto, openai, vllm, vllm-legacy, sglang, llama.cpp");
}

std::string_view DialectName(Dialect dialect) {
  switch (dialect) {
    case Dialect::kAuto:
      return "auto";
    case Dialect::kOpenAI:
      return "openai";
    case Dialect::kVllm:
      return "vllm";
    case Dialect::kVllmLegacy:
      return "vllm-legacy";
    case Dialect::kSglang:
      return "sglang";
    case Dialect::kLlamaCpp:
      return "llama.cpp";
  }
  return "unknown";
}

bool IsJsonWrapped(Dialect dialect) {
  return dialect == Dialect::kOpenAI || dialect == Dialect::kLlamaCpp;
}

}  // namespace structflow::schema

#include "schema/dialect.h"

#include <string>

namespace structflow::schema {

Result<Dialect> ParseDialect(std::string_view name) {
  if (name == "auto") return Dialect::kAuto;
  if (name == "openai") return Dialect::kOpenAI;
  if (name == "vllm") return Dialect::kVllm;
  if (name == "vllm-legacy") return Dialect::kVllmLegacy;
  return Status::InvalidArgument("unknown structured-output dialect '" + std::string(name) +
                                 "': use one of auto, openai, vllm, vllm-legacy");
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
  }
  return "unknown";
}

}  // namespace structflow::schema

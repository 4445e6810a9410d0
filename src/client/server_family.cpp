#include "client/server_family.h"

namespace structflow::client {

std::string_view ServerFamilyName(ServerFamily family) {
  switch (family) {
    case ServerFamily::kVllm:
      return "vllm";
    case ServerFamily::kSglang:
      return "sglang";
    case ServerFamily::kLlamaCpp:
      return "llama.cpp";
    case ServerFamily::kOllama:
      return "ollama";
    case ServerFamily::kOpenAI:
      return "openai";
    case ServerFamily::kUnknown:
      break;
  }
  return "unknown";
}

}  // namespace structflow::client

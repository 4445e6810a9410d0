// The server families structflow knows apart: they honour different structured-output request
// members, answer errors with different bodies, and publish their limits at different endpoints.
// Thread-safety: plain values and pure functions.
#pragma once

#include <string_view>

namespace structflow::client {

enum class ServerFamily {
  kUnknown,   // not learnt (yet): every rule that does not need the family applies
  kVllm,      // vLLM (entrypoints/openai)
  kSglang,    // SGLang (srt/entrypoints/openai)
  kLlamaCpp,  // llama.cpp's llama-server (tools/server)
  kOllama,    // Ollama's OpenAI layer (openai/) in front of its own API (server/)
  kOpenAI,    // OpenAI or another hosted API of its shape
};

// "vllm", "sglang", "llama.cpp", "ollama", "openai", "unknown".
std::string_view ServerFamilyName(ServerFamily family);

}  // namespace structflow::client

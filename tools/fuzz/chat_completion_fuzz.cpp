// Fuzz target for the chat-completion parser: each input is a response body as a server sends
// it. Any Status is fine; a crash, hang or sanitizer report is a bug.
#include <cstdint>
#include <string_view>

#include "schema/chat_completion.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto a = structflow::schema::ParseChatCompletion(
      std::string_view(reinterpret_cast<const char*>(data), size));
  if (a.ok() && a->completion_tokens < 0 && a->content.size() > size) std::abort();
  return 0;
}

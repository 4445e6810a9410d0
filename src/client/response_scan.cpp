#include "client/response_scan.h"

namespace structflow::client {
namespace {

bool IsBlank(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

// The integer after `"key"` and a colon inside `obj`, or -1.
int64_t IntAfterKey(std::string_view obj, std::string_view quoted_key) {
  size_t pos = obj.find(quoted_key);
  if (pos == std::string_view::npos) return -1;
  pos += quoted_key.size();
  while (pos < obj.size() && IsBlank(obj[pos])) ++pos;
  if (pos >= obj.size() || obj[pos] != ':') return -1;
  ++pos;
  while (pos < obj.size() && IsBlank(obj[pos])) ++pos;
  int64_t v = 0;
  bool any = false;
  while (pos < obj.size() && obj[pos] >= '0' && obj[pos] <= '9') {
    v = v * 10 + (obj[pos] - '0');
    any = true;
    ++pos;
    if (v > (int64_t{1} << 50)) return -1;
  }
  return any ? v : -1;
}

}  // namespace

bool LooksLikeJsonObject(std::string_view body) {
  size_t b = 0;
  size_t e = body.size();
  while (b < e && IsBlank(body[b])) ++b;
  while (e > b && IsBlank(body[e - 1])) --e;
  return e - b >= 2 && body[b] == '{' && body[e - 1] == '}';
}

bool LooksLikeCompletion(std::string_view body) {
  return LooksLikeJsonObject(body) && body.find("\"choices\"") != std::string_view::npos;
}

Usage ScanUsage(std::string_view body) {
  Usage u;
  size_t pos = body.rfind("\"usage\"");
  if (pos == std::string_view::npos) return u;
  size_t open = body.find('{', pos);
  if (open == std::string_view::npos) return u;
  size_t close = body.find('}', open);
  if (close == std::string_view::npos) return u;
  std::string_view obj = body.substr(open, close - open);
  int64_t p = IntAfterKey(obj, "\"prompt_tokens\"");
  int64_t c = IntAfterKey(obj, "\"completion_tokens\"");
  if (p < 0 && c < 0) return u;
  u.found = true;
  u.prompt_tokens = p < 0 ? 0 : p;
  u.completion_tokens = c < 0 ? 0 : c;
  return u;
}

}  // namespace structflow::client

#include "schema/answer_prefix.h"

#include <string>
#include <vector>

namespace structflow::schema {
namespace {

bool IsWs(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

// `text` with the whitespace outside JSON strings removed (a JSON prefix stays a prefix).
std::string CompactJson(std::string_view text) {
  std::string out;
  bool in_string = false;
  bool escaped = false;
  for (char c : text) {
    if (in_string) {
      out.push_back(c);
      if (escaped) {
        escaped = false;
      } else if (c == '\\') {
        escaped = true;
      } else if (c == '"') {
        in_string = false;
      }
    } else if (!IsWs(c)) {
      out.push_back(c);
      if (c == '"') in_string = true;
    }
  }
  return out;
}

bool StartsWith(std::string_view whole, std::string_view part) {
  return whole.size() >= part.size() && whole.compare(0, part.size(), part) == 0;
}

std::string JsonQuoted(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out.push_back('\\');
    out.push_back(c);
  }
  return out + "\"";
}

}  // namespace

bool IsJsonPrefix(std::string_view text) {
  std::vector<char> stack;
  size_t i = 0;
  const size_t n = text.size();
  while (i < n) {
    char c = text[i];
    if (IsWs(c) || c == ',' || c == ':') {
      ++i;
    } else if (c == '{' || c == '[') {
      stack.push_back(c);
      ++i;
    } else if (c == '}' || c == ']') {
      if (stack.empty() || stack.back() != (c == '}' ? '{' : '[')) return false;
      stack.pop_back();
      ++i;
      if (stack.empty()) {  // a complete document: only whitespace may follow
        for (; i < n; ++i) {
          if (!IsWs(text[i])) return false;
        }
      }
    } else if (c == '"') {
      for (++i; i < n && text[i] != '"'; ++i) {
        if (text[i] == '\\') {
          if (++i >= n) return true;
          if (std::string_view("\"\\/bfnrtu").find(text[i]) == std::string_view::npos) return false;
        } else if (static_cast<unsigned char>(text[i]) < 0x20) {
          return false;
        }
      }
      if (i < n) ++i;  // the closing quote
    } else if (c == 't' || c == 'f' || c == 'n') {
      std::string_view word = c == 't' ? "true" : c == 'f' ? "false" : "null";
      size_t k = 0;
      while (k < word.size() && i + k < n && text[i + k] == word[k]) ++k;
      if (i + k < n && k < word.size()) return false;
      i += k;
    } else if (c == '-' || (c >= '0' && c <= '9')) {
      while (i < n && std::string_view("-+.eE0123456789").find(text[i]) != std::string_view::npos)
        ++i;
    } else {
      return false;
    }
  }
  return true;
}

bool IsViablePrefix(const Constraint& c, Dialect dialect, std::string_view content) {
  // The JSON dialects wrap choices and regexes as {"answer": ...} (see Constraint::
  // RequestMembers); so does a non-object schema.
  const bool json_dialect = dialect == Dialect::kOpenAI || dialect == Dialect::kLlamaCpp;
  switch (c.kind()) {
    case Constraint::Kind::kChoice: {
      if (json_dialect) {
        std::string compact = CompactJson(content);
        for (const auto& choice : c.choices()) {
          std::string whole = "{\"answer\":" + JsonQuoted(choice) + "}";
          if (StartsWith(whole, compact)) return true;
        }
        return false;
      }
      for (const auto& choice : c.choices()) {
        if (StartsWith(choice, content)) return true;
      }
      return false;
    }
    case Constraint::Kind::kRegex:
      return !json_dialect || IsJsonPrefix(content);
    case Constraint::Kind::kJsonSchema:
      return IsJsonPrefix(content);
  }
  return true;
}

}  // namespace structflow::schema

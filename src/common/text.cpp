#include "common/text.h"

#include <fmt/format.h>

namespace structflow {
namespace {

// Length of the valid UTF-8 sequence at text[i] (1-4), or 0 when the bytes there are not one.
// Overlong forms, surrogates and code points past U+10FFFF are not valid.
size_t Utf8Length(std::string_view text, size_t i) {
  auto b = [&](size_t k) { return static_cast<unsigned char>(text[i + k]); };
  auto cont = [&](size_t k) { return i + k < text.size() && (b(k) & 0xC0) == 0x80; };
  unsigned char c = b(0);
  if (c < 0x80) return 1;
  if (c >= 0xC2 && c <= 0xDF) return cont(1) ? 2 : 0;
  if (c >= 0xE0 && c <= 0xEF) {
    if (!cont(1) || !cont(2)) return 0;
    if (c == 0xE0 && b(1) < 0xA0) return 0;   // overlong
    if (c == 0xED && b(1) >= 0xA0) return 0;  // surrogate
    return 3;
  }
  if (c >= 0xF0 && c <= 0xF4) {
    if (!cont(1) || !cont(2) || !cont(3)) return 0;
    if (c == 0xF0 && b(1) < 0x90) return 0;   // overlong
    if (c == 0xF4 && b(1) >= 0x90) return 0;  // past U+10FFFF
    return 4;
  }
  return 0;
}

bool IsC1(std::string_view text, size_t i, size_t len) {
  return len == 2 && static_cast<unsigned char>(text[i]) == 0xC2 &&
         static_cast<unsigned char>(text[i + 1]) < 0xA0;
}

bool Unsafe(unsigned char c, bool keep_newlines) {
  if (keep_newlines && (c == '\n' || c == '\t')) return false;
  return c < 0x20 || c == 0x7F;
}

}  // namespace

bool IsPrintable(std::string_view text, bool keep_newlines) {
  for (size_t i = 0; i < text.size();) {
    auto c = static_cast<unsigned char>(text[i]);
    if (c < 0x80) {
      if (Unsafe(c, keep_newlines)) return false;
      ++i;
      continue;
    }
    size_t len = Utf8Length(text, i);
    if (len == 0 || IsC1(text, i, len)) return false;
    i += len;
  }
  return true;
}

std::string EscapeControl(std::string_view text, bool keep_newlines) {
  if (IsPrintable(text, keep_newlines)) return std::string(text);
  std::string out;
  out.reserve(text.size() + 16);
  for (size_t i = 0; i < text.size();) {
    auto c = static_cast<unsigned char>(text[i]);
    if (c < 0x80) {
      if (!Unsafe(c, keep_newlines)) {
        out.push_back(static_cast<char>(c));
      } else if (c == '\n') {
        out += "\\n";
      } else if (c == '\r') {
        out += "\\r";
      } else if (c == '\t') {
        out += "\\t";
      } else {
        out += fmt::format("\\x{:02x}", c);
      }
      ++i;
      continue;
    }
    size_t len = Utf8Length(text, i);
    if (len == 0) {
      out += fmt::format("\\x{:02x}", c);
      ++i;
    } else if (IsC1(text, i, len)) {
      out += fmt::format("\\u{:04x}", static_cast<unsigned char>(text[i + 1]));
      i += 2;
    } else {
      out.append(text.substr(i, len));
      i += len;
    }
  }
  return out;
}

std::string QuoteInput(std::string_view text, size_t max_bytes) {
  if (text.size() <= max_bytes) return EscapeControl(text);
  size_t cut = max_bytes;
  // Back off to the start of a UTF-8 sequence, so the cut does not leave half a character.
  while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80) --cut;
  return EscapeControl(text.substr(0, cut)) + "...";
}

}  // namespace structflow

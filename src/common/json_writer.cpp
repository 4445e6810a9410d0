#include "common/json_writer.h"

#include <cassert>
#include <charconv>
#include <cmath>

namespace structflow {
namespace {

constexpr char kHex[] = "0123456789abcdef";

// Length of the valid UTF-8 sequence starting at s[i], or 0 when it is not valid.
size_t Utf8SequenceLength(std::string_view s, size_t i) {
  auto b = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
  unsigned char c = b(i);
  size_t n = s.size();
  auto cont = [&](size_t k) { return k < n && (b(k) & 0xC0) == 0x80; };
  if (c >= 0xC2 && c <= 0xDF) return cont(i + 1) ? 2 : 0;
  if (c == 0xE0) return (i + 1 < n && b(i + 1) >= 0xA0 && b(i + 1) <= 0xBF && cont(i + 2)) ? 3 : 0;
  if ((c >= 0xE1 && c <= 0xEC) || c == 0xEE || c == 0xEF)
    return (cont(i + 1) && cont(i + 2)) ? 3 : 0;
  if (c == 0xED) return (i + 1 < n && b(i + 1) >= 0x80 && b(i + 1) <= 0x9F && cont(i + 2)) ? 3 : 0;
  if (c == 0xF0)
    return (i + 1 < n && b(i + 1) >= 0x90 && b(i + 1) <= 0xBF && cont(i + 2) && cont(i + 3)) ? 4
                                                                                             : 0;
  if (c >= 0xF1 && c <= 0xF3) return (cont(i + 1) && cont(i + 2) && cont(i + 3)) ? 4 : 0;
  if (c == 0xF4)
    return (i + 1 < n && b(i + 1) >= 0x80 && b(i + 1) <= 0x8F && cont(i + 2) && cont(i + 3)) ? 4
                                                                                             : 0;
  return 0;
}

}  // namespace

void AppendJsonString(std::string* out, std::string_view s) {
  out->reserve(out->size() + s.size() + 2);
  out->push_back('"');
  size_t i = 0;
  size_t run_start = 0;
  const size_t n = s.size();
  while (i < n) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (c >= 0x20 && c != '"' && c != '\\' && c < 0x80) {
      ++i;
      continue;
    }
    out->append(s.data() + run_start, i - run_start);
    if (c >= 0x80) {
      size_t len = Utf8SequenceLength(s, i);
      if (len == 0) {
        out->append("\xEF\xBF\xBD");  // U+FFFD
        ++i;
      } else {
        out->append(s.data() + i, len);
        i += len;
      }
      run_start = i;
      continue;
    }
    switch (c) {
      case '"':
        out->append("\\\"");
        break;
      case '\\':
        out->append("\\\\");
        break;
      case '\n':
        out->append("\\n");
        break;
      case '\r':
        out->append("\\r");
        break;
      case '\t':
        out->append("\\t");
        break;
      case '\b':
        out->append("\\b");
        break;
      case '\f':
        out->append("\\f");
        break;
      default: {
        char buf[6] = {'\\', 'u', '0', '0', kHex[c >> 4], kHex[c & 15]};
        out->append(buf, 6);
      }
    }
    ++i;
    run_start = i;
  }
  out->append(s.data() + run_start, n - run_start);
  out->push_back('"');
}

void AppendJsonDouble(std::string* out, double v) {
  if (!std::isfinite(v)) {
    out->append("null");
    return;
  }
  char buf[32];
  auto res = std::to_chars(buf, buf + sizeof(buf), v);
  std::string_view text(buf, res.ptr - buf);
  out->append(text);
  // Keep a double looking like a double ("1.0", not "1") so readers infer the right type.
  if (text.find_first_of(".eEn") == std::string_view::npos) out->append(".0");
}

void JsonWriter::BeforeValue() {
  if (after_key_) {
    after_key_ = false;
    return;
  }
  if (!has_member_.empty()) {
    if (has_member_.back()) out_->push_back(',');
    has_member_.back() = true;
  }
}

JsonWriter& JsonWriter::BeginObject() {
  BeforeValue();
  out_->push_back('{');
  has_member_.push_back(false);
  return *this;
}
JsonWriter& JsonWriter::EndObject() {
  assert(!has_member_.empty() && !after_key_);
  has_member_.pop_back();
  out_->push_back('}');
  return *this;
}
JsonWriter& JsonWriter::BeginArray() {
  BeforeValue();
  out_->push_back('[');
  has_member_.push_back(false);
  return *this;
}
JsonWriter& JsonWriter::EndArray() {
  assert(!has_member_.empty());
  has_member_.pop_back();
  out_->push_back(']');
  return *this;
}
JsonWriter& JsonWriter::Key(std::string_view key) {
  assert(!after_key_);
  BeforeValue();
  AppendJsonString(out_, key);
  out_->push_back(':');
  after_key_ = true;
  return *this;
}
JsonWriter& JsonWriter::String(std::string_view v) {
  BeforeValue();
  AppendJsonString(out_, v);
  return *this;
}
JsonWriter& JsonWriter::Int(int64_t v) {
  BeforeValue();
  char buf[24];
  auto res = std::to_chars(buf, buf + sizeof(buf), v);
  out_->append(buf, res.ptr - buf);
  return *this;
}
JsonWriter& JsonWriter::Uint(uint64_t v) {
  BeforeValue();
  char buf[24];
  auto res = std::to_chars(buf, buf + sizeof(buf), v);
  out_->append(buf, res.ptr - buf);
  return *this;
}
JsonWriter& JsonWriter::Double(double v) {
  BeforeValue();
  AppendJsonDouble(out_, v);
  return *this;
}
JsonWriter& JsonWriter::Bool(bool v) {
  BeforeValue();
  out_->append(v ? "true" : "false");
  return *this;
}
JsonWriter& JsonWriter::Null() {
  BeforeValue();
  out_->append("null");
  return *this;
}
JsonWriter& JsonWriter::Raw(std::string_view json) {
  BeforeValue();
  out_->append(json);
  return *this;
}
JsonWriter& JsonWriter::BeginRawString() {
  BeforeValue();
  out_->push_back('"');
  return *this;
}
JsonWriter& JsonWriter::EndRawString() {
  out_->push_back('"');
  return *this;
}

}  // namespace structflow

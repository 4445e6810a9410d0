// Appends JSON text to a caller-owned std::string, with no intermediate tree: request bodies,
// JSONL rows and reports are written once into one buffer. It tracks commas, not validity: the
// caller nests Begin/End correctly (asserted in debug builds).
// Thread-safety: one writer per thread; it owns nothing but a pointer to the output.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace structflow {

// Appends `s` as a quoted JSON string with RFC 8259 escaping. Invalid UTF-8 bytes are replaced
// by U+FFFD so the output is always valid JSON.
void AppendJsonString(std::string* out, std::string_view s);
// Appends a JSON number for `v`; NaN and infinities become null (JSON has no spelling for them).
void AppendJsonDouble(std::string* out, double v);

class JsonWriter {
 public:
  explicit JsonWriter(std::string* out) : out_(out) {}

  JsonWriter& BeginObject();
  JsonWriter& EndObject();
  JsonWriter& BeginArray();
  JsonWriter& EndArray();
  JsonWriter& Key(std::string_view key);
  JsonWriter& String(std::string_view v);
  JsonWriter& Int(int64_t v);
  JsonWriter& Uint(uint64_t v);
  JsonWriter& Double(double v);
  JsonWriter& Bool(bool v);
  JsonWriter& Null();
  // Appends already-serialised JSON as one value (a schema, a nested document).
  JsonWriter& Raw(std::string_view json);
  // Opens a string value whose content the caller appends by hand to out() (say, base64 written
  // straight into the body); the caller must append only characters that need no escaping, then
  // call EndRawString().
  JsonWriter& BeginRawString();
  JsonWriter& EndRawString();

  std::string* out() { return out_; }

 private:
  void BeforeValue();
  std::string* out_;
  // One entry per open container: true once it holds a member.
  std::vector<bool> has_member_;
  bool after_key_ = false;
};

}  // namespace structflow

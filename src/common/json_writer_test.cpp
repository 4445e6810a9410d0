#include "common/json_writer.h"

#include <gtest/gtest.h>

#include <limits>

namespace structflow {
namespace {

std::string Escaped(std::string_view s) {
  std::string out;
  AppendJsonString(&out, s);
  return out;
}

TEST(JsonWriter, EscapesQuotesControlsAndKeepsUtf8) {
  EXPECT_EQ(Escaped("a\"b\\c"), R"("a\"b\\c")");
  EXPECT_EQ(Escaped("line1\nline2\t\r"), R"("line1\nline2\t\r")");
  EXPECT_EQ(Escaped(std::string("\x01\x1f", 2)), R"("\u0001\u001f")");
  EXPECT_EQ(Escaped("Grüße, 日本, 🙂"), "\"Grüße, 日本, 🙂\"");
}

TEST(JsonWriter, ReplacesInvalidUtf8SoOutputStaysValid) {
  EXPECT_EQ(Escaped("a\xff"
                    "b"),
            "\"a\xEF\xBF\xBD"
            "b\"");
  EXPECT_EQ(Escaped("\xC3"), "\"\xEF\xBF\xBD\"");  // truncated sequence
  EXPECT_EQ(Escaped("\xED\xA0\x80"), "\"\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD\"");  // surrogate
}

TEST(JsonWriter, NestsWithCommas) {
  std::string out;
  JsonWriter w(&out);
  w.BeginObject().Key("a").Int(1).Key("b").BeginArray().Bool(true).Null().Double(1).EndArray();
  w.Key("c").BeginObject().EndObject().Key("d").Raw(R"({"x":1})").EndObject();
  EXPECT_EQ(out, R"({"a":1,"b":[true,null,1.0],"c":{},"d":{"x":1}})");
}

TEST(JsonWriter, NonFiniteDoublesBecomeNull) {
  std::string out;
  AppendJsonDouble(&out, std::numeric_limits<double>::infinity());
  EXPECT_EQ(out, "null");
  out.clear();
  AppendJsonDouble(&out, 0.25);
  EXPECT_EQ(out, "0.25");
}

TEST(JsonWriter, RawStringLetsCallerWriteContent) {
  std::string out;
  JsonWriter w(&out);
  w.BeginObject().Key("url").BeginRawString();
  out += "data:image/png;base64,AAAA";
  w.EndRawString().EndObject();
  EXPECT_EQ(out, R"({"url":"data:image/png;base64,AAAA"})");
}

}  // namespace
}  // namespace structflow

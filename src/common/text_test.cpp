#include "common/text.h"

#include <gtest/gtest.h>

namespace structflow {
namespace {

TEST(EscapeControl, KeepsPrintableTextAndUtf8) {
  EXPECT_EQ(EscapeControl("plain text, caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80"),
            "plain text, caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80");
  EXPECT_TRUE(IsPrintable("a\\b"));
}

TEST(EscapeControl, EscapesTerminalSequences) {
  // ESC [ 2 J clears the screen; OSC 52 writes the clipboard; CSI as the single C1 byte U+009B.
  EXPECT_EQ(EscapeControl("\x1b[2Jhi"), "\\x1b[2Jhi");
  EXPECT_EQ(EscapeControl("\x1b]52;c;aGk=\x07"), "\\x1b]52;c;aGk=\\x07");
  EXPECT_EQ(EscapeControl("a\xc2\x9b"
                          "31mb"),
            "a\\u009b31mb");
  EXPECT_EQ(EscapeControl(std::string_view("\0\x7f", 2)), "\\x00\\x7f");
}

TEST(EscapeControl, EscapesInvalidUtf8AsBytes) {
  EXPECT_EQ(EscapeControl("\xff\xfe"), "\\xff\\xfe");
  EXPECT_EQ(EscapeControl("\xc0\xaf"), "\\xc0\\xaf");           // overlong '/'
  EXPECT_EQ(EscapeControl("\xed\xa0\x80"), "\\xed\\xa0\\x80");  // a surrogate
  EXPECT_EQ(EscapeControl("ab\xe2\x82"), "ab\\xe2\\x82");       // cut short
}

TEST(EscapeControl, NewlinesKeptOnlyWhenAsked) {
  EXPECT_EQ(EscapeControl("a\nb\tc\r"), "a\\nb\\tc\\r");
  EXPECT_EQ(EscapeControl("a\nb\tc\r\x1b", true), "a\nb\tc\\r\\x1b");
}

TEST(QuoteInput, CutsOnACharacterBoundary) {
  EXPECT_EQ(QuoteInput("short"), "short");
  EXPECT_EQ(QuoteInput("abcdef", 3), "abc...");
  // The cut falls inside the 2-byte e-acute: the whole character goes.
  EXPECT_EQ(QuoteInput("ab\xc3\xa9z", 3), "ab...");
  EXPECT_EQ(QuoteInput("\x1b[31mred", 5), "\\x1b[31m...");
}

}  // namespace
}  // namespace structflow

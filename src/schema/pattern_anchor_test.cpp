#include "schema/pattern_anchor.h"

#include <gtest/gtest.h>
#include <re2/re2.h>

namespace structflow::schema {
namespace {

TEST(PatternAnchor, FullMatchIsWrappedOnceWithTheOuterAnchorsDropped) {
  EXPECT_EQ(AnchoredFullMatch("[a-z]+"), "^(?:[a-z]+)$");
  EXPECT_EQ(AnchoredFullMatch("^[a-z]+$"), "^(?:[a-z]+)$");
  EXPECT_EQ(AnchoredFullMatch("a|b"), "^(?:a|b)$");
  EXPECT_EQ(AnchoredFullMatch(R"(cost \$)"), R"(^(?:cost \$)$)");  // an escaped $ stays
}

TEST(PatternAnchor, ShorthandClassesAreSpelledForGbnf) {
  EXPECT_EQ(AnchoredFullMatch(R"(\d{3}-\w+)"), "^(?:[0-9]{3}-[0-9A-Za-z_]+)$");
  EXPECT_EQ(AnchoredFullMatch(R"([\d.]+)"), "^(?:[0-9.]+)$");
  EXPECT_EQ(AnchoredFullMatch(R"(a\.b)"), R"(^(?:a\.b)$)");
}

TEST(PatternAnchor, SearchPatternsMatchTheSameStringsAnchored) {
  struct Case {
    const char* pattern;
    const char* text;
  };
  for (const Case& c : {Case{"[0-9]", "abc7def"}, Case{"^ab", "abzz"}, Case{"yz$", "xxyz"},
                        Case{"^x+$", "xxx"}, Case{"[0-9]", "abc"}, Case{"^ab", "zab"}}) {
    bool search = RE2::PartialMatch(c.text, RE2(c.pattern));
    bool anchored = RE2::FullMatch(c.text, RE2(AnchoredSearch(c.pattern)));
    EXPECT_EQ(search, anchored) << c.pattern << " on " << c.text << " as "
                                << AnchoredSearch(c.pattern);
  }
  EXPECT_EQ(AnchoredSearch("^ab"), "^(?:ab).*$");
  EXPECT_EQ(AnchoredSearch("[0-9]"), "^.*(?:[0-9]).*$");
}

TEST(PatternAnchor, RewritesPatternKeywordsOnlyWhereTheyAreKeywords) {
  auto schema = nlohmann::ordered_json::parse(R"({
    "type":"object",
    "properties":{
      "pattern":{"type":"string","pattern":"[A-Z]{2}"},
      "tags":{"type":"array","items":{"type":"string","pattern":"^t"}},
      "kind":{"enum":[{"pattern":"x"}]}
    },
    "$defs":{"Code":{"type":"string","pattern":"\\d+$"}}})");
  AnchorSchemaPatterns(&schema);
  EXPECT_EQ(schema["properties"]["pattern"]["pattern"], "^.*(?:[A-Z]{2}).*$");
  EXPECT_EQ(schema["properties"]["tags"]["items"]["pattern"], "^(?:t).*$");
  EXPECT_EQ(schema["properties"]["kind"]["enum"][0]["pattern"], "x");  // a value, untouched
  EXPECT_EQ(schema["$defs"]["Code"]["pattern"], "^.*(?:[0-9]+)$");
}

}  // namespace
}  // namespace structflow::schema

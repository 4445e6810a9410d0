#include "sim/grammar_gen.h"

#include <gtest/gtest.h>

#include <regex>

#include "sim/rng.h"

namespace structflow::sim {
namespace {

TEST(GrammarGen, ExpandsRulesLiteralsClassesAndQuantifiers) {
  const char* g = R"(# a date-like code
root ::= prefix "-" digit{2,3} ( "a" | "b" )?
prefix ::= [A-Z] [a-z]*
digit ::= [0-9])";
  const std::regex full("[A-Z][a-z]*-[0-9]{2,3}(a|b)?");
  for (uint64_t seed = 0; seed < 30; ++seed) {
    Rng rng(seed);
    auto s = GenerateFromGrammar(g, rng);
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    EXPECT_TRUE(std::regex_match(*s, full)) << *s;
  }
}

TEST(GrammarGen, EscapesRegexCharactersInLiterals) {
  Rng rng(1);
  auto s = GenerateFromGrammar(R"g(root ::= "a.b*(c)" "\"")g", rng);
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  EXPECT_EQ(*s, "a.b*(c)\"");
}

TEST(GrammarGen, RefusesWhatItCannotExpand) {
  Rng rng(1);
  EXPECT_FALSE(GenerateFromGrammar("item ::= \"x\"", rng).ok());                     // no root
  EXPECT_FALSE(GenerateFromGrammar("root ::= missing", rng).ok());                   // undefined
  EXPECT_FALSE(GenerateFromGrammar("root ::= \"(\" root \")\" | \"x\"", rng).ok());  // recursive
  EXPECT_FALSE(GenerateFromGrammar("root ::= \"open", rng).ok());
}

}  // namespace
}  // namespace structflow::sim

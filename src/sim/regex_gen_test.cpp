#include "sim/regex_gen.h"

#include <gtest/gtest.h>
#include <re2/re2.h>

#include <set>

#include "sim/rng.h"

namespace structflow::sim {
namespace {

TEST(RegexGen, SamplesFullyMatchSupportedPatterns) {
  const char* patterns[] = {
      "[A-D]",
      "\\d{3}-\\d{4}",
      "(yes|no|maybe)",
      "[a-z]+@[a-z]+\\.(com|org)",
      "\\w+\\s\\w*",
      "(?:ab)?c{2,4}d*",
      "^[A-Z][a-z]{2,8}$",
      "[^0-9]{5}",
      "(?P<year>\\d{4})-(?P<m>0[1-9]|1[0-2])",
      "caf\xc3\xa9 [0-9.]+",
      "a.b",
      "x{3}y{1,}z+?",
      "\\$\\d+\\.\\d\\d",
      "[\\d\\-]{4}",
  };
  for (const char* p : patterns) {
    RE2 re(p);
    ASSERT_TRUE(re.ok()) << p;
    for (uint64_t seed = 0; seed < 50; ++seed) {
      Rng rng(seed);
      auto s = GenerateFromRegex(p, rng);
      ASSERT_TRUE(s.ok()) << p << ": " << s.status().ToString();
      EXPECT_TRUE(RE2::FullMatch(*s, re)) << "pattern " << p << " sample '" << *s << "'";
    }
  }
}

TEST(RegexGen, VariesWithTheSeed) {
  std::set<std::string> seen;
  for (uint64_t seed = 0; seed < 40; ++seed) {
    Rng rng(seed);
    seen.insert(GenerateFromRegex("[A-D]", rng).value());
  }
  EXPECT_EQ(seen.size(), 4u);
}

TEST(RegexGen, RejectsWhatItCannotGenerate) {
  for (const char* p : {"(a)\\1", "(?=a)b", "(?<=a)b", "\\bword", "\\p{L}+", "a{2000}", "(ab",
                        "ab)", "[z-a]", "*a"}) {
    Rng rng(1);
    auto s = GenerateFromRegex(p, rng);
    EXPECT_FALSE(s.ok()) << p;
    if (!s.ok()) {
      EXPECT_NE(s.status().message().find("regex"), std::string::npos);
    }
    EXPECT_FALSE(CheckRegexSupported(p).ok()) << p;
  }
}

}  // namespace
}  // namespace structflow::sim

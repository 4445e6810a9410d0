// Sample strings that fully match a regular expression, for `structured_outputs.regex`,
// `guided_regex` and JSON Schema `pattern`. Written here because no Debian library generates
// matches; it handles the subset that structured-output prompts use:
//   literals (UTF-8 included), escapes \. \\ \n \t \xHH, classes [abc] [A-D] [^...] with \d \w \s
//   inside, \d \D \w \W \s \S, ., groups (...) (?:...) (?P<name>...) (?<name>...), alternation |,
//   quantifiers ? * + {m} {m,} {m,n} (lazy and possessive suffixes accepted), ^ and $ anchors.
// Anything else (backreferences, lookaround, \b, \p{...}, unbounded repetition of more than 1000)
// is rejected with InvalidArgument naming the construct, which the server answers as a 400.
// Thread-safety: pure functions.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "common/status.h"

namespace structflow::sim {

class Rng;

// A string that fully matches `pattern`, chosen by `rng`.
Result<std::string> GenerateFromRegex(std::string_view pattern, Rng& rng);
// Only checks that GenerateFromRegex can handle `pattern`.
Status CheckRegexSupported(std::string_view pattern);

}  // namespace structflow::sim

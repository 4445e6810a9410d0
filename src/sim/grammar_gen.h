// Strings that a GBNF grammar accepts, for llama.cpp's `grammar` and SGLang's `ebnf` parameters.
// Both take the llama.cpp/xgrammar BNF dialect (`root ::= "yes" | "no"`, rules, "literals",
// [character classes], ( groups ), | alternation and the ? * + {m,n} quantifiers; `#` comments).
// The grammar is rewritten as one regular expression by expanding rule references (regex_gen.h
// does the sampling), so recursive grammars are refused beyond a small depth: the simulator then
// answers the request as a bad grammar, which a structflow dialect never sends.
// Thread-safety: pure functions.
#pragma once

#include <string>
#include <string_view>

#include "common/status.h"

namespace structflow::sim {

class Rng;

// The grammar as a regex (rule `root` expanded), or InvalidArgument naming what is wrong.
Result<std::string> GrammarToRegex(std::string_view grammar);
// A string the grammar accepts, chosen by `rng`.
Result<std::string> GenerateFromGrammar(std::string_view grammar, Rng& rng);

}  // namespace structflow::sim

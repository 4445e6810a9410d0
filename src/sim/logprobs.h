// Token log-probabilities for the simulator's answers (`logprobs: true`), drawn from the same
// distribution the answer is sampled from, so that a client's confidence figures can be checked
// against a known truth.
//
// The model: each place where the answer picks one of a list of allowed values (a choice, an enum
// or boolean property of a JSON Schema reached through object properties) has a distribution over
// those values, ValueDistribution: a softmax of Gaussian logits (scale 2), deterministic from
// --seed, the request's last user text and the place (the property path, "" for a choice). The
// answer's value there is sampled from it. Every other character is forced (probability 1).
// Tokens: the forced text in pieces of bytes_per_text_token bytes (never splitting a UTF-8
// character), and each value's text alike from its own first byte (a value always starts a
// token, and the text after it starts a new one). So a value of several tokens is a path; at each
// step the alternatives are the next pieces of the allowed values that share the path so far,
// with their conditional probability (a value that ends where others sharing its path go on is
// not among the alternatives there).
//
// Per family (what each server means by its numbers; see engine/confidence.h for the sources):
// vLLM and SGLang report after the grammar mask, so the alternatives above are all there is; the
// llama.cpp family reports the raw model before the grammar: every token's probability is scaled
// by 1 - kOffGrammarMass and the token "\n\n", which no allowed value starts with, takes the rest.
// top_logprobs lists the K most likely alternatives, most likely first, filled up to K with
// tokens no value starts with (" the", " of", ...: after the mask at -9999.0, as vLLM writes -inf;
// before it sharing the off-grammar mass), as a server returns its top K of the whole
// vocabulary. Ollama's OpenAI layer is
// simulated as a version without logprobs (the request members are ignored, the answer has none).
//
// Thread-safety: pure functions.
#pragma once

#include <cstdint>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "sim/rng.h"

namespace structflow::sim {

// Share of each step's probability the llama.cpp family gives tokens outside the grammar.
inline constexpr double kOffGrammarMass = 0.25;
inline constexpr std::string_view kOffGrammarToken = "\n\n";

// The distribution over `n` allowed values at `place` for a request whose last user message is
// `user_text`.
std::vector<double> ValueDistribution(uint64_t seed, std::string_view user_text,
                                      std::string_view place, size_t n);
// The literals of a regex that is only an alternation of them, `(?:A|B|C)` with metacharacters
// backslash-escaped (how a client asks SGLang, which has no choice member, for a choice); empty
// for any other regex.
std::vector<std::string> LiteralAlternation(std::string_view regex);
// A draw from `p`.
size_t SampleIndex(const std::vector<double>& p, Rng& rng);

// One piece of an answer: forced text (alts empty), or alts[chosen] drawn from p.
struct AnswerPiece {
  std::string text;
  std::vector<std::string> alts;
  std::vector<double> p;
  size_t chosen = 0;
};

// Redraws the enum and boolean properties of `value` (an answer to `schema`) from their
// ValueDistribution and returns the answer's compact JSON text as pieces (object keys in the
// value's order, as nlohmann's dump writes them).
std::vector<AnswerPiece> JsonAnswerPieces(const nlohmann::json& schema, nlohmann::json* value,
                                          uint64_t seed, std::string_view user_text, Rng& rng);

struct SimToken {
  std::string text;
  double logprob = 0;
  std::vector<std::pair<std::string, double>> top;  // most likely first
};

// The pieces as tokens with their log-probabilities (see the header comment).
std::vector<SimToken> TokenizePieces(const std::vector<AnswerPiece>& pieces, int bytes_per_token,
                                     int top_k, double off_mass);

}  // namespace structflow::sim

#include "sim/logprobs.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <map>
#include <nlohmann/json.hpp>

namespace structflow::sim {

using nlohmann::json;

std::vector<double> ValueDistribution(uint64_t seed, std::string_view user_text,
                                      std::string_view place, size_t n) {
  Rng rng(Mix64(Hash64(user_text, seed), Hash64(place, 0x5eed)));
  std::vector<double> p(n);
  double top = -1e300;
  for (double& x : p) {
    // Box-Muller: a standard normal, scaled; a softmax of these is peaked on some rows and flat
    // on others, as a model's answers are.
    const double u1 = std::max(rng.Unit(), 1e-12);
    const double u2 = rng.Unit();
    x = 2.0 * std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586 * u2);
    top = std::max(top, x);
  }
  double sum = 0;
  for (double& x : p) sum += (x = std::exp(x - top));
  for (double& x : p) x /= sum;
  return p;
}

std::vector<std::string> LiteralAlternation(std::string_view re) {
  if (re.size() < 4 || re.substr(0, 3) != "(?:" || re.back() != ')') return {};
  re = re.substr(3, re.size() - 4);
  std::vector<std::string> out(1);
  for (size_t i = 0; i < re.size(); ++i) {
    const char ch = re[i];
    if (ch == '\\') {
      if (++i == re.size()) return {};
      const char e = re[i];
      if (std::isalnum(static_cast<unsigned char>(e))) return {};  // \d, \x00, ...: a class
      out.back().push_back(e);
    } else if (ch == '|') {
      out.emplace_back();
    } else if (std::string_view(".^$*+?()[]{}").find(ch) != std::string_view::npos) {
      return {};
    } else {
      out.back().push_back(ch);
    }
  }
  for (const auto& lit : out)
    if (lit.empty()) return {};
  return out;
}

size_t SampleIndex(const std::vector<double>& p, Rng& rng) {
  double u = rng.Unit();
  for (size_t k = 0; k < p.size(); ++k) {
    if (u < p[k]) return k;
    u -= p[k];
  }
  return p.empty() ? 0 : p.size() - 1;
}

namespace {

// The subschema `s` stands for: local $ref, allOf of one subschema, a nullable anyOf/oneOf.
const json* Resolve(const json& root, const json* s) {
  for (int depth = 0; depth < 16 && s != nullptr && s->is_object(); ++depth) {
    if (auto ref = s->find("$ref"); ref != s->end() && ref->is_string()) {
      const std::string r = ref->get<std::string>();
      if (r.rfind("#/", 0) != 0) return nullptr;
      const json::json_pointer ptr(r.substr(1));
      if (!root.contains(ptr)) return nullptr;
      s = &root.at(ptr);
      continue;
    }
    if (auto all = s->find("allOf"); all != s->end() && all->is_array() && all->size() == 1) {
      s = &(*all)[0];
      continue;
    }
    const json* next = nullptr;
    for (const char* key : {"anyOf", "oneOf"}) {
      auto it = s->find(key);
      if (it == s->end() || !it->is_array()) continue;
      int non_null = 0;
      for (const auto& b : *it) {
        if (b.is_object() && b.value("type", json()) == "null") continue;
        next = &b;
        ++non_null;
      }
      if (non_null != 1) next = nullptr;
      if (next != nullptr) break;
    }
    if (next == nullptr) break;
    s = next;
  }
  return s;
}

bool IsBoolean(const json& s) {
  auto t = s.find("type");
  return t != s.end() &&
         ((t->is_string() && *t == "boolean") ||
          (t->is_array() && std::find(t->begin(), t->end(), "boolean") != t->end() &&
           std::find(t->begin(), t->end(), "object") == t->end()));
}

struct Writer {
  const json& root;
  uint64_t seed;
  std::string_view user_text;
  Rng& rng;
  std::vector<AnswerPiece> pieces;
  std::string path;

  void Text(std::string_view t) {
    if (pieces.empty() || !pieces.back().alts.empty()) pieces.emplace_back();
    pieces.back().text += t;
  }
  // An allowed-values site: redraw the value, then write it as its own piece.
  bool Site(const json& s, json* v) {
    std::vector<json> values;
    if (auto e = s.find("enum"); e != s.end() && e->is_array()) {
      for (const auto& x : *e)
        if (!x.is_null()) values.push_back(x);
    } else if (IsBoolean(s) && v->is_boolean()) {
      values = {json(true), json(false)};
    }
    if (values.empty() || v->is_null()) return false;
    AnswerPiece piece;
    piece.p = ValueDistribution(seed, user_text, path, values.size());
    for (const auto& x : values) piece.alts.push_back(x.dump());
    piece.chosen = SampleIndex(piece.p, rng);
    *v = values[piece.chosen];
    pieces.push_back(std::move(piece));
    return true;
  }
  void Value(const json* s, json* v) {
    s = s ? Resolve(root, s) : nullptr;
    if (s != nullptr && s->is_object() && Site(*s, v)) return;
    if (v->is_object()) {
      const json* props = nullptr;
      if (s != nullptr && s->is_object()) {
        if (auto it = s->find("properties"); it != s->end() && it->is_object()) props = &*it;
      }
      Text("{");
      bool first = true;
      for (auto it = v->begin(); it != v->end(); ++it) {
        if (!first) Text(",");
        first = false;
        Text(json(it.key()).dump());
        Text(":");
        const json* sub = nullptr;
        if (props != nullptr) {
          if (auto p = props->find(it.key()); p != props->end()) sub = &*p;
        }
        const size_t keep = path.size();
        path += (path.empty() ? "" : ".") + it.key();
        Value(sub, &it.value());
        path.resize(keep);
      }
      Text("}");
      return;
    }
    Text(v->dump());  // arrays and scalars: forced (values inside arrays are not scored)
  }
};

// Splits `s` into pieces of `n` bytes, never inside a UTF-8 character.
std::vector<std::string> Chunks(std::string_view s, int n) {
  std::vector<std::string> out;
  for (size_t i = 0; i < s.size();) {
    size_t len = std::min(s.size() - i, static_cast<size_t>(std::max(n, 1)));
    while (i + len < s.size() && (static_cast<unsigned char>(s[i + len]) & 0xC0) == 0x80) ++len;
    out.emplace_back(s.substr(i, len));
    i += len;
  }
  return out;
}

// Tokens no allowed value starts with, to fill top_logprobs up to K as a server does (its top K
// of the whole vocabulary).
constexpr const char* kFillers[] = {" the", " of",  " and",  " to",   " in",   " is",  " that",
                                    " it",  " for", " on",   " with", " as",   " was", " be",
                                    " at",  " by",  " this", " have", " from", " or"};

SimToken Step(std::string taken, std::map<std::string, double> alts, int top_k, double off) {
  SimToken t;
  std::vector<std::pair<std::string, double>> all;
  for (auto& [text, p] : alts) all.emplace_back(text, p * (1 - off));
  // The rest of the vocabulary: after the mask (off 0) its log-probabilities are -inf, which
  // vLLM writes as -9999.0 (serving_chat.py _create_chat_logprobs); before it (llama.cpp), the
  // off-grammar mass, split evenly.
  std::vector<std::string> rest = {std::string(kOffGrammarToken)};
  for (const char* f : kFillers) {
    if (static_cast<int>(all.size() + rest.size()) >= top_k) break;
    if (!alts.count(f)) rest.emplace_back(f);
  }
  for (const auto& r : rest) {
    all.emplace_back(r, off > 0 ? off / static_cast<double>(rest.size()) : 0.0);
  }
  std::stable_sort(all.begin(), all.end(),
                   [](const auto& a, const auto& b) { return a.second > b.second; });
  t.logprob = std::log(alts[taken] * (1 - off));
  for (size_t k = 0; k < all.size() && static_cast<int>(k) < top_k; ++k) {
    t.top.emplace_back(all[k].first, all[k].second > 0 ? std::log(all[k].second) : -9999.0);
  }
  t.text = std::move(taken);
  return t;
}

}  // namespace

std::vector<AnswerPiece> JsonAnswerPieces(const json& schema, json* value, uint64_t seed,
                                          std::string_view user_text, Rng& rng) {
  Writer w{schema, seed, user_text, rng, {}, {}};
  w.Value(&schema, value);
  return std::move(w.pieces);
}

std::vector<SimToken> TokenizePieces(const std::vector<AnswerPiece>& pieces, int bytes_per_token,
                                     int top_k, double off_mass) {
  std::vector<SimToken> out;
  for (const AnswerPiece& piece : pieces) {
    if (piece.alts.empty()) {
      for (auto& c : Chunks(piece.text, bytes_per_token))
        out.push_back(Step(c, {{c, 1.0}}, top_k, off_mass));
      continue;
    }
    std::vector<std::vector<std::string>> paths;
    for (const auto& a : piece.alts) paths.push_back(Chunks(a, bytes_per_token));
    const auto& chosen = paths[piece.chosen];
    for (size_t d = 0; d < chosen.size(); ++d) {
      std::map<std::string, double> alts;
      double group = 0;
      for (size_t k = 0; k < paths.size(); ++k) {
        const auto& pk = paths[k];
        if (pk.size() <= d || !std::equal(chosen.begin(), chosen.begin() + d, pk.begin())) continue;
        alts[pk[d]] += piece.p[k];
        group += piece.p[k];
      }
      for (auto& [text, p] : alts) p /= group;
      out.push_back(Step(chosen[d], std::move(alts), top_k, off_mass));
    }
  }
  return out;
}

}  // namespace structflow::sim

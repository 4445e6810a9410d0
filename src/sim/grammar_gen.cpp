#include "sim/grammar_gen.h"

#include <fmt/format.h>

#include <map>
#include <vector>

#include "sim/regex_gen.h"

namespace structflow::sim {
namespace {

// Rule references nest at most this deep; deeper means a recursive grammar.
constexpr int kMaxDepth = 12;

struct Token {
  enum class Kind { kIdent, kDefine, kLiteral, kClass, kOpen, kClose, kBar, kQuant, kDot };
  Kind kind;
  std::string text;  // identifier, literal value (unescaped), class or quantifier as written
};

bool IsIdentChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '_';
}

Result<std::vector<Token>> Tokenize(std::string_view g) {
  std::vector<Token> out;
  size_t i = 0;
  while (i < g.size()) {
    char c = g[i];
    if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
      ++i;
    } else if (c == '#') {
      while (i < g.size() && g[i] != '\n') ++i;
    } else if (g.substr(i, 3) == "::=") {
      out.push_back({Token::Kind::kDefine, "::="});
      i += 3;
    } else if (c == '"' || c == '\'') {
      char quote = c;
      std::string lit;
      ++i;
      while (i < g.size() && g[i] != quote) {
        if (g[i] == '\\' && i + 1 < g.size()) {
          char e = g[i + 1];
          i += 2;
          switch (e) {
            case 'n':
              lit += '\n';
              break;
            case 't':
              lit += '\t';
              break;
            case 'r':
              lit += '\r';
              break;
            default:
              lit += e;
          }
        } else {
          lit += g[i++];
        }
      }
      if (i >= g.size()) return Status::InvalidArgument("grammar: unterminated string literal");
      ++i;
      out.push_back({Token::Kind::kLiteral, std::move(lit)});
    } else if (c == '[') {
      size_t start = i++;
      while (i < g.size() && g[i] != ']') i += g[i] == '\\' ? 2 : 1;
      if (i >= g.size()) return Status::InvalidArgument("grammar: unterminated character class");
      ++i;
      out.push_back({Token::Kind::kClass, std::string(g.substr(start, i - start))});
    } else if (c == '(') {
      out.push_back({Token::Kind::kOpen, "("});
      ++i;
    } else if (c == ')') {
      out.push_back({Token::Kind::kClose, ")"});
      ++i;
    } else if (c == '|') {
      out.push_back({Token::Kind::kBar, "|"});
      ++i;
    } else if (c == '.') {
      out.push_back({Token::Kind::kDot, "."});
      ++i;
    } else if (c == '*' || c == '+' || c == '?') {
      out.push_back({Token::Kind::kQuant, std::string(1, c)});
      ++i;
    } else if (c == '{') {
      size_t start = i;
      while (i < g.size() && g[i] != '}') ++i;
      if (i >= g.size()) return Status::InvalidArgument("grammar: unterminated {m,n}");
      ++i;
      out.push_back({Token::Kind::kQuant, std::string(g.substr(start, i - start))});
    } else if (IsIdentChar(c)) {
      size_t start = i;
      while (i < g.size() && IsIdentChar(g[i])) ++i;
      out.push_back({Token::Kind::kIdent, std::string(g.substr(start, i - start))});
    } else {
      return Status::InvalidArgument(fmt::format("grammar: unexpected character '{}'", c));
    }
  }
  return out;
}

std::string EscapeForRegex(std::string_view lit) {
  std::string out;
  for (char c : lit) {
    if (std::string_view("\\^$.|?*+()[]{}/").find(c) != std::string_view::npos) out += '\\';
    if (c == '\n') {
      out += "\\n";
    } else if (c == '\t') {
      out += "\\t";
    } else {
      out += c;
    }
  }
  return out;
}

class Expander {
 public:
  explicit Expander(std::map<std::string, std::vector<Token>> rules) : rules_(std::move(rules)) {}

  Result<std::string> Expand(const std::string& name, int depth) {
    auto it = rules_.find(name);
    if (it == rules_.end()) {
      return Status::InvalidArgument(fmt::format("grammar: rule '{}' is not defined", name));
    }
    if (depth > kMaxDepth) {
      return Status::InvalidArgument(fmt::format(
          "grammar: rule '{}' nests deeper than {} (recursive grammars are not simulated)", name,
          kMaxDepth));
    }
    std::string out;
    for (const Token& t : it->second) {
      switch (t.kind) {
        case Token::Kind::kIdent: {
          auto sub = Expand(t.text, depth + 1);
          if (!sub.ok()) return sub;
          out += "(?:" + *sub + ")";
          break;
        }
        case Token::Kind::kLiteral:
          out += "(?:" + EscapeForRegex(t.text) + ")";
          break;
        case Token::Kind::kClass:
        case Token::Kind::kQuant:
        case Token::Kind::kBar:
        case Token::Kind::kDot:
          out += t.text;
          break;
        case Token::Kind::kOpen:
          out += "(?:";
          break;
        case Token::Kind::kClose:
          out += ")";
          break;
        case Token::Kind::kDefine:
          return Status::InvalidArgument("grammar: '::=' inside a rule");
      }
    }
    return out;
  }

 private:
  std::map<std::string, std::vector<Token>> rules_;
};

}  // namespace

Result<std::string> GrammarToRegex(std::string_view grammar) {
  SF_ASSIGN_OR_RAISE(std::vector<Token> tokens, Tokenize(grammar));
  std::map<std::string, std::vector<Token>> rules;
  std::string current;
  for (size_t i = 0; i < tokens.size(); ++i) {
    if (tokens[i].kind == Token::Kind::kIdent && i + 1 < tokens.size() &&
        tokens[i + 1].kind == Token::Kind::kDefine) {
      current = tokens[i].text;
      if (rules.count(current) != 0) {
        return Status::InvalidArgument(fmt::format("grammar: rule '{}' defined twice", current));
      }
      rules[current];
      ++i;
      continue;
    }
    if (current.empty()) return Status::InvalidArgument("grammar: expected 'name ::= ...'");
    rules[current].push_back(tokens[i]);
  }
  if (rules.count("root") == 0) return Status::InvalidArgument("grammar: no 'root' rule");
  Expander expander(std::move(rules));
  return expander.Expand("root", 0);
}

Result<std::string> GenerateFromGrammar(std::string_view grammar, Rng& rng) {
  SF_ASSIGN_OR_RAISE(std::string regex, GrammarToRegex(grammar));
  return GenerateFromRegex("^(?:" + regex + ")$", rng);
}

}  // namespace structflow::sim

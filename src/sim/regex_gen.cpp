#include "sim/regex_gen.h"

#include <fmt/format.h>

#include <bitset>
#include <memory>
#include <vector>

#include "sim/rng.h"

namespace structflow::sim {
namespace {

// Unbounded quantifiers (*, +, {m,}) generate at most this many extra repetitions.
constexpr int kUnboundedExtra = 3;
constexpr int kMaxRepeat = 1000;

struct Node {
  enum class Kind { kEmpty, kSet, kText, kConcat, kAlt, kRepeat };
  Kind kind = Kind::kEmpty;
  std::bitset<128> set;  // kSet: ASCII characters allowed
  std::string text;      // kText: a literal (a non-ASCII UTF-8 character)
  std::vector<std::unique_ptr<Node>> children;
  int min = 0, max = 0;  // kRepeat
};
using NodePtr = std::unique_ptr<Node>;

NodePtr MakeNode(Node::Kind kind) {
  auto n = std::make_unique<Node>();
  n->kind = kind;
  return n;
}

std::bitset<128> Digits() {
  std::bitset<128> s;
  for (int c = '0'; c <= '9'; ++c) s.set(c);
  return s;
}
std::bitset<128> Word() {
  std::bitset<128> s = Digits();
  for (int c = 'a'; c <= 'z'; ++c) s.set(c);
  for (int c = 'A'; c <= 'Z'; ++c) s.set(c);
  s.set('_');
  return s;
}
std::bitset<128> Space() {
  std::bitset<128> s;
  for (char c : std::string_view(" \t\n\r\f\v")) s.set(static_cast<unsigned char>(c));
  return s;
}
// The characters a negated class or \D \W \S may produce: printable ASCII plus the spaces.
std::bitset<128> Universe() {
  std::bitset<128> s;
  for (int c = 32; c < 127; ++c) s.set(c);
  s.set('\t');
  s.set('\n');
  return s;
}

class Parser {
 public:
  explicit Parser(std::string_view p) : p_(p) {}

  Result<NodePtr> ParseAll() {
    auto r = ParseAlt();
    if (!r.ok()) return r;
    if (pos_ < p_.size()) return Error("unbalanced ')'");
    return r;
  }

 private:
  Status Error(std::string_view what) const {
    return Status::InvalidArgument(
        fmt::format("regex '{}' at offset {}: {}; the simulator generates literals, classes, "
                    "groups, alternation and quantifiers only",
                    p_, pos_, what));
  }
  bool AtEnd() const { return pos_ >= p_.size(); }
  char Peek() const { return p_[pos_]; }

  Result<NodePtr> ParseAlt() {
    std::vector<NodePtr> branches;
    while (true) {
      auto c = ParseConcat();
      if (!c.ok()) return c.status();
      branches.push_back(std::move(c).value());
      if (!AtEnd() && Peek() == '|') {
        ++pos_;
        continue;
      }
      break;
    }
    if (branches.size() == 1) return std::move(branches[0]);
    auto n = MakeNode(Node::Kind::kAlt);
    n->children = std::move(branches);
    return n;
  }

  Result<NodePtr> ParseConcat() {
    auto n = MakeNode(Node::Kind::kConcat);
    while (!AtEnd() && Peek() != '|' && Peek() != ')') {
      auto atom = ParseAtom();
      if (!atom.ok()) return atom.status();
      NodePtr cur = std::move(atom).value();
      while (!AtEnd()) {
        int lo = 0, hi = 0;  // set by every branch that goes on; GCC 12 cannot tell
        char q = Peek();
        if (q == '?') {
          lo = 0, hi = 1;
          ++pos_;
        } else if (q == '*') {
          lo = 0, hi = -1;
          ++pos_;
        } else if (q == '+') {
          lo = 1, hi = -1;
          ++pos_;
        } else if (q == '{') {
          size_t save = pos_;
          auto b = ParseBraces(&lo, &hi);
          if (!b.ok()) return b;
          if (pos_ == save) break;  // a literal '{'
        } else {
          break;
        }
        if (!AtEnd() && (Peek() == '?' || Peek() == '+')) ++pos_;  // lazy / possessive
        if (cur->kind == Node::Kind::kEmpty) continue;
        auto rep = MakeNode(Node::Kind::kRepeat);
        rep->min = lo;
        rep->max = hi < 0 ? lo + kUnboundedExtra : hi;
        rep->children.push_back(std::move(cur));
        cur = std::move(rep);
      }
      n->children.push_back(std::move(cur));
    }
    return n;
  }

  // At '{': parses {m}, {m,}, {m,n}. Leaves pos_ unchanged when it is not a quantifier.
  Status ParseBraces(int* lo, int* hi) {
    size_t i = pos_ + 1;
    auto number = [&](int* out) {
      size_t start = i;
      long v = 0;
      while (i < p_.size() && p_[i] >= '0' && p_[i] <= '9') {
        v = v * 10 + (p_[i] - '0');
        if (v > 1'000'000) v = 1'000'000;
        ++i;
      }
      *out = static_cast<int>(v);
      return i > start;
    };
    int a = 0, b = 0;
    if (!number(&a)) return Status::OK();
    if (i < p_.size() && p_[i] == '}') {
      b = a;
    } else if (i < p_.size() && p_[i] == ',') {
      ++i;
      if (i < p_.size() && p_[i] == '}') {
        b = -1;
      } else if (!number(&b) || i >= p_.size() || p_[i] != '}') {
        return Status::OK();
      }
    } else {
      return Status::OK();
    }
    pos_ = i + 1;
    if (a > kMaxRepeat || b > kMaxRepeat) return Error("repetition count over 1000");
    if (b >= 0 && b < a) return Error("repetition {m,n} with n < m");
    *lo = a;
    *hi = b;
    return Status::OK();
  }

  Result<NodePtr> ParseAtom() {
    char c = Peek();
    if (c == '(') {
      ++pos_;
      if (!AtEnd() && Peek() == '?') {
        std::string_view rest = p_.substr(pos_);
        if (rest.starts_with("?:")) {
          pos_ += 2;
        } else if (rest.starts_with("?P<") || rest.starts_with("?<")) {
          if (rest.starts_with("?<=") || rest.starts_with("?<!")) return Error("lookbehind");
          size_t close = p_.find('>', pos_);
          if (close == std::string_view::npos) return Error("unterminated group name");
          pos_ = close + 1;
        } else {
          return Error("lookaround or inline flags '(?'");
        }
      }
      auto inner = ParseAlt();
      if (!inner.ok()) return inner;
      if (AtEnd() || Peek() != ')') return Error("missing ')'");
      ++pos_;
      return inner;
    }
    if (c == '[') return ParseClass();
    if (c == '.') {
      ++pos_;
      auto n = MakeNode(Node::Kind::kSet);
      n->set = Universe();
      n->set.reset('\n');
      return n;
    }
    if (c == '^' || c == '$') {
      ++pos_;
      return MakeNode(Node::Kind::kEmpty);
    }
    if (c == '*' || c == '+' || c == '?') return Error("quantifier with nothing before it");
    if (c == '\\') {
      std::bitset<128> set;
      auto st = ParseEscape(&set);
      if (!st.ok()) return st;
      auto n = MakeNode(Node::Kind::kSet);
      n->set = set;
      return n;
    }
    return ParseLiteralChar();
  }

  Result<NodePtr> ParseLiteralChar() {
    unsigned char c = static_cast<unsigned char>(Peek());
    if (c < 128) {
      ++pos_;
      auto n = MakeNode(Node::Kind::kSet);
      n->set.set(c);
      return n;
    }
    // A UTF-8 sequence: copy the lead byte and its continuation bytes.
    size_t start = pos_++;
    while (!AtEnd() && (static_cast<unsigned char>(Peek()) & 0xC0) == 0x80) ++pos_;
    auto n = MakeNode(Node::Kind::kText);
    n->text = std::string(p_.substr(start, pos_ - start));
    return n;
  }

  // At '\\': the escape as a set of ASCII characters.
  Status ParseEscape(std::bitset<128>* set) {
    ++pos_;
    if (AtEnd()) return Error("trailing backslash");
    char e = p_[pos_++];
    switch (e) {
      case 'd':
        *set = Digits();
        return Status::OK();
      case 'D':
        *set = Universe() & ~Digits();
        return Status::OK();
      case 'w':
        *set = Word();
        return Status::OK();
      case 'W':
        *set = Universe() & ~Word();
        return Status::OK();
      case 's':
        *set = Space();
        return Status::OK();
      case 'S':
        *set = Universe() & ~Space();
        return Status::OK();
      case 'n':
        set->set('\n');
        return Status::OK();
      case 't':
        set->set('\t');
        return Status::OK();
      case 'r':
        set->set('\r');
        return Status::OK();
      case 'f':
        set->set('\f');
        return Status::OK();
      case 'v':
        set->set('\v');
        return Status::OK();
      case 'x': {
        if (pos_ + 2 > p_.size()) return Error("\\x needs two hex digits");
        int v = 0;
        for (int k = 0; k < 2; ++k) {
          char h = p_[pos_++];
          int d = (h >= '0' && h <= '9')   ? h - '0'
                  : (h >= 'a' && h <= 'f') ? h - 'a' + 10
                  : (h >= 'A' && h <= 'F') ? h - 'A' + 10
                                           : -1;
          if (d < 0) return Error("\\x needs two hex digits");
          v = v * 16 + d;
        }
        if (v >= 128) return Error("\\x escape above 0x7F");
        set->set(v);
        return Status::OK();
      }
      default:
        break;
    }
    if ((e >= 'a' && e <= 'z') || (e >= 'A' && e <= 'Z') || (e >= '0' && e <= '9')) {
      --pos_;
      return Error(fmt::format("escape '\\{}' (backreference, word boundary or class)", e));
    }
    if (static_cast<unsigned char>(e) >= 128) return Error("escaped non-ASCII character");
    set->set(static_cast<unsigned char>(e));
    return Status::OK();
  }

  Result<NodePtr> ParseClass() {
    ++pos_;  // '['
    bool negate = false;
    if (!AtEnd() && Peek() == '^') {
      negate = true;
      ++pos_;
    }
    std::bitset<128> set;
    bool first = true;
    while (true) {
      if (AtEnd()) return Error("missing ']'");
      char c = Peek();
      if (c == ']' && !first) {
        ++pos_;
        break;
      }
      first = false;
      if (c == '[' && p_.substr(pos_).starts_with("[:")) return Error("POSIX class [:...:]");
      int lo;
      if (c == '\\') {
        std::bitset<128> esc;
        auto st = ParseEscape(&esc);
        if (!st.ok()) return st;
        if (esc.count() != 1) {
          set |= esc;
          continue;
        }
        lo = static_cast<int>(esc._Find_first());
      } else {
        if (static_cast<unsigned char>(c) >= 128) return Error("non-ASCII character in a class");
        lo = static_cast<unsigned char>(c);
        ++pos_;
      }
      if (pos_ + 1 < p_.size() && Peek() == '-' && p_[pos_ + 1] != ']') {
        ++pos_;
        int hi;
        if (Peek() == '\\') {
          std::bitset<128> esc;
          auto st = ParseEscape(&esc);
          if (!st.ok()) return st;
          if (esc.count() != 1) return Error("class range ending in a class escape");
          hi = static_cast<int>(esc._Find_first());
        } else {
          if (static_cast<unsigned char>(Peek()) >= 128) {
            return Error("non-ASCII character in a class");
          }
          hi = static_cast<unsigned char>(Peek());
          ++pos_;
        }
        if (hi < lo) return Error("class range out of order");
        for (int k = lo; k <= hi; ++k) set.set(k);
      } else {
        set.set(lo);
      }
    }
    if (negate) set = Universe() & ~set;
    if (set.none()) return Error("a class that matches nothing the simulator can write");
    auto n = MakeNode(Node::Kind::kSet);
    n->set = set;
    return n;
  }

  std::string_view p_;
  size_t pos_ = 0;
};

// Prefers friendly characters (letters, digits, space) when the set allows them, so answers read
// like text rather than line noise.
char PickFromSet(const std::bitset<128>& set, Rng& rng) {
  static const std::bitset<128> kFriendly = [] {
    std::bitset<128> s = Word();
    s.reset('_');
    s.set(' ');
    return s;
  }();
  std::bitset<128> pool = set & kFriendly;
  if (pool.none() || rng.Chance(0.1)) pool = set;
  size_t k = rng.Below(pool.count());
  for (size_t c = 0; c < 128; ++c) {
    if (pool.test(c) && k-- == 0) return static_cast<char>(c);
  }
  return static_cast<char>(pool._Find_first());
}

void Generate(const Node& n, Rng& rng, std::string* out) {
  switch (n.kind) {
    case Node::Kind::kEmpty:
      return;
    case Node::Kind::kSet:
      out->push_back(PickFromSet(n.set, rng));
      return;
    case Node::Kind::kText:
      out->append(n.text);
      return;
    case Node::Kind::kConcat:
      for (const auto& c : n.children) Generate(*c, rng, out);
      return;
    case Node::Kind::kAlt:
      Generate(*n.children[rng.Below(n.children.size())], rng, out);
      return;
    case Node::Kind::kRepeat: {
      int count = static_cast<int>(rng.Range(n.min, n.max));
      for (int i = 0; i < count; ++i) Generate(*n.children[0], rng, out);
      return;
    }
  }
}

}  // namespace

Result<std::string> GenerateFromRegex(std::string_view pattern, Rng& rng) {
  Parser parser(pattern);
  SF_ASSIGN_OR_RAISE(NodePtr root, parser.ParseAll());
  std::string out;
  Generate(*root, rng, &out);
  return out;
}

Status CheckRegexSupported(std::string_view pattern) {
  Parser parser(pattern);
  auto r = parser.ParseAll();
  return r.ok() ? Status::OK() : r.status();
}

}  // namespace structflow::sim

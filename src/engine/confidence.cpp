#include "engine/confidence.h"

#include <fmt/format.h>
#include <simdjson.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <nlohmann/json.hpp>
#include <optional>

#include "common/json_writer.h"

namespace structflow::engine {

struct ConfidenceNode {
  std::string name;
  int site = -1;  // a leaf: the site's index
  std::vector<ConfidenceNode> children;
};

namespace {

using Node = ConfidenceNode;

using Json = nlohmann::ordered_json;

// ---------------------------------------------------------------------------------------------
// Sites of a schema

const Json* Resolve(const Json& root, const Json& s) {
  const Json* cur = &s;
  for (int depth = 0; depth < 16 && cur->is_object(); ++depth) {
    if (auto ref = cur->find("$ref"); ref != cur->end() && ref->is_string()) {
      const std::string r = ref->get<std::string>();
      if (r.rfind("#/", 0) != 0) return nullptr;
      try {
        cur = &root.at(Json::json_pointer(r.substr(1)));
      } catch (const Json::exception&) {
        return nullptr;
      }
      continue;
    }
    // allOf of one subschema (Pydantic's old way to attach a description to a $ref), and a
    // nullable anyOf/oneOf [X, {"type": "null"}] (Optional[Enum]): X.
    if (auto all = cur->find("allOf"); all != cur->end() && all->is_array() && all->size() == 1) {
      cur = &(*all)[0];
      continue;
    }
    bool stepped = false;
    for (const char* key : {"anyOf", "oneOf"}) {
      auto it = cur->find(key);
      if (it == cur->end() || !it->is_array()) continue;
      const Json* other = nullptr;
      int non_null = 0;
      for (const auto& b : *it) {
        if (b.is_object() && b.value("type", Json()) == "null") continue;
        other = &b;
        ++non_null;
      }
      if (non_null == 1) {
        cur = other;
        stepped = true;
        break;
      }
    }
    if (!stepped) break;
  }
  return cur;
}

bool HasType(const Json& s, const char* type) {
  auto t = s.find("type");
  if (t == s.end()) return false;
  if (t->is_string()) return *t == type;
  if (t->is_array()) {
    for (const auto& x : *t)
      if (x == type) return true;
  }
  return false;
}

void CollectSites(const Json& root, const Json& schema, std::vector<std::string>* path,
                  std::vector<ConfidenceSite>* sites, Node* node, int depth) {
  if (depth > 32) return;
  auto props = schema.find("properties");
  if (props == schema.end() || !props->is_object()) return;
  for (auto it = props->begin(); it != props->end(); ++it) {
    const Json* s = Resolve(root, it.value());
    if (s == nullptr || !s->is_object()) continue;
    path->push_back(it.key());
    ConfidenceSite site;
    if (auto e = s->find("enum"); e != s->end() && e->is_array() && !e->empty()) {
      for (const auto& v : *e) {
        if (v.is_null()) continue;  // an Optional enum's null: not a value to be confident in
        site.json.push_back(v.dump());
        site.labels.push_back(v.is_string() ? v.get<std::string>() : v.dump());
      }
    } else if (HasType(*s, "boolean") && !HasType(*s, "object")) {
      site.json = {"true", "false"};
      site.labels = {"true", "false"};
    }
    if (!site.json.empty()) {
      site.path = *path;
      node->children.push_back(Node{it.key(), static_cast<int>(sites->size()), {}});
      sites->push_back(std::move(site));
    } else if (s->contains("properties")) {
      Node child{it.key(), -1, {}};
      CollectSites(root, *s, path, sites, &child, depth + 1);
      if (!child.children.empty()) node->children.push_back(std::move(child));
    }
    path->pop_back();
  }
}

// The schema's site tree, rebuilt from the sites' paths (in site order).
Node Tree(const std::vector<ConfidenceSite>& sites) {
  Node root;
  for (size_t k = 0; k < sites.size(); ++k) {
    Node* n = &root;
    const auto& path = sites[k].path;
    for (size_t d = 0; d + 1 < path.size(); ++d) {
      auto it = std::find_if(n->children.begin(), n->children.end(),
                             [&](const Node& c) { return c.name == path[d] && c.site < 0; });
      if (it == n->children.end()) {
        n->children.push_back(Node{path[d], -1, {}});
        n = &n->children.back();
      } else {
        n = &*it;
      }
    }
    n->children.push_back(Node{path.back(), static_cast<int>(k), {}});
  }
  return root;
}

// ---------------------------------------------------------------------------------------------
// Value spans in a JSON answer. A small scanner rather than a JSON library: what is needed is
// where each value starts and ends in the text, which the tokens are laid over.

struct Scanner {
  std::string_view s;
  size_t i = 0;
  void Ws() {
    while (i < s.size() && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r')) ++i;
  }
  bool String() {  // at '"': past the closing quote
    if (i >= s.size() || s[i] != '"') return false;
    for (++i; i < s.size(); ++i) {
      if (s[i] == '\\') {
        ++i;
      } else if (s[i] == '"') {
        ++i;
        return true;
      }
    }
    return false;
  }
  bool Value() {  // skips one value
    Ws();
    if (i >= s.size()) return false;
    const char c = s[i];
    if (c == '"') return String();
    if (c == '{' || c == '[') {
      const char close = c == '{' ? '}' : ']';
      ++i;
      Ws();
      if (i < s.size() && s[i] == close) {
        ++i;
        return true;
      }
      while (true) {
        if (c == '{') {
          Ws();
          if (!String()) return false;
          Ws();
          if (i >= s.size() || s[i] != ':') return false;
          ++i;
        }
        if (!Value()) return false;
        Ws();
        if (i >= s.size()) return false;
        if (s[i] == ',') {
          ++i;
          continue;
        }
        if (s[i] != close) return false;
        ++i;
        return true;
      }
    }
    while (i < s.size() && std::string_view(",}] \t\n\r").find(s[i]) == std::string_view::npos) ++i;
    return true;
  }
};

// The span of the value at `path` (property names; the JSON-escaped key compared as written).
std::optional<std::pair<size_t, size_t>> FindSpan(std::string_view text,
                                                  const std::vector<std::string>& path) {
  Scanner sc{text};
  for (const std::string& name : path) {
    std::string key;
    AppendJsonString(&key, name);
    sc.Ws();
    if (sc.i >= text.size() || text[sc.i] != '{') return std::nullopt;
    ++sc.i;
    bool found = false;
    while (!found) {
      sc.Ws();
      const size_t k0 = sc.i;
      if (!sc.String()) return std::nullopt;
      const bool match = text.substr(k0, sc.i - k0) == key;
      sc.Ws();
      if (sc.i >= text.size() || text[sc.i] != ':') return std::nullopt;
      ++sc.i;
      if (match) {
        found = true;
        break;
      }
      if (!sc.Value()) return std::nullopt;
      sc.Ws();
      if (sc.i >= text.size() || text[sc.i] != ',') return std::nullopt;
      ++sc.i;
    }
  }
  sc.Ws();
  const size_t begin = sc.i;
  if (!sc.Value()) return std::nullopt;
  size_t end = sc.i;
  return std::make_pair(begin, end);
}

bool StartsWith(std::string_view s, std::string_view p) {
  return s.size() >= p.size() && s.compare(0, p.size(), p) == 0;
}

}  // namespace

// ---------------------------------------------------------------------------------------------

SiteScore ScoreSite(std::string_view text, size_t begin, size_t end,
                    const std::vector<schema::TokenLogprob>& tokens,
                    const std::vector<std::string>& targets) {
  SiteScore out;
  const std::string_view value = text.substr(begin, end - begin);
  int chosen = -1;
  for (size_t k = 0; k < targets.size(); ++k) {
    if (targets[k] == value) chosen = static_cast<int>(k);
  }
  if (chosen < 0) return out;
  // The token where the value starts; `lead`: its text before the value.
  size_t at = 0;
  size_t j = 0;
  while (j < tokens.size() && at + tokens[j].token.size() <= begin) at += tokens[j++].token.size();
  if (j == tokens.size()) return out;
  const std::string lead(text.substr(at, begin - at));
  if (text.substr(at, tokens[j].token.size()) != tokens[j].token) return out;
  std::vector<std::string> full;
  for (const auto& t : targets) full.push_back(lead + t);

  std::vector<double> score(targets.size(), 0.0);
  std::vector<char> alive(targets.size(), 1);
  double path = 1.0;  // the probability of the path taken so far, renormalised step by step
  size_t o = 0;       // bytes of the targets consumed
  // A token continues value k at offset o when one is a prefix of the other's remainder.
  auto continues = [&](size_t k, const std::string& tok) {
    if (tok.empty()) return false;
    std::string_view rem = std::string_view(full[k]).substr(std::min(o, full[k].size()));
    return !rem.empty() && (StartsWith(rem, tok) || StartsWith(tok, rem));
  };
  for (; j < tokens.size(); ++j) {
    const schema::TokenLogprob& taken = tokens[j];
    if (text.substr(at, taken.token.size()) != taken.token) return out;  // tokens do not spell it
    // The step's alternatives: top_logprobs, plus the taken token if they leave it out.
    std::vector<std::pair<const std::string*, double>> alts;
    bool has_taken = false;
    for (const auto& [tok, lp] : taken.top) {
      if (tok == taken.token) has_taken = true;
      alts.emplace_back(&tok, std::exp(lp));
    }
    if (!has_taken) alts.emplace_back(&taken.token, std::exp(taken.logprob));
    double mass = 0;
    std::vector<std::vector<size_t>> starts(alts.size());
    for (size_t a = 0; a < alts.size(); ++a) {
      for (size_t k = 0; k < full.size(); ++k) {
        if (alive[k] && continues(k, *alts[a].first)) starts[a].push_back(k);
      }
      if (!starts[a].empty()) mass += alts[a].second;
    }
    if (mass <= 0) return out;
    double taken_p = 0;
    for (size_t a = 0; a < alts.size(); ++a) {
      if (starts[a].empty()) continue;
      const double share = alts[a].second / mass;
      if (*alts[a].first == taken.token) {
        taken_p = share;
        continue;
      }
      for (size_t k : starts[a]) score[k] += path * share / static_cast<double>(starts[a].size());
    }
    path *= taken_p;
    for (size_t k = 0; k < full.size(); ++k) alive[k] = alive[k] && continues(k, taken.token);
    o += taken.token.size();
    at += taken.token.size();
    if (!alive[chosen]) return out;
    if (o >= full[chosen].size()) {
      // The chosen value is complete: it keeps the path's probability, shared with any value the
      // same tokens also complete (none when no value is a prefix of another).
      std::vector<size_t> done;
      for (size_t k = 0; k < full.size(); ++k) {
        if (alive[k] && o >= full[k].size()) done.push_back(k);
      }
      for (size_t k : done) score[k] += path / static_cast<double>(done.size());
      break;
    }
  }
  if (j == tokens.size()) return out;  // the tokens ended inside the value
  double total = 0;
  for (double v : score) total += v;
  if (!(total > 0)) return out;
  for (double& v : score) v /= total;
  out.ok = true;
  out.chosen = chosen;
  out.p = std::move(score);
  return out;
}

Result<Confidence> Confidence::Make(const schema::Constraint& constraint, ConfidenceMode mode,
                                    std::string_view origin) {
  Confidence c;
  c.mode_ = mode;
  switch (constraint.kind()) {
    case schema::Constraint::Kind::kChoice: {
      c.choice_ = true;
      ConfidenceSite site;
      for (const auto& ch : constraint.choices()) {
        site.labels.push_back(ch);
        std::string j;
        AppendJsonString(&j, ch);
        site.json.push_back(std::move(j));
      }
      c.sites_.push_back(std::move(site));
      break;
    }
    case schema::Constraint::Kind::kJsonSchema: {
      Json root = Json::parse(constraint.schema_json(), nullptr, false);
      std::vector<std::string> path;
      Node tree;
      if (root.is_object()) {
        if (const Json* s = Resolve(root, root); s != nullptr && s->is_object())
          CollectSites(root, *s, &path, &c.sites_, &tree, 0);
      }
      if (c.sites_.empty()) {
        return Status::InvalidArgument(fmt::format(
            "--confidence: {} has no enum or boolean properties to be confident about; give "
            "the fields to score an enum (or boolean) type, or drop --confidence",
            origin));
      }
      break;
    }
    case schema::Constraint::Kind::kRegex:
      return Status::InvalidArgument(
          "--confidence scores a --choice answer or the enum and boolean fields of a --schema; a "
          "--regex answer has no list of allowed values to score: drop --confidence");
  }
  if (!c.choice_) c.tree_ = std::make_shared<const ConfidenceNode>(Tree(c.sites_));
  return c;
}

std::string LogprobsNote(client::ServerFamily family) {
  switch (family) {
    case client::ServerFamily::kVllm:
      return "vLLM returns log-probabilities after the grammar mask and before temperature "
             "(logprobs_mode raw_logprobs, its default)";
    case client::ServerFamily::kLlamaCpp:
      return "llama.cpp returns the raw model's probabilities before the grammar (renormalised "
             "here over the allowed values)";
    case client::ServerFamily::kSglang:
      return "SGLang returns log-probabilities after the grammar mask, after temperature";
    case client::ServerFamily::kOllama:
      return "Ollama's OpenAI layer returns log-probabilities only in recent versions "
             "(upgrade Ollama, or serve the model with vLLM or llama.cpp)";
    default:
      return "the server must return choices[0].logprobs.content with top_logprobs (the "
             "OpenAI chat format)";
  }
}

int Confidence::TopLogprobs() const {
  size_t most = 0;
  for (const auto& s : sites_) most = std::max(most, s.json.size());
  return static_cast<int>(std::clamp<size_t>(2 * most + 1, 5, 20));
}

std::string Confidence::RequestMembers() const {
  return fmt::format("\"logprobs\":true,\"top_logprobs\":{}", TopLogprobs());
}

std::string Confidence::Score(std::string_view content,
                              const std::vector<schema::TokenLogprob>* tokens,
                              schema::Dialect dialect, std::string* why) const {
  if (tokens == nullptr || tokens->empty()) {
    *why = "the server returned no log-probabilities (choices[0].logprobs.content)";
    return "null";
  }
  // The tokens spell the answer, give or take what a detokenizer drops: whitespace before it (a
  // SentencePiece word start, U+2581, on the first token) and special tokens after it (an
  // end-of-turn token some servers list). The walk runs over the tokens' own text, with the
  // answer found in it.
  std::string spelled;
  for (const auto& t : *tokens) spelled += t.token;
  size_t d = 0;
  while (d < spelled.size() && spelled.compare(d, content.size(), content) != 0 &&
         std::isspace(static_cast<unsigned char>(spelled[d]))) {
    ++d;
  }
  if (spelled.compare(d, content.size(), content) != 0) {
    *why = fmt::format(
        "the server's log-probability tokens spell {} bytes that are not the answer's {}: they "
        "cannot be laid over the answer",
        spelled.size(), content.size());
    return "null";
  }
  std::string out;
  JsonWriter w(&out);
  w.BeginArray();
  int scored = 0;
  for (const ConfidenceSite& site : sites_) {
    std::optional<std::pair<size_t, size_t>> span;
    const std::vector<std::string>* targets = &site.json;
    if (choice_ && !schema::IsJsonWrapped(dialect)) {
      span = std::make_pair(size_t{0}, content.size());
      targets = &site.labels;
    } else {
      std::vector<std::string> path = site.path;
      if (choice_) path = {"answer"};
      span = FindSpan(content, path);
    }
    SiteScore s;
    if (span) s = ScoreSite(spelled, d + span->first, d + span->second, *tokens, *targets);
    if (!s.ok) {
      w.Null();
      continue;
    }
    ++scored;
    w.BeginObject().Key("i").Int(s.chosen).Key("p").BeginArray();
    for (double p : s.p) w.Double(p);
    w.EndArray().EndObject();
  }
  w.EndArray();
  if (scored == 0) {
    *why =
        "no allowed value's tokens were found among the log-probabilities (the server's tokens "
        "do not line up with the answer's values)";
  }
  return out;
}

namespace {

table::TypePtr DistType() {
  return table::DataType::List(table::DataType::Struct({{"value", table::DataType::String(), false},
                                                        {"p", table::DataType::Double(), false}}),
                               false);
}

table::TypePtr TreeType(const Node& n, bool dist) {
  std::vector<table::Field> fields;
  for (const Node& c : n.children) {
    table::TypePtr t =
        c.site >= 0 ? (dist ? DistType() : table::DataType::Double()) : TreeType(c, dist);
    fields.push_back({c.name, t, true});
  }
  return table::DataType::Struct(std::move(fields));
}

void AppendDist(const ConfidenceSite& site, simdjson::dom::element e, table::Column* col) {
  simdjson::dom::array p;
  if (e.is_null() || e["p"].get(p) != simdjson::SUCCESS || p.size() != site.labels.size()) {
    col->AppendNull();
    return;
  }
  size_t k = 0;
  table::Column& item = col->child(0);
  for (auto v : p) {
    double x = 0;
    if (v.get(x) != simdjson::SUCCESS) x = 0;
    item.child(0).AppendBytes(site.labels[k++]);
    item.child(1).AppendDouble(x);
    item.CloseStruct();
  }
  col->CloseList();
}

void AppendChosen(simdjson::dom::element e, table::Column* col) {
  simdjson::dom::array p;
  int64_t i = -1;
  double x = 0;
  if (e.is_null() || e["i"].get(i) != simdjson::SUCCESS || e["p"].get(p) != simdjson::SUCCESS ||
      i < 0 || static_cast<size_t>(i) >= p.size() || p.at(i).get(x) != simdjson::SUCCESS) {
    col->AppendNull();
    return;
  }
  col->AppendDouble(x);
}

void AppendTree(const Node& n, const std::vector<ConfidenceSite>& sites,
                const std::vector<simdjson::dom::element>& elems, bool dist, table::Column* col) {
  for (size_t c = 0; c < n.children.size(); ++c) {
    const Node& ch = n.children[c];
    table::Column& child = col->child(static_cast<int>(c));
    if (ch.site >= 0) {
      if (dist)
        AppendDist(sites[ch.site], elems[ch.site], &child);
      else
        AppendChosen(elems[ch.site], &child);
    } else {
      AppendTree(ch, sites, elems, dist, &child);
    }
  }
  col->CloseStruct();
}

}  // namespace

table::TypePtr Confidence::AnswerType() const {
  return choice_ ? table::DataType::Double() : TreeType(*tree_, false);
}

table::TypePtr Confidence::DistributionType() const {
  return choice_ ? DistType() : TreeType(*tree_, true);
}

void Confidence::AppendColumns(std::string_view stored, table::Column* answer,
                               table::Column* distribution) const {
  thread_local simdjson::dom::parser parser;
  simdjson::dom::element doc;
  simdjson::dom::array arr;
  std::vector<simdjson::dom::element> elems;
  if (!stored.empty() && parser.parse(stored.data(), stored.size()).get(doc) == simdjson::SUCCESS &&
      doc.get(arr) == simdjson::SUCCESS && arr.size() == sites_.size()) {
    for (auto e : arr) elems.push_back(e);
  }
  if (elems.empty()) {
    answer->AppendNull();
    if (distribution) distribution->AppendNull();
    return;
  }
  if (choice_) {
    AppendChosen(elems[0], answer);
    if (distribution) AppendDist(sites_[0], elems[0], distribution);
    return;
  }
  AppendTree(*tree_, sites_, elems, false, answer);
  if (distribution) AppendTree(*tree_, sites_, elems, true, distribution);
}

}  // namespace structflow::engine

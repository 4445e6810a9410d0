#include "sim/schema_gen.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <limits>

#include "sim/regex_gen.h"
#include "sim/rng.h"
#include "sim/schema_gen_internal.h"

namespace structflow::sim {
namespace {

using nlohmann::json;

// Past this nesting depth recursive schemas stop growing: optional members are left out, arrays
// take their minimum, anyOf prefers branches without $ref.
constexpr int kSoftDepth = 6;
constexpr int kHardDepth = 64;

constexpr std::string_view kWords[] = {
    "alpha", "river",  "stone",  "quiet",   "market",  "yellow", "signal", "garden",
    "orbit", "copper", "meadow", "harbor",  "lantern", "violet", "summit", "ember",
    "north", "pixel",  "canvas", "thunder", "maple",   "cobalt", "falcon", "prairie"};
constexpr std::string_view kFirstNames[] = {"ada",     "grace", "alan",     "linus",
                                            "barbara", "ken",   "margaret", "dennis"};
constexpr std::string_view kDomains[] = {"example.com", "example.org", "mail.test", "corp.example"};

class Generator {
 public:
  Generator(const json& root, Rng& rng) : root_(root), rng_(rng) {}

  Result<json> Value(const json& schema, const std::string& path, int depth) {
    if (depth > kHardDepth) {
      return Status::InvalidArgument(
          fmt::format("{}: schema nests deeper than {}", path, kHardDepth));
    }
    if (schema.is_boolean()) {
      if (!schema.get<bool>()) {
        return Status::InvalidArgument(fmt::format("{}: schema `false` admits no value", path));
      }
      return json(Word());
    }
    if (!schema.is_object()) {
      return Status::InvalidArgument(
          fmt::format("{}: a schema must be an object or a boolean", path));
    }
    if (auto it = schema.find("$ref"); it != schema.end()) {
      SF_ASSIGN_OR_RAISE(const json* target, Resolve(*it, path));
      return Value(*target, path, depth + 1);
    }
    if (auto it = schema.find("const"); it != schema.end()) return *it;
    if (auto it = schema.find("enum"); it != schema.end()) {
      if (!it->is_array() || it->empty()) {
        return Status::InvalidArgument(fmt::format("{}: enum must be a non-empty array", path));
      }
      return (*it)[rng_.Below(it->size())];
    }
    for (const char* key : {"anyOf", "oneOf"}) {
      if (auto it = schema.find(key); it != schema.end()) {
        if (!it->is_array() || it->empty()) {
          return Status::InvalidArgument(
              fmt::format("{}: {} must be a non-empty array", path, key));
        }
        size_t pick = PickBranch(*it, depth);
        // Sibling keywords (a description, a shared type) stay with the branch.
        json merged = (*it)[pick];
        if (merged.is_object()) {
          for (auto m = schema.begin(); m != schema.end(); ++m) {
            if (m.key() != key && !merged.contains(m.key())) merged[m.key()] = m.value();
          }
        }
        return Value(merged, fmt::format("{}.{}[{}]", path, key, pick), depth + 1);
      }
    }
    if (auto it = schema.find("allOf"); it != schema.end() && it->is_array()) {
      json merged = json::object();
      for (auto m = schema.begin(); m != schema.end(); ++m) {
        if (m.key() != "allOf") merged[m.key()] = m.value();
      }
      for (const auto& part : *it) {
        const json* p = &part;
        if (p->is_object() && p->contains("$ref")) {
          SF_ASSIGN_OR_RAISE(p, Resolve((*p)["$ref"], path));
        }
        if (!p->is_object()) continue;
        for (auto m = p->begin(); m != p->end(); ++m) {
          if (m.key() == "properties" && merged.contains("properties")) {
            merged["properties"].update(m.value());
          } else if (m.key() == "required" && merged.contains("required")) {
            for (const auto& r : m.value()) merged["required"].push_back(r);
          } else if (!merged.contains(m.key())) {
            merged[m.key()] = m.value();
          }
        }
      }
      return Value(merged, path, depth + 1);
    }

    std::string type = PickType(schema);
    if (type == "object") return Object(schema, path, depth);
    if (type == "array") return Array(schema, path, depth);
    if (type == "string") return String(schema, path);
    if (type == "integer") return Integer(schema, path);
    if (type == "number") return Number(schema, path);
    if (type == "boolean") return json(rng_.Chance(0.5));
    if (type == "null") return json(nullptr);
    return Status::InvalidArgument(fmt::format("{}: unknown type '{}'", path, type));
  }

 private:
  Result<const json*> Resolve(const json& ref, const std::string& path) {
    if (!ref.is_string()) {
      return Status::InvalidArgument(fmt::format("{}: $ref must be a string", path));
    }
    const std::string& s = ref.get_ref<const std::string&>();
    if (s == "#") return &root_;
    if (!s.starts_with("#/")) {
      return Status::InvalidArgument(
          fmt::format("{}: $ref '{}' is not local; only '#/...' references are resolved", path, s));
    }
    try {
      const json& target = root_.at(json::json_pointer(s.substr(1)));
      return &target;
    } catch (const std::exception&) {
      return Status::InvalidArgument(fmt::format("{}: $ref '{}' points at nothing", path, s));
    }
  }

  size_t PickBranch(const json& branches, int depth) {
    if (depth >= kSoftDepth) {
      // Deep inside a recursive schema: take a branch that stops the recursion.
      for (size_t i = 0; i < branches.size(); ++i) {
        const json& b = branches[i];
        if (b.is_object() && !b.contains("$ref") && !b.contains("properties") &&
            !b.contains("items")) {
          return i;
        }
      }
    }
    // A null branch is a "nullable" marker: real models fill the value most of the time.
    size_t pick = rng_.Below(branches.size());
    if (branches.size() > 1 && IsNullSchema(branches[pick]) && rng_.Chance(0.7)) {
      pick = (pick + 1 + rng_.Below(branches.size() - 1)) % branches.size();
    }
    return pick;
  }

  static bool IsNullSchema(const json& s) {
    if (!s.is_object()) return false;
    auto it = s.find("type");
    return it != s.end() && it->is_string() && *it == "null";
  }

  std::string PickType(const json& schema) {
    auto it = schema.find("type");
    if (it != schema.end()) {
      if (it->is_string()) return it->get<std::string>();
      if (it->is_array() && !it->empty()) {
        std::vector<std::string> types;
        bool has_null = false;
        for (const auto& t : *it) {
          if (!t.is_string()) continue;
          if (t == "null") {
            has_null = true;
          } else {
            types.push_back(t.get<std::string>());
          }
        }
        if (types.empty()) return "null";
        if (has_null && rng_.Chance(0.2)) return "null";
        return types[rng_.Below(types.size())];
      }
    }
    if (schema.contains("properties") || schema.contains("required")) return "object";
    if (schema.contains("items") || schema.contains("prefixItems") || schema.contains("minItems")) {
      return "array";
    }
    if (schema.contains("minimum") || schema.contains("maximum") ||
        schema.contains("exclusiveMinimum") || schema.contains("exclusiveMaximum")) {
      return "number";
    }
    return "string";
  }

  Result<json> Object(const json& schema, const std::string& path, int depth) {
    json out = json::object();
    auto props = schema.find("properties");
    std::vector<std::string> required;
    if (auto it = schema.find("required"); it != schema.end() && it->is_array()) {
      for (const auto& r : *it) {
        if (r.is_string()) required.push_back(r.get<std::string>());
      }
    }
    auto is_required = [&](const std::string& k) {
      return std::find(required.begin(), required.end(), k) != required.end();
    };
    if (props != schema.end() && props->is_object()) {
      for (auto p = props->begin(); p != props->end(); ++p) {
        bool req = is_required(p.key());
        if (!req && (depth >= kSoftDepth || !rng_.Chance(0.65))) continue;
        SF_ASSIGN_OR_RAISE(json v, Value(p.value(), path + "." + p.key(), depth + 1));
        out[p.key()] = std::move(v);
      }
    }
    // Required members the properties do not describe get any value.
    for (const auto& r : required) {
      if (!out.contains(r)) out[r] = Word();
    }
    return out;
  }

  Result<json> Array(const json& schema, const std::string& path, int depth) {
    int64_t min_items = IntKeyword(schema, "minItems", 0);
    int64_t max_items = IntKeyword(schema, "maxItems", -1);
    if (max_items >= 0 && max_items < min_items) {
      return Status::InvalidArgument(fmt::format("{}: maxItems < minItems", path));
    }
    int64_t hi = max_items >= 0 ? std::min<int64_t>(max_items, min_items + 4) : min_items + 3;
    int64_t count =
        depth >= kSoftDepth ? min_items : rng_.Range(std::max<int64_t>(min_items, 1), hi);
    if (count > hi) count = hi;
    json out = json::array();
    const json* prefix = nullptr;
    if (auto it = schema.find("prefixItems"); it != schema.end() && it->is_array()) prefix = &*it;
    const json* items = nullptr;
    if (auto it = schema.find("items"); it != schema.end()) {
      if (it->is_array()) {
        prefix = &*it;  // draft 4-7 tuple form
      } else {
        items = &*it;
      }
    }
    if (prefix != nullptr) count = std::max<int64_t>(count, static_cast<int64_t>(prefix->size()));
    if (prefix != nullptr && items == nullptr && max_items < 0) {
      count = static_cast<int64_t>(prefix->size());
    }
    bool unique = schema.value("uniqueItems", false);
    for (int64_t i = 0; i < count; ++i) {
      std::string item_path = fmt::format("{}[{}]", path, i);
      const json* s = nullptr;
      if (prefix != nullptr && i < static_cast<int64_t>(prefix->size())) {
        s = &(*prefix)[i];
      } else {
        s = items;
      }
      json v;
      if (s == nullptr) {
        v = Word();
      } else {
        // uniqueItems: a few tries to draw a value not seen yet.
        for (int attempt = 0; attempt < 8; ++attempt) {
          SF_ASSIGN_OR_RAISE(v, Value(*s, item_path, depth + 1));
          if (!unique || std::find(out.begin(), out.end(), v) == out.end()) break;
        }
        if (unique && std::find(out.begin(), out.end(), v) != out.end()) {
          if (i >= min_items) break;
        }
      }
      out.push_back(std::move(v));
    }
    return out;
  }

  static int64_t IntKeyword(const json& schema, const char* key, int64_t fallback) {
    auto it = schema.find(key);
    if (it == schema.end() || it->is_null()) return fallback;
    return it->get<int64_t>();  // throws (caught in GenerateValue) when it is not a number
  }

  std::string Word() { return std::string(kWords[rng_.Below(std::size(kWords))]); }

  Result<json> String(const json& schema, const std::string& path) {
    if (auto it = schema.find("pattern"); it != schema.end() && it->is_string()) {
      auto s = GenerateFromRegex(it->get<std::string>(), rng_);
      if (!s.ok()) return s.status().WithContext(path);
      return json(std::move(s).value());
    }
    if (auto it = schema.find("format"); it != schema.end() && it->is_string()) {
      std::string f = it->get<std::string>();
      std::string v = Format(f);
      if (!v.empty()) return json(v);
    }
    int64_t min_len = IntKeyword(schema, "minLength", 0);
    int64_t max_len = IntKeyword(schema, "maxLength", -1);
    if (max_len >= 0 && max_len < min_len) {
      return Status::InvalidArgument(fmt::format("{}: maxLength < minLength", path));
    }
    std::string s = Word();
    int extra = static_cast<int>(rng_.Below(3));
    for (int i = 0; i < extra; ++i) s += " " + Word();
    while (static_cast<int64_t>(s.size()) < min_len) s += " " + Word();
    if (max_len >= 0 && static_cast<int64_t>(s.size()) > max_len) s.resize(max_len);
    // Never end on a space: a trimmed string could fall under minLength, so pad with a letter.
    if (!s.empty() && s.back() == ' ') s.back() = 'a';
    return json(s);
  }

  std::string Format(const std::string& f) {
    auto two = [](int v) { return fmt::format("{:02d}", v); };
    int year = static_cast<int>(rng_.Range(1990, 2030));
    int month = static_cast<int>(rng_.Range(1, 12));
    int day = static_cast<int>(rng_.Range(1, 28));
    std::string date = fmt::format("{}-{}-{}", year, two(month), two(day));
    std::string time = fmt::format("{}:{}:{}", two(static_cast<int>(rng_.Range(0, 23))),
                                   two(static_cast<int>(rng_.Range(0, 59))),
                                   two(static_cast<int>(rng_.Range(0, 59))));
    if (f == "date") return date;
    if (f == "date-time") return date + "T" + time + "Z";
    if (f == "time") return time + "Z";
    if (f == "email") {
      return fmt::format("{}.{}@{}", kFirstNames[rng_.Below(std::size(kFirstNames))], Word(),
                         kDomains[rng_.Below(std::size(kDomains))]);
    }
    if (f == "uri" || f == "url" || f == "uri-reference" || f == "iri") {
      return fmt::format("https://{}/{}/{}", kDomains[rng_.Below(std::size(kDomains))], Word(),
                         rng_.Range(1, 9999));
    }
    if (f == "uuid") {
      uint64_t a = rng_.Next(), b = rng_.Next();
      return fmt::format("{:08x}-{:04x}-4{:03x}-{:x}{:03x}-{:012x}", a >> 32, (a >> 16) & 0xffff,
                         a & 0xfff, 8 + (b >> 62), (b >> 48) & 0xfff, b & 0xffffffffffffULL);
    }
    if (f == "ipv4") {
      return fmt::format("{}.{}.{}.{}", rng_.Range(1, 223), rng_.Range(0, 255), rng_.Range(0, 255),
                         rng_.Range(1, 254));
    }
    if (f == "hostname")
      return fmt::format("{}.{}", Word(), kDomains[rng_.Below(std::size(kDomains))]);
    return "";
  }

  // Reads minimum/maximum and their exclusive forms (draft 4 booleans or draft 6+ numbers).
  struct Bounds {
    double lo = -std::numeric_limits<double>::infinity();
    double hi = std::numeric_limits<double>::infinity();
    bool lo_excl = false, hi_excl = false;
  };
  static Bounds ReadBounds(const json& schema) {
    Bounds b;
    auto num = [&](const char* k, double* out) {
      auto it = schema.find(k);
      if (it != schema.end() && it->is_number()) {
        *out = it->get<double>();
        return true;
      }
      return false;
    };
    num("minimum", &b.lo);
    num("maximum", &b.hi);
    double v;
    if (num("exclusiveMinimum", &v)) {
      if (v >= b.lo) b.lo = v, b.lo_excl = true;
    } else if (schema.value("exclusiveMinimum", false)) {
      b.lo_excl = true;
    }
    if (num("exclusiveMaximum", &v)) {
      if (v <= b.hi) b.hi = v, b.hi_excl = true;
    } else if (schema.value("exclusiveMaximum", false)) {
      b.hi_excl = true;
    }
    return b;
  }

  Result<json> Integer(const json& schema, const std::string& path) {
    Bounds b = ReadBounds(schema);
    double lo = b.lo, hi = b.hi;
    int64_t ilo, ihi;
    if (std::isinf(lo) && std::isinf(hi)) {
      ilo = 0, ihi = 100;
    } else if (std::isinf(lo)) {
      ihi = static_cast<int64_t>(b.hi_excl ? std::ceil(hi) - 1 : std::floor(hi));
      ilo = ihi - 100;
    } else if (std::isinf(hi)) {
      ilo = static_cast<int64_t>(b.lo_excl ? std::floor(lo) + 1 : std::ceil(lo));
      ihi = ilo + 100;
    } else {
      ilo = static_cast<int64_t>(b.lo_excl ? std::floor(lo) + 1 : std::ceil(lo));
      ihi = static_cast<int64_t>(b.hi_excl ? std::ceil(hi) - 1 : std::floor(hi));
    }
    if (ihi < ilo)
      return Status::InvalidArgument(fmt::format("{}: no integer within the bounds", path));
    if (auto it = schema.find("multipleOf"); it != schema.end() && it->is_number()) {
      double m = it->get<double>();
      if (m > 0 && m == std::floor(m)) {
        int64_t step = static_cast<int64_t>(m);
        int64_t first = static_cast<int64_t>(std::ceil(static_cast<double>(ilo) / m)) * step;
        int64_t last = static_cast<int64_t>(std::floor(static_cast<double>(ihi) / m)) * step;
        if (last < first) {
          return Status::InvalidArgument(
              fmt::format("{}: no multiple of {} within the bounds", path, m));
        }
        return json(first + rng_.Range(0, (last - first) / step) * step);
      }
    }
    return json(rng_.Range(ilo, ihi));
  }

  Result<json> Number(const json& schema, const std::string& path) {
    if (auto it = schema.find("multipleOf"); it != schema.end() && it->is_number()) {
      double m = it->get<double>();
      if (m > 0 && m == std::floor(m)) return Integer(schema, path);
    }
    Bounds b = ReadBounds(schema);
    double lo = b.lo, hi = b.hi;
    if (std::isinf(lo) && std::isinf(hi)) {
      lo = 0, hi = 100;
    } else if (std::isinf(lo)) {
      lo = hi - 100;
    } else if (std::isinf(hi)) {
      hi = lo + 100;
    }
    if (hi < lo || (hi == lo && (b.lo_excl || b.hi_excl))) {
      return Status::InvalidArgument(fmt::format("{}: no number within the bounds", path));
    }
    // Two decimals, like a model writes numbers; fall back to the exact midpoint when rounding
    // would leave the bounds.
    double v = std::round((lo + rng_.Unit() * (hi - lo)) * 100) / 100;
    auto inside = [&](double x) {
      return (b.lo_excl ? x > lo : x >= lo) && (b.hi_excl ? x < hi : x <= hi);
    };
    if (!inside(v)) v = lo + (hi - lo) / 2;
    if (!inside(v))
      return Status::InvalidArgument(fmt::format("{}: no number within the bounds", path));
    return json(v);
  }

  const json& root_;
  Rng& rng_;
};

}  // namespace

Result<nlohmann::json> GenerateValue(const nlohmann::json& schema, Rng& rng) {
  Generator g(schema, rng);
  try {
    return g.Value(schema, "$", 0);
  } catch (const nlohmann::json::exception& e) {
    // A keyword of the wrong JSON type (say "minItems": "3").
    return Status::InvalidArgument(fmt::format("schema keyword of the wrong type: {}", e.what()));
  }
}

Result<std::string> GenerateFromSchema(std::string_view schema_json, Rng& rng) {
  nlohmann::json schema = nlohmann::json::parse(schema_json, nullptr, /*allow_exceptions=*/false);
  if (schema.is_discarded()) return Status::InvalidArgument("schema is not valid JSON");
  SF_ASSIGN_OR_RAISE(nlohmann::json v, GenerateValue(schema, rng));
  return v.dump();
}

}  // namespace structflow::sim

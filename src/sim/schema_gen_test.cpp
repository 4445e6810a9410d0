#include "sim/schema_gen.h"

#include <gtest/gtest.h>
#include <re2/re2.h>

#include <nlohmann/json.hpp>
#include <set>
#include <valijson/adapters/nlohmann_json_adapter.hpp>
#include <valijson/schema.hpp>
#include <valijson/schema_parser.hpp>
#include <valijson/validator.hpp>

#include "sim/rng.h"

namespace structflow::sim {
namespace {

using nlohmann::json;

// Validates with valijson (an independent implementation), so a generator bug cannot hide.
std::string Invalid(const json& schema, const json& value) {
  valijson::Schema s;
  valijson::SchemaParser parser(valijson::SchemaParser::kDraft7);
  valijson::adapters::NlohmannJsonAdapter sa(schema);
  parser.populateSchema(sa, s);
  valijson::Validator v;
  valijson::ValidationResults results;
  valijson::adapters::NlohmannJsonAdapter ta(value);
  if (v.validate(s, ta, &results)) return "";
  std::string why;
  valijson::ValidationResults::Error e;
  while (results.popError(e)) why += e.description + "; ";
  return why;
}

void ExpectAlwaysValid(const char* schema_text, int runs = 200) {
  json schema = json::parse(schema_text);
  for (int seed = 0; seed < runs; ++seed) {
    Rng rng(seed);
    auto out = GenerateFromSchema(schema_text, rng);
    ASSERT_TRUE(out.ok()) << out.status().ToString();
    json value = json::parse(*out);
    std::string why = Invalid(schema, value);
    ASSERT_EQ(why, "") << "schema " << schema_text << "\nvalue " << *out;
  }
}

TEST(SchemaGen, ObjectsWithRequiredAndOptionalMembers) {
  ExpectAlwaysValid(R"({"type":"object","properties":{
      "name":{"type":"string","minLength":3,"maxLength":12},
      "age":{"type":"integer","minimum":0,"maximum":120},
      "score":{"type":"number","exclusiveMinimum":0,"exclusiveMaximum":1},
      "ok":{"type":"boolean"},
      "tags":{"type":"array","items":{"type":"string","maxLength":5},"minItems":1,"maxItems":3}},
    "required":["name","age"],"additionalProperties":false})");
}

TEST(SchemaGen, EnumsConstAnyOfOneOfAndNullable) {
  ExpectAlwaysValid(R"({"type":"object","properties":{
      "label":{"enum":["cat","dog","bird",3,null]},
      "kind":{"const":"fixed"},
      "maybe":{"anyOf":[{"type":"integer","minimum":5,"maximum":9},{"type":"null"}]},
      "either":{"oneOf":[{"type":"string","format":"date"},{"type":"boolean"}]},
      "typed":{"type":["string","null"],"maxLength":4}},
    "required":["label","kind","maybe","either","typed"]})");
}

TEST(SchemaGen, RefsIntoDefsAndRecursion) {
  ExpectAlwaysValid(R"({"$defs":{"node":{"type":"object","properties":{
        "value":{"type":"integer","multipleOf":5,"minimum":-20,"maximum":20},
        "children":{"type":"array","items":{"$ref":"#/$defs/node"},"maxItems":2}},
      "required":["value"]}},
    "type":"object","properties":{"root":{"$ref":"#/$defs/node"},
      "legacy":{"$ref":"#/definitions/old"}},
    "definitions":{"old":{"type":"string","pattern":"^[A-Z]{2}\\d{2}$"}},
    "required":["root","legacy"]})");
}

TEST(SchemaGen, StringFormatsLookRight) {
  const char* schema = R"({"type":"object","properties":{
      "d":{"type":"string","format":"date"},
      "dt":{"type":"string","format":"date-time"},
      "e":{"type":"string","format":"email"},
      "u":{"type":"string","format":"uri"},
      "id":{"type":"string","format":"uuid"}},
    "required":["d","dt","e","u","id"]})";
  ExpectAlwaysValid(schema, 50);
  Rng rng(3);
  json v = json::parse(GenerateFromSchema(schema, rng).value());
  EXPECT_TRUE(RE2::FullMatch(v["d"].get<std::string>(), "\\d{4}-\\d{2}-\\d{2}"));
  EXPECT_TRUE(
      RE2::FullMatch(v["dt"].get<std::string>(), "\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}:\\d{2}Z"));
  EXPECT_TRUE(RE2::FullMatch(v["e"].get<std::string>(), "[a-z.]+@[a-z.]+"));
  EXPECT_TRUE(RE2::FullMatch(v["u"].get<std::string>(), "https://.+"));
  EXPECT_TRUE(
      RE2::FullMatch(v["id"].get<std::string>(),
                     "[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}"));
}

TEST(SchemaGen, ArraysRespectItemCountsAndTuples) {
  ExpectAlwaysValid(R"({"type":"array","items":{"type":"integer"},"minItems":4,"maxItems":4})");
  ExpectAlwaysValid(
      R"({"type":"array","items":[{"type":"string"},{"type":"integer"}],"minItems":2})");
  ExpectAlwaysValid(
      R"({"type":"array","items":{"enum":["a","b","c"]},"uniqueItems":true,"maxItems":3})");
}

TEST(SchemaGen, NotAlwaysTheFirstEnumValue) {
  std::set<std::string> seen;
  for (int seed = 0; seed < 60; ++seed) {
    Rng rng(seed);
    seen.insert(GenerateFromSchema(R"({"enum":["A","B","C","D"]})", rng).value());
  }
  EXPECT_EQ(seen.size(), 4u);
}

TEST(SchemaGen, ImpossibleSchemasAreErrorsWithThePath) {
  Rng rng(1);
  auto r = GenerateFromSchema(
      R"({"type":"object","properties":{"n":{"type":"integer","minimum":5,"maximum":4}},"required":["n"]})",
      rng);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("$.n"), std::string::npos) << r.status().message();
  EXPECT_FALSE(GenerateFromSchema(R"({"$ref":"#/$defs/missing"})", rng).ok());
  EXPECT_FALSE(GenerateFromSchema(R"({"enum":[]})", rng).ok());
  EXPECT_FALSE(GenerateFromSchema("false", rng).ok());
  EXPECT_FALSE(GenerateFromSchema(R"({"type":"array","minItems":"3"})", rng).ok());
}

}  // namespace
}  // namespace structflow::sim

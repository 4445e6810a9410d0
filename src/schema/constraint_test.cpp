#include "schema/constraint.h"

#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "schema/pattern_anchor.h"
#include "table/record_batch.h"

namespace structflow::schema {
namespace {

std::string ExamplePath(const std::string& name) {
  return std::string(STRUCTFLOW_SOURCE_DIR) + "/examples/schemas/" + name;
}

Constraint LoadExample(const std::string& name) {
  auto c = Constraint::FromSchemaFile(ExamplePath(name));
  EXPECT_TRUE(c.ok()) << c.status().ToString();
  return *c;
}

std::string Cell(const table::Column& column, int64_t row) {
  std::string out;
  table::AppendCellJson(column, row, &out);
  return out;
}

// Every child of a struct (recursively) has as many rows as the struct: the layout invariant a
// failed parse must not break.
void ExpectAligned(const table::Column& c) {
  if (c.type_id() == table::TypeId::kStruct) {
    for (int k = 0; k < c.num_children(); ++k) {
      EXPECT_EQ(c.child(k).length(), c.length()) << c.type()->ToString();
      ExpectAligned(c.child(k));
    }
  } else if (c.type_id() == table::TypeId::kList) {
    EXPECT_EQ(c.length() == 0 ? 0 : c.ListRange(c.length() - 1).second, c.child(0).length());
    ExpectAligned(c.child(0));
  }
}

Status SchemaError(std::string_view text) {
  auto c = Constraint::FromSchemaText(text, "test.json");
  return c.status();
}

// ---- Dialects ----

TEST(Dialect, ParsesEveryNameAndBack) {
  for (Dialect d : {Dialect::kAuto, Dialect::kOpenAI, Dialect::kVllm, Dialect::kVllmLegacy}) {
    auto parsed = ParseDialect(DialectName(d));
    ASSERT_TRUE(parsed.ok());
    EXPECT_EQ(*parsed, d);
  }
  auto bad = ParseDialect("guided");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("vllm-legacy"), std::string::npos);
}

// ---- Schema errors, before any request ----

TEST(ConstraintSchemaErrors, InvalidJsonNamesLineAndColumn) {
  Status st = SchemaError("{\n  \"type\": \"object\",\n  \"properties\": {,}\n}");
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(st.message().find("test.json"), std::string::npos) << st.message();
  EXPECT_NE(st.message().find("line 3, column 18"), std::string::npos) << st.message();
}

TEST(ConstraintSchemaErrors, UnknownTypeNamesPathAndFix) {
  Status st = SchemaError(R"({"type":"object","properties":{"items":{"type":"array",
      "items":{"type":"str"}}}})");
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("test.json: $.properties.items.items.type: unknown type 'str'; "
                              "use 'string'"),
            std::string::npos)
      << st.message();
  st = SchemaError(R"({"type":["string","varchar"]})");
  EXPECT_NE(st.message().find("$.type[1]: unknown type 'varchar'; use one of string, integer"),
            std::string::npos)
      << st.message();
}

TEST(ConstraintSchemaErrors, WrongKeywordTypesAreNamed) {
  EXPECT_NE(SchemaError(R"({"type":"string","minLength":"3"})")
                .message()
                .find("$.minLength: must "
                      "be a non-negative "
                      "integer"),
            std::string::npos);
  EXPECT_NE(SchemaError(R"({"type":"object","required":"a"})").message().find("$.required"),
            std::string::npos);
  EXPECT_NE(SchemaError(R"({"type":"object","properties":[]})").message().find("$.properties"),
            std::string::npos);
  EXPECT_NE(SchemaError(R"({"enum":[]})").message().find("$.enum: must be a non-empty array"),
            std::string::npos);
  EXPECT_NE(SchemaError(R"({"anyOf":[{"type":"string"}, 3]})")
                .message()
                .find("$.anyOf[1]: a "
                      "schema must be an "
                      "object"),
            std::string::npos);
  EXPECT_NE(SchemaError(R"({"type":"string","pattern":"([a-z"})")
                .message()
                .find("$.pattern: "
                      "invalid regular "
                      "expression"),
            std::string::npos);
  EXPECT_NE(SchemaError("[1,2]").message().find("$: a JSON Schema must be an object"),
            std::string::npos);
}

TEST(ConstraintSchemaErrors, KeywordsNeitherServersNorTheValidatorCheckAreRejectedWithPath) {
  struct Case {
    const char* schema;
    const char* expected;
  } cases[] = {
      {R"({"type":"object","dependentSchemas":{"a":{}}})",
       "$.dependentSchemas: keyword 'dependentSchemas' cannot be enforced"},
      {R"({"type":"object","properties":{"a":{"unevaluatedProperties":false}}})",
       "$.properties.a.unevaluatedProperties:"},
      {R"({"type":"array","contains":{"type":"string"},"minContains":2})", "$.minContains:"},
      {R"({"allOf":[{"type":"object"},{"required":["a"]}]})", "$.allOf: allOf with more than one"},
  };
  for (const auto& c : cases) {
    Status st = SchemaError(c.schema);
    ASSERT_FALSE(st.ok()) << c.schema;
    EXPECT_NE(st.message().find(c.expected), std::string::npos) << st.message();
  }
}

TEST(ConstraintLocalOnlyKeywords, AreLeftOutOfTheRequestAndCheckedOnEveryAnswer) {
  // Pydantic's set[str] gives uniqueItems; minProperties/not/contains come from hand-written
  // schemas. The server is sent the rest; the answer is checked against the whole schema.
  auto c = Constraint::FromSchemaText(
      R"({"type":"object","properties":{
            "tags":{"type":"array","items":{"type":"string"},"uniqueItems":true},
            "meta":{"type":"object","minProperties":1,"properties":{"k":{"type":"string"}}},
            "code":{"type":"string","not":{"const":"none"}}},
          "required":["tags","meta","code"]})",
      "set.json");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->local_only_keywords(),
            (std::vector<std::string>{"minProperties", "not", "uniqueItems"}));
  for (Dialect d : {Dialect::kVllm, Dialect::kVllmLegacy, Dialect::kOpenAI}) {
    std::string members = c->RequestMembers(d);
    EXPECT_EQ(members.find("uniqueItems"), std::string::npos) << members;
    EXPECT_EQ(members.find("minProperties"), std::string::npos) << members;
    EXPECT_EQ(members.find("\"not\""), std::string::npos) << members;
    EXPECT_NE(members.find("\"tags\""), std::string::npos) << members;
  }
  // The schema as given is kept (it is what the job's fingerprint hashes).
  EXPECT_NE(c->schema_json().find("uniqueItems"), std::string::npos);
  table::Column col(c->OutputType());
  EXPECT_TRUE(
      c->ParseInto(R"({"tags":["a","b"],"meta":{"k":"v"},"code":"x"})", Dialect::kVllm, &col)
          .error.ok());
  auto dup =
      c->ParseInto(R"({"tags":["a","a"],"meta":{"k":"v"},"code":"x"})", Dialect::kVllm, &col);
  EXPECT_EQ(dup.error.kind, ErrorKind::kInvalidOutput);
  auto empty = c->ParseInto(R"({"tags":[],"meta":{},"code":"x"})", Dialect::kVllm, &col);
  EXPECT_EQ(empty.error.kind, ErrorKind::kInvalidOutput);
  auto banned = c->ParseInto(R"({"tags":[],"meta":{"k":"v"},"code":"none"})", Dialect::kVllm, &col);
  EXPECT_EQ(banned.error.kind, ErrorKind::kInvalidOutput);
  EXPECT_EQ(col.length(), 1);
}

TEST(ConstraintSchemaErrors, ANumberThatOverflowsIsAnErrorNotACrash) {
  // Found by tools/fuzz schema target (tools/fuzz/regress/schema/): nlohmann's out_of_range is
  // not a parse_error and escaped.
  auto c = Constraint::FromSchemaText("6e66666666666666", "fuzz.json");
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find("fuzz.json: not valid JSON"), std::string::npos)
      << c.status().message();
  auto v = JsonSchemaValidator::Make("1e99999", JsonSchemaValidator::Draft::kDraft7, "x.json");
  EXPECT_FALSE(v.ok());
  // The same in a model's answer is an invalid output, not an exception out of a parser thread.
  auto n = Constraint::FromSchemaText(R"({"type":"number"})", "n.json");
  ASSERT_TRUE(n.ok());
  table::Column col(n->OutputType());
  auto r = n->ParseInto("6e6666666", Dialect::kVllm, &col);
  EXPECT_EQ(r.error.kind, ErrorKind::kInvalidOutput);
  EXPECT_EQ(col.length(), 0);
}

TEST(ConstraintLocalOnlyKeywords, ASchemaTheServerCanEnforceWholeHasNone) {
  auto c = Constraint::FromSchemaText(R"({"type":"array","items":{"type":"integer"}})", "x");
  ASSERT_TRUE(c.ok());
  EXPECT_TRUE(c->local_only_keywords().empty());
}

TEST(ConstraintSchemaErrors, RefsMustBeLocalResolvableAndNotRecursive) {
  Status remote = SchemaError(R"({"$ref":"https://example.com/schema.json"})");
  EXPECT_NE(remote.message().find("$.$ref: remote $ref"), std::string::npos) << remote.message();
  Status dangling = SchemaError(R"({"type":"object","properties":{"a":{"$ref":"#/$defs/Nope"}}})");
  EXPECT_NE(dangling.message().find("$.properties.a.$ref: $ref '#/$defs/Nope' points to nothing"),
            std::string::npos)
      << dangling.message();
  Status recursive = SchemaError(R"({"$defs":{"Node":{"type":"object","properties":{
      "name":{"type":"string"},"children":{"type":"array","items":{"$ref":"#/$defs/Node"}}}}},
      "$ref":"#/$defs/Node"})");
  ASSERT_FALSE(recursive.ok());
  EXPECT_NE(recursive.message().find("recursive $ref '#/$defs/Node'"), std::string::npos)
      << recursive.message();
  EXPECT_NE(recursive.message().find("$.$ref.properties.children.items.$ref"), std::string::npos)
      << recursive.message();
}

TEST(ConstraintSchemaErrors, MissingFileNamesTheFile) {
  auto c = Constraint::FromSchemaFile("/nonexistent/schema.json");
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), StatusCode::kNotFound);
  EXPECT_NE(c.status().message().find("/nonexistent/schema.json"), std::string::npos);
}

TEST(ConstraintSchemaErrors, ChoiceAndRegexInputsAreChecked) {
  EXPECT_FALSE(Constraint::FromChoices({}).ok());
  auto dup = Constraint::FromChoices({"A", "B", "A"});
  ASSERT_FALSE(dup.ok());
  EXPECT_NE(dup.status().message().find("'A' twice"), std::string::npos);
  auto re = Constraint::FromRegex("(ab");
  ASSERT_FALSE(re.ok());
  EXPECT_NE(re.status().message().find("--regex '(ab'"), std::string::npos);
}

TEST(ConstraintChoices, SpacesAroundChoicesAreTrimmedAndSaid) {
  std::string note = "stale";
  auto c = Constraint::FromChoices({"A", " B", "C ", "new york"}, &note);
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->choices(), (std::vector<std::string>{"A", "B", "C", "new york"}));
  EXPECT_NE(note.find("' B' -> 'B', 'C ' -> 'C'"), std::string::npos) << note;
  // Nothing to trim: no note.
  ASSERT_TRUE(Constraint::FromChoices({"A", "B"}, &note).ok());
  EXPECT_EQ(note, "");
  // Trimming that makes two choices equal, or an empty choice, is an error.
  auto dup = Constraint::FromChoices({"A", " A"});
  ASSERT_FALSE(dup.ok());
  EXPECT_NE(dup.status().message().find("'A' twice"), std::string::npos);
  auto empty = Constraint::FromChoices({"A", " ", "B"});
  ASSERT_FALSE(empty.ok());
  EXPECT_NE(empty.status().message().find("empty choice"), std::string::npos);
}

TEST(ConstraintChoices, SuggestedMaxTokensFitsTheLongestChoice) {
  auto c = *Constraint::FromChoices({"A", "B", "none of the above"});
  // 17 bytes: at most 17 tokens, doubled for escaping, plus the JSON wrapper and the end token.
  EXPECT_EQ(c.SuggestedMaxTokens(), 2 * 17 + 16);
  EXPECT_LT(c.SuggestedMaxTokens(), 256);
  EXPECT_EQ(Constraint::FromRegex("[0-9]+")->SuggestedMaxTokens(), 0);
  EXPECT_EQ(Constraint::FromSchemaText(R"({"type":"object"})", "s")->SuggestedMaxTokens(), 0);
}

// ---- Column types ----

TEST(ConstraintOutputType, ExampleSchemasMapToNestedColumns) {
  EXPECT_EQ(LoadExample("invoice.json").OutputType()->ToString(),
            "struct<invoice_number: string, issue_date: string, seller: struct<street: string, "
            "city: string, postal_code: string, country: string>, buyer: struct<street: string, "
            "city: string, postal_code: string, country: string>, currency: string, line_items: "
            "list<struct<description: string, quantity: int64, unit_price: double, vat_rate: "
            "double>>, total: double, paid: bool>");
  EXPECT_EQ(LoadExample("vqa.json").OutputType()->ToString(),
            "struct<answer: string, confidence: double, rationale: string>");
  EXPECT_EQ(LoadExample("product_listing.json").OutputType()->ToString(),
            "struct<title: string, brand: string, price: struct<amount: double, currency: "
            "string>, sale_price: struct<amount: double, currency: string>, categories: "
            "list<string>, variants: list<struct<sku: string, color: string, sizes: list<string>, "
            "stock: int64, dimensions_cm: list<list<double>>>>, in_stock: bool, rating: double>");
  EXPECT_EQ(LoadExample("classification.json").OutputType()->ToString(),
            "struct<sentiment: string, topics: list<string>, urgent: bool, language: string, "
            "score: int64>");
}

TEST(ConstraintOutputType, OptionalFieldsAreNullableAndRequiredOnesAreNot) {
  auto type = LoadExample("invoice.json").OutputType();
  auto field = [&](const char* name) { return type->fields()[type->FieldIndex(name)]; };
  EXPECT_FALSE(field("invoice_number").nullable);
  EXPECT_FALSE(field("seller").nullable);
  EXPECT_TRUE(field("buyer").nullable);  // anyOf [Address, null]
  EXPECT_TRUE(field("paid").nullable);   // not required
  const auto& seller = *field("seller").type;
  EXPECT_TRUE(seller.fields()[seller.FieldIndex("postal_code")].nullable);
  EXPECT_FALSE(seller.fields()[seller.FieldIndex("city")].nullable);
}

TEST(ConstraintOutputType, UnionsWithoutOneColumnTypeBecomeJsonText) {
  auto c = Constraint::FromSchemaText(R"({"type":"object","properties":{
      "id":{"anyOf":[{"type":"integer"},{"type":"string"}]},
      "n":{"type":["integer","number"]},
      "tags":{"type":"array","prefixItems":[{"type":"string"},{"type":"integer"}]},
      "meta":{"type":"object"},
      "any":{},
      "flag":{"oneOf":[{"type":"boolean"},{"type":"null"}]}},
      "required":["id","n","tags","meta","any","flag"]})",
                                      "t");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->OutputType()->ToString(),
            "struct<id: string, n: double, tags: string, meta: string, any: string, flag: bool>");
  table::Column col(c->OutputType());
  auto r = c->ParseInto(R"({"id":7,"n":3,"tags":["a",1],"meta":{"k":[1,2]},"any":"x","flag":null})",
                        Dialect::kVllm, &col);
  ASSERT_TRUE(r.error.ok()) << r.error.message;
  EXPECT_EQ(
      Cell(col, 0),
      R"({"id":"7","n":3.0,"tags":"[\"a\",1]","meta":"{\"k\":[1,2]}","any":"\"x\"","flag":null})");
  // prefixItems is enforced (valijson only knows the draft 7 spelling; it is rewritten).
  r = c->ParseInto(R"({"id":7,"n":3,"tags":[1,"a"],"meta":{},"any":1,"flag":true})", Dialect::kVllm,
                   &col);
  EXPECT_FALSE(r.error.ok());
  EXPECT_NE(r.error.message.find("$.tags[0]"), std::string::npos) << r.error.message;
}

// ---- Request members ----

TEST(ConstraintRequestMembers, EveryDialectIsValidJsonWithTheRightShape) {
  for (const char* name :
       {"invoice.json", "vqa.json", "product_listing.json", "classification.json"}) {
    Constraint c = LoadExample(name);
    auto schema = nlohmann::json::parse(c.schema_json());
    auto vllm = nlohmann::json::parse("{" + c.RequestMembers(Dialect::kVllm) + "}");
    EXPECT_EQ(vllm["structured_outputs"]["json"], schema) << name;
    auto legacy = nlohmann::json::parse("{" + c.RequestMembers(Dialect::kVllmLegacy) + "}");
    EXPECT_EQ(legacy["guided_json"], schema) << name;
    auto openai = nlohmann::json::parse("{" + c.RequestMembers(Dialect::kOpenAI) + "}");
    EXPECT_EQ(openai["response_format"]["type"], "json_schema") << name;
    // The JSON dialects send the patterns anchored for the servers' grammar converters.
    nlohmann::ordered_json served = nlohmann::ordered_json::parse(c.schema_json());
    AnchorSchemaPatterns(&served);
    EXPECT_EQ(openai["response_format"]["json_schema"]["schema"],
              nlohmann::json::parse(served.dump()))
        << name;
    auto llama = nlohmann::json::parse("{" + c.RequestMembers(Dialect::kLlamaCpp) + "}");
    EXPECT_EQ(llama["json_schema"], nlohmann::json::parse(served.dump())) << name;
    auto sglang = nlohmann::json::parse("{" + c.RequestMembers(Dialect::kSglang) + "}");
    EXPECT_EQ(sglang["response_format"]["json_schema"]["schema"],
              nlohmann::json::parse(served.dump()))
        << name;
    EXPECT_EQ(openai["response_format"]["json_schema"]["strict"], c.openai_strict()) << name;
  }
  EXPECT_EQ(
      nlohmann::json::parse("{" + LoadExample("invoice.json").RequestMembers(Dialect::kOpenAI) +
                            "}")["response_format"]["json_schema"]["name"],
      "Invoice");
}

TEST(ConstraintRequestMembers, KeepsPropertyOrderBecauseServersGenerateInThatOrder) {
  Constraint c = LoadExample("vqa.json");
  const std::string& s = c.schema_json();
  EXPECT_LT(s.find("\"answer\""), s.find("\"confidence\""));
  EXPECT_LT(s.find("\"confidence\""), s.find("\"rationale\""));
}

TEST(ConstraintRequestMembers, OpenAIStrictOnlyForClosedFullyRequiredSchemas) {
  EXPECT_FALSE(LoadExample("product_listing.json").openai_strict());  // optional fields
  auto strict = Constraint::FromSchemaText(R"({"type":"object","properties":{"a":{"type":"string"},
      "b":{"type":["integer","null"]}},"required":["a","b"],"additionalProperties":false})",
                                           "t");
  ASSERT_TRUE(strict.ok());
  EXPECT_TRUE(strict->openai_strict());
}

TEST(ConstraintRequestMembers, ChoiceAndRegexInEveryDialect) {
  auto choice = *Constraint::FromChoices({"A", "B", "C \"quoted\""});
  EXPECT_EQ(choice.RequestMembers(Dialect::kVllm),
            R"("structured_outputs":{"choice":["A","B","C \"quoted\""]})");
  EXPECT_EQ(choice.RequestMembers(Dialect::kVllmLegacy),
            R"("guided_choice":["A","B","C \"quoted\""])");
  auto openai = nlohmann::json::parse("{" + choice.RequestMembers(Dialect::kOpenAI) + "}");
  auto schema = openai["response_format"]["json_schema"]["schema"];
  EXPECT_EQ(schema["type"], "object");
  EXPECT_EQ(schema["properties"]["answer"]["enum"],
            nlohmann::json::array({"A", "B", "C \"quoted\""}));
  EXPECT_EQ(schema["required"], nlohmann::json::array({"answer"}));
  EXPECT_EQ(schema["additionalProperties"], false);
  EXPECT_EQ(openai["response_format"]["json_schema"]["strict"], true);

  auto regex = *Constraint::FromRegex(R"(\d{4}-\d{2})");
  EXPECT_EQ(regex.RequestMembers(Dialect::kVllm),
            R"("structured_outputs":{"regex":"\\d{4}-\\d{2}"})");
  EXPECT_EQ(regex.RequestMembers(Dialect::kVllmLegacy), R"("guided_regex":"\\d{4}-\\d{2}")");
  auto ro = nlohmann::json::parse("{" + regex.RequestMembers(Dialect::kOpenAI) + "}");
  // llama.cpp's json-schema-to-grammar needs the anchors and knows no \d.
  EXPECT_EQ(ro["response_format"]["json_schema"]["schema"]["properties"]["answer"]["pattern"],
            R"(^(?:[0-9]{4}-[0-9]{2})$)");
  EXPECT_EQ(regex.RequestMembers(Dialect::kSglang), R"("regex":"\\d{4}-\\d{2}")");
  auto llama = nlohmann::json::parse("{" + regex.RequestMembers(Dialect::kLlamaCpp) + "}");
  EXPECT_EQ(llama["json_schema"]["properties"]["answer"]["pattern"], R"(^(?:[0-9]{4}-[0-9]{2})$)");
  // SGLang has no choice member: a full-match alternation of the escaped choices.
  auto dotted = *Constraint::FromChoices({"a.b", "c|d"});
  EXPECT_EQ(dotted.RequestMembers(Dialect::kSglang), R"x("regex":"(?:a\\.b|c\\|d)")x");
}

TEST(ConstraintParse, TheJsonDialectsUnwrapTheAnswerWithFreeWhitespace) {
  auto choice = *Constraint::FromChoices({"yes", "no"});
  for (Dialect d : {Dialect::kOpenAI, Dialect::kLlamaCpp}) {
    table::Column col(choice.OutputType());
    EXPECT_TRUE(choice.ParseInto("\n  {\n  \"answer\" :  \"no\"\n}\n ", d, &col).error.ok());
    EXPECT_EQ(col.GetBytes(0), "no");
  }
  table::Column col(choice.OutputType());
  EXPECT_TRUE(choice.ParseInto("yes", Dialect::kSglang, &col).error.ok());
}

TEST(ConstraintRequestMembers, NonObjectSchemaIsWrappedForOpenAIWithDefsHoisted) {
  auto c = Constraint::FromSchemaText(R"({"$defs":{"Tag":{"type":"string","maxLength":10}},
      "type":"array","items":{"$ref":"#/$defs/Tag"}})",
                                      "t");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  auto openai = nlohmann::json::parse("{" + c->RequestMembers(Dialect::kOpenAI) + "}");
  auto schema = openai["response_format"]["json_schema"]["schema"];
  EXPECT_EQ(schema["properties"]["answer"]["type"], "array");
  EXPECT_EQ(schema["$defs"]["Tag"]["maxLength"], 10);
  EXPECT_FALSE(schema["properties"]["answer"].contains("$defs"));
  table::Column col(c->OutputType());
  EXPECT_TRUE(c->ParseInto(R"({"answer":["a","b"]})", Dialect::kOpenAI, &col).error.ok());
  EXPECT_TRUE(c->ParseInto(R"(["c"])", Dialect::kVllm, &col).error.ok());
  auto bare = c->ParseInto(R"(["a"])", Dialect::kOpenAI, &col);
  EXPECT_FALSE(bare.error.ok());
  EXPECT_TRUE(bare.looks_unconstrained);
  auto too_long = c->ParseInto(R"({"answer":["aaaaaaaaaaaa"]})", Dialect::kOpenAI, &col);
  EXPECT_NE(too_long.error.message.find("$[0]"), std::string::npos) << too_long.error.message;
  ASSERT_EQ(col.length(), 2);
  EXPECT_EQ(Cell(col, 0), R"(["a","b"])");
  EXPECT_EQ(Cell(col, 1), R"(["c"])");
}

// ---- Parsing answers into typed columns ----

struct BadAnswer {
  const char* json;
  const char* expected_in_message;
};

void ExpectRoundTrip(const char* schema_file, const char* good, const char* expected_cell,
                     const std::vector<BadAnswer>& bad) {
  Constraint c = LoadExample(schema_file);
  for (Dialect d : {Dialect::kVllm, Dialect::kVllmLegacy, Dialect::kOpenAI}) {
    table::Column col(c.OutputType());
    for (const auto& b : bad) {
      auto r = c.ParseInto(b.json, d, &col);
      EXPECT_EQ(r.error.kind, ErrorKind::kInvalidOutput) << schema_file << ": " << b.json;
      EXPECT_NE(r.error.message.find(b.expected_in_message), std::string::npos)
          << schema_file << ": " << b.json << " -> " << r.error.message;
      EXPECT_EQ(col.length(), 0) << "a failed parse appended a value: " << b.json;
      ExpectAligned(col);
    }
    auto r = c.ParseInto(good, d, &col);
    ASSERT_TRUE(r.error.ok()) << schema_file << ": " << r.error.message;
    ASSERT_EQ(col.length(), 1);
    ExpectAligned(col);
    EXPECT_EQ(Cell(col, 0), expected_cell) << schema_file;
  }
}

TEST(ConstraintParseInto, InvoiceRoundTrips) {
  ExpectRoundTrip(
      "invoice.json",
      R"({"invoice_number":"INV-7","issue_date":"2024-03-05",
          "seller":{"street":"Hauptstr. 1","city":"Berlin","postal_code":"10115","country":"DE"},
          "buyer":null,"currency":"EUR",
          "line_items":[{"description":"Widget","quantity":2,"unit_price":9.5,"vat_rate":0.19},
                        {"description":"Service","quantity":1,"unit_price":100}],
          "total":138.61})",
      R"({"invoice_number":"INV-7","issue_date":"2024-03-05","seller":{"street":"Hauptstr. 1",)"
      R"("city":"Berlin","postal_code":"10115","country":"DE"},"buyer":null,"currency":"EUR",)"
      R"("line_items":[{"description":"Widget","quantity":2,"unit_price":9.5,"vat_rate":0.19},)"
      R"({"description":"Service","quantity":1,"unit_price":100.0,"vat_rate":null}],)"
      R"("total":138.61,"paid":false})",
      {
          {R"({"invoice_number":"1","issue_date":"2024-03-05","seller":{"street":"s","city":"c"},
              "line_items":[{"description":"d","quantity":0,"unit_price":1}],"total":1})",
           "$.line_items[0].quantity"},
          {R"({"invoice_number":"1","issue_date":"2024-03-05","seller":{"street":"s","city":"c"},
              "line_items":[{"description":"d","quantity":2.5,"unit_price":1}],"total":1})",
           "$.line_items[0].quantity"},
          {R"({"invoice_number":"1","issue_date":"2024-03-05","seller":{"street":"s","city":"c"},
              "line_items":[{"description":"d","quantity":1,"unit_price":1}]})",
           "total"},
          {R"({"invoice_number":"1","issue_date":"2024-03-05","seller":{"street":"s","city":"c"},
              "line_items":[],"total":1})",
           "$.line_items"},
          {R"({"invoice_number":"1","issue_date":"2024-03-05","seller":{"street":"s","city":"c"},
              "currency":"JPY","line_items":[{"description":"d","quantity":1,"unit_price":1}],
              "total":1})",
           "$.currency"},
          {R"({"invoice_number":"1","issue_date":"2024-03-05","seller":{"street":"s","city":"c",
              "country":"Germany"},"line_items":[{"description":"d","quantity":1,"unit_price":1}],
              "total":1})",
           "$.seller.country"},
          {R"({"invoice_number":"1","issue_date":"5 March","seller":{"street":"s","city":"c"},
              "line_items":[{"description":"d","quantity":1,"unit_price":1}],"total":1})",
           "$.issue_date"},
          {"Here is the invoice: {\"invoice_number\": \"1\"}", "not JSON"},
          {"```json\n{\"invoice_number\": \"1\"}\n```", "fenced code block"},
          {R"({"invoice_number":"1","issue_date":"2024-03-05","seller":{"street":"s","city":"c"},
              "line_items":[{"description":"d","quantity":1,"unit_price":1}],"total":1})"
           "trailing",
           "not JSON"},
      });
}

TEST(ConstraintParseInto, VisualAnswerRoundTrips) {
  ExpectRoundTrip("vqa.json", R"({"answer":"C","confidence":0.82})",
                  R"({"answer":"C","confidence":0.82,"rationale":null})",
                  {
                      {R"({"answer":"E","confidence":0.5})", "$.answer"},
                      {R"({"answer":"A","confidence":1.5})", "$.confidence"},
                      {R"({"answer":"A","confidence":"high"})", "$.confidence"},
                      {R"({"answer":"A"})", "confidence"},
                      {R"("A")", "$"},
                      {"The answer is C.", "free text"},
                  });
}

TEST(ConstraintParseInto, ProductListingWithOptionalFieldsAndNestedArraysRoundTrips) {
  ExpectRoundTrip(
      "product_listing.json",
      R"({"title":"Trail Runner 2","brand":null,"price":{"amount":89.9,"currency":"EUR"},
          "categories":["shoes","running"],
          "variants":[{"sku":"TR2-B-42","color":"black","sizes":["M","L"],
                       "dimensions_cm":[[30,12,10.5],[31,12,10.5]]},
                      {"sku":"TR2-W"}],
          "in_stock":true})",
      R"({"title":"Trail Runner 2","brand":null,"price":{"amount":89.9,"currency":"EUR"},)"
      R"("sale_price":null,"categories":["shoes","running"],"variants":[{"sku":"TR2-B-42",)"
      R"("color":"black","sizes":["M","L"],"stock":0,"dimensions_cm":[[30.0,12.0,10.5],)"
      R"([31.0,12.0,10.5]]},{"sku":"TR2-W","color":null,"sizes":null,"stock":0,)"
      R"("dimensions_cm":null}],"in_stock":true,"rating":null})",
      {
          {R"({"title":"T","price":{"amount":1,"currency":"eur"},"variants":[],"in_stock":true})",
           "$.price.currency"},
          {R"({"title":"T","price":{"amount":1,"currency":"EUR"},"sale_price":{"amount":-1,
              "currency":"EUR"},"variants":[],"in_stock":true})",
           "$.sale_price.amount"},
          {R"({"title":"T","price":{"amount":1,"currency":"EUR"},"variants":[{"sku":"a",
              "dimensions_cm":[[1,2]]}],"in_stock":true})",
           "$.variants[0].dimensions_cm[0]"},
          {R"({"title":"T","price":{"amount":1,"currency":"EUR"},"variants":[{"sku":"a",
              "sizes":["XXL"]}],"in_stock":true})",
           "$.variants[0].sizes[0]"},
          {R"({"title":"T","price":{"amount":1,"currency":"EUR"},"variants":[],"in_stock":true,
              "discount":5})",
           "discount"},
          {R"({"title":"","price":{"amount":1,"currency":"EUR"},"variants":[],"in_stock":true})",
           "$.title"},
      });
}

TEST(ConstraintParseInto, ClassificationWithEnumRoundTrips) {
  ExpectRoundTrip(
      "classification.json",
      R"({"sentiment":"negative","topics":["shipping","billing"],"urgent":true,"language":"en",
          "score":2})",
      R"({"sentiment":"negative","topics":["shipping","billing"],"urgent":true,"language":"en",)"
      R"("score":2})",
      {
          {R"({"sentiment":"angry","topics":[],"urgent":true,"score":2})", "$.sentiment"},
          {R"({"sentiment":"neutral","topics":["weather"],"urgent":true,"score":2})",
           "$.topics[0]"},
          {R"({"sentiment":"neutral","topics":["other","other","other","other"],"urgent":true,
              "score":2})",
           "$.topics"},
          {R"({"sentiment":"neutral","topics":[],"urgent":"yes","score":2})", "$.urgent"},
          {R"({"sentiment":"neutral","topics":[],"urgent":false,"score":9})", "$.score"},
          {R"({"sentiment":"neutral","topics":[],"urgent":false,"language":"de","score":3})",
           "$.language"},
      });
}

TEST(ConstraintParseInto, AbsentPropertiesTakeTheirDefault) {
  auto c = *Constraint::FromSchemaText(R"({"type":"object","properties":{
      "lang":{"type":"string","default":"en"},
      "n":{"type":"integer","default":3},
      "bad_default":{"type":"integer","default":"three"},
      "note":{"anyOf":[{"type":"string"},{"type":"null"}],"default":null}}})",
                                       "t");
  table::Column col(c.OutputType());
  ASSERT_TRUE(c.ParseInto("{}", Dialect::kVllm, &col).error.ok());
  ASSERT_TRUE(c.ParseInto(R"({"lang":"de","n":1,"bad_default":2,"note":"x"})", Dialect::kVllm, &col)
                  .error.ok());
  EXPECT_EQ(Cell(col, 0), R"({"lang":"en","n":3,"bad_default":null,"note":null})");
  EXPECT_EQ(Cell(col, 1), R"({"lang":"de","n":1,"bad_default":2,"note":"x"})");
}

TEST(ConstraintParseInto, DateAndTimeFormatsAreChecked) {
  auto c = *Constraint::FromSchemaText(R"({"type":"object","properties":{
      "d":{"type":"string","format":"date"},"t":{"type":"string","format":"time"},
      "dt":{"type":["string","null"],"format":"date-time"},
      "either":{"anyOf":[{"type":"string","format":"date"},{"type":"string","format":"time"}]}},
      "required":["d","t","dt"]})",
                                       "t");
  table::Column col(c.OutputType());
  EXPECT_TRUE(c.ParseInto(R"({"d":"2024-02-29","t":"10:20:30Z","dt":"2024-03-05T10:20:30+01:00",
                              "either":"10:00:00Z"})",
                          Dialect::kVllm, &col)
                  .error.ok());
  EXPECT_TRUE(c.ParseInto(R"({"d":"2024-12-31","t":"23:59:60.5z","dt":null})", Dialect::kVllm, &col)
                  .error.ok());
  for (const char* bad : {R"({"d":"2024-04-31","t":"10:20:30Z","dt":null})",
                          R"({"d":"2024-4-3","t":"10:20:30Z","dt":null})",
                          R"({"d":"2024-04-03","t":"10:20","dt":null})",
                          R"({"d":"2024-04-03","t":"10:20:30Z","dt":"2024-04-03 10:20:30Z"})"}) {
    auto r = c.ParseInto(bad, Dialect::kVllm, &col);
    EXPECT_FALSE(r.error.ok()) << bad;
    EXPECT_NE(r.error.message.find("should be a valid"), std::string::npos) << r.error.message;
  }
  EXPECT_EQ(col.length(), 2);
}

TEST(ConstraintParseInto, IntegersOutsideInt64AreRefusedNotWrapped) {
  auto c = *Constraint::FromSchemaText(R"({"type":"integer"})", "t");
  table::Column col(c.OutputType());
  auto r = c.ParseInto("18446744073709551615", Dialect::kVllm, &col);
  EXPECT_FALSE(r.error.ok());
  EXPECT_NE(r.error.message.find("int64"), std::string::npos) << r.error.message;
  EXPECT_EQ(col.length(), 0);
  EXPECT_TRUE(c.ParseInto("-9223372036854775808", Dialect::kVllm, &col).error.ok());
  EXPECT_EQ(col.GetInt(0), INT64_MIN);
}

TEST(ConstraintParseInto, ChoiceExactInVllmWrappedInOpenAI) {
  auto c = *Constraint::FromChoices({"A", "B", "C", "D"});
  EXPECT_EQ(c.OutputType()->id(), table::TypeId::kString);
  table::Column col(c.OutputType());
  EXPECT_TRUE(c.ParseInto("B", Dialect::kVllm, &col).error.ok());
  EXPECT_TRUE(c.ParseInto("D", Dialect::kVllmLegacy, &col).error.ok());
  EXPECT_TRUE(c.ParseInto(R"({"answer": "A"})", Dialect::kOpenAI, &col).error.ok());
  auto prose = c.ParseInto("The answer is B.", Dialect::kVllm, &col);
  EXPECT_EQ(prose.error.kind, ErrorKind::kInvalidOutput);
  EXPECT_TRUE(prose.looks_unconstrained);
  EXPECT_NE(prose.error.message.find("contains the choice \"B\""), std::string::npos)
      << prose.error.message;
  auto bare = c.ParseInto("B", Dialect::kOpenAI, &col);
  EXPECT_TRUE(bare.looks_unconstrained);
  auto wrong = c.ParseInto(R"({"answer":"E"})", Dialect::kOpenAI, &col);
  EXPECT_FALSE(wrong.error.ok());
  ASSERT_EQ(col.length(), 3);
  EXPECT_EQ(col.GetBytes(0), "B");
  EXPECT_EQ(col.GetBytes(1), "D");
  EXPECT_EQ(col.GetBytes(2), "A");
}

TEST(ConstraintParseInto, RegexMustMatchTheWholeAnswer) {
  auto c = *Constraint::FromRegex(R"(\d{4}-\d{2}-\d{2})");
  table::Column col(c.OutputType());
  EXPECT_TRUE(c.ParseInto("2024-03-05", Dialect::kVllm, &col).error.ok());
  EXPECT_TRUE(c.ParseInto(R"({"answer":"2023-01-01"})", Dialect::kOpenAI, &col).error.ok());
  auto partial = c.ParseInto("Date: 2024-03-05", Dialect::kVllm, &col);
  EXPECT_TRUE(partial.looks_unconstrained);
  EXPECT_NE(partial.error.message.find("does not match"), std::string::npos);
  ASSERT_EQ(col.length(), 2);
  EXPECT_EQ(col.GetBytes(1), "2023-01-01");
}

TEST(ConstraintParseInto, ValidJsonOfTheWrongShapeIsNotBlamedOnTheServer) {
  Constraint c = LoadExample("vqa.json");
  table::Column col(c.OutputType());
  auto r = c.ParseInto(R"({"answer":"A","confidence":2})", Dialect::kVllm, &col);
  EXPECT_FALSE(r.error.ok());
  EXPECT_FALSE(r.looks_unconstrained);
  auto fenced =
      c.ParseInto("```json\n{\"answer\":\"A\",\"confidence\":0.5}\n```", Dialect::kVllm, &col);
  EXPECT_TRUE(fenced.looks_unconstrained);
  EXPECT_EQ(col.length(), 0);
}

TEST(ConstraintParseInto, ConcurrentParsesShareOneConstraint) {
  Constraint c = LoadExample("invoice.json");
  constexpr int kThreads = 4;
  constexpr int kRows = 300;
  std::vector<table::Column> columns;
  for (int t = 0; t < kThreads; ++t) columns.emplace_back(c.OutputType());
  std::vector<int> failures(kThreads, 0);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kRows; ++i) {
        std::string answer = R"({"invoice_number":"N)" + std::to_string(i) +
                             R"(","issue_date":"2024-03-05","seller":{"street":"s","city":"c"},
            "line_items":[{"description":"d","quantity":)" +
                             std::to_string(i % 2 == 0 ? i + 1 : 0) +
                             R"(,"unit_price":1}],"total":1})";
        if (!c.ParseInto(answer, Dialect::kVllm, &columns[t]).error.ok()) ++failures[t];
      }
    });
  }
  for (auto& th : threads) th.join();
  for (int t = 0; t < kThreads; ++t) {
    EXPECT_EQ(failures[t], kRows / 2);
    ASSERT_EQ(columns[t].length(), kRows / 2);
    ExpectAligned(columns[t]);
    EXPECT_EQ(Cell(columns[t].child(0), 1), "\"N2\"");
  }
}

}  // namespace
}  // namespace structflow::schema

// The JSON-Schema-Test-Suite (Debian package json-schema-test-suite) run against the validator
// structflow uses (valijson via JsonSchemaValidator), for draft 4 and draft 7, the drafts
// valijson claims. Each suite file is one test; each case inside is checked.
//
// For draft 7 every case whose schema Constraint accepts is also run through
// Constraint::ParseInto: a valid instance must append exactly one value, an invalid one must
// append nothing -- the property the typed columns rely on.
//
// Left out, and why (see kSkippedFiles / kSkippedCases for the exact list):
// - refRemote.json (both drafts): needs remote documents served from localhost:1234; structflow
//   rejects remote $ref before any request anyway.
// - definitions.json (both drafts): every case validates against the draft meta-schema by its
//   URL, which would have to be fetched.
// - the optional/ folders: optional behaviours (bignum, ECMAScript regex details, format
//   checks, zero-terminated floats, content) that valijson does not claim.
// - the groups listed in kSkippedCases: $ref to the draft meta-schema URLs and $id-based URL
//   refs, which need fetching documents (structflow refuses remote refs before any request).
// Everything else in draft4/ and draft7/ runs, including keywords Constraint refuses (not,
// if/then/else, patternProperties, ...): the validator itself handles them.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <string>

#include "schema/constraint.h"

namespace structflow::schema {
namespace {

namespace fs = std::filesystem;

const char* kSuiteDir = "/usr/share/json-schema-test-suite/tests";

// Whole files left out, with the reason.
const std::map<std::string, std::string> kSkippedFiles = {
    {"draft4/refRemote.json", "remote refs need a server on localhost:1234"},
    {"draft7/refRemote.json", "remote refs need a server on localhost:1234"},
    {"draft4/definitions.json", "every case $refs the draft 4 meta-schema URL (fetching)"},
    {"draft7/definitions.json", "every case $refs the draft 7 meta-schema URL (fetching)"},
};

// Single cases "file|group|test" (or "file|group|*" for a whole group) left out, with the reason.
const std::map<std::string, std::string> kSkippedCases = {
    {"draft4/ref.json|remote ref, containing refs itself|*",
     "$ref to the meta-schema URL (fetching)"},
    {"draft7/ref.json|remote ref, containing refs itself|*",
     "$ref to the meta-schema URL (fetching)"},
    {"draft4/ref.json|Recursive references between schemas|*", "$id-based URL refs (fetching)"},
    {"draft7/ref.json|Recursive references between schemas|*", "$id-based URL refs (fetching)"},
};

// Constraint reads a schema that has properties (or items) but no "type" as an object (array)
// schema, as the servers' grammars do, so it refuses the non-objects (non-arrays) plain JSON
// Schema lets through. Returns false for such a (schema, instance) pair.
bool FitsImpliedType(const nlohmann::json& schema, const nlohmann::json& data) {
  if (!schema.is_object() || schema.contains("type")) return true;
  if (schema.contains("properties")) return data.is_object();
  // A tuple (items as an array) is a JSON text column: any value that validates fits.
  if (schema.contains("items")) return schema["items"].is_array() || data.is_array();
  return true;
}

struct SuiteFile {
  std::string draft;  // "draft4" or "draft7"
  std::string name;   // "anyOf.json"
};

std::vector<SuiteFile> ListSuiteFiles() {
  std::vector<SuiteFile> files;
  for (const char* draft : {"draft4", "draft7"}) {
    fs::path dir = fs::path(kSuiteDir) / draft;
    std::error_code ec;
    for (const auto& entry : fs::directory_iterator(dir, ec)) {
      if (entry.is_regular_file() && entry.path().extension() == ".json") {
        files.push_back({draft, entry.path().filename().string()});
      }
    }
  }
  std::sort(files.begin(), files.end(), [](const SuiteFile& a, const SuiteFile& b) {
    return std::tie(a.draft, a.name) < std::tie(b.draft, b.name);
  });
  return files;
}

bool Skipped(const std::string& file, const std::string& group, const std::string& test) {
  return kSkippedCases.count(file + "|" + group + "|" + test) > 0 ||
         kSkippedCases.count(file + "|" + group + "|*") > 0;
}

class JsonSchemaSuite : public ::testing::TestWithParam<SuiteFile> {};

TEST_P(JsonSchemaSuite, ValidatorAgreesWithSuite) {
  const SuiteFile& f = GetParam();
  std::string file = f.draft + "/" + f.name;
  if (auto it = kSkippedFiles.find(file); it != kSkippedFiles.end()) {
    GTEST_SKIP() << file << ": " << it->second;
  }
  std::ifstream in(fs::path(kSuiteDir) / file);
  ASSERT_TRUE(in) << "cannot read " << file;
  std::stringstream text;
  text << in.rdbuf();
  nlohmann::json groups = nlohmann::json::parse(text.str());
  auto draft = f.draft == "draft4" ? JsonSchemaValidator::Draft::kDraft4
                                   : JsonSchemaValidator::Draft::kDraft7;
  int checked = 0;
  for (const auto& group : groups) {
    std::string gname = group["description"].get<std::string>();
    std::string schema_text = group["schema"].dump();
    auto validator = JsonSchemaValidator::Make(schema_text, draft, file);
    if (!validator.ok()) {
      if (Skipped(file, gname, "*")) continue;
      ADD_FAILURE() << file << " | " << gname
                    << ": schema refused: " << validator.status().ToString();
      continue;
    }
    // The same schema as a Constraint, when structflow accepts it (draft 7 only: Constraint
    // reads schemas as draft 7 unless they say otherwise).
    std::optional<Constraint> constraint;
    if (f.draft == "draft7") {
      auto c = Constraint::FromSchemaText(schema_text, file);
      if (c.ok()) constraint = *c;
    }
    for (const auto& test : group["tests"]) {
      std::string tname = test["description"].get<std::string>();
      if (Skipped(file, gname, tname)) continue;
      bool expected = test["valid"].get<bool>();
      std::string data = test["data"].dump();
      Status st = validator->Validate(data);
      EXPECT_EQ(st.ok(), expected)
          << file << " | " << gname << " | " << tname << " | " << data << " | " << st.ToString();
      if (constraint) {
        table::Column column(constraint->OutputType());
        auto r = constraint->ParseInto(data, Dialect::kVllm, &column);
        bool constraint_expected = expected && FitsImpliedType(group["schema"], test["data"]);
        EXPECT_EQ(r.error.ok(), constraint_expected)
            << "Constraint: " << file << " | " << gname << " | " << tname << " | " << data << " | "
            << r.error.message;
        EXPECT_EQ(column.length(), r.error.ok() ? 1 : 0) << file << " | " << gname;
        if (!r.error.ok()) {
          EXPECT_EQ(r.error.kind, ErrorKind::kInvalidOutput);
        }
      }
      ++checked;
    }
  }
  EXPECT_GT(checked, 0) << file << ": no case was checked";
}

std::string SuiteName(const ::testing::TestParamInfo<SuiteFile>& info) {
  std::string n = info.param.draft + "_" + info.param.name.substr(0, info.param.name.size() - 5);
  for (char& c : n) {
    if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
  }
  return n;
}

INSTANTIATE_TEST_SUITE_P(Drafts, JsonSchemaSuite, ::testing::ValuesIn(ListSuiteFiles()), SuiteName);

TEST(JsonSchemaSuiteFiles, SuiteIsInstalled) {
  // The suite comes from scripts/install-deps.sh; without it the tests above would not run.
  EXPECT_GE(ListSuiteFiles().size(), 50u) << "install Debian's json-schema-test-suite";
}

}  // namespace
}  // namespace structflow::schema

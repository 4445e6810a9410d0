#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>

#include "io/formats.h"
#include "io/io_test_util.h"
#include "io/source.h"

namespace structflow::io {
namespace {

using ::testing::HasSubstr;
using testing::OpenAndReadJson;
using testing::ReadAllJson;
using testing::ReadFile;
using testing::ScratchDir;
using testing::WriteFile;

TEST(JsonlReader, InfersNestedTypesUnifiesNumbersAndKeepsMixedValuesAsJsonText) {
  ScratchDir dir;
  WriteFile(dir / "a.jsonl",
            R"({"id":1,"score":2,"tags":["a","b"],"user":{"name":"ann","age":30},"mixed":1})"
            "\n"
            R"({"id":2,"score":2.5,"tags":[],"user":{"name":"bob"},"mixed":"x","extra":null})"
            "\n\n"
            R"({"id":3,"tags":null,"user":null,"mixed":[1, 2]})"
            "\n");
  auto src = OpenSource({dir / "a.jsonl"});
  ASSERT_TRUE(src.ok()) << src.status().ToString();
  EXPECT_EQ((*src)->schema().ToString(),
            "id: int64\nscore: double\ntags: list<string>\nuser: struct<name: string, age: "
            "int64>\nmixed: string\nextra: string\n");
  // The whole file fit in the type sample: its rows are counted (the blank line is not one).
  EXPECT_EQ((*src)->num_rows(), 3);
  EXPECT_EQ((*src)->base_dir(), dir.str());
  EXPECT_EQ(
      ReadAllJson(src->get()),
      R"({"id":1,"score":2.0,"tags":["a","b"],"user":{"name":"ann","age":30},"mixed":"1","extra":null})"
      "\n"
      R"({"id":2,"score":2.5,"tags":[],"user":{"name":"bob","age":null},"mixed":"x","extra":null})"
      "\n"
      R"({"id":3,"score":null,"tags":null,"user":null,"mixed":"[1,2]","extra":null})"
      "\n");
}

TEST(JsonlReader, RoundTripsNestedValuesThroughTheWriter) {
  ScratchDir dir;
  const std::string text =
      R"({"q":"é \"quoted\"\nline","msgs":[{"role":"user","content":"hi"},{"role":"bot","content":null}],"n":{"a":{"b":[1,2,3]}},"f":1.5,"ok":true})"
      "\n"
      R"({"q":null,"msgs":[],"n":{"a":null},"f":-0.25,"ok":false})"
      "\n";
  WriteFile(dir / "in.jsonl", text);
  ASSERT_TRUE(testing::Convert({dir / "in.jsonl"}, dir / "out.jsonl").ok());
  EXPECT_EQ(
      ReadFile(dir / "out.jsonl"),
      R"({"q":"é \"quoted\"\nline","msgs":[{"role":"user","content":"hi"},{"role":"bot","content":null}],"n":{"a":{"b":[1,2,3]}},"f":1.5,"ok":true})"
      "\n"
      R"({"q":null,"msgs":[],"n":{"a":null},"f":-0.25,"ok":false})"
      "\n");
  // And once more: the writer's output reads back to itself.
  ASSERT_TRUE(testing::Convert({dir / "out.jsonl"}, dir / "again.jsonl").ok());
  EXPECT_EQ(ReadFile(dir / "again.jsonl"), ReadFile(dir / "out.jsonl"));
}

TEST(JsonlReader, ProjectsColumnsInTheOrderAskedAndIgnoresOthers) {
  ScratchDir dir;
  WriteFile(dir / "a.jsonl", R"({"a":1,"b":"x","c":true})"
                             "\n"
                             R"({"a":2,"c":false,"late":"not sampled"})"
                             "\n");
  ReadOptions opts;
  opts.columns = {"c", "a"};
  opts.infer_rows = 1;
  EXPECT_EQ(OpenAndReadJson({dir / "a.jsonl"}, opts),
            "{\"c\":true,\"a\":1}\n{\"c\":false,\"a\":2}\n");

  opts.columns = {"nope"};
  auto src = OpenSource({dir / "a.jsonl"}, opts);
  ASSERT_FALSE(src.ok());
  EXPECT_THAT(src.status().message(), HasSubstr("column 'nope' is not in"));
  EXPECT_THAT(src.status().message(), HasSubstr("a, b, c"));
}

TEST(JsonlReader, InvalidJsonNamesFileAndLine) {
  ScratchDir dir;
  WriteFile(dir / "bad.jsonl", "{\"a\":1}\n{\"a\":2}\n{\"a\":3\n{\"a\":4}\n");
  ReadOptions opts;
  opts.infer_rows = 2;
  auto src = OpenSource({dir / "bad.jsonl"}, opts);
  ASSERT_TRUE(src.ok());
  Status st;
  ReadAllJson(src->get(), &st);
  EXPECT_EQ(st.code(), StatusCode::kCorrupt);
  EXPECT_THAT(st.message(), HasSubstr(dir / "bad.jsonl:3: invalid JSON"));
  // Within the inference sample, the same error surfaces at open.
  auto again = OpenSource({dir / "bad.jsonl"});
  ASSERT_FALSE(again.ok());
  EXPECT_THAT(again.status().message(), HasSubstr("bad.jsonl:3:"));
}

TEST(JsonlReader, InvalidJsonMessageEscapesTerminalSequencesOfTheLine) {
  ScratchDir dir;
  // A broken line carrying ESC [2J (clear screen) and an OSC title sequence ended by BEL.
  WriteFile(dir / "esc.jsonl", "{\"a\":1}\n{\"a\": \x1b[2J\x1b]0;owned\x07\n");
  auto src = OpenSource({dir / "esc.jsonl"});
  ASSERT_FALSE(src.ok());
  const std::string& m = src.status().message();
  EXPECT_THAT(m, HasSubstr("esc.jsonl:2: invalid JSON"));
  EXPECT_THAT(m, HasSubstr("\\x1b[2J\\x1b]0;owned\\x07"));
  EXPECT_EQ(m.find('\x1b'), std::string::npos);
  EXPECT_EQ(m.find('\x07'), std::string::npos);
}

TEST(JsonlReader, ValueNotMatchingTheInferredTypeNamesLineColumnAndFix) {
  ScratchDir dir;
  WriteFile(dir / "a.jsonl", "{\"m\":{\"n\":1}}\n{\"m\":{\"n\":2}}\n{\"m\":{\"n\":\"three\"}}\n");
  ReadOptions opts;
  opts.infer_rows = 2;
  auto src = OpenSource({dir / "a.jsonl"}, opts);
  ASSERT_TRUE(src.ok());
  Status st;
  ReadAllJson(src->get(), &st);
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(st.message(), HasSubstr("a.jsonl:3: column 'm.n' holds \"three\""));
  EXPECT_THAT(st.message(), HasSubstr("--infer-rows"));
  EXPECT_THAT(st.message(), HasSubstr("--schema-override m=string"));

  // Following the advice works: sampling all lines makes n a string column.
  opts.infer_rows = 1000;
  EXPECT_EQ(OpenAndReadJson({dir / "a.jsonl"}, opts),
            "{\"m\":{\"n\":\"1\"}}\n{\"m\":{\"n\":\"2\"}}\n{\"m\":{\"n\":\"three\"}}\n");
}

TEST(JsonlReader, CoercesLosslesslyAfterTheSampleAndKeepsJsonTextInStringColumns) {
  ScratchDir dir;
  WriteFile(dir / "a.jsonl", "{\"d\":1.5,\"s\":\"x\"}\n{\"d\":2,\"s\":{\"k\":[1]}}\n");
  ReadOptions opts;
  opts.infer_rows = 1;
  EXPECT_EQ(OpenAndReadJson({dir / "a.jsonl"}, opts),
            "{\"d\":1.5,\"s\":\"x\"}\n{\"d\":2.0,\"s\":\"{\\\"k\\\":[1]}\"}\n");
}

TEST(JsonlReader, NewKeyAfterTheSampleFailsUnlessProjectedAway) {
  ScratchDir dir;
  WriteFile(dir / "a.jsonl", "{\"a\":1}\n{\"a\":2,\"b\":3}\n");
  ReadOptions opts;
  opts.infer_rows = 1;
  auto src = OpenSource({dir / "a.jsonl"}, opts);
  ASSERT_TRUE(src.ok());
  Status st;
  ReadAllJson(src->get(), &st);
  EXPECT_THAT(st.message(), HasSubstr("a.jsonl:2: column 'b' is a column the sampled lines"));
}

TEST(JsonlReader, TypeOverridesForceAColumnsType) {
  ScratchDir dir;
  WriteFile(dir / "a.jsonl",
            "{\"zip\":1234,\"blob\":\"aGk=\"}\n{\"zip\":\"0042\",\"blob\":null}\n");
  ReadOptions opts;
  opts.type_overrides = {"zip=string", "blob=binary"};
  auto src = OpenSource({dir / "a.jsonl"}, opts);
  ASSERT_TRUE(src.ok()) << src.status().ToString();
  EXPECT_EQ((*src)->schema().ToString(), "zip: string\nblob: binary\n");
  auto batch = (*src)->Next();
  ASSERT_TRUE(batch.ok() && batch->has_value());
  EXPECT_EQ((*batch)->columns[1].GetBytes(0), "hi");
  EXPECT_EQ((*batch)->columns[0].GetBytes(0), "1234");

  opts.type_overrides = {"nope=string"};
  auto bad = OpenSource({dir / "a.jsonl"}, opts);
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(bad.status().message(), HasSubstr("names no column"));
  opts.type_overrides = {"zip=uuid"};
  bad = OpenSource({dir / "a.jsonl"}, opts);
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(bad.status().message(), HasSubstr("unknown type 'uuid'"));
}

TEST(JsonlReader, AJsonArrayFileGetsAConversionHint) {
  ScratchDir dir;
  WriteFile(dir / "a.json", "[{\"a\":1},\n{\"a\":2}]\n");
  auto src = OpenSource({dir / "a.json"});
  ASSERT_FALSE(src.ok());
  EXPECT_THAT(src.status().message(), HasSubstr("jq -c"));
}

TEST(JsonlReader, CutsBatchesOfBatchRowsLines) {
  ScratchDir dir;
  std::string text;
  for (int i = 0; i < 10; ++i) text += "{\"i\":" + std::to_string(i) + "}\n";
  WriteFile(dir / "a.jsonl", text);
  ReadOptions opts;
  opts.batch_rows = 4;
  auto src = OpenSource({dir / "a.jsonl"}, opts);
  ASSERT_TRUE(src.ok());
  std::vector<int64_t> sizes;
  while (true) {
    auto b = (*src)->Next();
    ASSERT_TRUE(b.ok());
    if (!b->has_value()) break;
    sizes.push_back((*b)->num_rows());
  }
  EXPECT_EQ(sizes, (std::vector<int64_t>{4, 4, 2}));
}

TEST(JsonlReader, ManyFilesWithOneSchemaStreamAsOne) {
  ScratchDir dir;
  WriteFile(dir / "p1.jsonl", "{\"a\":1,\"b\":null}\n");
  WriteFile(dir / "p2.jsonl", "{\"a\":2.5,\"b\":[\"x\"]}\n");
  auto src = OpenSource({dir / "p*.jsonl"});
  ASSERT_TRUE(src.ok()) << src.status().ToString();
  EXPECT_EQ((*src)->schema().ToString(), "a: double\nb: list<string>\n");
  EXPECT_EQ(ReadAllJson(src->get()), "{\"a\":1.0,\"b\":null}\n{\"a\":2.5,\"b\":[\"x\"]}\n");
}

TEST(JsonlReader, FilesWithDifferentSchemasFailNamingBothAndTheDifference) {
  ScratchDir dir;
  WriteFile(dir / "p1.jsonl", "{\"a\":1}\n");
  WriteFile(dir / "p2.jsonl", "{\"a\":\"x\"}\n");
  WriteFile(dir / "p3.jsonl", "{\"b\":1}\n");
  auto src = OpenSource({dir / "p1.jsonl", dir / "p2.jsonl"});
  ASSERT_FALSE(src.ok());
  EXPECT_THAT(src.status().message(), HasSubstr("p1.jsonl"));
  EXPECT_THAT(src.status().message(), HasSubstr("p2.jsonl"));
  EXPECT_THAT(src.status().message(), HasSubstr("column 'a' is int64"));
  src = OpenSource({dir / "p1.jsonl", dir / "p3.jsonl"});
  ASSERT_FALSE(src.ok());
  EXPECT_THAT(src.status().message(), HasSubstr("column 'a' is in"));
}

TEST(JsonlReader, RowsAreCountedOnlyWhenTheSampleReadTheWholeFile) {
  ScratchDir dir;
  WriteFile(dir / "a.jsonl", "{\"x\":1}\n{\"x\":2}\n{\"x\":3}\n");
  ReadOptions opts;
  opts.infer_rows = 2;
  auto src = OpenSource({dir / "a.jsonl"}, opts);
  ASSERT_TRUE(src.ok()) << src.status().ToString();
  EXPECT_EQ((*src)->num_rows(), std::nullopt);
  opts.infer_rows = 3;
  src = OpenSource({dir / "a.jsonl"}, opts);
  ASSERT_TRUE(src.ok()) << src.status().ToString();
  EXPECT_EQ((*src)->num_rows(), std::nullopt);  // the sample stopped before seeing the end
  opts.infer_rows = 4;
  src = OpenSource({dir / "a.jsonl"}, opts);
  ASSERT_TRUE(src.ok()) << src.status().ToString();
  EXPECT_EQ((*src)->num_rows(), 3);
}

TEST(JsonlReader, AnEmptyInputSaysItHasNoRowsNotThatAColumnIsMissing) {
  ScratchDir dir;
  WriteFile(dir / "empty.jsonl", "");
  WriteFile(dir / "blank.jsonl", "\n  \n");
  for (const char* name : {"empty.jsonl", "blank.jsonl"}) {
    ReadOptions opts;
    opts.columns = {"question"};
    auto src = OpenSource({dir / name}, opts);
    ASSERT_FALSE(src.ok()) << name;
    EXPECT_THAT(src.status().message(), HasSubstr("the input has no rows"));
    EXPECT_THAT(src.status().message(), HasSubstr(name));
    EXPECT_THAT(src.status().message(), ::testing::Not(HasSubstr("(none)")));
  }
}

TEST(JsonlReader, EmptyShardsTakeNoPartInTheSchema) {
  ScratchDir dir;
  WriteFile(dir / "part-0.jsonl", "{\"q\":\"a\"}\n");
  WriteFile(dir / "part-1.jsonl", "");
  WriteFile(dir / "part-2.jsonl", "{\"q\":\"b\"}\n");
  ReadOptions opts;
  opts.columns = {"q"};
  auto src = OpenSource({dir / "part-*.jsonl"}, opts);
  ASSERT_TRUE(src.ok()) << src.status().ToString();
  EXPECT_EQ((*src)->num_rows(), 2);
  EXPECT_EQ(ReadAllJson(src->get()), "{\"q\":\"a\"}\n{\"q\":\"b\"}\n");
}

TEST(JsonlReader, BadLinesAreSkippedIntoTheirFileWhenAsked) {
  ScratchDir dir;
  // A bare value, invalid JSON in the middle, and a last line cut short by a killed writer.
  WriteFile(dir / "in.jsonl", "{\"x\":1}\n42\n{\"x\":2}\n{\"x\": oops}\n{\"x\":3}\n{\"x\":4");
  // Without the option, the first bad line stops the read where it is.
  auto plain = OpenSource({dir / "in.jsonl"});
  ASSERT_FALSE(plain.ok());
  EXPECT_THAT(plain.status().message(), HasSubstr("in.jsonl:2:"));

  ReadOptions opts;
  opts.bad_lines_path = dir / "bad.jsonl";
  auto src = OpenSource({dir / "in.jsonl"}, opts);
  ASSERT_TRUE(src.ok()) << src.status().ToString();
  EXPECT_EQ((*src)->num_rows(), 3);
  // Opening (type inference) writes nothing; the read does, once at its end.
  EXPECT_FALSE(std::filesystem::exists(dir / "bad.jsonl"));
  EXPECT_EQ(ReadAllJson(src->get()), "{\"x\":1}\n{\"x\":2}\n{\"x\":3}\n");
  EXPECT_EQ((*src)->skipped_rows(), 3);
  std::string bad = ReadFile(dir / "bad.jsonl");
  EXPECT_THAT(bad, HasSubstr("\"line\":2,"));
  EXPECT_THAT(bad, HasSubstr("\"text\":\"42\""));
  EXPECT_THAT(bad, HasSubstr("\"line\":4,"));
  EXPECT_THAT(bad, HasSubstr("\"text\":\"{\\\"x\\\": oops}\""));
  EXPECT_THAT(bad, HasSubstr("\"line\":6,"));
  EXPECT_EQ(std::count(bad.begin(), bad.end(), '\n'), 3);
  // A second read writes the same list again (it does not append).
  auto again = OpenSource({dir / "in.jsonl"}, opts);
  ASSERT_TRUE(again.ok());
  ReadAllJson(again->get());
  EXPECT_EQ(ReadFile(dir / "bad.jsonl"), bad);
}

TEST(JsonlReader, BadLinesFileMustNotBeAnInputAndAppliesToJsonlOnly) {
  ScratchDir dir;
  WriteFile(dir / "in.jsonl", "{\"x\":1}\n");
  WriteFile(dir / "in.csv", "x\n1\n");
  ReadOptions opts;
  opts.bad_lines_path = dir / "in.jsonl";
  auto src = OpenSource({dir / "in.jsonl"}, opts);
  ASSERT_FALSE(src.ok());
  EXPECT_THAT(src.status().message(), HasSubstr("is one of the inputs"));
  opts.bad_lines_path = dir / "bad.jsonl";
  src = OpenSource({dir / "in.csv"}, opts);
  ASSERT_FALSE(src.ok());
  EXPECT_THAT(src.status().message(), HasSubstr("applies to JSONL inputs"));
}

TEST(JsonlWriter, WritesBinaryAsBase64AndPublishesOnlyOnFinish) {
  ScratchDir dir;
  table::Schema schema;
  schema.fields.push_back({"b", table::DataType::Binary()});
  auto batch = table::RecordBatch::Empty(schema);
  batch.columns[0].AppendBytes(std::string("\x00\xff", 2));
  batch.columns[0].AppendNull();
  auto sink = OpenSink(dir / "o.jsonl", schema);
  ASSERT_TRUE(sink.ok());
  ASSERT_TRUE((*sink)->Write(batch).ok());
  EXPECT_FALSE(std::filesystem::exists(dir / "o.jsonl"));
  ASSERT_TRUE((*sink)->Finish().ok());
  EXPECT_EQ(ReadFile(dir / "o.jsonl"), "{\"b\":\"AP8=\"}\n{\"b\":null}\n");
  EXPECT_EQ(std::distance(std::filesystem::directory_iterator(dir.str()), {}), 1);
}

}  // namespace
}  // namespace structflow::io

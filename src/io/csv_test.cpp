#include <gmock/gmock.h>
#include <gtest/gtest.h>

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

TEST(CsvReader, HandlesQuotesDoubledQuotesEmbeddedNewlinesAndCrlf) {
  ScratchDir dir;
  WriteFile(dir / "a.csv",
            "\xEF\xBB\xBFname,note\r\n"
            "plain,\"with, comma\"\r\n"
            "\"say \"\"hi\"\"\",\"two\r\nlines\"\r\n"
            "\"\",\n"
            "last,x");
  auto src = OpenSource({dir / "a.csv"});
  ASSERT_TRUE(src.ok()) << src.status().ToString();
  EXPECT_EQ((*src)->schema().ToString(), "name: string\nnote: string\n");
  EXPECT_EQ(ReadAllJson(src->get()),
            "{\"name\":\"plain\",\"note\":\"with, comma\"}\n"
            "{\"name\":\"say \\\"hi\\\"\",\"note\":\"two\\r\\nlines\"}\n"
            "{\"name\":\"\",\"note\":null}\n"
            "{\"name\":\"last\",\"note\":\"x\"}\n");
}

TEST(CsvReader, InfersBoolIntDoubleAndStringWithEmptyAsNull) {
  ScratchDir dir;
  WriteFile(dir / "a.csv",
            "b,i,d,s,e\n"
            "true,1,1,x,\n"
            "FALSE,,2.5,7,\n"
            ",-3,1e3,,\n");
  auto src = OpenSource({dir / "a.csv"});
  ASSERT_TRUE(src.ok()) << src.status().ToString();
  EXPECT_EQ((*src)->schema().ToString(), "b: bool\ni: int64\nd: double\ns: string\ne: string\n");
  EXPECT_EQ(ReadAllJson(src->get()),
            "{\"b\":true,\"i\":1,\"d\":1.0,\"s\":\"x\",\"e\":null}\n"
            "{\"b\":false,\"i\":null,\"d\":2.5,\"s\":\"7\",\"e\":null}\n"
            "{\"b\":null,\"i\":-3,\"d\":1000.0,\"s\":null,\"e\":null}\n");
}

TEST(CsvReader, NumbersThatTypingWouldChangeStayStrings) {
  ScratchDir dir;
  // A ZIP code with a leading zero and an ID too long for int64 would come out changed as
  // numbers (1234, 1.2345678901234568e+22); 0, 0.5 and -7 are ordinary numbers.
  WriteFile(dir / "a.csv", "zip,id,n,f\n01234,12345678901234567890123,0,0.5\n90210,1,-7,1.25\n");
  auto src = OpenSource({dir / "a.csv"});
  ASSERT_TRUE(src.ok()) << src.status().ToString();
  EXPECT_EQ((*src)->schema().ToString(), "zip: string\nid: string\nn: int64\nf: double\n");
  EXPECT_EQ(ReadAllJson(src->get()),
            "{\"zip\":\"01234\",\"id\":\"12345678901234567890123\",\"n\":0,\"f\":0.5}\n"
            "{\"zip\":\"90210\",\"id\":\"1\",\"n\":-7,\"f\":1.25}\n");
}

TEST(CsvReader, AHeaderOnlyFileHasZeroRowsKnownAtOpen) {
  ScratchDir dir;
  WriteFile(dir / "h.csv", "zip,name\n");
  auto src = OpenSource({dir / "h.csv"});
  ASSERT_TRUE(src.ok()) << src.status().ToString();
  EXPECT_EQ((*src)->num_rows(), 0);
  WriteFile(dir / "two.csv", "zip,name\n1,a\n2,b\n");
  src = OpenSource({dir / "h.csv", dir / "two.csv"});
  ASSERT_TRUE(src.ok()) << src.status().ToString();
  EXPECT_EQ((*src)->num_rows(), 2);
  ReadOptions opts;
  opts.infer_rows = 1;  // the sample stops before the end: not counted
  src = OpenSource({dir / "two.csv"}, opts);
  ASSERT_TRUE(src.ok()) << src.status().ToString();
  EXPECT_EQ((*src)->num_rows(), std::nullopt);
}

TEST(CsvReader, OverrideSetsAColumnType) {
  ScratchDir dir;
  WriteFile(dir / "a.csv", "zip,n\n00123,1\n");
  ReadOptions opts;
  opts.type_overrides = {"zip=string", "n=double"};
  EXPECT_EQ(OpenAndReadJson({dir / "a.csv"}, opts), "{\"zip\":\"00123\",\"n\":1.0}\n");
}

TEST(CsvReader, ValueNotMatchingTheInferredTypeNamesFileLineColumnAndFix) {
  ScratchDir dir;
  // The record on line 4 starts after a field spanning two lines.
  WriteFile(dir / "a.csv", "n,t\n1,\"a\nb\"\nx,c\n");
  ReadOptions opts;
  opts.infer_rows = 1;
  auto src = OpenSource({dir / "a.csv"}, opts);
  ASSERT_TRUE(src.ok());
  Status st;
  ReadAllJson(src->get(), &st);
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(st.message(), HasSubstr("a.csv:4: column 'n' holds 'x', which is not int64"));
  EXPECT_THAT(st.message(), HasSubstr("--schema-override n=string"));
}

TEST(CsvReader, CharacterAfterAClosingQuoteIsEscapedInTheMessage) {
  ScratchDir dir;
  WriteFile(dir / "esc.csv", "a,b\n\"x\"\x1b[2J,1\n");
  auto src = OpenSource({dir / "esc.csv"});
  Status st = src.ok() ? Status::OK() : src.status();
  if (src.ok()) ReadAllJson(src->get(), &st);
  ASSERT_FALSE(st.ok());
  EXPECT_THAT(st.message(), HasSubstr("unexpected character '\\x1b'"));
  EXPECT_EQ(st.message().find('\x1b'), std::string::npos);
}

TEST(CsvReader, WrongFieldCountAndUnclosedQuoteNameTheLine) {
  ScratchDir dir;
  WriteFile(dir / "a.csv", "a,b\n1,2\n3\n");
  auto src = OpenSource({dir / "a.csv"});
  ASSERT_FALSE(src.ok());
  EXPECT_THAT(src.status().message(), HasSubstr("a.csv:3: the record has 1 fields"));

  WriteFile(dir / "b.csv", "a,b\n1,\"open\n2,3\n");
  src = OpenSource({dir / "b.csv"});
  ASSERT_FALSE(src.ok());
  EXPECT_THAT(src.status().message(), HasSubstr("b.csv:2: a quoted field never closes"));

  WriteFile(dir / "c.csv", "a,b\n1,2\n");
  WriteFile(dir / "d.csv", "a,c\n1,2\n");
  src = OpenSource({dir / "c.csv", dir / "d.csv"});
  ASSERT_FALSE(src.ok());
  EXPECT_THAT(src.status().message(), HasSubstr("column 'b' is in"));
  EXPECT_THAT(src.status().message(), HasSubstr("d.csv"));
}

TEST(CsvWriter, QuotesWhatNeedsItAndWritesNestedAsJsonAndBinaryAsBase64) {
  ScratchDir dir;
  using table::DataType;
  table::Schema schema;
  schema.fields.push_back({"s", DataType::String()});
  schema.fields.push_back({"n", DataType::Int64()});
  schema.fields.push_back({"d", DataType::Double()});
  schema.fields.push_back({"l", DataType::List(DataType::String())});
  schema.fields.push_back({"b", DataType::Binary()});
  auto batch = table::RecordBatch::Empty(schema);
  auto& c = batch.columns;
  c[0].AppendBytes("a,\"b\"\nc");
  c[1].AppendInt(-7);
  c[2].AppendDouble(2);
  c[3].child(0).AppendBytes("x");
  c[3].child(0).AppendBytes("y,z");
  c[3].CloseList();
  c[4].AppendBytes("hi");
  c[0].AppendBytes("");
  c[1].AppendNull();
  c[2].AppendDouble(0.1);
  c[3].CloseList();
  c[4].AppendNull();
  auto sink = OpenSink(dir / "o.csv", schema);
  ASSERT_TRUE(sink.ok());
  ASSERT_TRUE((*sink)->Write(batch).ok());
  ASSERT_TRUE((*sink)->Finish().ok());
  EXPECT_EQ(ReadFile(dir / "o.csv"),
            "s,n,d,l,b\n"
            "\"a,\"\"b\"\"\nc\",-7,2.0,\"[\"\"x\"\",\"\"y,z\"\"]\",aGk=\n"
            "\"\",,0.1,[],\n");
  // It reads back to the same values (nested as JSON text, binary via an override).
  ReadOptions opts;
  opts.type_overrides = {"b=binary"};
  auto src = OpenSource({dir / "o.csv"}, opts);
  ASSERT_TRUE(src.ok()) << src.status().ToString();
  auto back = (*src)->Next();
  ASSERT_TRUE(back.ok() && back->has_value());
  EXPECT_EQ((*back)->columns[0].GetBytes(0), "a,\"b\"\nc");
  EXPECT_EQ((*back)->columns[0].GetBytes(1), "");
  EXPECT_TRUE((*back)->columns[1].IsNull(1));
  EXPECT_EQ((*back)->columns[3].GetBytes(0), "[\"x\",\"y,z\"]");
  EXPECT_EQ((*back)->columns[4].GetBytes(0), "hi");
}

TEST(CsvWriter, RoundTripsThroughJsonl) {
  ScratchDir dir;
  WriteFile(dir / "a.csv", "id,text,score,flag\n1,\"x, y\",0.5,true\n2,,1.25,false\n");
  ASSERT_TRUE(testing::Convert({dir / "a.csv"}, dir / "a.jsonl").ok());
  EXPECT_EQ(ReadFile(dir / "a.jsonl"),
            "{\"id\":1,\"text\":\"x, y\",\"score\":0.5,\"flag\":true}\n"
            "{\"id\":2,\"text\":null,\"score\":1.25,\"flag\":false}\n");
  ASSERT_TRUE(testing::Convert({dir / "a.jsonl"}, dir / "b.csv").ok());
  EXPECT_EQ(ReadFile(dir / "b.csv"), "id,text,score,flag\n1,\"x, y\",0.5,true\n2,,1.25,false\n");
}

}  // namespace
}  // namespace structflow::io

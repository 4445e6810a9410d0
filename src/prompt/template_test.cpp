#include "prompt/template.h"

#include <gtest/gtest.h>

namespace structflow::prompt {
namespace {

using table::Column;
using table::DataType;
using table::RecordBatch;
using table::Schema;

RecordBatch QaBatch() {
  auto text_t = DataType::Struct({{"user", DataType::String()}, {"assistant", DataType::String()}});
  Schema schema{{{"id", DataType::Int64()},
                 {"question", DataType::String()},
                 {"texts", DataType::List(text_t)},
                 {"tags", DataType::List(DataType::String())}}};
  RecordBatch b = RecordBatch::Empty(schema);
  b.columns[0].AppendInt(7);
  b.columns[1].AppendBytes("What is \"this\"?");
  b.columns[2].child(0).child(0).AppendBytes("first user turn");
  b.columns[2].child(0).child(1).AppendBytes("A");
  b.columns[2].child(0).CloseStruct();
  b.columns[2].CloseList();
  b.columns[3].child(0).AppendBytes("x");
  b.columns[3].child(0).AppendBytes("y");
  b.columns[3].CloseList();
  // Row 1: nulls and an empty list.
  b.columns[0].AppendNull();
  b.columns[1].AppendNull();
  b.columns[2].CloseList();
  b.columns[3].AppendNull();
  return b;
}

std::string RenderRow(const Template& t, const RecordBatch& b, int64_t row) {
  std::string out;
  t.Render(b, row, &out);
  return out;
}

TEST(Template, RendersColumnsNestedPathsAndLiteralBraces) {
  RecordBatch b = QaBatch();
  auto t = Template::Parse(
      "#{id}: {question} | {texts[0].user} -> {texts[0].assistant} "
      "{{\"json\": {{}}}} tags={tags} { id }");
  ASSERT_TRUE(t.ok()) << t.status().ToString();
  ASSERT_TRUE(t->Bind(b.schema).ok());
  EXPECT_EQ(RenderRow(*t, b, 0),
            "#7: What is \"this\"? | first user turn -> A {\"json\": {}} tags=[\"x\",\"y\"] 7");
  EXPECT_EQ(t->placeholders().size(), 6u);
  EXPECT_FALSE(t->is_constant());
}

TEST(Template, NullsAndMissingListElementsRenderAsNothing) {
  RecordBatch b = QaBatch();
  auto t = Template::Parse("[{id}][{question}][{texts[0].user}][{tags}]");
  ASSERT_TRUE(t.ok());
  ASSERT_TRUE(t->Bind(b.schema).ok());
  EXPECT_EQ(RenderRow(*t, b, 1), "[][][][]");
}

TEST(NullTally, CountsTheRowsWhereEachPlaceholderRenderedAsNothing) {
  RecordBatch b = QaBatch();
  auto t = Template::Parse("{question} ({texts[0].user}) {question}");
  ASSERT_TRUE(t.ok());
  ASSERT_TRUE(t->Bind(b.schema).ok());
  NullTally tally(*t);
  tally.Observe(b, 0);
  EXPECT_TRUE(tally.Warnings().empty());
  tally.Observe(b, 1);
  tally.Observe(b, 1);
  auto w = tally.Warnings();
  ASSERT_EQ(w.size(), 3u);  // each placeholder, the repeated one too
  EXPECT_EQ(w[0],
            "prompt placeholder {question} was null in 2 of 3 rows; those prompts had nothing in "
            "its place (fill the column, or leave such rows out)");
  EXPECT_NE(w[1].find("{texts[0].user} was null in 2 of 3 rows"), std::string::npos) << w[1];
}

TEST(Template, BindNamesTheMissingColumnAndTheColumnsThatExist) {
  RecordBatch b = QaBatch();
  auto t = Template::Parse("Q: {questoin}");
  ASSERT_TRUE(t.ok());
  Status st = t->Bind(b.schema);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.code(), StatusCode::kNotFound);
  EXPECT_NE(st.message().find("'questoin'"), std::string::npos) << st.message();
  EXPECT_NE(st.message().find("id, question, texts, tags"), std::string::npos) << st.message();
}

TEST(Template, BindNamesAMissingNestedField) {
  RecordBatch b = QaBatch();
  auto t = Template::Parse("{texts[0].usr}");
  ASSERT_TRUE(t.ok());
  Status st = t->Bind(b.schema);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("usr"), std::string::npos) << st.message();
  EXPECT_NE(st.message().find("user, assistant"), std::string::npos) << st.message();
}

TEST(Template, RejectsUnbalancedAndEmptyBracesWithTheFix) {
  for (const char* bad : {"Answer {question", "a } b", "empty {} here", "{a{b}"}) {
    SCOPED_TRACE(bad);
    auto t = Template::Parse(bad);
    ASSERT_FALSE(t.ok());
    EXPECT_EQ(t.status().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(t.status().message().find("character"), std::string::npos) << t.status().message();
  }
  EXPECT_NE(Template::Parse("x }").status().message().find("}}"), std::string::npos);
}

TEST(Template, JsonExampleInThePromptSuggestsDoubledBraces) {
  RecordBatch b = QaBatch();
  auto t = Template::Parse(R"(Answer like {"label": "cat"} for {question})");
  ASSERT_TRUE(t.ok());
  Status st = t->Bind(b.schema);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("double them: {{ and }}"), std::string::npos) << st.message();
  auto fixed = Template::Parse(R"(Answer like {{"label": "cat"}} for {question})");
  ASSERT_TRUE(fixed.ok());
  ASSERT_TRUE(fixed->Bind(b.schema).ok());
  EXPECT_EQ(RenderRow(*fixed, b, 0), R"(Answer like {"label": "cat"} for What is "this"?)");
}

TEST(Template, ConstantTextHasNoPlaceholders) {
  auto t = Template::Parse("Describe the image.");
  ASSERT_TRUE(t.ok());
  EXPECT_TRUE(t->is_constant());
  EXPECT_TRUE(t->Bind(Schema{}).ok());
}

}  // namespace
}  // namespace structflow::prompt

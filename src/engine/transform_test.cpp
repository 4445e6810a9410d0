#include "engine/transform.h"

#include <gtest/gtest.h>

namespace structflow::engine {
namespace {

using table::DataType;
using table::RecordBatch;

RecordBatch Ai2dBatch() {
  auto text_t = DataType::Struct({{"user", DataType::String()}, {"assistant", DataType::String()}});
  table::Schema schema{{{"id", DataType::Int64()}, {"texts", DataType::List(text_t)}}};
  RecordBatch b = RecordBatch::Empty(schema);
  const char* answers[] = {"Answer: C", "Answer: A", "no key here"};
  for (int r = 0; r < 3; ++r) {
    b.columns[0].AppendInt(r);
    if (r == 2) {
      b.columns[1].AppendNull();  // a row with no questions stays, with a null
      continue;
    }
    for (int q = 0; q <= r; ++q) {
      b.columns[1].child(0).child(0).AppendBytes("question " + std::to_string(q));
      b.columns[1].child(0).child(1).AppendBytes(answers[q]);
      b.columns[1].child(0).CloseStruct();
    }
    b.columns[1].CloseList();
  }
  return b;
}

TEST(Transformer, ExplodesListsThenExtractsTheAnswerKey) {
  RecordBatch in = Ai2dBatch();
  auto spec = ExtractSpec::Parse("answer=texts.assistant:Answer: ([A-D])");
  ASSERT_TRUE(spec.ok());
  auto t = Transformer::Make(in.schema, {"texts"}, {*spec});
  ASSERT_TRUE(t.ok()) << t.status().ToString();
  RecordBatch out = t->Apply(in);
  ASSERT_TRUE(out.Validate().ok());
  ASSERT_EQ(out.num_rows(), 4);  // 1 + 2 questions + 1 null row
  std::string json;
  for (int64_t r = 0; r < out.num_rows(); ++r) {
    table::AppendRowJson(out, r, &json);
    json += "\n";
  }
  EXPECT_EQ(json,
            "{\"id\":0,\"texts\":{\"user\":\"question 0\",\"assistant\":\"Answer: "
            "C\"},\"answer\":\"C\"}\n"
            "{\"id\":1,\"texts\":{\"user\":\"question 0\",\"assistant\":\"Answer: "
            "C\"},\"answer\":\"C\"}\n"
            "{\"id\":1,\"texts\":{\"user\":\"question 1\",\"assistant\":\"Answer: "
            "A\"},\"answer\":\"A\"}\n"
            "{\"id\":2,\"texts\":null,\"answer\":null}\n");
}

TEST(Transformer, ErrorsNameTheFlagAndTheFix) {
  RecordBatch in = Ai2dBatch();
  auto st = Transformer::Make(in.schema, {"id"}, {}).status();
  EXPECT_NE(st.message().find("not a list"), std::string::npos);
  auto st2 = Transformer::Make(in.schema, {"nope"}, {}).status();
  EXPECT_NE(st2.message().find("id, texts"), std::string::npos);
  EXPECT_FALSE(ExtractSpec::Parse("answer").ok());
  auto bad_re = Transformer::Make(in.schema, {}, {ExtractSpec{"a", "id", "("}}).status();
  EXPECT_NE(bad_re.message().find("bad regex"), std::string::npos);
}

}  // namespace
}  // namespace structflow::engine

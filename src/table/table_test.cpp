#include <gtest/gtest.h>

#include "table/column_path.h"
#include "table/record_batch.h"

namespace structflow::table {
namespace {

// The dataset-hub layout: images as list<struct{bytes, path}>, texts as list<struct{user,
// assistant}>.
RecordBatch Ai2dLikeBatch() {
  auto image_t = DataType::Struct({{"bytes", DataType::Binary()}, {"path", DataType::String()}});
  auto text_t = DataType::Struct({{"user", DataType::String()}, {"assistant", DataType::String()}});
  Schema schema{{{"id", DataType::Int64()},
                 {"images", DataType::List(image_t)},
                 {"texts", DataType::List(text_t)}}};
  RecordBatch b = RecordBatch::Empty(schema);
  for (int r = 0; r < 2; ++r) {
    b.columns[0].AppendInt(r);
    Column& images = b.columns[1];
    images.child(0).child(0).AppendBytes(std::string("\x89PNG\0", 5));
    images.child(0).child(1).AppendBytes("img" + std::to_string(r) + ".png");
    images.child(0).CloseStruct();
    images.CloseList();
    Column& texts = b.columns[2];
    for (int q = 0; q < r + 1; ++q) {
      texts.child(0).child(0).AppendBytes("Q" + std::to_string(q) + " \"quoted\"");
      texts.child(0).child(1).AppendBytes("Answer: C");
      texts.child(0).CloseStruct();
    }
    texts.CloseList();
  }
  return b;
}

TEST(RecordBatch, BuildsNestedColumnsAndSerialisesRowsAsJson) {
  RecordBatch b = Ai2dLikeBatch();
  ASSERT_TRUE(b.Validate().ok()) << b.Validate().ToString();
  EXPECT_EQ(b.num_rows(), 2);
  std::string json;
  AppendRowJson(b, 0, &json);
  EXPECT_EQ(json, R"({"id":0,"images":[{"bytes":"iVBORwA=","path":"img0.png"}],)"
                  R"("texts":[{"user":"Q0 \"quoted\"","assistant":"Answer: C"}]})");
}

TEST(ColumnPath, ResolvesAndLocatesNestedValues) {
  RecordBatch b = Ai2dLikeBatch();
  auto path = ColumnPath::Parse("texts[1].user");
  ASSERT_TRUE(path.ok());
  auto type = path->Resolve(b.schema);
  ASSERT_TRUE(type.ok());
  EXPECT_EQ((*type)->id(), TypeId::kString);
  EXPECT_FALSE(path->Locate(b, 0).has_value());  // row 0 has one question only
  auto cell = path->Locate(b, 1);
  ASSERT_TRUE(cell.has_value());
  EXPECT_EQ(cell->column->GetBytes(cell->index), "Q1 \"quoted\"");
}

TEST(ColumnPath, UnknownColumnNamesTheColumnsThatExist) {
  RecordBatch b = Ai2dLikeBatch();
  auto st = ColumnPath::Parse("question")->Resolve(b.schema).status();
  EXPECT_EQ(st.code(), StatusCode::kNotFound);
  EXPECT_NE(st.message().find("'question'"), std::string::npos);
  EXPECT_NE(st.message().find("id, images, texts"), std::string::npos);
  auto st2 = ColumnPath::Parse("texts[0].answer")->Resolve(b.schema).status();
  EXPECT_NE(st2.message().find("user, assistant"), std::string::npos);
}

TEST(ColumnPath, RejectsMalformedPaths) {
  EXPECT_FALSE(ColumnPath::Parse("").ok());
  EXPECT_FALSE(ColumnPath::Parse("a.").ok());
  EXPECT_FALSE(ColumnPath::Parse("a[x]").ok());
  EXPECT_FALSE(ColumnPath::Parse("a[0").ok());
  EXPECT_TRUE(ColumnPath::Parse("a[0][1].b").ok());
}

TEST(Column, AppendFromDeepCopiesAndNullsKeepChildrenAligned) {
  RecordBatch b = Ai2dLikeBatch();
  Column copy(b.columns[2].type());
  copy.AppendFrom(b.columns[2], 1);
  copy.AppendNull();
  EXPECT_EQ(copy.length(), 2);
  EXPECT_EQ(copy.ListRange(0), (std::pair<int64_t, int64_t>{0, 2}));
  EXPECT_TRUE(copy.IsNull(1));
  EXPECT_EQ(copy.ListRange(1), (std::pair<int64_t, int64_t>{2, 2}));
  Column s(b.columns[1].type()->element());
  s.AppendNull();
  EXPECT_EQ(s.child(0).length(), 1);
}

TEST(Cell, DatesTimestampsAndDecimalsPrintExactly) {
  Column d(DataType::Date32());
  d.AppendInt(19723);  // 2024-01-01
  d.AppendInt(-1);
  Column ts(DataType::Timestamp(TimeUnit::kMillis, true));
  ts.AppendInt(1704067200123);
  Column dec(DataType::Decimal(9, 2));
  dec.AppendInt(-5);
  std::string out;
  AppendCellJson(d, 0, &out);
  AppendCellJson(d, 1, &out);
  AppendCellJson(ts, 0, &out);
  AppendCellJson(dec, 0, &out);
  EXPECT_EQ(out, R"("2024-01-01""1969-12-31""2024-01-01T00:00:00.123Z""-0.05")");
}

}  // namespace
}  // namespace structflow::table

#include "demo/dataset.h"

#include <gtest/gtest.h>
#include <re2/re2.h>

#include <set>

namespace structflow::demo {
namespace {

TEST(DemoDataset, HubLayoutWithPngImagesAndValidAnswerKeys) {
  auto b = GenerateDataset(DatasetOptions{30, 11});
  ASSERT_TRUE(b.ok()) << b.status().ToString();
  ASSERT_TRUE(b->Validate().ok());
  EXPECT_EQ(b->num_rows(), 30);
  const table::Column& images = b->columns[1];
  const table::Column& texts = b->columns[2];
  std::set<std::string> keys;
  for (int64_t r = 0; r < b->num_rows(); ++r) {
    auto [ib, ie] = images.ListRange(r);
    ASSERT_EQ(ie - ib, 1);
    std::string_view png = images.child(0).child(0).GetBytes(ib);
    ASSERT_GT(png.size(), 100u);
    EXPECT_EQ(png.substr(1, 3), "PNG");
    auto [tb, te] = texts.ListRange(r);
    ASSERT_GE(te - tb, 1);
    for (int64_t q = tb; q < te; ++q) {
      std::string user(texts.child(0).child(0).GetBytes(q));
      std::string key;
      ASSERT_TRUE(RE2::FullMatch(std::string(texts.child(0).child(1).GetBytes(q)),
                                 "Answer: ([A-D])", &key));
      keys.insert(key);
      // The keyed choice exists and the four choices are distinct.
      std::string a, bb, c, d;
      ASSERT_TRUE(RE2::PartialMatch(user, "\\nA\\. (.*)\\nB\\. (.*)\\nC\\. (.*)\\nD\\. (.*)\\n", &a,
                                    &bb, &c, &d))
          << user;
      EXPECT_EQ((std::set<std::string>{a, bb, c, d}).size(), 4u) << user;
    }
  }
  EXPECT_GE(keys.size(), 3u);  // answers are spread over the letters
}

TEST(DemoDataset, SameOptionsGiveTheSameBytes) {
  auto a = GenerateDataset(DatasetOptions{6, 3});
  auto b = GenerateDataset(DatasetOptions{6, 3});
  ASSERT_TRUE(a.ok() && b.ok());
  std::string ja, jb;
  for (int64_t r = 0; r < 6; ++r) {
    table::AppendRowJson(*a, r, &ja);
    table::AppendRowJson(*b, r, &jb);
  }
  EXPECT_EQ(ja, jb);
}

}  // namespace
}  // namespace structflow::demo

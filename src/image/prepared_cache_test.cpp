#include "image/prepared_cache.h"

#include <gtest/gtest.h>

#include <atomic>
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

#include "common/base64.h"
#include "image/test_util.h"

namespace structflow::image {
namespace {

ImagePolicy Shrink(int max_side) {
  ImagePolicy p;
  p.max_side = max_side;
  return p;
}

std::string Jpeg(int w, int h, int seed) {
  return testing::Save(testing::PhotoLike(w, h, seed), ".jpg");
}

TEST(PreparedCache, GivesTheSameDataUrlAsPrepareAndPreparesEachImageOnce) {
  std::string a = Jpeg(400, 300, 1);
  std::string b = Jpeg(400, 300, 2);
  PreparedCache cache(64 << 20, Shrink(100));

  auto direct = Prepare(a, Shrink(100));
  ASSERT_TRUE(direct.ok()) << direct.status().ToString();
  auto first = cache.DataUrlFor(a);
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  EXPECT_EQ(**first, DataUrl(*direct));
  EXPECT_EQ((*first)->rfind("data:image/jpeg;base64,", 0), 0u);

  auto again = cache.DataUrlFor(std::string(a));  // same content, another buffer
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->get(), first->get());  // the very same string, not a re-encode
  auto other = cache.DataUrlFor(b);
  ASSERT_TRUE(other.ok());
  EXPECT_NE(**other, **first);

  PreparedCache::Stats st = cache.stats();
  EXPECT_EQ(st.prepared, 2u);
  EXPECT_EQ(st.reused, 1u);
  EXPECT_EQ(st.entries, 2u);
  EXPECT_GE(st.bytes, (*first)->size() + (*other)->size());
}

TEST(PreparedCache, KeepsErrorsWithTheirMessage) {
  PreparedCache cache(1 << 20, Shrink(100));
  std::string truncated = Jpeg(200, 200, 3);
  truncated.resize(truncated.size() / 3);
  auto r1 = cache.DataUrlFor(truncated);
  auto r2 = cache.DataUrlFor(truncated);
  ASSERT_FALSE(r1.ok());
  ASSERT_FALSE(r2.ok());
  EXPECT_EQ(r1.status().message(), r2.status().message());
  EXPECT_EQ(r1.status().message(), Prepare(truncated, Shrink(100)).status().message());
  EXPECT_EQ(cache.stats().prepared, 1u);
}

TEST(PreparedCache, StaysWithinItsCapacityDroppingTheLeastRecentlyUsed) {
  std::vector<std::string> images;
  for (int i = 0; i < 6; ++i) images.push_back(Jpeg(300, 200, 10 + i));
  auto one = Prepare(images[0], Shrink(300));
  ASSERT_TRUE(one.ok());
  const size_t url = DataUrl(*one).size();
  PreparedCache cache(url * 3, Shrink(300));  // room for about two

  for (const auto& im : images) ASSERT_TRUE(cache.DataUrlFor(im).ok());
  PreparedCache::Stats st = cache.stats();
  EXPECT_LE(st.bytes, url * 3);
  EXPECT_GE(st.entries, 1u);
  EXPECT_LE(st.entries, 3u);
  EXPECT_EQ(st.prepared, 6u);

  // The most recent is still there; the first was dropped and is prepared again.
  ASSERT_TRUE(cache.DataUrlFor(images[5]).ok());
  EXPECT_EQ(cache.stats().reused, 1u);
  ASSERT_TRUE(cache.DataUrlFor(images[0]).ok());
  EXPECT_EQ(cache.stats().prepared, 7u);
}

TEST(PreparedCache, AnImageBiggerThanTheCapacityIsPreparedButNotKept) {
  PreparedCache cache(100, Shrink(200));
  std::string a = Jpeg(200, 150, 4);
  ASSERT_TRUE(cache.DataUrlFor(a).ok());
  ASSERT_TRUE(cache.DataUrlFor(a).ok());
  EXPECT_EQ(cache.stats().prepared, 2u);
  EXPECT_EQ(cache.stats().entries, 0u);
  EXPECT_EQ(cache.stats().bytes, 0u);
}

TEST(PreparedCache, ThreadsAskingForTheSameImageShareOnePreparation) {
  std::string a = Jpeg(1200, 900, 5);
  PreparedCache cache(64 << 20, Shrink(256));
  std::vector<std::thread> threads;
  std::vector<std::shared_ptr<const std::string>> got(8);
  std::atomic<int> errors{0};
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      auto r = cache.DataUrlFor(a);
      if (r.ok()) {
        got[t] = *r;
      } else {
        ++errors;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(errors.load(), 0);
  for (const auto& g : got) EXPECT_EQ(g.get(), got[0].get());
  EXPECT_EQ(cache.stats().prepared, 1u);
  EXPECT_EQ(cache.stats().reused, 7u);
}

TEST(PreparedCache, AFileSeenBeforeIsFoundByItsStampUntilItChanges) {
  std::string path = ::testing::TempDir() + "prepared_cache_file.jpg";
  std::string a = Jpeg(300, 200, 21);
  auto write = [&](const std::string& bytes) {
    std::FILE* f = std::fopen(path.c_str(), "wb");
    ASSERT_NE(f, nullptr);
    std::fwrite(bytes.data(), 1, bytes.size(), f);
    std::fclose(f);
  };
  write(a);
  PreparedCache cache(64 << 20, Shrink(100));
  auto stamp = PreparedCache::Stamp(path);
  ASSERT_TRUE(stamp.has_value());
  EXPECT_EQ(cache.FindFile(path, *stamp), nullptr);  // never read
  auto url = cache.DataUrlFor(a, path, *stamp);
  ASSERT_TRUE(url.ok());
  auto found = cache.FindFile(path, *stamp);
  ASSERT_NE(found, nullptr);
  EXPECT_EQ(found.get(), url->get());
  EXPECT_EQ(cache.stats().reused, 1u);

  // Rewritten with other content (another size, a later mtime): no longer found.
  std::string b = Jpeg(320, 200, 22);
  write(b);
  auto stamp2 = PreparedCache::Stamp(path);
  ASSERT_TRUE(stamp2.has_value());
  ASSERT_FALSE(*stamp2 == *stamp);
  EXPECT_EQ(cache.FindFile(path, *stamp2), nullptr);
  EXPECT_FALSE(PreparedCache::Stamp(path + ".missing").has_value());
  std::remove(path.c_str());
}

}  // namespace
}  // namespace structflow::image

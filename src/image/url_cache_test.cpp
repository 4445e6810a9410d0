#include "image/url_cache.h"

#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <vector>

namespace structflow::image {
namespace {

TEST(UrlCache, FetchesEachUrlOnceAndHandsOutTheSameBytes) {
  UrlCache cache(1 << 20);
  std::atomic<int> fetches{0};
  auto fetch_of = [&](std::string body) {
    return [&fetches, body](std::string* out) {
      ++fetches;
      *out = body;
      return Status::OK();
    };
  };
  // 20 URLs, each asked for twice (a question with and without a hint per picture).
  for (int round = 0; round < 2; ++round) {
    for (int i = 0; i < 20; ++i) {
      std::string url = "http://127.0.0.1/img" + std::to_string(i) + ".png";
      auto got = cache.Get(url, fetch_of("bytes of " + std::to_string(i)));
      ASSERT_TRUE(got.ok()) << got.status().ToString();
      EXPECT_EQ(**got, "bytes of " + std::to_string(i));
    }
  }
  EXPECT_EQ(fetches.load(), 20);
  EXPECT_EQ(cache.stats().fetched, 20u);
  EXPECT_EQ(cache.stats().reused, 20u);
}

TEST(UrlCache, RowsAskingAtOnceWaitForTheOneFetchInFlight) {
  UrlCache cache(1 << 20);
  std::atomic<int> fetches{0};
  std::mutex mu;
  std::condition_variable cv;
  bool release = false;
  auto slow_fetch = [&](std::string* out) {
    ++fetches;
    std::unique_lock lock(mu);
    cv.wait(lock, [&] { return release; });  // held until every asker has asked
    *out = "picture";
    return Status::OK();
  };
  std::vector<std::thread> askers;
  std::atomic<int> ok{0};
  for (int i = 0; i < 8; ++i) {
    askers.emplace_back([&] {
      auto got = cache.Get("http://127.0.0.1/a.png", slow_fetch);
      if (got.ok() && **got == "picture") ++ok;
    });
  }
  // Release the fetch only once the other seven wait on it.
  while (cache.stats().reused < 7) std::this_thread::yield();
  {
    std::lock_guard lock(mu);
    release = true;
  }
  cv.notify_all();
  for (auto& t : askers) t.join();
  EXPECT_EQ(ok.load(), 8);
  EXPECT_EQ(fetches.load(), 1);
}

TEST(UrlCache, FailuresAreNotKept) {
  UrlCache cache(1 << 20);
  int calls = 0;
  auto got = cache.Get("http://127.0.0.1/x.png", [&](std::string*) {
    ++calls;
    return Status::IOError("fetching http://127.0.0.1/x.png: connection refused");
  });
  ASSERT_FALSE(got.ok());
  EXPECT_NE(got.status().message().find("connection refused"), std::string::npos);
  got = cache.Get("http://127.0.0.1/x.png", [&](std::string* out) {
    ++calls;
    *out = "now it works";
    return Status::OK();
  });
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(**got, "now it works");
  EXPECT_EQ(calls, 2);
}

TEST(UrlCache, StaysWithinItsCapacityDroppingTheLeastRecentlyUsed) {
  UrlCache cache(100);
  int calls = 0;
  auto fetch40 = [&](std::string* out) {
    ++calls;
    out->assign(40, 'x');
    return Status::OK();
  };
  ASSERT_TRUE(cache.Get("a", fetch40).ok());
  ASSERT_TRUE(cache.Get("b", fetch40).ok());
  ASSERT_TRUE(cache.Get("a", fetch40).ok());  // a is now the most recent
  ASSERT_TRUE(cache.Get("c", fetch40).ok());  // 120 > 100: b goes
  EXPECT_EQ(calls, 3);
  EXPECT_LE(cache.stats().bytes, 100u);
  ASSERT_TRUE(cache.Get("a", fetch40).ok());
  EXPECT_EQ(calls, 3);
  ASSERT_TRUE(cache.Get("b", fetch40).ok());
  EXPECT_EQ(calls, 4);
  // A body larger than the whole cache is handed out but not kept.
  auto big = cache.Get("big", [&](std::string* out) {
    ++calls;
    out->assign(500, 'y');
    return Status::OK();
  });
  ASSERT_TRUE(big.ok());
  EXPECT_EQ((*big)->size(), 500u);
  EXPECT_LE(cache.stats().bytes, 100u);
}

}  // namespace
}  // namespace structflow::image

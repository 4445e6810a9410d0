#include "common/bounded_queue.h"

#include <gtest/gtest.h>

#include <thread>
#include <vector>

namespace structflow {
namespace {

TEST(BoundedQueue, TryPushFailsWhenFullAndPopDrainsAfterClose) {
  BoundedQueue<int> q(2);
  int a = 1, b = 2, c = 3;
  EXPECT_TRUE(q.TryPush(a));
  EXPECT_TRUE(q.TryPush(b));
  EXPECT_FALSE(q.TryPush(c));
  q.Close();
  EXPECT_FALSE(q.Push(c));
  EXPECT_EQ(q.Pop(), 1);
  EXPECT_EQ(q.Pop(), 2);
  EXPECT_EQ(q.Pop(), std::nullopt);
}

TEST(BoundedQueue, ManyProducersAndConsumersLoseNothing) {
  BoundedQueue<int> q(4);
  constexpr int kPerProducer = 10000;
  std::vector<std::thread> producers;
  for (int p = 0; p < 3; ++p) {
    producers.emplace_back([&, p] {
      for (int i = 0; i < kPerProducer; ++i) q.Push(p * kPerProducer + i);
    });
  }
  std::vector<int> seen(3 * kPerProducer, 0);
  std::thread consumer([&] {
    while (auto v = q.Pop()) ++seen[*v];
  });
  for (auto& t : producers) t.join();
  q.Close();
  consumer.join();
  for (int count : seen) ASSERT_EQ(count, 1);
}

}  // namespace
}  // namespace structflow

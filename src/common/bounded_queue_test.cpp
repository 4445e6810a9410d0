#include "common/bounded_queue.h"

#include <gtest/gtest.h>

#include <chrono>
#include <mutex>
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

TEST(BoundedQueue, BatchesKeepOrderAndNeverExceedCapacity) {
  BoundedQueue<int> q(4);
  std::vector<int> in(1000);
  for (int i = 0; i < 1000; ++i) in[i] = i;
  std::thread producer([&] {
    // Blocks again and again: the batch is 250 times the capacity.
    EXPECT_EQ(q.PushBatch(in), 1000u);
    q.Close();
  });
  std::vector<int> out;
  while (true) {
    size_t before = out.size();
    size_t n = q.PopBatch(&out, 3);
    if (n == 0) break;
    EXPECT_LE(n, 3u);
    EXPECT_EQ(out.size(), before + n);
    EXPECT_LE(q.size(), q.capacity());
  }
  producer.join();
  ASSERT_EQ(out.size(), 1000u);
  for (int i = 0; i < 1000; ++i) ASSERT_EQ(out[i], i);
}

TEST(BoundedQueue, PushBatchReportsWhatAClosedQueueRefused) {
  BoundedQueue<int> q(2);
  std::vector<int> batch = {1, 2, 3};
  q.Close();
  EXPECT_EQ(q.PushBatch(batch), 0u);
  std::vector<int> out;
  EXPECT_EQ(q.TryPopBatch(&out, 10), 0u);
  EXPECT_EQ(q.PopBatch(&out, 10), 0u);  // closed and drained: does not block
}

TEST(BoundedQueue, PopBatchForGivesUpOnAnEmptyQueueAndTakesWhatIsThere) {
  BoundedQueue<int> q(4);
  std::vector<int> out;
  EXPECT_EQ(q.PopBatchFor(&out, 10, std::chrono::milliseconds(1)), 0u);
  EXPECT_FALSE(q.closed());
  q.Push(7);
  q.Push(8);
  EXPECT_EQ(q.PopBatchFor(&out, 10, std::chrono::seconds(60)), 2u);
  EXPECT_EQ(out, (std::vector<int>{7, 8}));
  q.Close();
  EXPECT_EQ(q.PopBatchFor(&out, 10, std::chrono::seconds(60)), 0u);  // closed: at once
}

TEST(BoundedQueue, BatchProducersAndConsumersLoseNothing) {
  // Producers blocked on a full queue are woken once it drains to half: check that none is
  // left behind, with single and batch pushes and pops mixed.
  BoundedQueue<int> q(8);
  constexpr int kPerProducer = 20000;
  std::vector<std::thread> producers;
  for (int p = 0; p < 3; ++p) {
    producers.emplace_back([&, p] {
      std::vector<int> batch;
      for (int i = 0; i < kPerProducer; ++i) {
        if (p == 0) {
          q.Push(p * kPerProducer + i);
          continue;
        }
        batch.push_back(p * kPerProducer + i);
        if (batch.size() == static_cast<size_t>(p * 5) || i + 1 == kPerProducer) {
          EXPECT_EQ(q.PushBatch(batch), batch.size());
          batch.clear();
        }
      }
    });
  }
  std::vector<int> seen(3 * kPerProducer, 0);
  std::vector<std::thread> consumers;
  std::mutex seen_mu;
  for (int c = 0; c < 2; ++c) {
    consumers.emplace_back([&, c] {
      std::vector<int> got;
      while (true) {
        got.clear();
        if (c == 0) {
          std::optional<int> v = q.Pop();
          if (!v) break;
          got.push_back(*v);
        } else if (q.PopBatch(&got, 5) == 0) {
          break;
        }
        std::lock_guard lock(seen_mu);
        for (int v : got) ++seen[v];
      }
    });
  }
  for (auto& t : producers) t.join();
  q.Close();
  for (auto& t : consumers) t.join();
  for (int count : seen) ASSERT_EQ(count, 1);
}

}  // namespace
}  // namespace structflow

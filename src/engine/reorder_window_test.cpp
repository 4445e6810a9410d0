#include "engine/reorder_window.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>

namespace structflow::engine {
namespace {

// Rows as (row id, key); the window gives the order of sending.
std::vector<int> Send(size_t capacity, const std::vector<uint64_t>& keys) {
  ReorderWindow<int> w(capacity);
  std::vector<int> out;
  for (size_t i = 0; i < keys.size(); ++i) {
    w.Push(keys[i], static_cast<int>(i), &out);
    EXPECT_LT(w.size(), std::max<size_t>(capacity, 1));
  }
  w.Flush(&out);
  EXPECT_EQ(w.size(), 0u);
  return out;
}

TEST(ReorderWindow, GroupsRowsOfOneImageWithinTheWindow) {
  // Three images asked about in turn (A B C A B C ...): the window sends each image's rows
  // together, in the order of each group's first row.
  std::vector<uint64_t> keys = {1, 2, 3, 1, 2, 3, 1, 2, 3};
  EXPECT_EQ(Send(16, keys), (std::vector<int>{0, 3, 6, 1, 4, 7, 2, 5, 8}));
  // A window of 4 holds rows 0-3 when it fills: image 1's two held rows leave together; row 6,
  // image 1's third, arrives after and leaves with the rest later.
  EXPECT_EQ(Send(4, keys), (std::vector<int>{0, 3, 1, 4, 2, 5, 6, 7, 8}));
}

TEST(ReorderWindow, KeepsAGroupedInputAndRowsWithoutImagesInOrder) {
  std::vector<uint64_t> grouped = {1, 1, 1, 2, 2, 3, 3, 3, 3};
  std::vector<int> in_order(grouped.size());
  for (size_t i = 0; i < in_order.size(); ++i) in_order[i] = static_cast<int>(i);
  EXPECT_EQ(Send(4, grouped), in_order);
  EXPECT_EQ(Send(1024, grouped), in_order);
  // Key 0: no image, each row alone, in input order among themselves.
  EXPECT_EQ(Send(8, std::vector<uint64_t>(9, 0)), in_order);
  // Off: input order whatever the keys.
  EXPECT_EQ(Send(0, {1, 2, 1, 2}), (std::vector<int>{0, 1, 2, 3}));
  EXPECT_EQ(Send(1, {1, 2, 1, 2}), (std::vector<int>{0, 1, 2, 3}));
}

TEST(ReorderWindow, SendsEveryRowOnceAndBoundsHowLongOneWaits) {
  std::mt19937_64 rng(7);
  for (size_t capacity : {2u, 3u, 16u, 100u}) {
    std::vector<uint64_t> keys(1000);
    for (auto& k : keys) k = rng() % 50;  // 0 included: rows without an image
    std::vector<int> out = Send(capacity, keys);
    std::vector<int> sorted = out;
    std::sort(sorted.begin(), sorted.end());
    std::vector<int> ids(keys.size());
    for (size_t i = 0; i < ids.size(); ++i) ids[i] = static_cast<int>(i);
    ASSERT_EQ(sorted, ids) << "capacity " << capacity;
    // A row leaves before `capacity` later rows have been pushed: its position in the sending
    // order is less than its id + capacity.
    for (size_t pos = 0; pos < out.size(); ++pos) {
      EXPECT_LT(pos, static_cast<size_t>(out[pos]) + capacity) << "capacity " << capacity;
    }
    // Rows of one key keep their input order.
    for (uint64_t k = 0; k < 50; ++k) {
      int last = -1;
      for (int id : out) {
        if (keys[id] != k) continue;
        EXPECT_GT(id, last);
        last = id;
      }
    }
  }
}

}  // namespace
}  // namespace structflow::engine

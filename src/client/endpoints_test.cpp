#include "client/endpoints.h"

#include <gtest/gtest.h>

namespace structflow::client {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

TEST(EndpointSet, PicksTheLeastOutstanding) {
  ManualClock clock;
  EndpointSet set(3, EndpointOptions{}, &clock);
  EXPECT_EQ(set.Pick(), 0);
  EXPECT_EQ(set.Pick(), 1);
  EXPECT_EQ(set.Pick(), 2);
  set.Release(1, true, false);
  EXPECT_EQ(set.Pick(), 1);  // the only one with nothing outstanding
  // All equal again: spread round-robin.
  EXPECT_EQ(set.outstanding(0), 1);
  EXPECT_EQ(set.outstanding(1), 1);
  EXPECT_EQ(set.outstanding(2), 1);
}

TEST(EndpointSet, PrefersEndpointsUnderTheirConnectionCap) {
  // A 2-slot llama.cpp server (cap 3) beside a big one (no cap): the small one takes at most 3.
  ManualClock clock;
  EndpointSet set(2, EndpointOptions{}, &clock);
  set.SetMaxOutstanding(0, 3);
  EXPECT_EQ(set.total_max_outstanding(), 0);  // the other has no cap
  for (int i = 0; i < 20; ++i) set.Pick();
  EXPECT_EQ(set.outstanding(0), 3);
  EXPECT_EQ(set.outstanding(1), 17);
  set.SetMaxOutstanding(1, 5);
  EXPECT_EQ(set.total_max_outstanding(), 8);
  // A failed attempt's endpoint is avoided, unless the other is full and it has room.
  EndpointSet two(2, EndpointOptions{}, &clock);
  two.SetMaxOutstanding(0, 1);
  two.SetMaxOutstanding(1, 1);
  EXPECT_EQ(two.Pick(), 0);
  EXPECT_EQ(two.Pick(/*avoid=*/1), 1);
}

TEST(EndpointSet, AvoidsTheEndpointThatJustFailed) {
  ManualClock clock;
  EndpointSet set(2, EndpointOptions{}, &clock);
  EXPECT_EQ(set.Pick(/*avoid=*/0), 1);
  EXPECT_EQ(set.Pick(/*avoid=*/1), 0);
  // With a single endpoint, avoiding it is impossible: it is used anyway.
  EndpointSet one(1, EndpointOptions{}, &clock);
  EXPECT_EQ(one.Pick(0), 0);
}

TEST(EndpointSet, TakesAnEndpointOutAfterConsecutiveConnectFailures) {
  ManualClock clock;
  EndpointSet set(2, EndpointOptions{.eject_after = 3, .cooldown_s = 2}, &clock);
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(set.healthy(0));
    int ep = set.Pick(1);
    ASSERT_EQ(ep, 0);
    set.Release(ep, false, /*connect_failure=*/true);
  }
  EXPECT_FALSE(set.healthy(0));
  EXPECT_EQ(set.healthy_count(), 1);
  for (int i = 0; i < 5; ++i) {
    int ep = set.Pick();
    EXPECT_EQ(ep, 1);
    set.Release(ep, true, false);
  }
}

TEST(EndpointSet, ResetsTheFailureCountOnSuccess) {
  ManualClock clock;
  EndpointSet set(1, EndpointOptions{.eject_after = 3}, &clock);
  for (int i = 0; i < 10; ++i) {
    set.Release(set.Pick(), false, true);
    set.Release(set.Pick(), false, true);
    set.Release(set.Pick(), true, false);
  }
  EXPECT_TRUE(set.healthy(0));
}

TEST(EndpointSet, ProbesBackAfterTheCooldown) {
  ManualClock clock;
  EndpointSet set(1, EndpointOptions{.eject_after = 1, .cooldown_s = 2, .max_cooldown_s = 60},
                  &clock);
  set.Release(set.Pick(), false, true);
  EXPECT_FALSE(set.healthy(0));
  EXPECT_EQ(set.Pick(), -1);  // all out, nothing due
  EXPECT_NEAR(set.seconds_to_next_probe(), 2.0, 1e-9);
  clock.Advance(milliseconds(2001));
  int probe = set.Pick();
  ASSERT_EQ(probe, 0);
  EXPECT_EQ(set.Pick(), -1);  // one probe at a time
  // The probe fails: out again, for twice as long.
  set.Release(probe, false, true);
  clock.Advance(seconds(3));
  EXPECT_EQ(set.Pick(), -1);
  clock.Advance(seconds(2));
  probe = set.Pick();
  ASSERT_EQ(probe, 0);
  set.Release(probe, true, false);
  EXPECT_TRUE(set.healthy(0));
  EXPECT_EQ(set.Pick(), 0);
}

TEST(EndpointSet, ProbesAnEjectedReplicaWhileAnotherIsHealthy) {
  ManualClock clock;
  EndpointSet set(2, EndpointOptions{.eject_after = 1, .cooldown_s = 1}, &clock);
  ASSERT_EQ(set.Pick(1), 0);
  set.Release(0, false, true);
  EXPECT_EQ(set.Pick(), 1);
  set.Release(1, true, false);
  clock.Advance(seconds(2));
  EXPECT_EQ(set.Pick(), 0);  // the probe
  set.Release(0, true, false);
  EXPECT_TRUE(set.healthy(0));
}

TEST(EndpointSet, AffinityKeepsAKeyOnOneEndpointAndSpreadsKeys) {
  ManualClock clock;
  EndpointSet set(3, EndpointOptions{}, &clock);
  // The same key lands on the same endpoint whatever the others' load.
  for (uint64_t key = 1; key <= 60; ++key) {
    const int first = set.Pick(-1, key, 0);
    for (int k = 0; k < 5; ++k) EXPECT_EQ(set.Pick(-1, key, 0), first) << "key " << key;
    EXPECT_EQ(set.Preferred(key), first);
  }
  // 60 keys over 3 endpoints: each gets some (rendezvous hashing spreads them).
  for (int i = 0; i < 3; ++i) EXPECT_GT(set.outstanding(i), 6 * 6) << "endpoint " << i;
}

TEST(EndpointSet, AffinityFallsBackWhenItsEndpointIsSaturatedOrDown) {
  ManualClock clock;
  EndpointSet set(2, EndpointOptions{.eject_after = 1, .cooldown_s = 1}, &clock);
  const uint64_t key = 12345;
  const int home = set.Preferred(key);
  const int other = 1 - home;
  // A share of 3: three go home, the fourth to the least outstanding (the other).
  for (int k = 0; k < 3; ++k) EXPECT_EQ(set.Pick(-1, key, 3), home);
  EXPECT_EQ(set.Pick(-1, key, 3), other);
  set.Release(home, true, false);
  EXPECT_EQ(set.Pick(-1, key, 3), home);  // room again
  // Its connection cap counts as saturated too.
  set.SetMaxOutstanding(home, 3);
  EXPECT_EQ(set.Pick(-1, key, 0), other);
  set.SetMaxOutstanding(home, 0);
  // An attempt that failed at home is retried elsewhere.
  EXPECT_EQ(set.Pick(home, key, 0), other);
  // Home goes down: the key moves to the other endpoint while it is out.
  set.Release(home, false, true);
  EXPECT_FALSE(set.healthy(home));
  EXPECT_EQ(set.Preferred(key), other);
  EXPECT_EQ(set.Pick(-1, key, 0), other);
  // Once its cool-down ends, the next request probes it, keyed or not, and it comes back.
  clock.Advance(seconds(2));
  EXPECT_EQ(set.Pick(-1, key, 0), home);
  set.Release(home, true, false);
  EXPECT_TRUE(set.healthy(home));
  EXPECT_EQ(set.Pick(-1, key, 0), home);
}

}  // namespace
}  // namespace structflow::client

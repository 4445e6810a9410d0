#include "client/concurrency.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <deque>
#include <string>

#include "client/retry_policy.h"

namespace structflow::client {
namespace {

// A model of a server with `slots` slots that queues the rest, at fixed service time: every
// window of `limit` in-flight requests sees latency service * max(1, limit / slots).
struct QueueingServer {
  int slots;
  double service_s;
  double Latency(int in_flight) const {
    return service_s * std::max(1.0, static_cast<double>(in_flight) / slots);
  }
};

// Runs `windows` rounds: each round sends `limit` attempts and completes them with the model's
// latency (and overload signals from `overload_every`, if > 0).
void Drive(AimdController* c, const QueueingServer& s, int rounds, int overload_every = 0) {
  int n = 0;
  for (int r = 0; r < rounds; ++r) {
    int limit = c->limit();
    std::deque<uint64_t> seqs;
    for (int i = 0; i < limit; ++i) seqs.push_back(c->OnSend(i + 1));
    double lat = s.Latency(limit);
    for (uint64_t seq : seqs) {
      ++n;
      bool overload = overload_every > 0 && n % overload_every == 0;
      c->OnComplete(seq, !overload, overload, lat);
    }
  }
}

TEST(AimdController, StartsAtInitialLimit) {
  AimdController c(AimdOptions{.initial = 12, .min = 1, .max = 100});
  EXPECT_EQ(c.limit(), 12);
  AimdController capped(AimdOptions{.initial = 12, .min = 1, .max = 4});
  EXPECT_EQ(capped.limit(), 4);
}

TEST(AimdController, SettlesAtOrAboveTheServersSlotCount) {
  AimdController c(AimdOptions{.initial = 16, .max = 1024});
  QueueingServer s{64, 0.1};
  Drive(&c, s, 60);
  // Full slots, without a runaway queue.
  EXPECT_GE(c.limit(), 64);
  EXPECT_LE(c.limit(), 64 * 3);
  // Reached quickly: slow start doubles.
  AimdController fast(AimdOptions{.initial = 16, .max = 1024});
  Drive(&fast, s, 4);
  EXPECT_GE(fast.limit(), 64);
}

TEST(AimdController, StaysBoundedOverALongRun) {
  AimdController c(AimdOptions{.initial = 16, .max = 4096});
  QueueingServer s{64, 0.1};
  Drive(&c, s, 2000);
  EXPECT_GE(c.limit(), 32);  // even during a baseline probe, half the limit keeps slots busy
  EXPECT_LE(c.limit(), 64 * 3);
}

TEST(AimdController, BacksOffOnAnOverloadStorm) {
  AimdController c(AimdOptions{.initial = 16, .max = 1024});
  QueueingServer s{1000, 0.1};
  Drive(&c, s, 6);
  int before = c.limit();
  ASSERT_GE(before, 256);
  Drive(&c, s, 3, /*overload_every=*/1);  // every answer a 429
  EXPECT_LE(c.limit(), before / 8);
  EXPECT_FALSE(c.slow_start());
}

TEST(AimdController, SporadicOverloadCostsLittle) {
  AimdController c(AimdOptions{.initial = 16, .max = 1024});
  QueueingServer s{64, 0.1};
  Drive(&c, s, 100, /*overload_every=*/50);  // 2% 429s
  EXPECT_GE(c.limit(), 48);
}

TEST(AimdController, ABackgroundOfRandom429sDoesNotCollapseTheLimit) {
  AimdController c(AimdOptions{.initial = 16, .max = 1024});
  QueueingServer s{64, 0.1};
  Drive(&c, s, 200, /*overload_every=*/10);  // 10% 429s whatever the load
  EXPECT_GE(c.limit(), 40);
  EXPECT_LE(c.limit(), 64 * 3);
}

TEST(AimdController, DoesNotGrowWhenTheLimitIsNotUsed) {
  AimdController c(AimdOptions{.initial = 16, .max = 1024});
  for (int r = 0; r < 20; ++r) {
    for (int i = 0; i < 16; ++i) {
      uint64_t seq = c.OnSend(2);  // the application keeps only 2 in flight
      c.OnComplete(seq, true, false, 0.1);
    }
  }
  EXPECT_EQ(c.limit(), 16);
}

TEST(AimdController, IgnoresAnswersToAttemptsSentBeforeTheWindow) {
  AimdController c(AimdOptions{.initial = 16, .max = 1024});
  std::deque<uint64_t> old;
  for (int i = 0; i < 16; ++i) old.push_back(c.OnSend(i + 1));
  for (uint64_t seq : old) c.OnComplete(seq, true, false, 0.1);  // one window: doubles
  ASSERT_EQ(c.limit(), 32);
  // Late 429s for attempts of the previous window do not count in the new one.
  uint64_t windows = c.windows();
  for (uint64_t seq : old) c.OnComplete(seq, false, true, 0.1);
  EXPECT_EQ(c.windows(), windows);
  EXPECT_EQ(c.limit(), 32);
}

TEST(AimdController, RespectsMinAndMax) {
  AimdController c(AimdOptions{.initial = 4, .min = 2, .max = 8});
  QueueingServer s{1000, 0.1};
  Drive(&c, s, 20);
  EXPECT_EQ(c.limit(), 8);
  Drive(&c, s, 20, 1);
  EXPECT_EQ(c.limit(), 2);
}

TEST(AimdController, ServerLoadDoublesWhileNothingWaitsAndTheLimitIsUsed) {
  AimdController c(AimdOptions{.initial = 64, .max = 1024});
  c.OnServerLoad(/*running=*/64, /*waiting=*/0, /*in_flight=*/64);
  EXPECT_TRUE(c.follows_server_load());
  EXPECT_EQ(c.limit(), 128);
  // Not used (the client cannot supply more): hold.
  c.OnServerLoad(100, 0, 100);
  EXPECT_EQ(c.limit(), 128);
  c.OnServerLoad(128, 0, 128);
  EXPECT_EQ(c.limit(), 256);
  c.OnServerLoad(256, 0, 256);
  EXPECT_EQ(c.limit(), 512);
  // A small queue (within twice the reserve of max(4, running / 8)) is what keeps slots full.
  c.OnServerLoad(256, 60, 316);
  EXPECT_EQ(c.limit(), 512);
}

TEST(AimdController, ServerLoadTrimsAQueueFromWhatIsInFlight) {
  AimdController c(AimdOptions{.initial = 512, .max = 1024});
  // 256 slots full, 256 waiting: keep running + reserve (32) in flight.
  c.OnServerLoad(256, 256, 512);
  EXPECT_EQ(c.limit(), 288);
  // The next report still sees requests above the limit finishing: no second cut below.
  c.OnServerLoad(256, 221, 477);
  EXPECT_EQ(c.limit(), 288);
  // Never below the minimum.
  c.OnServerLoad(1, 900, 10);
  EXPECT_EQ(c.limit(), 1);
}

TEST(AimdController, ServerLoadReplacesTheLatencySignalUntilLost) {
  // A batch that slows as it fills doubles the latency: the latency signal would shrink the
  // limit, the server's report of an empty queue keeps it.
  AimdController c(AimdOptions{.initial = 64, .max = 1024});
  c.OnServerLoad(64, 0, 64);
  ASSERT_EQ(c.limit(), 128);
  QueueingServer slow{8, 0.1};  // latency x16 at 128 in flight
  Drive(&c, slow, 20);
  EXPECT_EQ(c.limit(), 128);
  EXPECT_FALSE(c.probing());
  // Flat latency does not grow it either (only the server's reports do).
  Drive(&c, QueueingServer{1024, 0.1}, 20);
  EXPECT_EQ(c.limit(), 128);
  // Overload still shrinks it.
  Drive(&c, slow, 2, /*overload_every=*/2);
  EXPECT_LT(c.limit(), 128);
  c.OnServerLoadLost();
  EXPECT_FALSE(c.follows_server_load());
  // Latency rules again: with room on the server (flat latency) the limit grows.
  int before = c.limit();
  Drive(&c, QueueingServer{1024, 0.1}, 10);
  EXPECT_GT(c.limit(), before);
}

}  // namespace
}  // namespace structflow::client

namespace structflow::client {
namespace {

// A fluid model of a server with `slots` slots and a queue, polled every half service time: per
// poll the client refills what is in flight up to its limit, the server reports its queue, and
// half of the running requests finish. `hang_share` of the finished ones end as timeouts instead
// (a hang, which is no overload signal).
struct ConvergenceCase {
  const char* name;
  int server_slots;
  int published_slots;  // SetSlots before the first request (0: the server does not say)
  int initial;
  int max_limit_after;      // the highest limit once converged (requests sent before drain)
  int min_in_flight_after;  // the least in flight, so the batch stays full
  int polls_to_converge;
  double hang_share;
};

class Convergence : public ::testing::TestWithParam<ConvergenceCase> {};

TEST_P(Convergence, FillsTheSlotsWithASmallQueueWithinAFewPolls) {
  const ConvergenceCase& k = GetParam();
  AimdController c(AimdOptions{.initial = k.initial, .max = 1024});
  if (k.published_slots > 0) c.SetSlots(k.published_slots);
  int in_flight = 0;
  std::deque<uint64_t> seqs;
  int finished = 0;
  int peak_limit = 0, low_after = 1 << 30;
  for (int poll = 0; poll < 200; ++poll) {
    while (in_flight < c.limit()) {
      seqs.push_back(c.OnSend(in_flight + 1));
      ++in_flight;
    }
    if (poll >= k.polls_to_converge) {
      peak_limit = std::max(peak_limit, c.limit());
      low_after = std::min(low_after, in_flight);
    }
    const int running = std::min(in_flight, k.server_slots);
    c.OnServerLoad(running, in_flight - running, in_flight);
    const int done = std::max(1, running / 2);
    for (int i = 0; i < done; ++i) {
      ++finished;
      const bool hung = k.hang_share > 0 && finished % static_cast<int>(1 / k.hang_share) == 0;
      AttemptFailure timeout{.kind = ErrorKind::kTimeout};
      c.OnComplete(seqs.front(), !hung, hung && IsOverloadSignal(timeout), 0.2);
      seqs.pop_front();
      --in_flight;
    }
  }
  EXPECT_LE(peak_limit, k.max_limit_after) << k.name;
  EXPECT_GE(low_after, k.min_in_flight_after) << k.name;
}

INSTANTIATE_TEST_SUITE_P(
    AimdController, Convergence,
    ::testing::Values(
        // llama.cpp -np 4 publishes its slots: 5 in flight from the first request on, not 64.
        ConvergenceCase{"llama.cpp 4 slots", 4, 4, 64, 5, 4, 0, 0},
        ConvergenceCase{"llama.cpp 1 slot", 1, 1, 64, 2, 1, 0, 0},
        // A 4-slot server that does not publish them: one report trims 64 to 4 + the reserve.
        ConvergenceCase{"4 slots, unpublished", 4, 0, 64, 6, 4, 1, 0},
        // vLLM's 256: doubling from 64, then running + about an eighth waiting.
        ConvergenceCase{"vLLM 256 slots", 256, 0, 64, 256 + 64, 256, 5, 0},
        ConvergenceCase{"1000 slots", 1000, 0, 64, 1000 + 250, 1000, 7, 0},
        ConvergenceCase{"SGLang 48 published", 48, 48, 64, 54, 48, 0, 0},
        // Hangs among the answers (issue 17: the limit fell to 1) leave the limit where it is.
        ConvergenceCase{"256 slots, 5% hangs", 256, 0, 64, 256 + 64, 256, 5, 0.05},
        ConvergenceCase{"4 slots, 20% hangs", 4, 4, 64, 5, 4, 0, 0.2}),
    [](const ::testing::TestParamInfo<ConvergenceCase>& info) {
      std::string name;
      for (const char* p = info.param.name; *p != '\0'; ++p) {
        name += std::isalnum(static_cast<unsigned char>(*p)) ? *p : '_';
      }
      return name;
    });

TEST(AimdController, AQueueReportedBeforeTheFirstRequestStartsSmallAndDoubles) {
  AimdController c(AimdOptions{.initial = 64, .max = 1024});
  c.OnServerLoad(0, 0, 0);
  EXPECT_EQ(c.limit(), AimdController::kQueueStart);
  int in_flight = c.limit();
  for (int report = 0; report < 6; ++report) {
    c.OnServerLoad(in_flight, 0, in_flight);
    in_flight = c.limit();
  }
  EXPECT_EQ(c.limit(), AimdController::kQueueStart << 6);
  // A published size wins: no small start.
  AimdController sized(AimdOptions{.initial = 64, .max = 1024});
  sized.SetSlots(100);
  sized.OnServerLoad(0, 0, 0);
  EXPECT_EQ(sized.limit(), 112);
}

TEST(AimdController, PublishedSlotsCapTheLatencyMode) {
  // Without queue reports, flat latency grows the limit; a published size stops it there.
  AimdController c(AimdOptions{.initial = 64, .max = 1024});
  c.SetSlots(8);
  EXPECT_EQ(c.limit(), 9);
  Drive(&c, QueueingServer{1024, 0.1}, 30);
  EXPECT_EQ(c.limit(), 9);
}

TEST(AimdController, TimeoutsAndCutAnswersDoNotShrinkTheLatencyMode) {
  AimdController c(AimdOptions{.initial = 32, .max = 1024});
  Drive(&c, QueueingServer{1024, 0.1}, 3);
  const int before = c.limit();
  AttemptFailure timeout{.kind = ErrorKind::kTimeout};
  AttemptFailure cut{.kind = ErrorKind::kReset};
  for (int i = 0; i < 4 * before; ++i) {
    uint64_t seq = c.OnSend(1);
    const AttemptFailure& f = i % 2 == 0 ? timeout : cut;
    c.OnComplete(seq, false, IsOverloadSignal(f), 30);
  }
  EXPECT_GE(c.limit(), before);
}

}  // namespace
}  // namespace structflow::client

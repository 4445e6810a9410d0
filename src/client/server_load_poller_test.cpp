#include "client/server_load_poller.h"

#include <gtest/gtest.h>

#include <chrono>

namespace structflow::client {
namespace {

using Mode = LoadModeTracker::Mode;
using std::chrono::milliseconds;

TEST(LoadModeTracker, SaysWhenItFollowsTheQueue) {
  ManualClock clock;
  LoadModeTracker t(/*hold_s=*/3);
  auto s = t.OnLoad(clock.Now(), ServerLoad{4, 2});
  EXPECT_TRUE(s.report);
  EXPECT_EQ(t.mode(), Mode::kQueue);
  EXPECT_NE(s.log.find("follows the server's queue (4 running, 2 waiting)"), std::string::npos);
  // Said once, not on every report.
  EXPECT_TRUE(t.OnLoad(clock.Now(), ServerLoad{4, 1}).log.empty());
}

TEST(LoadModeTracker, KeepsTheQueueModeThroughShortOutagesThenSaysWhy) {
  ManualClock clock;
  LoadModeTracker t(3);
  t.OnLoad(clock.Now(), ServerLoad{4, 0});
  // Timeouts within the hold: nothing changes, nothing is said, the client keeps its limit.
  for (int i = 0; i < 5; ++i) {
    clock.Advance(milliseconds(500));
    auto s = t.OnFailure(clock.Now(), "http://h/metrics: no answer within 1 s", false);
    EXPECT_FALSE(s.lost);
    EXPECT_FALSE(s.report);
    EXPECT_TRUE(s.log.empty());
    EXPECT_EQ(t.mode(), Mode::kQueue);
  }
  // A report in between starts the hold again.
  t.OnLoad(clock.Now(), ServerLoad{4, 0});
  clock.Advance(milliseconds(2900));
  EXPECT_FALSE(t.OnFailure(clock.Now(), "x", false).lost);
  clock.Advance(milliseconds(2900));
  EXPECT_FALSE(t.OnFailure(clock.Now(), "x", false).lost);
  clock.Advance(milliseconds(200));
  auto lost = t.OnFailure(clock.Now(), "http://h/metrics: no answer within 1 s", false);
  EXPECT_TRUE(lost.lost);
  EXPECT_EQ(t.mode(), Mode::kLatency);
  EXPECT_NE(lost.log.find("follows latency"), std::string::npos);
  EXPECT_NE(lost.log.find("http://h/metrics: no answer within 1 s"), std::string::npos);
  EXPECT_TRUE(t.keep_polling());
  // Said once.
  clock.Advance(milliseconds(5000));
  EXPECT_TRUE(t.OnFailure(clock.Now(), "x", false).log.empty());
  // Back: reported and said, with what it had lost.
  auto back = t.OnLoad(clock.Now(), ServerLoad{3, 0});
  EXPECT_TRUE(back.report);
  EXPECT_EQ(t.mode(), Mode::kQueue);
  EXPECT_NE(back.log.find("again"), std::string::npos);
  EXPECT_NE(back.log.find("no answer within 1 s"), std::string::npos);
}

TEST(LoadModeTracker, AServerWithoutAQueueIsNotAskedAgain) {
  ManualClock clock;
  LoadModeTracker t(3);
  auto s = t.OnFailure(clock.Now(), "http://h/metrics answered HTTP 404", true);
  EXPECT_EQ(t.mode(), Mode::kLatency);
  EXPECT_FALSE(s.lost);  // never had it
  EXPECT_NE(s.log.find("HTTP 404"), std::string::npos);
  EXPECT_NE(s.log.find("--concurrency"), std::string::npos);
  EXPECT_FALSE(t.keep_polling());
}

TEST(LoadModeTracker, AServerSlowToAnswerAtFirstGetsTheHold) {
  ManualClock clock;
  LoadModeTracker t(3);
  EXPECT_TRUE(t.OnFailure(clock.Now(), "timeout", false).log.empty());
  EXPECT_EQ(t.mode(), Mode::kUnknown);
  clock.Advance(milliseconds(3000));
  auto s = t.OnFailure(clock.Now(), "timeout", false);
  EXPECT_EQ(t.mode(), Mode::kLatency);
  EXPECT_FALSE(s.lost);
  EXPECT_FALSE(s.log.empty());
  EXPECT_TRUE(t.keep_polling());
}

}  // namespace
}  // namespace structflow::client

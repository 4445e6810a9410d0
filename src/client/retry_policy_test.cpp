#include "client/retry_policy.h"

#include <gtest/gtest.h>

#include <chrono>

namespace structflow::client {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

AttemptFailure Http(int status, std::optional<double> retry_after = std::nullopt) {
  AttemptFailure f;
  f.kind = ErrorKind::kHttpStatus;
  f.http_status = status;
  f.retry_after_s = retry_after;
  return f;
}

AttemptFailure Kind(ErrorKind kind) {
  AttemptFailure f;
  f.kind = kind;
  return f;
}

TEST(RetryPolicy, RetriesTransientHttpStatuses) {
  for (int s : {408, 409, 429, 500, 502, 503, 504, 599}) {
    EXPECT_TRUE(IsRetryable(Http(s))) << s;
  }
}

TEST(RetryPolicy, NeverRetriesClientErrors) {
  for (int s : {400, 401, 403, 404, 405, 413, 422, 451}) {
    EXPECT_FALSE(IsRetryable(Http(s))) << s;
  }
}

TEST(RetryPolicy, RetriesTransportFailuresButNotPermanentOnes) {
  EXPECT_TRUE(IsRetryable(Kind(ErrorKind::kConnect)));
  EXPECT_TRUE(IsRetryable(Kind(ErrorKind::kTimeout)));
  EXPECT_TRUE(IsRetryable(Kind(ErrorKind::kReset)));
  EXPECT_TRUE(IsRetryable(Kind(ErrorKind::kInvalidResponse)));
  EXPECT_FALSE(IsRetryable(Kind(ErrorKind::kCancelled)));
  AttemptFailure tls = Kind(ErrorKind::kConnect);
  tls.permanent = true;
  EXPECT_FALSE(IsRetryable(tls));
}

TEST(RetryPolicy, NeverRetriesAnAnswerThatSaysItIsDeterministic) {
  AttemptFailure f = Http(500);  // llama.cpp's "image input is not supported"
  f.deterministic = true;
  EXPECT_FALSE(IsRetryable(f));
  RetryPolicy p;
  auto now = Clock::TimePoint{};
  EXPECT_FALSE(p.Decide(f, 1, 0, now, now + seconds(600), 0.5).retry);
}

TEST(RetryPolicy, OverloadSignalsAre429And503NotHangsOrCuts) {
  EXPECT_TRUE(IsOverloadSignal(Http(429)));
  EXPECT_TRUE(IsOverloadSignal(Http(503)));
  EXPECT_FALSE(IsOverloadSignal(Kind(ErrorKind::kTimeout)));
  EXPECT_FALSE(IsOverloadSignal(Kind(ErrorKind::kInvalidResponse)));
  EXPECT_FALSE(IsOverloadSignal(Http(500)));
  EXPECT_FALSE(IsOverloadSignal(Kind(ErrorKind::kReset)));
}

TEST(RetryPolicy, BackoffIsFullJitterUnderAnExponentialCap) {
  RetryPolicy p(RetryOptions{.max_attempts = 10, .base_delay_s = 0.5, .max_delay_s = 4});
  EXPECT_EQ(p.Backoff(1, 0.0), Clock::Duration(0));
  EXPECT_EQ(p.Backoff(1, 0.5), milliseconds(250));
  EXPECT_EQ(p.Backoff(2, 0.5), milliseconds(500));
  EXPECT_EQ(p.Backoff(3, 0.5), milliseconds(1000));
  EXPECT_EQ(p.Backoff(4, 1.0), seconds(4));
  EXPECT_EQ(p.Backoff(9, 1.0), seconds(4));  // capped
  EXPECT_EQ(p.Backoff(60, 0.25), seconds(1));
}

TEST(RetryPolicy, HonoursRetryAfterOn429) {
  ManualClock clock;
  RetryPolicy p(RetryOptions{.max_attempts = 5, .base_delay_s = 0.1, .max_delay_s = 1});
  auto now = clock.Now();
  auto d = p.Decide(Http(429, 7.0), 1, 0, now, now + seconds(600), 0.9);
  ASSERT_TRUE(d.retry);
  EXPECT_EQ(d.delay, seconds(7));
  // Backoff longer than Retry-After wins.
  auto d2 = p.Decide(Http(503, 0.001), 1, 0, now, now + seconds(600), 1.0);
  ASSERT_TRUE(d2.retry);
  EXPECT_EQ(d2.delay, milliseconds(100));
}

TEST(RetryPolicy, StopsAfterMaxAttempts) {
  ManualClock clock;
  RetryPolicy p(RetryOptions{.max_attempts = 3});
  auto now = clock.Now();
  EXPECT_TRUE(p.Decide(Http(500), 2, 0, now, now + seconds(600), 0.5).retry);
  auto d = p.Decide(Http(500), 3, 0, now, now + seconds(600), 0.5);
  EXPECT_FALSE(d.retry);
  EXPECT_EQ(d.reason, "after 3 attempts");
}

TEST(RetryPolicy, StopsAtTheRowDeadline) {
  ManualClock clock;
  RetryPolicy p(RetryOptions{.max_attempts = 10, .base_delay_s = 1, .max_delay_s = 10});
  auto deadline = clock.Now() + seconds(5);
  clock.Advance(seconds(4));
  // Retry-After of 2 s would start the retry after the deadline.
  auto d = p.Decide(Http(429, 2.0), 1, 0, clock.Now(), deadline, 0.0);
  EXPECT_FALSE(d.retry);
  EXPECT_EQ(d.reason, "row deadline reached");
  EXPECT_TRUE(p.Decide(Http(429, 0.5), 1, 0, clock.Now(), deadline, 0.0).retry);
}

TEST(RetryPolicy, LimitsInvalidResponses) {
  ManualClock clock;
  RetryPolicy p(RetryOptions{.max_attempts = 10, .max_invalid_response_attempts = 2});
  auto now = clock.Now();
  EXPECT_TRUE(p.Decide(Kind(ErrorKind::kInvalidResponse), 1, 1, now, now + seconds(60), 0).retry);
  EXPECT_FALSE(p.Decide(Kind(ErrorKind::kInvalidResponse), 2, 2, now, now + seconds(60), 0).retry);
}

TEST(RetryPolicy, InvalidResponsesGetMaxAttemptsByDefault) {
  // A 200 with a garbage body is a passing failure like a reset: --max-attempts applies.
  ManualClock clock;
  RetryPolicy p(RetryOptions{.max_attempts = 6});
  auto now = clock.Now();
  EXPECT_TRUE(p.Decide(Kind(ErrorKind::kInvalidResponse), 5, 5, now, now + seconds(60), 0).retry);
  auto d = p.Decide(Kind(ErrorKind::kInvalidResponse), 6, 6, now, now + seconds(60), 0);
  EXPECT_FALSE(d.retry);
  EXPECT_EQ(d.reason, "after 6 attempts");
}

TEST(RetryPolicy, DoesNotRetry404) {
  ManualClock clock;
  RetryPolicy p;
  auto d = p.Decide(Http(404), 1, 0, clock.Now(), clock.Now() + seconds(60), 0.5);
  EXPECT_FALSE(d.retry);
  EXPECT_EQ(d.reason, "not retryable");
}

TEST(RetryAfter, ParsesSeconds) {
  EXPECT_EQ(ParseRetryAfter("120", 0), 120.0);
  EXPECT_EQ(ParseRetryAfter(" 3 \r\n", 0), 3.0);
  EXPECT_EQ(ParseRetryAfter("0", 0), 0.0);
  EXPECT_DOUBLE_EQ(*ParseRetryAfter("1.5", 0), 1.5);
}

TEST(RetryAfter, ParsesHttpDates) {
  // Sun, 06 Nov 1994 08:49:37 GMT is 784111777.
  const std::time_t t = 784111777;
  EXPECT_EQ(ParseRetryAfter("Sun, 06 Nov 1994 08:49:37 GMT", t - 30), 30.0);
  EXPECT_EQ(ParseRetryAfter("Sunday, 06-Nov-94 08:49:37 GMT", t - 10), 10.0);
  EXPECT_EQ(ParseRetryAfter("Sun Nov  6 08:49:37 1994", t - 5), 5.0);
  // A date in the past means "now".
  EXPECT_EQ(ParseRetryAfter("Sun, 06 Nov 1994 08:49:37 GMT", t + 100), 0.0);
}

TEST(RetryAfter, RejectsGarbage) {
  EXPECT_FALSE(ParseRetryAfter("", 0));
  EXPECT_FALSE(ParseRetryAfter("soon", 0));
  EXPECT_FALSE(ParseRetryAfter("-5", 0));
  EXPECT_FALSE(ParseRetryAfter("1.2.3", 0));
}

}  // namespace
}  // namespace structflow::client

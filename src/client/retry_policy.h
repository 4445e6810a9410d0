// When a failed attempt is tried again, and after how long. Pure logic (no I/O, no clock of its
// own) so tests drive it with ManualClock time points and fixed jitter.
//
// Retried: connection failures, timeouts, resets, HTTP 408, 409, 429 and every 5xx; a 2xx whose
// body is not a chat completion (kInvalidResponse) a limited number of times. Never retried:
// every other 4xx (400, 401, 403, 404, 422, ...), cancellation, permanent transport errors
// (bad URL, TLS certificate rejected), and answers whose body says they are deterministic
// (AttemptFailure::deterministic, from ClassifyHttpError: e.g. llama.cpp's HTTP 500 for images).
// Delays are exponential backoff with full jitter, at least the server's Retry-After, and never
// past the row's deadline. Thread-safety: RetryPolicy is immutable after construction; share it
// freely.
#pragma once

#include <cstdint>
#include <ctime>
#include <optional>
#include <string>
#include <string_view>

#include "common/clock.h"
#include "common/row_error.h"

namespace structflow::client {

struct RetryOptions {
  int max_attempts = 5;        // attempts per row, the first one included
  double base_delay_s = 0.25;  // backoff cap before the 2nd attempt; doubles after
  double max_delay_s = 30;     // backoff cap
  // A broken 2xx body is tried at most this many times; 0: max_attempts, like any other passing
  // failure (`--max-attempts` is what a user sets; a lower hidden cap surprised them).
  int max_invalid_response_attempts = 0;
};

// How one attempt failed.
struct AttemptFailure {
  ErrorKind kind = ErrorKind::kNone;
  int http_status = 0;     // 0 when no HTTP answer came
  bool permanent = false;  // transport errors that cannot heal (bad URL, TLS)
  // The server's answer says the same request fails the same way again (ClassifyHttpError):
  // images to a text-only model, context overflow, an unknown model, whatever the status.
  bool deterministic = false;
  std::optional<double> retry_after_s;  // the server's Retry-After, when it sent one
};

// True for HTTP statuses worth another attempt: 408, 409, 429 and 5xx.
bool IsRetryableHttpStatus(int status);
// True when a failure of this kind and status may be retried at all (attempt limits aside).
bool IsRetryable(const AttemptFailure& failure);
// True for the signals that mean "the server is overloaded": 429 and 503. The adaptive
// concurrency controller backs off on them. Not a timeout: a request that hangs (a stuck
// generation, a lost connection) says nothing about the load, and backing off on hangs once
// took the limit down to 1 for 100 s (issue 17); a queue that grows shows in the server's
// /metrics or in the latency long before requests time out.
bool IsOverloadSignal(const AttemptFailure& failure);

// Parses a Retry-After header value: delay-seconds ("120", fractions accepted) or an HTTP date
// (IMF-fixdate, RFC 850 or asctime). Returns seconds from `now_unix` (0 for a date in the past),
// or nothing when the value is malformed.
std::optional<double> ParseRetryAfter(std::string_view value, std::time_t now_unix);

class RetryPolicy {
 public:
  explicit RetryPolicy(RetryOptions options = {});

  struct Decision {
    bool retry = false;
    Clock::Duration delay{0};
    // Why not, when retry is false: "not retryable", "after 5 attempts", "row deadline".
    std::string reason;
  };

  // The backoff before attempt `attempts_done + 1`: uniform in [0, min(max, base * 2^(n-1)))
  // with `unit` (uniform in [0, 1)) as the jitter draw.
  Clock::Duration Backoff(int attempts_done, double unit) const;

  // Decides after attempt number `attempts_done` (1-based) failed with `failure`.
  // `invalid_responses` counts the attempts so far that ended in kInvalidResponse (this one
  // included). The retry must start before `deadline`.
  Decision Decide(const AttemptFailure& failure, int attempts_done, int invalid_responses,
                  Clock::TimePoint now, Clock::TimePoint deadline, double unit) const;

  const RetryOptions& options() const { return options_; }

 private:
  RetryOptions options_;
};

}  // namespace structflow::client

#include "client/retry_policy.h"

#include <curl/curl.h>

#include <algorithm>
#include <cmath>
#include <string>

namespace structflow::client {

bool IsRetryableHttpStatus(int status) {
  return status == 408 || status == 409 || status == 429 || (status >= 500 && status <= 599);
}

bool IsRetryable(const AttemptFailure& failure) {
  if (failure.permanent || failure.deterministic) return false;
  switch (failure.kind) {
    case ErrorKind::kConnect:
    case ErrorKind::kTimeout:
    case ErrorKind::kReset:
    case ErrorKind::kInvalidResponse:
      return true;
    case ErrorKind::kHttpStatus:
      return IsRetryableHttpStatus(failure.http_status);
    default:
      return false;
  }
}

bool IsOverloadSignal(const AttemptFailure& failure) {
  return failure.kind == ErrorKind::kHttpStatus &&
         (failure.http_status == 429 || failure.http_status == 503);
}

std::optional<double> ParseRetryAfter(std::string_view value, std::time_t now_unix) {
  while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
  while (!value.empty() && (value.back() == ' ' || value.back() == '\t' || value.back() == '\r' ||
                            value.back() == '\n')) {
    value.remove_suffix(1);
  }
  if (value.empty()) return std::nullopt;
  bool numeric = true;
  int dots = 0;
  for (char c : value) {
    if (c == '.') {
      ++dots;
    } else if (c < '0' || c > '9') {
      numeric = false;
      break;
    }
  }
  if (numeric) {
    if (dots > 1 || value == ".") return std::nullopt;
    double s = std::strtod(std::string(value).c_str(), nullptr);
    if (!std::isfinite(s) || s < 0) return std::nullopt;
    return s;
  }
  // An HTTP date. curl_getdate understands the three formats RFC 9110 allows.
  std::string text(value);
  time_t when = curl_getdate(text.c_str(), nullptr);
  if (when == -1) return std::nullopt;
  double delta = std::difftime(when, now_unix);
  return delta > 0 ? delta : 0.0;
}

RetryPolicy::RetryPolicy(RetryOptions options) : options_(options) {
  options_.max_attempts = std::max(1, options_.max_attempts);
  if (options_.max_invalid_response_attempts <= 0) {
    options_.max_invalid_response_attempts = options_.max_attempts;
  }
  options_.base_delay_s = std::max(0.0, options_.base_delay_s);
  options_.max_delay_s = std::max(options_.base_delay_s, options_.max_delay_s);
}

Clock::Duration RetryPolicy::Backoff(int attempts_done, double unit) const {
  int n = std::clamp(attempts_done, 1, 62);
  double cap = std::min(options_.max_delay_s, options_.base_delay_s * std::ldexp(1.0, n - 1));
  unit = std::clamp(unit, 0.0, 1.0);
  return std::chrono::duration_cast<Clock::Duration>(std::chrono::duration<double>(cap * unit));
}

RetryPolicy::Decision RetryPolicy::Decide(const AttemptFailure& failure, int attempts_done,
                                          int invalid_responses, Clock::TimePoint now,
                                          Clock::TimePoint deadline, double unit) const {
  Decision d;
  if (!IsRetryable(failure)) {
    d.reason = "not retryable";
    return d;
  }
  if (attempts_done >= options_.max_attempts) {
    d.reason = "after " + std::to_string(attempts_done) + " attempts";
    return d;
  }
  if (failure.kind == ErrorKind::kInvalidResponse &&
      invalid_responses >= options_.max_invalid_response_attempts) {
    d.reason = "after " + std::to_string(invalid_responses) + " invalid responses";
    return d;
  }
  Clock::Duration delay = Backoff(attempts_done, unit);
  if (failure.retry_after_s) {
    auto ra = std::chrono::duration_cast<Clock::Duration>(
        std::chrono::duration<double>(std::min(*failure.retry_after_s, 1e7)));
    delay = std::max(delay, ra);
  }
  if (now + delay >= deadline) {
    d.reason = "row deadline reached";
    return d;
  }
  d.retry = true;
  d.delay = delay;
  return d;
}

}  // namespace structflow::client

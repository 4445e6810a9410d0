// A monotonic clock that tests can replace. Production code takes a `Clock*` (default:
// SystemClock()) instead of calling std::chrono directly wherever timing affects behaviour
// (retries, backoff, timeouts, rates), so tests can drive time by hand with ManualClock.
// Thread-safety: every method may be called from any thread.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>

namespace structflow {

class Clock {
 public:
  using Duration = std::chrono::nanoseconds;
  using TimePoint = std::chrono::time_point<std::chrono::steady_clock, Duration>;
  virtual ~Clock() = default;
  virtual TimePoint Now() const = 0;
};

// The process-wide steady clock.
Clock* SystemClock();

// A clock that moves only when told to. Safe to read from any thread while a test advances it.
class ManualClock : public Clock {
 public:
  explicit ManualClock(TimePoint start = TimePoint(Duration(1'000'000'000)))
      : now_(start.time_since_epoch().count()) {}
  TimePoint Now() const override {
    return TimePoint(Duration(now_.load(std::memory_order_acquire)));
  }
  void Advance(Duration d) { now_.fetch_add(d.count(), std::memory_order_acq_rel); }
  void Set(TimePoint t) { now_.store(t.time_since_epoch().count(), std::memory_order_release); }

 private:
  std::atomic<int64_t> now_;
};

// Seconds between two time points, as a double (for rates and reports).
inline double SecondsBetween(Clock::TimePoint a, Clock::TimePoint b) {
  return std::chrono::duration<double>(b - a).count();
}

}  // namespace structflow

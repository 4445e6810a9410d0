// A bounded multi-producer multi-consumer queue: the only way threads hand work to each other in
// structflow, so memory stays flat whatever the dataset size. Push blocks while the queue is
// full (backpressure); Pop blocks while it is empty. Close() wakes everyone: pushes then fail,
// pops drain what is left and then return nothing.
//
// Hand-offs are what a row costs most when the work per row is microseconds, so the queue wakes
// threads sparingly: PushBatch/PopBatch move many items under one lock, a consumer is woken only
// when one waits, and producers blocked on a full queue are woken together once it has drained to
// half its capacity rather than once per item taken (they then refill it in one go).
//
// Thread-safety: every method may be called from any thread.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <mutex>
#include <optional>
#include <vector>

namespace structflow {

template <typename T>
class BoundedQueue {
 public:
  explicit BoundedQueue(size_t capacity) : capacity_(capacity == 0 ? 1 : capacity) {}
  BoundedQueue(const BoundedQueue&) = delete;
  BoundedQueue& operator=(const BoundedQueue&) = delete;

  // Blocks while full. Returns false (and leaves `item` untouched) once the queue is closed.
  bool Push(T& item) {
    std::unique_lock lock(mu_);
    WaitNotFull(lock);
    if (closed_) return false;
    items_.push_back(std::move(item));
    WakeConsumers(lock, 1);
    return true;
  }
  bool Push(T&& item) { return Push(item); }

  // Pushes `items` in order, blocking while the queue is full. Returns how many were pushed: all
  // of them, or fewer once the queue is closed. Pushed items are moved from; `items` keeps its
  // size (clear it before reuse).
  size_t PushBatch(std::vector<T>& items) {
    size_t pushed = 0;
    std::unique_lock lock(mu_);
    while (pushed < items.size()) {
      WaitNotFull(lock);
      if (closed_) break;
      size_t n = 0;
      while (pushed < items.size() && items_.size() < capacity_) {
        items_.push_back(std::move(items[pushed++]));
        ++n;
      }
      WakeConsumers(lock, n);
      if (pushed < items.size()) lock.lock();
    }
    return pushed;
  }

  // Never blocks: false when full or closed.
  bool TryPush(T& item) {
    std::unique_lock lock(mu_);
    if (closed_ || items_.size() >= capacity_) return false;
    items_.push_back(std::move(item));
    WakeConsumers(lock, 1);
    return true;
  }

  // Blocks while empty and open. Returns nothing once closed and drained.
  std::optional<T> Pop() {
    std::unique_lock lock(mu_);
    WaitNotEmpty(lock);
    return TakeLocked(lock);
  }

  // Never blocks.
  std::optional<T> TryPop() {
    std::unique_lock lock(mu_);
    return TakeLocked(lock);
  }

  // Blocks while empty and open, then appends up to `max` items to `out`. Returns how many; 0
  // only once closed and drained.
  size_t PopBatch(std::vector<T>* out, size_t max) {
    std::unique_lock lock(mu_);
    WaitNotEmpty(lock);
    return TakeBatchLocked(lock, out, max);
  }

  // Like PopBatch, but waits at most `timeout` for an item: 0 then, or once closed and drained.
  template <typename Rep, typename Period>
  size_t PopBatchFor(std::vector<T>* out, size_t max, std::chrono::duration<Rep, Period> timeout) {
    const auto until = std::chrono::steady_clock::now() + timeout;
    std::unique_lock lock(mu_);
    while (!closed_ && items_.empty()) {
      ++consumers_waiting_;
      std::cv_status st = not_empty_.wait_until(lock, until);
      --consumers_waiting_;
      if (st == std::cv_status::timeout) break;
    }
    return TakeBatchLocked(lock, out, max);
  }

  // Never blocks: appends up to `max` items to `out` and returns how many.
  size_t TryPopBatch(std::vector<T>* out, size_t max) {
    std::unique_lock lock(mu_);
    return TakeBatchLocked(lock, out, max);
  }

  void Close() {
    {
      std::lock_guard lock(mu_);
      closed_ = true;
    }
    not_full_.notify_all();
    not_empty_.notify_all();
  }

  bool closed() const {
    std::lock_guard lock(mu_);
    return closed_;
  }
  size_t size() const {
    std::lock_guard lock(mu_);
    return items_.size();
  }
  size_t capacity() const { return capacity_; }

 private:
  void WaitNotFull(std::unique_lock<std::mutex>& lock) {
    while (!closed_ && items_.size() >= capacity_) {
      ++producers_waiting_;
      producers_woken_ = false;
      not_full_.wait(lock);
      --producers_waiting_;
    }
  }

  void WaitNotEmpty(std::unique_lock<std::mutex>& lock) {
    while (!closed_ && items_.empty()) {
      ++consumers_waiting_;
      not_empty_.wait(lock);
      --consumers_waiting_;
    }
  }

  // Called with the lock held; releases it.
  void WakeConsumers(std::unique_lock<std::mutex>& lock, size_t added) {
    const int waiting = consumers_waiting_;
    lock.unlock();
    if (waiting == 0 || added == 0) return;
    if (added == 1) {
      not_empty_.notify_one();
    } else {
      not_empty_.notify_all();
    }
  }

  // Called with the lock held, after taking items; releases it. Wakes blocked producers once the
  // queue is down to half (or empty for a queue of one): a wake-up per item taken would cost a
  // context switch per item. `producers_woken_` keeps it to one wake-up until one waits again.
  void WakeProducers(std::unique_lock<std::mutex>& lock) {
    const bool wake = producers_waiting_ > 0 && !producers_woken_ && items_.size() <= capacity_ / 2;
    if (wake) producers_woken_ = true;
    lock.unlock();
    if (wake) not_full_.notify_all();
  }

  std::optional<T> TakeLocked(std::unique_lock<std::mutex>& lock) {
    if (items_.empty()) return std::nullopt;
    std::optional<T> out(std::move(items_.front()));
    items_.pop_front();
    WakeProducers(lock);
    return out;
  }

  size_t TakeBatchLocked(std::unique_lock<std::mutex>& lock, std::vector<T>* out, size_t max) {
    size_t n = 0;
    while (n < max && !items_.empty()) {
      out->push_back(std::move(items_.front()));
      items_.pop_front();
      ++n;
    }
    if (n > 0) {
      WakeProducers(lock);
    } else {
      lock.unlock();
    }
    return n;
  }

  const size_t capacity_;
  mutable std::mutex mu_;
  std::condition_variable not_full_;
  std::condition_variable not_empty_;
  std::deque<T> items_;
  int producers_waiting_ = 0;
  int consumers_waiting_ = 0;
  bool producers_woken_ = false;  // a wake-up is on its way to the waiting producers
  bool closed_ = false;
};

}  // namespace structflow

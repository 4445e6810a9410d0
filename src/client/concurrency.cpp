#include "client/concurrency.h"

#include <algorithm>
#include <cmath>

namespace structflow::client {

AimdController::AimdController(AimdOptions options) : options_(options) {
  options_.min = std::max(1, options_.min);
  options_.max = std::max(options_.min, options_.max);
  options_.min_window = std::max(1, options_.min_window);
  limit_ = std::clamp<double>(options_.initial, options_.min, options_.max);
}

int AimdController::ceiling() const {
  if (slots_ <= 0) return options_.max;
  return std::clamp(slots_ + Reserve(slots_), options_.min, options_.max);
}

void AimdController::SetSlots(int slots) {
  slots_ = std::max(0, slots);
  if (slots_ > 0) {
    // The size is known: no need to find it by doubling.
    limit_ = ceiling();
    slow_start_ = false;
    probing_ = false;
  }
}

void AimdController::StartAt(int slots) {
  if (slots <= 0) return;
  limit_ = std::clamp(slots + Reserve(slots), options_.min, options_.max);
  slow_start_ = false;
  probing_ = false;
}

int AimdController::limit() const {
  double l = probing_ ? std::max<double>(options_.min, limit_ / 2) : limit_;
  return static_cast<int>(l);
}

uint64_t AimdController::OnSend(int in_flight) {
  uint64_t seq = next_seq_++;
  if (seq >= window_start_seq_) peak_in_flight_ = std::max(peak_in_flight_, in_flight);
  return seq;
}

void AimdController::OnComplete(uint64_t seq, bool ok, bool overload, double latency_s) {
  if (seq < window_start_seq_) return;  // sent under an earlier limit
  ++samples_;
  if (overload) ++overloads_;
  if (ok) {
    ++successes_;
    latency_sum_ += latency_s;
  }
  if (samples_ >= std::max(options_.min_window, limit())) EndWindow();
}

void AimdController::StartWindow() {
  window_start_seq_ = next_seq_;
  samples_ = 0;
  successes_ = 0;
  overloads_ = 0;
  latency_sum_ = 0;
  peak_in_flight_ = 0;
}

void AimdController::EndWindow() {
  ++windows_;
  double overload_share = samples_ > 0 ? static_cast<double>(overloads_) / samples_ : 0;
  double mean = successes_ > 0 ? latency_sum_ / successes_ : 0;
  bool used = peak_in_flight_ >= 0.9 * limit();

  if (probing_) {
    // A fresh baseline, measured with half the usual requests in flight.
    probing_ = false;
    if (successes_ > 0) baseline_ = mean;
    windows_since_baseline_ = 0;
    StartWindow();
    return;
  }

  if (successes_ > 0 && (baseline_ == 0 || mean <= baseline_)) {
    baseline_ = mean;
    windows_since_baseline_ = 0;
  } else {
    ++windows_since_baseline_;
  }

  // Overload shrinks the limit in proportion to its share, while healthy latency keeps adding
  // sqrt(limit): a background of sporadic 429s settles the limit where the two balance (share
  // 10%: about 100) instead of ratcheting it down to nothing, and a storm (no successes) halves
  // it every window.
  if (overloads_ > 0) {
    slow_start_ = false;
    limit_ *= std::max(options_.max_decrease, 1.0 - overload_share);
  }
  if (!server_load_ && successes_ > 0 && baseline_ > 0 && overload_share < 0.5) {
    double ratio = (mean + options_.latency_floor_s) / (baseline_ + options_.latency_floor_s);
    if (ratio < options_.grow_below) {
      if (used) limit_ += slow_start_ ? limit_ : std::max(1.0, std::sqrt(limit_));
    } else if (ratio > options_.shrink_above) {
      slow_start_ = false;
      limit_ *= options_.gentle_decrease;
    } else {
      slow_start_ = false;
    }
  }
  limit_ = std::clamp<double>(limit_, options_.min, ceiling());
  if (!server_load_ && windows_since_baseline_ >= options_.probe_every &&
      limit_ >= 2 * options_.min) {
    probing_ = true;
  }
  StartWindow();
}

void AimdController::OnServerLoad(int running, int waiting, int in_flight) {
  if (!server_load_ && in_flight == 0 && slots_ == 0 && seen_batch_ == 0) {
    // The queue will be reported before anything is sent and the size is unknown: start small
    // and double per report, rather than queue `initial` requests on what may be a 4-slot server.
    limit_ = std::min<double>(limit_, kQueueStart);
  }
  server_load_ = true;
  slow_start_ = false;
  probing_ = false;
  // The batch grew past what we saw with a queue: find its size again.
  if (waiting <= 0 && running > seen_batch_ && slots_ == 0) seen_batch_ = 0;
  const int batch = slots_ > 0 ? slots_ : seen_batch_;  // 0: not known yet
  const int reserve = Reserve(std::max(running, batch));
  if (waiting <= 0) {
    if (in_flight >= 0.9 * limit_) {
      // Ours that the server does not count are on their way (a request sent, an answer not yet
      // read) and fill the batch in a moment: only what is in flight below the batch's size is
      // room. Counting running alone, a report taken between one answer and the next request
      // doubled the limit of a 4-slot server.
      if (batch == 0) {
        // The size is unknown: find it in a few reports, once the server has seen what we sent.
        if (running >= 0.9 * in_flight) limit_ *= 2;
      } else if (in_flight < batch) {
        limit_ = std::max(limit_, static_cast<double>(batch + reserve));
      } else {
        limit_ = std::max(limit_, static_cast<double>(running + reserve));
      }
    }
  } else if (waiting > 2 * reserve) {
    // From what is in flight, not from the limit: requests above a lowered limit leave only as
    // they finish, and the next report still counts them.
    limit_ = std::min<double>(limit_, in_flight - (waiting - reserve));
    seen_batch_ = running;
  }
  limit_ = std::clamp<double>(limit_, options_.min, ceiling());
}

void AimdController::OnServerLoadLost() { server_load_ = false; }

}  // namespace structflow::client

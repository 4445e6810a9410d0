#include "client/endpoints.h"

#include <algorithm>
#include <cstdint>
#include <limits>

namespace structflow::client {

EndpointSet::EndpointSet(size_t count, EndpointOptions options, Clock* clock)
    : options_(options), clock_(clock), endpoints_(count) {
  options_.eject_after = std::max(1, options_.eject_after);
}

namespace {

// splitmix64's finaliser: the rendezvous weight of (key, endpoint).
uint64_t Mix(uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

}  // namespace

int EndpointSet::Preferred(uint64_t affinity, int avoid) const {
  int best = -1;
  uint64_t best_weight = 0;
  for (int i = 0; i < static_cast<int>(endpoints_.size()); ++i) {
    if (endpoints_[i].state != State::kHealthy || i == avoid) continue;
    const uint64_t w = Mix(affinity ^ Mix(static_cast<uint64_t>(i) + 1));
    if (best < 0 || w > best_weight) {
      best = i;
      best_weight = w;
    }
  }
  return best;
}

bool EndpointSet::ProbeDue(int avoid) const {
  bool any_out = false;
  for (const Endpoint& e : endpoints_) any_out = any_out || e.state == State::kOut;
  if (!any_out) return false;
  const auto now = clock_->Now();
  for (int i = 0; i < static_cast<int>(endpoints_.size()); ++i) {
    const Endpoint& e = endpoints_[i];
    if (e.state == State::kOut && now >= e.out_until && i != avoid) return true;
  }
  return false;
}

int EndpointSet::Pick(int avoid, uint64_t affinity, int share) {
  const int n = static_cast<int>(endpoints_.size());
  if (affinity != 0 && n > 1 && !ProbeDue(avoid)) {
    // An endpoint due for a probe takes this request below, keyed or not: otherwise a job whose
    // every request has a key would never bring a recovered replica back.
    const int p = Preferred(affinity, avoid);
    if (p >= 0 && !Full(p) && (share <= 0 || endpoints_[p].outstanding < share)) {
      ++endpoints_[p].outstanding;
      return p;
    }
  }
  int best = -1;
  int best_avoided = -1;
  for (int k = 0; k < n; ++k) {
    int i = static_cast<int>((next_ + k) % n);
    const Endpoint& e = endpoints_[i];
    if (e.state != State::kHealthy) continue;
    if (i == avoid) {
      best_avoided = i;
      continue;
    }
    // Endpoints with room under their connection cap first, then the least outstanding.
    if (best < 0 || (!Full(i) && Full(best)) ||
        (Full(i) == Full(best) && e.outstanding < endpoints_[best].outstanding)) {
      best = i;
    }
  }
  if (best < 0 || (Full(best) && best_avoided >= 0 && !Full(best_avoided))) best = best_avoided;
  if (best < 0) {
    // All out: probe one whose cool-down is over, one request at a time.
    auto now = clock_->Now();
    for (int k = 0; k < n; ++k) {
      int i = static_cast<int>((next_ + k) % n);
      Endpoint& e = endpoints_[i];
      if (e.state == State::kOut && now >= e.out_until) {
        e.state = State::kProbing;
        best = i;
        break;
      }
    }
  } else {
    // A healthy endpoint exists; probe the others in the background as their cool-downs end, so
    // a recovered replica comes back without waiting for the healthy ones to fail.
    auto now = clock_->Now();
    for (int k = 0; k < n; ++k) {
      int i = static_cast<int>((next_ + k) % n);
      Endpoint& e = endpoints_[i];
      if (e.state == State::kOut && now >= e.out_until && i != avoid) {
        e.state = State::kProbing;
        best = i;
        break;
      }
    }
  }
  if (best < 0) return -1;
  next_ = (static_cast<size_t>(best) + 1) % endpoints_.size();
  ++endpoints_[best].outstanding;
  return best;
}

void EndpointSet::SetMaxOutstanding(int endpoint, int max_outstanding) {
  endpoints_[endpoint].max_outstanding = std::max(0, max_outstanding);
}

int EndpointSet::total_max_outstanding() const {
  int64_t total = 0;
  for (const Endpoint& e : endpoints_) {
    if (e.max_outstanding == 0) return 0;
    total += e.max_outstanding;
  }
  return static_cast<int>(std::min<int64_t>(total, std::numeric_limits<int>::max()));
}

void EndpointSet::Release(int endpoint, bool success, bool connect_failure) {
  if (endpoint < 0 || endpoint >= static_cast<int>(endpoints_.size())) return;
  Endpoint& e = endpoints_[endpoint];
  if (e.outstanding > 0) --e.outstanding;
  if (success) {
    e.state = State::kHealthy;
    e.consecutive_failures = 0;
    e.cooldown_s = 0;
    return;
  }
  if (!connect_failure) {
    // The endpoint answered at the transport level but the attempt failed otherwise (reset,
    // timeout): not evidence that it is down. A probe that ends so is retried later.
    if (e.state == State::kProbing) {
      e.state = State::kOut;
      e.out_until = clock_->Now() + std::chrono::duration_cast<Clock::Duration>(
                                        std::chrono::duration<double>(e.cooldown_s));
    }
    return;
  }
  ++e.consecutive_failures;
  if (e.state == State::kProbing ||
      (e.state == State::kHealthy && e.consecutive_failures >= options_.eject_after)) {
    e.cooldown_s = e.cooldown_s == 0 ? options_.cooldown_s
                                     : std::min(options_.max_cooldown_s, e.cooldown_s * 2);
    e.state = State::kOut;
    e.out_until = clock_->Now() + std::chrono::duration_cast<Clock::Duration>(
                                      std::chrono::duration<double>(e.cooldown_s));
  }
}

int EndpointSet::healthy_count() const {
  return static_cast<int>(
      std::count_if(endpoints_.begin(), endpoints_.end(),
                    [](const Endpoint& e) { return e.state == State::kHealthy; }));
}

double EndpointSet::seconds_to_next_probe() const {
  auto now = clock_->Now();
  double best = std::numeric_limits<double>::infinity();
  for (const Endpoint& e : endpoints_) {
    if (e.state == State::kHealthy) return 0;
    if (e.state == State::kOut)
      best = std::min(best, std::max(0.0, SecondsBetween(now, e.out_until)));
  }
  return best;
}

}  // namespace structflow::client

// Several endpoints (replicas serving one model): which one gets the next attempt, and which are
// out of service.
//
// Selection is by least outstanding requests among healthy endpoints (ties broken round-robin),
// avoiding the endpoint the previous attempt failed on when another is healthy. After
// `eject_after` consecutive connection failures an endpoint is taken out for a cool-down
// (doubling on each failed probe, up to `max_cooldown`); once the cool-down is over, one request
// at a time probes it, and a success brings it back. When every endpoint is out and none is due
// for a probe, Pick returns -1: the attempt fails as a connection error. An endpoint may have a
// cap on outstanding requests (the connections its server can serve, SetMaxOutstanding): Pick
// prefers endpoints under their cap; the client keeps its limit within the caps' sum, so the
// cap holds whenever every endpoint is healthy.
//
// Affinity: a request may carry a key (the engine uses a hash of the row's image), and requests
// with the same key go to the same endpoint, so the server's prefix cache there holds what they
// share (vLLM's hashed blocks, SGLang's radix tree: a prefix is reused only on the replica that
// computed it). The endpoint is the key's highest-weight healthy one (rendezvous hashing: when
// an endpoint is taken out, only its keys move, each to its own second choice). When that
// endpoint is saturated (its share of the client's limit, or its connection cap, is taken) or is
// the one to avoid, the request falls back to the least outstanding, as one without a key.
// Thread-safety: not thread-safe; the client's I/O thread owns it.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/clock.h"

namespace structflow::client {

struct EndpointOptions {
  int eject_after = 3;  // consecutive connection failures that take an endpoint out
  double cooldown_s = 2;
  double max_cooldown_s = 60;
};

class EndpointSet {
 public:
  EndpointSet(size_t count, EndpointOptions options, Clock* clock);

  // The endpoint for the next attempt, or -1 when all are out. `avoid` (or -1) is the endpoint
  // the previous attempt of this request failed on. `affinity` (0: none) is the request's key;
  // `share` (0: no limit) is how many outstanding requests an endpoint takes before a keyed
  // request falls back to the least outstanding. Counts the attempt as outstanding.
  int Pick(int avoid = -1, uint64_t affinity = 0, int share = 0);
  // The healthy endpoint `affinity` prefers (ignoring load), or -1 when none is healthy.
  int Preferred(uint64_t affinity, int avoid = -1) const;
  // The attempt on `endpoint` ended. `connect_failure`: the endpoint could not be reached (refused,
  // DNS, connect timeout); `success`: any HTTP answer at all (even a 500 shows it is up).
  void Release(int endpoint, bool success, bool connect_failure);

  // At most `max_outstanding` requests at once on `endpoint` (0: no cap).
  void SetMaxOutstanding(int endpoint, int max_outstanding);
  // The sum of the caps, or 0 when some endpoint has none.
  int total_max_outstanding() const;

  size_t size() const { return endpoints_.size(); }
  int outstanding(int endpoint) const { return endpoints_[endpoint].outstanding; }
  bool healthy(int endpoint) const { return endpoints_[endpoint].state == State::kHealthy; }
  int healthy_count() const;
  // Seconds until the next endpoint may be probed (0 when one is healthy or due now).
  double seconds_to_next_probe() const;

 private:
  enum class State { kHealthy, kOut, kProbing };
  struct Endpoint {
    State state = State::kHealthy;
    int outstanding = 0;
    int max_outstanding = 0;  // 0: no cap
    int consecutive_failures = 0;
    double cooldown_s = 0;
    Clock::TimePoint out_until{};
  };

  // An endpoint out of service whose cool-down is over (other than `avoid`).
  bool ProbeDue(int avoid) const;
  bool Full(int i) const {
    const Endpoint& e = endpoints_[i];
    return e.max_outstanding > 0 && e.outstanding >= e.max_outstanding;
  }

  EndpointOptions options_;
  Clock* clock_;
  std::vector<Endpoint> endpoints_;
  size_t next_ = 0;  // round-robin start for ties
};

}  // namespace structflow::client

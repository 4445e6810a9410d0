// Adaptive concurrency: how many requests to keep in flight so that a server's slots stay full
// without drowning it, with no tuning by the user.
//
// The controller works in windows of completions of attempts sent since the window began (so
// every window judges one setting of the limit). At each window's end:
// - overload signals (429, 503, timeouts) shrink the limit multiplicatively, in proportion to
//   their share of the window (at most halving it), so sporadic faults cost little and a storm
//   backs off fast;
// - mean latency of successful attempts is compared with the baseline (the lowest window mean):
//   below `grow_below` times the baseline the limit grows (doubling in slow start, then adding
//   sqrt(limit)) as long as the limit was actually used; above `shrink_above` it shrinks gently;
//   between, it holds. A server that queues requests beyond its slots (vLLM) shows rising
//   latency once the limit passes its slot count, so the limit settles a little above it.
// - every `probe_every` windows without a new baseline, one window runs at half the limit to
//   measure the latency afresh, so a server that became slower for good (longer prompts) does not
//   leave the limit shrinking against a stale baseline.
// When the server reports its own queue (vLLM's /metrics: requests running in the batch and
// requests waiting for a slot), that replaces the latency signal, which cannot tell a fuller batch
// (every decoding step slows as the batch grows) from a queue: see OnServerLoad.
// When the server publishes how many requests it runs at once (SetSlots: llama.cpp's
// total_slots, SGLang's max_running_requests), the limit starts there plus a small reserve and
// never goes above it, in either mode: more would only wait in the server's queue (a 4-slot
// server gets 5, not 64). Only 429 and 503 are overload: a request that hangs until it times
// out, or an answer cut short, says nothing about load and leaves the limit alone.
// Thread-safety: not thread-safe; the client's I/O thread owns it.
#pragma once

#include <cstdint>

namespace structflow::client {

struct AimdOptions {
  int initial = 16;
  int min = 1;
  int max = 1024;
  int min_window = 16;        // completions per window, at least (else the limit)
  double grow_below = 1.5;    // latency / baseline under which the limit grows
  double shrink_above = 2.5;  // latency / baseline over which the limit shrinks gently
  double gentle_decrease = 0.9;
  double max_decrease = 0.5;  // the strongest multiplicative decrease per window
  int probe_every = 50;       // windows between baseline probes
  // Added to both latencies before comparing them: below a few milliseconds latency is noise
  // (the client's own turnaround), and queueing that short is not worth controlling.
  double latency_floor_s = 0.005;
};

class AimdController {
 public:
  explicit AimdController(AimdOptions options = {});

  // The number of requests that may be in flight now.
  int limit() const;
  // Call when an attempt is sent; `in_flight` counts it. Returns its sequence number.
  uint64_t OnSend(int in_flight);
  // Call when an attempt ends. `overload` is 429/503 (IsOverloadSignal); `ok` a usable answer whose
  // latency (seconds) feeds the latency signal. Other failures (say, a 400) only count in the
  // window.
  void OnComplete(uint64_t seq, bool ok, bool overload, double latency_s);
  // The server's account of its queue: `running` requests hold batch slots, `waiting` are queued
  // for one (all clients' requests); `in_flight` is ours. From this call on the limit follows it
  // and no longer the latency (overload signals still shrink it): while nothing waits, the limit
  // is used and the batch has room (fewer running than its known or last seen size), the limit
  // doubles (a big server is full within a few reports); with the batch full and nothing
  // waiting it adds the reserve; while more than twice the reserve wait, it comes down to what
  // is in flight less the excess, and the running count is remembered as the batch's size. The
  // reserve (Reserve) is enough to refill a slot the moment it frees up: the client sends the
  // next request as soon as one finishes, so the queue only bridges that turnaround.
  // A first report that comes before anything was sent, with the size unknown, starts the limit
  // at kQueueStart: doubling per report (twenty a second at first) reaches 256 within a second,
  // and a small server is not handed `initial` requests at once.
  void OnServerLoad(int running, int waiting, int in_flight);
  static constexpr int kQueueStart = 4;
  // The servers run `slots` requests at once in all (0: unknown). The limit moves to slots +
  // Reserve(slots) now and stays at or below it.
  void SetSlots(int slots);
  // The servers run `slots` requests at once by their family's documented default, which they
  // do not publish (Ollama's OLLAMA_NUM_PARALLEL): the limit starts at slots + Reserve(slots)
  // and grows gently from there (no slow start) while latency allows, with no ceiling.
  void StartAt(int slots);
  // Requests kept waiting for a batch of `running`: an eighth, at least 1.
  static int Reserve(int running) { return running / 8 > 1 ? running / 8 : 1; }
  // The server stopped reporting: back to the latency signal.
  void OnServerLoadLost();

  // For tests and stats.
  double baseline_latency_s() const { return baseline_; }
  bool slow_start() const { return slow_start_; }
  bool probing() const { return probing_; }
  bool follows_server_load() const { return server_load_; }
  int slots() const { return slots_; }
  int ceiling() const;  // the highest the limit may go
  uint64_t windows() const { return windows_; }

 private:
  void EndWindow();
  void StartWindow();

  AimdOptions options_;
  double limit_;
  bool slow_start_ = true;
  uint64_t next_seq_ = 1;
  uint64_t window_start_seq_ = 1;  // attempts with seq >= this belong to the current window
  int samples_ = 0;
  int successes_ = 0;
  int overloads_ = 0;
  double latency_sum_ = 0;
  int peak_in_flight_ = 0;
  double baseline_ = 0;  // 0: not measured yet
  int windows_since_baseline_ = 0;
  bool probing_ = false;
  bool server_load_ = false;  // OnServerLoad drives growth and shrinking
  int slots_ = 0;             // from SetSlots; 0: unknown
  int seen_batch_ = 0;        // running requests when the server last held a queue
  uint64_t windows_ = 0;
};

}  // namespace structflow::client

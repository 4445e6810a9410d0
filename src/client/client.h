// The inference client: a libcurl multi engine that keeps every server's slots full and never
// hangs, whatever the servers do.
//
// One I/O thread owns the curl multi handle and every transfer (easy handles are reused, so
// keep-alive connections are too). Other threads Submit() requests into a bounded queue
// (blocking when it is full: backpressure) and take Completion values out with
// NextCompletion(). The I/O thread does no parsing and builds no JSON: request bodies arrive
// ready and are moved, never copied; responses leave as raw bytes, checked only by a cheap scan.
//
// Every submitted request comes out exactly once: with its body, or with a RowError (connect,
// timeout, http_status, reset, invalid_response, cancelled) carrying a message, the HTTP status
// and the number of attempts. Retries, backoff, Retry-After, per-row deadlines, adaptive
// concurrency (AIMD) and endpoint failover happen inside.
//
// The API key is sent only as an `Authorization: Bearer` header, and only when set; it never
// appears in logs, errors or stats.
//
// Submit blocks once the submit queue is full and the I/O thread holds back new work while
// `queue_capacity` completions wait to be taken, so take completions on another thread than the
// one submitting (or interleave the two).
//
// Thread-safety: Submit may be called from several threads at once; NextCompletion from one or
// several consumer threads; Close, Cancel, stats, in_flight and concurrency_limit from any thread.
// Destroying the Client cancels what is unfinished and joins the I/O thread; do not destroy it
// while other threads still call it.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "client/server_family.h"
#include "common/clock.h"
#include "common/row_error.h"
#include "common/status.h"

namespace structflow::client {

struct ClientOptions {
  std::vector<std::string> endpoints;  // base URLs like "http://127.0.0.1:8000/v1"
  std::string api_key;                 // from ResolveApiKey; never logged or put in errors
  int concurrency = 0;                 // 0: adaptive (AIMD); > 0: hard cap on requests in flight
  // Adaptive mode's starting point: 64 lets a big server (vLLM runs 256 sequences by default)
  // fill in two doublings; a small one only queues the excess, and the controller backs off.
  int initial_concurrency = 64;
  int max_concurrency = 1024;   // adaptive ceiling
  int max_attempts = 5;         // per row, the first attempt included
  double row_deadline_s = 600;  // per row, from its first attempt, retries included
  double connect_timeout_s = 10;
  double request_timeout_s = 300;  // one attempt, from start to last byte
  // No byte received for this long cuts an attempt. For non-streamed answers the server sends
  // nothing until generation ends, so keep it above the longest generation time.
  double stall_timeout_s = 60;
  double backoff_base_s = 0.25;  // full-jitter backoff: uniform in [0, base * 2^(n-1))
  double backoff_max_s = 30;
  int max_invalid_response_attempts = 0;  // a 2xx that is not a completion; 0: max_attempts
  bool http2 = false;              // HTTP/2 with multiplexing when the server offers it (TLS)
  size_t queue_capacity = 1024;    // submit queue; completions held back at this many too
  int eject_after = 3;             // consecutive connect failures that take an endpoint out
  double endpoint_cooldown_s = 2;  // first cool-down of an ejected endpoint (doubles)
  bool verify_tls = true;          // TLS certificate and host verification
  std::string user_agent = "structflow";
  uint64_t seed = 0;  // jitter seed; 0: random
  // The server family when known (the job's preflight learns it); reading error bodies uses it.
  ServerFamily family = ServerFamily::kUnknown;
};

enum class Method { kPost, kGet };

struct Request {
  uint64_t id = 0;
  std::string path = "/chat/completions";  // appended to the endpoint's base URL
  std::string body;                        // moved in, never copied
  Method method = Method::kPost;
  // A side request (a probe, a preflight check) when set: sent to this absolute URL at once,
  // whatever the concurrency limit and the submit queue, tried once, within `timeout_s` (> 0:
  // connect, attempt and deadline all cut to it), and kept out of the endpoints' health and the
  // adaptive controller. Its completion's `endpoint` is -1.
  std::string url;
  double timeout_s = 0;
  // Requests with the same non-zero key go to the same endpoint while it is healthy and holds
  // less than its share of the limit (EndpointSet::Pick): the engine keys each row by its
  // image, so the replica that computed the image's prefix answers the other questions on it.
  uint64_t affinity = 0;
};

struct Completion {
  uint64_t id = 0;
  RowError error;       // kind kNone on success
  int http_status = 0;  // of the last attempt; 0 when none answered
  std::string body;     // the last attempt's response body (also on HTTP errors)
  int attempts = 0;
  double latency_s = 0;  // from the first attempt's start to the end of the last
  int endpoint = -1;     // index into ClientOptions::endpoints of the last attempt
  bool ok() const { return error.ok(); }
};

struct ServerLoadReport {
  int running = 0;
  int waiting = 0;
};

struct ClientStats {
  uint64_t submitted = 0;
  uint64_t completed = 0;  // completions handed out by NextCompletion
  uint64_t succeeded = 0;
  uint64_t attempts = 0;
  uint64_t retries = 0;
  // Final errors by ErrorKind (indexed by static_cast<int>(kind)).
  std::array<uint64_t, kNumErrorKinds> errors_by_kind{};
  // Attempt outcomes that were not successes, by kind (retried or not).
  std::array<uint64_t, kNumErrorKinds> attempt_errors_by_kind{};
  uint64_t http_429 = 0;     // attempts answered 429
  double latency_p50_s = 0;  // of successful attempts
  double latency_p90_s = 0;
  double latency_p99_s = 0;
  uint64_t bytes_sent = 0;      // request bodies, once per attempt
  uint64_t bytes_received = 0;  // response bodies
  int64_t prompt_tokens = 0;    // from the "usage" of successful answers
  int64_t completion_tokens = 0;
  int in_flight = 0;
  int concurrency_limit = 0;
  double io_thread_cpu_s = 0;  // CPU time used by the I/O thread so far
};

class Client {
 public:
  // Validates the options (at least one http(s) endpoint, sane timeouts) and starts the I/O
  // thread.
  static Result<std::unique_ptr<Client>> Make(ClientOptions options, Clock* clock = SystemClock());
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  // Hands a request to the I/O thread. Blocks while the submit queue is full (a side request,
  // Request::url, never blocks). Returns false (the request is dropped, nothing will come out
  // for it) after Close or Cancel.
  bool Submit(Request request);
  // Sends a request again (a re-ask after an invalid answer) from a thread that takes
  // completions: never blocks, so consumers cannot deadlock against the I/O thread (Submit from
  // a consumer can: the submit queue full, the I/O thread holding back because completions are
  // not taken). Meant for one request per completion taken, which keeps memory bounded. After
  // Close it is accepted while the client still holds requests of its own (call Close once no
  // consumer will resubmit); false after Cancel.
  bool Resubmit(Request request);
  // The next finished request of group 0 (ids below 1 << kGroupShift), in completion order.
  // Blocks; nothing once closed and drained.
  std::optional<Completion> NextCompletion();
  // Blocks until a completion of group 0 is ready, then appends every ready one, up to `max`,
  // to `out` in completion order, under one lock. Returns how many; 0 once closed and drained.
  // Taking many at once spares a consumer a wake-up per row when rows take microseconds to
  // handle.
  size_t NextCompletions(std::vector<Completion>* out, size_t max);
  // No more submissions; requests already submitted finish, then NextCompletion returns nothing.
  void Close();
  // Stops quickly: every unfinished request comes out as kCancelled. Implies Close.
  void Cancel();
  // The graceful stop (a first Ctrl-C): requests on the wire finish as usual; requests still
  // queued or waiting out a retry backoff come out as kCancelled at once. Implies Close.
  void StopSending();

  // Requests are grouped by the top bits of their id (id >> kGroupShift): an engine running
  // several jobs on one client gives each job a group. StopGroup stops one group: its requests
  // not yet on the wire come out as kCancelled; with `abandon`, those on the wire too. Other
  // groups go on, and the client stays open. The caller stops submitting to the group itself.
  static constexpr int kGroupShift = 40;
  void StopGroup(uint64_t group, bool abandon);
  // Each group has its own completion queue, filled by the I/O thread directly (no thread in
  // between): OpenGroup before the group's first Submit; NextGroupCompletions is
  // NextCompletions for that group (0 once the group is closed or the client is done and its
  // queue drained); CloseGroup when its consumers are done: they return, and completions of the
  // group still held or still to come are dropped (counted in stats). Backpressure is shared:
  // the I/O thread takes no new request while `queue_capacity` completions wait in all queues.
  // Group 0 is always open.
  void OpenGroup(uint64_t group);
  void CloseGroup(uint64_t group);
  size_t NextGroupCompletions(uint64_t group, std::vector<Completion>* out, size_t max);

  // Adaptive mode: the server's own account of its queue (from vLLM's /metrics, say): `running`
  // requests hold batch slots, `waiting` are queued. The limit then follows it (see
  // AimdController::OnServerLoad) instead of the latency. Ignored with a fixed concurrency.
  void ObserveServerLoad(int running, int waiting);
  // The server stopped reporting its queue: back to the latency signal.
  void ServerLoadLost();
  // What the server behind `endpoint` says about its size (ServerLoadPoller asks it): it runs
  // `slots` requests at once (0: unknown) and serves at most `max_connections` connections
  // without making some wait (0: no such limit; llama.cpp's HTTP threads, each bound to a
  // kept-alive connection). Adaptive mode: the limit starts from the slots of all endpoints
  // plus a small reserve and, when `ceiling` (the server published it), stays there or below
  // (AimdController::SetSlots); without `ceiling` (a family's documented default, like Ollama's
  // OLLAMA_NUM_PARALLEL) it only starts there (AimdController::StartAt). In both modes, a fixed
  // --concurrency included, requests to the endpoint stay within `max_connections`: more would
  // wait for the server's HTTP threads, not for its slots. Returns once the I/O thread follows
  // it, so a request submitted afterwards goes out under it.
  void SetEndpointSlots(int endpoint, int slots, int max_connections, bool ceiling = true);
  // Returns once the I/O thread has applied every ObserveServerLoad, ServerLoadLost and
  // SetEndpointSlots made before the call (so a request submitted afterwards goes out under it).
  void FlushServerLoad();

  ClientStats stats() const;
  int in_flight() const;
  int concurrency_limit() const;

  class Impl;

 private:
  explicit Client(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// One request with the client's retries, for probes and `doctor` (not for bulk work): starts a
// client with one slot, sends `request` and waits for it. Fails only on invalid options.
Result<Completion> Call(const ClientOptions& options, Request request,
                        Clock* clock = SystemClock());

// GET `path` (like "/models") from the first endpoint that answers, with retries. The body on
// a 2xx; a Status naming the endpoint and the failure otherwise.
Result<std::string> Get(const ClientOptions& options, const std::string& path);

// The message for a RowError, e.g. "http_status 429 after 5 attempts: ...".
std::string DescribeError(const RowError& error);

// One line for logs and reports: "1000 requests, 990 ok, 12 retries, errors: timeout 10, ...".
std::string DescribeStats(const ClientStats& stats);

}  // namespace structflow::client

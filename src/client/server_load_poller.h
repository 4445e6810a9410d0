// The server-load thread of adaptive concurrency: asks each endpoint's server how big it is
// (once, before the first request) and how full it is (its queue, a few times a second), and
// hands both to the Client, whose AimdController follows them.
//
// Every request goes through one kept-alive connection per endpoint, owned by the poller's
// thread, with a short timeout (1 s by default): no client, thread or connection per poll. A
// kept-alive connection matters on llama.cpp, whose HTTP layer binds a worker thread to each
// connection: a new connection per poll waits for a free thread exactly when the server is
// busiest, which is how the poll timed out under load before.
//
// When polls fail or time out, the controller keeps the last mode for `hold_s`; only then does
// it go back to latency, and it asks again every `retry_every_s`. Each change of mode (queue-
// driven or latency-driven) is logged at info level with the reason. A server that answers but
// reports no queue (no /metrics, or one without queue gauges) is not asked again.
//
// Ownership: the poller borrows the Client (which must outlive it) and owns its thread and its
// connections. Thread-safety: Start and Stop (and the destructor) from one controlling thread.
#pragma once

#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "client/client.h"
#include "client/server_load.h"
#include "common/clock.h"
#include "common/status.h"

namespace structflow::client {

struct ServerLoadPollerOptions {
  std::vector<std::string> endpoints;  // base URLs, like "http://127.0.0.1:8000/v1"
  std::string api_key;                 // sent as a bearer token (llama.cpp guards /metrics)
  bool verify_tls = true;
  std::string user_agent = "structflow";
  double timeout_s = 1;        // one request, connect included
  double ramp_every_s = 0.05;  // poll interval for the first `ramp_s` (the limit doubles per report
  double ramp_s = 5;           // while the batch has room: a big server is full in about a second)
  double every_s = 0.5;        // poll interval after that
  double hold_s = 3;           // failing polls keep the last mode this long
  double retry_every_s = 5;    // while the queue is lost: how often to ask again
  // Ask /props, /get_server_info, then /api/version (Ollama: its documented default) for the
  // size first.
  bool discover_slots = true;
};

// Which signal adaptive concurrency follows, and when to say so. Pure logic, fed with the outcome
// of each poll round; ServerLoadPoller runs it.
// Thread-safety: not thread-safe; the poller's thread owns it.
class LoadModeTracker {
 public:
  enum class Mode { kUnknown, kQueue, kLatency };
  struct Step {
    bool report = false;  // hand `load` to the client
    bool lost = false;    // tell the client the queue is lost (back to latency)
    std::string log;      // an info line to log, or ""
  };

  explicit LoadModeTracker(double hold_s) : hold_s_(hold_s) {}

  // A round in which every endpoint reported its queue.
  Step OnLoad(Clock::TimePoint now, const ServerLoad& load);
  // A round that failed: `why` names the endpoint and what went wrong. `no_queue`: the server
  // answered but reports no queue (404, no queue gauges), which waiting will not change.
  Step OnFailure(Clock::TimePoint now, const std::string& why, bool no_queue);

  Mode mode() const { return mode_; }
  // False once the server answered that it has no queue before ever reporting one.
  bool keep_polling() const { return keep_polling_; }

 private:
  double hold_s_;
  Mode mode_ = Mode::kUnknown;
  bool failing_ = false;
  Clock::TimePoint failing_since_{};
  std::string lost_why_;
  bool keep_polling_ = true;
};

class ServerLoadPoller {
 public:
  // Asks every endpoint for its slot count (one request each, `timeout_s`) and its queue, and
  // hands both to `client` (Client::SetEndpointSlots, ObserveServerLoad, FlushServerLoad) before
  // returning, so the first request already goes out under them; then starts the polling
  // thread. `client` must outlive the poller.
  static Result<std::unique_ptr<ServerLoadPoller>> Start(ServerLoadPollerOptions options,
                                                         Client* client,
                                                         Clock* clock = SystemClock());
  ~ServerLoadPoller();
  ServerLoadPoller(const ServerLoadPoller&) = delete;
  ServerLoadPoller& operator=(const ServerLoadPoller&) = delete;

  // Ends the thread promptly (a request in progress is aborted). Idempotent.
  void Stop();

  class Connection;

 private:
  ServerLoadPoller(ServerLoadPollerOptions options, Client* client, Clock* clock);
  void DiscoverSlots();
  // One poll round, fed to the tracker and the client; false once polling should end.
  bool Round();
  void Run();
  // One round over every endpoint; false with `why` and `no_queue` when one fails.
  bool PollRound(ServerLoad* total, std::string* why, bool* no_queue);

  ServerLoadPollerOptions options_;
  Client* client_;
  Clock* clock_;
  std::vector<std::unique_ptr<Connection>> connections_;  // one per endpoint; the thread's
  LoadModeTracker tracker_;                               // the thread's (Start's before it)
  Clock::TimePoint began_{};
  Clock::TimePoint last_round_{};
  bool first_round_more_ = true;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::atomic<bool> abort_{false};  // aborts a request in progress (curl's progress callback)
  std::thread thread_;
};

// One round of queue polls outside a job (for `doctor`): GET /metrics at each endpoint's root
// with `timeout_s`, summed. An error naming the endpoint when one does not answer or reports no
// queue.
Result<ServerLoad> FetchServerLoadOnce(const ServerLoadPollerOptions& options);

}  // namespace structflow::client

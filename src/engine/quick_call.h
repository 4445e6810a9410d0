// Short, stoppable requests for the checks before a job (preflight, dialect probe) and for
// `doctor`: each is bounded in time (a hung server costs seconds, not the default 300 s request
// timeout) and a StopSource cancels every one in flight at once (Ctrl-C during a probe).
// Thread-safety: StopSource may be stopped from any thread (the signal thread); QuickCall and
// QuickGet are called from one thread each.
#pragma once

#include <atomic>
#include <functional>
#include <mutex>
#include <string>
#include <vector>

#include "client/client.h"
#include "common/status.h"

namespace structflow::engine {

class StopSource {
 public:
  // Cancels every call in flight and makes later ones fail at once.
  void Stop();
  bool stopped() const { return stopped_.load(); }

  // Calls made under this source go through `shared` (the engine's long-lived client) as side
  // requests (client::Request::url), each in a group of its own from `next_group`, instead of
  // through a client and I/O thread of their own. Set before the first call.
  void UseClient(client::Client* shared, std::function<uint64_t()> next_group) {
    shared_ = shared;
    next_group_ = std::move(next_group);
  }
  client::Client* shared_client() const { return shared_; }
  uint64_t NextGroup() const { return next_group_(); }

  // For QuickCall: a client (or a group of the shared client) is cancelled by Stop while
  // registered. False when already stopped.
  bool Register(client::Client* c);
  void Unregister(client::Client* c);
  bool RegisterGroup(uint64_t group);
  void UnregisterGroup(uint64_t group);

 private:
  std::atomic<bool> stopped_{false};
  std::mutex mu_;
  std::vector<client::Client*> active_;
  std::vector<uint64_t> groups_;  // of shared_
  client::Client* shared_ = nullptr;
  std::function<uint64_t()> next_group_;
};

// `options` with timeouts cut to `timeout_s` (connect, stall, whole request and row deadline)
// and at most `attempts` attempts.
client::ClientOptions QuickOptions(const client::ClientOptions& options, double timeout_s,
                                   int attempts = 1);

// One request through a client of its own, under `QuickOptions(options, timeout_s)`, or, when
// `stop` uses a shared client, as a side request to the first endpoint through that client. An
// error Status only when stopped or the client cannot start; HTTP and transport failures come back
// in the Completion.
Result<client::Completion> QuickCall(const client::ClientOptions& options, client::Request request,
                                     double timeout_s, StopSource* stop);

// GET `path` from the first endpoint (the server's root when `at_root`: "http://h:p/v1" ->
// "http://h:p"). The body on a 2xx; otherwise a Status naming the URL and the failure.
Result<std::string> QuickGet(const client::ClientOptions& options, const std::string& path,
                             bool at_root, double timeout_s, StopSource* stop);

// "http://h:p/v1/" -> "http://h:p".
std::string ServerRoot(const std::string& endpoint);

}  // namespace structflow::engine

#include "client/server_load_poller.h"

#include <curl/curl.h>
#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <climits>
#include <mutex>

#include "common/logging.h"

namespace structflow::client {

// ---------------------------------------------------------------------------------------------
// LoadModeTracker

LoadModeTracker::Step LoadModeTracker::OnLoad(Clock::TimePoint, const ServerLoad& load) {
  Step s;
  s.report = true;
  if (mode_ == Mode::kUnknown) {
    s.log = fmt::format("adaptive concurrency follows the server's queue ({} running, {} waiting)",
                        load.running, load.waiting);
  } else if (mode_ == Mode::kLatency) {
    s.log = fmt::format(
        "adaptive concurrency follows the server's queue again ({} running, {} waiting); it had "
        "followed latency since: {}",
        load.running, load.waiting, lost_why_);
  }
  mode_ = Mode::kQueue;
  failing_ = false;
  return s;
}

LoadModeTracker::Step LoadModeTracker::OnFailure(Clock::TimePoint now, const std::string& why,
                                                 bool no_queue) {
  Step s;
  if (mode_ == Mode::kLatency) return s;
  if (!failing_) {
    failing_ = true;
    failing_since_ = now;
  }
  if (mode_ == Mode::kUnknown && no_queue) {
    mode_ = Mode::kLatency;
    keep_polling_ = false;
    lost_why_ = why;
    s.log = fmt::format(
        "adaptive concurrency follows latency: {} (vLLM and SGLang report their queue by "
        "default, llama-server with --metrics; or pass --concurrency N)",
        why);
    return s;
  }
  const double failing_s = SecondsBetween(failing_since_, now);
  if (failing_s < hold_s_) return s;  // keep the last mode for now
  const bool was_queue = mode_ == Mode::kQueue;
  mode_ = Mode::kLatency;
  lost_why_ = why;
  s.lost = was_queue;
  s.log = was_queue ? fmt::format(
                          "adaptive concurrency follows latency: the server's queue is lost ({}, "
                          "for {:.1f} s); it is asked for again every few seconds",
                          why, failing_s)
                    : fmt::format(
                          "adaptive concurrency follows latency: {} (for {:.1f} s); the queue is "
                          "asked for again every few seconds",
                          why, failing_s);
  return s;
}

// ---------------------------------------------------------------------------------------------
// One kept-alive connection to one server, for the poller's thread.

namespace {

// "http://h:8000/v1" -> "http://h:8000": /metrics, /props and /get_server_info live at the root.
std::string ServerRoot(std::string endpoint) {
  while (!endpoint.empty() && endpoint.back() == '/') endpoint.pop_back();
  if (endpoint.size() >= 3 && endpoint.compare(endpoint.size() - 3, 3, "/v1") == 0) {
    endpoint.resize(endpoint.size() - 3);
  }
  return endpoint;
}

size_t Append(char* data, size_t size, size_t n, void* user) {
  auto* body = static_cast<std::string*>(user);
  // Metrics pages are a few kB; a server that streams without end is cut here.
  constexpr size_t kMaxBody = 8 << 20;
  if (body->size() + size * n > kMaxBody) return 0;
  body->append(data, size * n);
  return size * n;
}

int AbortWhenStopped(void* user, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
  return static_cast<const std::atomic<bool>*>(user)->load(std::memory_order_relaxed) ? 1 : 0;
}

std::string Seconds(double s) { return fmt::format("{:g}", s); }

}  // namespace

class ServerLoadPoller::Connection {
 public:
  struct Answer {
    long status = 0;  // 0: no HTTP answer
    std::string body;
    std::string error;  // why there is no answer
    bool timed_out = false;
  };

  Connection(const ServerLoadPollerOptions& options, const std::string& endpoint,
             const std::atomic<bool>* abort)
      : root_(ServerRoot(endpoint)), timeout_s_(options.timeout_s) {
    easy_ = curl_easy_init();
    if (easy_ == nullptr) return;
    if (!options.api_key.empty()) {
      std::string auth = "Authorization: Bearer " + options.api_key;
      headers_ = curl_slist_append(headers_, auth.c_str());
      std::fill(auth.begin(), auth.end(), '\0');
    }
    const long ms = static_cast<long>(std::max(1.0, options.timeout_s * 1000));
    curl_easy_setopt(easy_, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(easy_, CURLOPT_HTTPGET, 1L);
    curl_easy_setopt(easy_, CURLOPT_HTTPHEADER, headers_);
    curl_easy_setopt(easy_, CURLOPT_ERRORBUFFER, error_);
    curl_easy_setopt(easy_, CURLOPT_WRITEFUNCTION, &Append);
    curl_easy_setopt(easy_, CURLOPT_WRITEDATA, &body_);
    curl_easy_setopt(easy_, CURLOPT_CONNECTTIMEOUT_MS, ms);
    curl_easy_setopt(easy_, CURLOPT_TIMEOUT_MS, ms);
    curl_easy_setopt(easy_, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(easy_, CURLOPT_XFERINFOFUNCTION, &AbortWhenStopped);
    curl_easy_setopt(easy_, CURLOPT_XFERINFODATA, abort);
    curl_easy_setopt(easy_, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(easy_, CURLOPT_USERAGENT, options.user_agent.c_str());
    curl_easy_setopt(easy_, CURLOPT_SSL_VERIFYPEER, options.verify_tls ? 1L : 0L);
    curl_easy_setopt(easy_, CURLOPT_SSL_VERIFYHOST, options.verify_tls ? 2L : 0L);
    curl_easy_setopt(easy_, CURLOPT_HTTP_VERSION, static_cast<long>(CURL_HTTP_VERSION_1_1));
  }
  ~Connection() {
    if (easy_ != nullptr) curl_easy_cleanup(easy_);
    curl_slist_free_all(headers_);
  }
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  const std::string& root() const { return root_; }

  // GET root + path on the kept-alive connection (a new one only when the server closed it).
  Answer Get(const std::string& path) {
    Answer a;
    if (easy_ == nullptr) {
      a.error = "curl_easy_init failed (out of memory?)";
      return a;
    }
    body_.clear();
    error_[0] = '\0';
    const std::string url = root_ + path;
    curl_easy_setopt(easy_, CURLOPT_URL, url.c_str());
    CURLcode code = curl_easy_perform(easy_);
    if (code != CURLE_OK) {
      a.timed_out = code == CURLE_OPERATION_TIMEDOUT;
      a.error = a.timed_out ? "no answer within " + Seconds(timeout_s_) + " s"
                            : (error_[0] != '\0' ? std::string(error_) : curl_easy_strerror(code));
      return a;
    }
    curl_easy_getinfo(easy_, CURLINFO_RESPONSE_CODE, &a.status);
    a.body = std::move(body_);
    return a;
  }

 private:
  std::string root_;
  double timeout_s_;
  CURL* easy_ = nullptr;
  curl_slist* headers_ = nullptr;
  std::string body_;
  char error_[CURL_ERROR_SIZE] = {0};
};

// ---------------------------------------------------------------------------------------------
// ServerLoadPoller

namespace {

void GlobalInit() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

// A round of /metrics over `connections`; false with the reason on the first failure.
bool MetricsRound(const std::vector<std::unique_ptr<ServerLoadPoller::Connection>>& connections,
                  ServerLoad* total, std::string* why, bool* no_queue);

}  // namespace

ServerLoadPoller::ServerLoadPoller(ServerLoadPollerOptions options, Client* client, Clock* clock)
    : options_(std::move(options)), client_(client), clock_(clock), tracker_(options_.hold_s) {}

Result<std::unique_ptr<ServerLoadPoller>> ServerLoadPoller::Start(ServerLoadPollerOptions options,
                                                                  Client* client, Clock* clock) {
  if (client == nullptr || options.endpoints.empty()) {
    return Status::InvalidArgument("the server-load poller needs a client and an endpoint");
  }
  if (!(options.timeout_s > 0)) options.timeout_s = 1;
  GlobalInit();
  std::unique_ptr<ServerLoadPoller> p(new ServerLoadPoller(std::move(options), client, clock));
  for (const std::string& e : p->options_.endpoints) {
    p->connections_.push_back(std::make_unique<Connection>(p->options_, e, &p->abort_));
  }
  if (p->options_.discover_slots) p->DiscoverSlots();
  // The first queue report too before the first request: with the size unknown, the limit then
  // starts small and doubles per report (AimdController::OnServerLoad).
  p->began_ = p->last_round_ = clock->Now();
  p->first_round_more_ = p->Round();
  client->FlushServerLoad();
  p->thread_ = std::thread([raw = p.get()] { raw->Run(); });
  return p;
}

ServerLoadPoller::~ServerLoadPoller() { Stop(); }

void ServerLoadPoller::Stop() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  abort_.store(true, std::memory_order_relaxed);
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void ServerLoadPoller::DiscoverSlots() {
  for (size_t i = 0; i < connections_.size(); ++i) {
    Connection& c = *connections_[i];
    std::optional<ServerSlots> found;
    Connection::Answer a = c.Get("/props");
    if (a.status == 200) found = ParseLlamaCppProps(a.body);
    // A server that does not answer in time is not asked twice: the job has other waits.
    if (!found && !a.timed_out) {
      a = c.Get("/get_server_info");
      if (a.status == 200) found = ParseSglangServerInfo(a.body);
    }
    // Ollama publishes no size: start from its documented default (ParseOllamaVersion).
    if (!found && !a.timed_out) {
      a = c.Get("/api/version");
      if (a.status == 200) found = ParseOllamaVersion(a.body);
    }
    if (!found) {
      SF_LOG_DEBUG("{} publishes no slot count (/props, /get_server_info, /api/version)", c.root());
      continue;
    }
    // Our connections plus the poller's own stay within llama.cpp's smallest default pool of
    // HTTP threads (--parallel + 2): more would wait for a thread that a kept-alive connection
    // holds until it has been idle ~5 s.
    const int max_connections = found->binds_connections ? found->slots + 1 : 0;
    client_->SetEndpointSlots(static_cast<int>(i), found->slots, max_connections, found->ceiling);
    if (!found->ceiling) {
      SF_LOG_INFO(
          "{} runs {} request(s) at once by default ({}): adaptive concurrency starts there and "
          "grows while latency allows",
          c.root(), found->slots, found->source);
    } else if (max_connections > 0) {
      SF_LOG_INFO(
          "{} runs {} requests at once ({}): adaptive concurrency starts there, with at most {} "
          "connections (its HTTP threads each hold a kept-alive connection)",
          c.root(), found->slots, found->source, max_connections);
    } else {
      SF_LOG_INFO("{} runs {} requests at once ({}): adaptive concurrency starts there", c.root(),
                  found->slots, found->source);
    }
  }
}

bool ServerLoadPoller::PollRound(ServerLoad* total, std::string* why, bool* no_queue) {
  return MetricsRound(connections_, total, why, no_queue);
}

bool ServerLoadPoller::Round() {
  ServerLoad total;
  std::string why;
  bool no_queue = false;
  const bool ok = PollRound(&total, &why, &no_queue);
  if (abort_.load(std::memory_order_relaxed)) return false;
  const Clock::TimePoint now = clock_->Now();
  LoadModeTracker::Step step =
      ok ? tracker_.OnLoad(now, total) : tracker_.OnFailure(now, why, no_queue);
  if (step.report) {
    client_->ObserveServerLoad(static_cast<int>(std::min<int64_t>(total.running, INT_MAX)),
                               static_cast<int>(std::min<int64_t>(total.waiting, INT_MAX)));
  }
  if (step.lost) client_->ServerLoadLost();
  if (!step.log.empty()) SF_LOG_INFO("{}", step.log);
  if (!ok) SF_LOG_DEBUG("server load poll: {}", why);
  return tracker_.keep_polling();
}

void ServerLoadPoller::Run() {
  bool more = first_round_more_;
  while (more) {
    const Clock::TimePoint now = clock_->Now();
    double every = options_.every_s;
    if (tracker_.mode() == LoadModeTracker::Mode::kLatency) {
      every = options_.retry_every_s;
    } else if (SecondsBetween(began_, now) < options_.ramp_s) {
      every = options_.ramp_every_s;
    }
    // The interval runs from the last round's start: a slow answer is not followed by a full
    // wait.
    const double left = every - SecondsBetween(last_round_, now);
    {
      std::unique_lock lock(mu_);
      if (left > 0) {
        cv_.wait_for(lock, std::chrono::duration<double>(left), [&] { return stop_; });
      }
      if (stop_) return;
    }
    last_round_ = clock_->Now();
    more = Round();
  }
}

namespace {

bool MetricsRound(const std::vector<std::unique_ptr<ServerLoadPoller::Connection>>& connections,
                  ServerLoad* total, std::string* why, bool* no_queue) {
  *total = ServerLoad{};
  for (const auto& c : connections) {
    ServerLoadPoller::Connection::Answer a = c->Get("/metrics");
    if (a.status == 0) {
      *why = fmt::format("{}/metrics: {}", c->root(), a.error);
      return false;
    }
    if (a.status != 200) {
      *why = fmt::format("{}/metrics answered HTTP {}", c->root(), a.status);
      // A busy or restarting server (408, 429, 5xx) may report again; others will not.
      *no_queue = !(a.status == 408 || a.status == 429 || a.status >= 500);
      return false;
    }
    std::optional<ServerLoad> load = ParseServerLoad(a.body);
    if (!load) {
      *why = fmt::format("{}/metrics reports no request queue", c->root());
      *no_queue = true;
      return false;
    }
    total->running += load->running;
    total->waiting += load->waiting;
  }
  return true;
}

}  // namespace

Result<ServerLoad> FetchServerLoadOnce(const ServerLoadPollerOptions& options) {
  if (options.endpoints.empty()) return Status::InvalidArgument("no endpoint given");
  GlobalInit();
  std::atomic<bool> never{false};
  std::vector<std::unique_ptr<ServerLoadPoller::Connection>> connections;
  for (const std::string& e : options.endpoints) {
    connections.push_back(std::make_unique<ServerLoadPoller::Connection>(options, e, &never));
  }
  ServerLoad total;
  std::string why;
  bool no_queue = false;
  if (!MetricsRound(connections, &total, &why, &no_queue)) return Status::Unavailable(why);
  return total;
}

}  // namespace structflow::client

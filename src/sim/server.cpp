// The simulator's HTTP side: Boost.Asio/Beast, one io_context per I/O thread (a connection lives
// on one thread, so its handlers never race and need no strand), requests parsed by Beast,
// responses written as raw bytes (which also lets faults cut them anywhere).
#include "sim/server.h"

#include <fmt/format.h>
#include <sys/resource.h>

#include <array>
#include <atomic>
#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <ctime>
#include <deque>
#include <functional>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <thread>

#include "common/json_writer.h"
#include "common/logging.h"
#include "sim/chat.h"
#include "sim/faults.h"
#include "sim/prefix_cache.h"
#include "sim/rng.h"

namespace structflow::sim {

void RaiseOpenFileLimit() {
  rlimit lim{};
  if (getrlimit(RLIMIT_NOFILE, &lim) == 0 && lim.rlim_cur < lim.rlim_max) {
    lim.rlim_cur = lim.rlim_max;
    setrlimit(RLIMIT_NOFILE, &lim);
  }
}

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using SteadyClock = std::chrono::steady_clock;

// The simulator's own counters, served in every family (no real server has this path).
constexpr std::string_view kSimOnlyMetricsPath = "/structflow-sim/metrics";

// Chat bodies larger than this are parsed on the CPU pool instead of the I/O thread.
constexpr size_t kInlineBodyBytes = 64 * 1024;

std::string_view Reason(int status) {
  switch (status) {
    case 100:
      return "Continue";
    case 200:
      return "OK";
    case 400:
      return "Bad Request";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 413:
      return "Payload Too Large";
    case 501:
      return "Not Implemented";
    case 429:
      return "Too Many Requests";
    case 500:
      return "Internal Server Error";
    case 503:
      return "Service Unavailable";
    default:
      return "Unknown";
  }
}

// The batch slots: at most max_num_seqs requests run at once, the rest wait in FIFO order. A
// waiter is a callback that posts the continuation onto its own connection's thread.
// Thread-safety: every method may be called from any thread.
class Slots {
 public:
  explicit Slots(int capacity) : capacity_(capacity < 1 ? 1 : capacity) {}

  // Runs `start` now (on the caller's thread) when a slot is free, else queues it.
  void Acquire(std::function<void()> start) {
    {
      std::lock_guard lock(mu_);
      if (running_ >= capacity_) {
        waiting_.push_back(std::move(start));
        return;
      }
      Account();
      ++running_;
    }
    start();
  }

  // Frees a slot, or hands it straight to the oldest waiter.
  void Release() {
    std::function<void()> next;
    {
      std::lock_guard lock(mu_);
      Account();
      if (waiting_.empty()) {
        --running_;
        return;
      }
      next = std::move(waiting_.front());
      waiting_.pop_front();
    }
    next();
  }

  uint64_t running() const {
    std::lock_guard lock(mu_);
    return static_cast<uint64_t>(running_);
  }
  uint64_t waiting() const {
    std::lock_guard lock(mu_);
    return waiting_.size();
  }
  double busy_slot_seconds() const {
    std::lock_guard lock(mu_);
    auto now = SteadyClock::now();
    return busy_seconds_ + running_ * std::chrono::duration<double>(now - last_change_).count();
  }
  // Drops every waiter (their connections are being torn down).
  void Clear() {
    std::deque<std::function<void()>> drop;
    {
      std::lock_guard lock(mu_);
      drop.swap(waiting_);
    }
  }

 private:
  void Account() {
    auto now = SteadyClock::now();
    busy_seconds_ += running_ * std::chrono::duration<double>(now - last_change_).count();
    last_change_ = now;
  }

  const int capacity_;
  mutable std::mutex mu_;
  int running_ = 0;
  std::deque<std::function<void()>> waiting_;
  double busy_seconds_ = 0;
  SteadyClock::time_point last_change_ = SteadyClock::now();
};

// llama-server's HTTP thread pool: cpp-httplib's ThreadPool as tools/server/server-http.cpp
// configures it (read in ggml-org/llama.cpp vendor/cpp-httplib/httplib.cpp, ThreadPool::enqueue
// and ThreadPool::worker, cpp-httplib 0.36). Each accepted connection is a job; a thread serves
// it request after request until it has been idle keep_alive_s or has served 100 requests.
// `base` threads always run; up to `max` in all, a connection that arrives when no thread is
// idle starts a dynamic thread, which ends when it finds no connection waiting. A thread woken
// for a connection still counts as idle until it runs, `wake_s` later (the scheduler's wake-up
// latency, a model parameter): a connection that arrives in that window neither starts a thread
// nor gets one, and waits until a thread finishes a connection. That is how a burst of
// connections queues behind kept-alive ones even with dynamic threads. max == base: the fixed
// pool of older builds (ThreadPool(n_threads_http), no dynamic threads).
// Thread-safety: every method may be called from any thread; `timers` outlives the pool's use.
class HttpPool {
 public:
  HttpPool(int base, int max, double wake_s)
      : base_(std::max(0, base)), max_(std::max(base_, max)), wake_s_(wake_s) {
    idle_ = base_;
    threads_ = base_;
  }

  void SetTimers(asio::io_context* timers) { timers_ = timers; }

  // Queues a connection; `serve` runs (on the caller's or a timer's thread) once a thread takes
  // it.
  void Enqueue(std::function<void()> serve) {
    bool spawn = false;
    bool wake = false;
    {
      std::lock_guard lock(mu_);
      jobs_.push_back(std::move(serve));
      if (idle_ == 0 && threads_ < max_) {
        ++threads_;  // a dynamic thread: it takes the oldest connection when it runs
        spawn = true;
      } else if (idle_ > notified_) {
        ++notified_;  // notify_one: a waiting thread not yet woken
        wake = true;
      }
    }
    if (spawn) After(wake_s_, [this] { ThreadRuns(/*woken=*/false); });
    if (wake) After(wake_s_, [this] { ThreadRuns(/*woken=*/true); });
  }

  // A thread's connection is over (closed, or its 100th request served): the thread takes the
  // next waiting connection, else waits (a base thread) or ends (a dynamic one).
  void Release() {
    std::function<void()> next;
    {
      std::lock_guard lock(mu_);
      --busy_;
      if (!jobs_.empty()) {
        next = TakeLocked();
      } else if (threads_ > base_) {
        --threads_;
      } else {
        ++idle_;
      }
    }
    if (next) next();
  }

  uint64_t running() const {
    std::lock_guard lock(mu_);
    return static_cast<uint64_t>(busy_);
  }
  uint64_t waiting() const {
    std::lock_guard lock(mu_);
    return jobs_.size();
  }
  void Clear() {
    std::deque<std::function<void()>> drop;
    std::lock_guard lock(mu_);
    drop.swap(jobs_);
  }

 private:
  std::function<void()> TakeLocked() {
    std::function<void()> job = std::move(jobs_.front());
    jobs_.pop_front();
    ++busy_;
    return job;
  }

  // A woken (or newly started) thread gets the mutex: it takes the oldest connection, if a
  // finishing thread has not taken it already.
  void ThreadRuns(bool woken) {
    std::function<void()> job;
    {
      std::lock_guard lock(mu_);
      if (woken) {
        --notified_;
        --idle_;
      }
      if (!jobs_.empty()) {
        job = TakeLocked();
      } else if (woken || threads_ <= base_) {
        ++idle_;  // back to waiting
      } else {
        --threads_;  // a dynamic thread with nothing to do ends (after its idle timeout)
      }
    }
    if (job) job();
  }

  void After(double s, std::function<void()> fn) {
    if (timers_ == nullptr || s <= 0) return fn();
    auto timer = std::make_shared<asio::steady_timer>(
        *timers_, std::chrono::microseconds(static_cast<int64_t>(s * 1e6)));
    timer->async_wait([timer, fn = std::move(fn)](beast::error_code ec) {
      if (!ec) fn();
    });
  }

  const int base_;
  const int max_;
  const double wake_s_;
  asio::io_context* timers_ = nullptr;
  mutable std::mutex mu_;
  int threads_ = 0;   // alive: base and dynamic
  int idle_ = 0;      // waiting for a connection, including those woken but not yet running
  int notified_ = 0;  // idle threads already woken
  int busy_ = 0;      // serving a connection
  std::deque<std::function<void()>> jobs_;
};

class ServerImpl;

class Connection : public std::enable_shared_from_this<Connection> {
 public:
  Connection(ServerImpl* server, tcp::socket socket);
  ~Connection();
  // Reads requests at once, or first waits for an HTTP worker thread when the server has a pool.
  void Start();

 private:
  void ReadHeader();
  void OnHeader(beast::error_code ec);
  void ReadBody();
  void OnRequest(beast::error_code ec);
  void RespondTooLarge();
  void Route();
  void RouteLlama(std::string_view target, bool get, bool post);
  void RouteSglang(std::string_view target, bool get, bool post);
  void RouteOllama(std::string_view target, bool get, bool post);
  void HandleChat();
  // Ollama's native /api/chat: rewritten as a /v1 request, answered in the native shape.
  void HandleNativeChat();
  void Plan(std::string body);
  void OnPlanned(ChatOutcome outcome);
  void StartService();
  void FinishService();
  // Runs `then` after `ms` on this connection's thread (at once when ms <= 0).
  void Wait(double ms, void (*then)(Connection*));
  void StartStream();
  void StreamNext(int events);
  void EndStream();
  void Hang();
  void Respond(int status, std::string_view content_type, std::string body,
               std::string_view extra_headers = {});
  void WriteRaw(bool close_after);
  void Reset(size_t partial_bytes);
  void Close();

  ServerImpl* server_;
  tcp::socket socket_;
  asio::steady_timer timer_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  std::string out_;
  bool keep_alive_ = true;
  // An HTTP worker thread of the pool is bound to this connection (released by the destructor).
  bool holds_worker_ = false;
  // With a pool: closes the connection once it has waited keep_alive_s for its next request.
  asio::steady_timer idle_timer_;
  int requests_served_ = 0;
  bool uncounted_ = false;      // the response is to GET /structflow-sim/metrics
  bool native_ = false;         // the request in service came on Ollama's /api/chat
  bool native_stream_ = false;  // ... and asked for NDJSON
  // The chat request in service; cleared once answered so nothing outlives it.
  ChatPlan plan_;
  Fault fault_ = Fault::kNone;
  uint64_t sequence_ = 0;
  bool holds_slot_ = false;
  // The KV blocks (or radix nodes) the request in service holds; released with its slot.
  PrefixCache::Lease lease_;
  char hang_byte_ = 0;
  // A paced stream (batching model only): the SSE events and how far they have been sent.
  std::string stream_;
  size_t stream_pos_ = 0;
  int stream_events_per_write_ = 1;
  double token_ms_ = 0;
};

class ServerImpl : public Server {
 public:
  explicit ServerImpl(SimOptions options, ChatConfig chat, FaultPlan faults)
      : options_(std::move(options)),
        chat_(std::move(chat)),
        faults_(faults),
        slots_(options_.max_num_seqs),
        http_workers_(options_.http_threads, options_.http_threads_max,
                      options_.http_thread_wake_ms / 1000) {
    for (auto& c : status_counts_) c.store(0, std::memory_order_relaxed);
    PrefixCacheOptions cache;
    const Family family = FamilyOf(chat_.api);
    if (options_.prefix_caching && family == Family::kVllm) cache.kind = CacheKind::kVllmBlocks;
    if (options_.prefix_caching && family == Family::kSglang) cache.kind = CacheKind::kSglangRadix;
    // vLLM CacheConfig block_size 16 (CUDA); SGLang ServerArgs page_size 1.
    cache.block_size = options_.block_size > 0     ? options_.block_size
                       : family == Family::kSglang ? 1
                                                   : 16;
    cache.capacity_tokens = options_.kv_cache_tokens;
    block_size_ = cache.block_size;
    cache_ = PrefixCache::Make(cache);
  }
  ~ServerImpl() override { Stop(); }

  Status Listen() {
    int n = options_.threads < 1 ? 1 : options_.threads;
    for (int i = 0; i < n; ++i) {
      contexts_.push_back(std::make_unique<asio::io_context>(1));
      guards_.emplace_back(contexts_.back()->get_executor());
    }
    beast::error_code ec;
    auto address = asio::ip::make_address(options_.host, ec);
    if (ec) {
      return Status::InvalidArgument(fmt::format(
          "--host '{}' is not an IP address (try 127.0.0.1 or 0.0.0.0)", options_.host));
    }
    http_workers_.SetTimers(contexts_[0].get());
    acceptor_ = std::make_unique<tcp::acceptor>(*contexts_[0]);
    tcp::endpoint endpoint(address, static_cast<unsigned short>(options_.port));
    acceptor_->open(endpoint.protocol(), ec);
    if (!ec) acceptor_->set_option(asio::socket_base::reuse_address(true), ec);
    if (!ec) acceptor_->bind(endpoint, ec);
    if (!ec) acceptor_->listen(asio::socket_base::max_listen_connections, ec);
    if (ec) {
      return Status::Unavailable(
          fmt::format("cannot listen on {}:{}: {}; pick another --port "
                      "(0 picks a free one)",
                      options_.host, options_.port, ec.message()));
    }
    port_ = acceptor_->local_endpoint().port();
    Accept();
    for (auto& ctx : contexts_) {
      threads_.emplace_back([c = ctx.get()] { c->run(); });
    }
    return Status::OK();
  }

  int port() const override { return port_; }
  std::string base_url() const override {
    std::string host = options_.host;
    if (host.find(':') != std::string::npos) host = "[" + host + "]";
    return fmt::format("http://{}:{}/v1", host, port_);
  }

  SimMetrics metrics() const override {
    SimMetrics m;
    m.requests_total = requests_total_.load(std::memory_order_relaxed);
    m.chat_requests = chat_requests_.load(std::memory_order_relaxed);
    m.running = slots_.running();
    m.waiting = slots_.waiting();
    m.busy_slot_seconds = slots_.busy_slot_seconds();
    m.gpu_busy_seconds = gpu_busy_seconds_.load(std::memory_order_relaxed);
    const PrefixCacheStats cache = cache_->stats();
    m.prefix_cache_queries = cache.queries;
    m.prefix_cache_hits = cache.hits;
    m.kv_cache_usage = cache.usage;
    m.prompt_tokens = prompt_tokens_.load(std::memory_order_relaxed);
    m.generation_tokens = generation_tokens_.load(std::memory_order_relaxed);
    m.connections = connections_.load(std::memory_order_relaxed);
    for (int code = 0; code < kMaxStatus; ++code) {
      uint64_t n = status_counts_[code].load(std::memory_order_relaxed);
      if (code == 200) m.responses_200 += n;
      if (code >= 400 && code < 500) m.responses_4xx += n;
      if (code >= 500) m.responses_5xx += n;
    }
    m.faults = faults_given_.load(std::memory_order_relaxed);
    m.finished_requests = finished_requests_.load(std::memory_order_relaxed);
    if (options_.http_threads > 0) {
      m.http_busy = http_workers_.running();
      m.http_waiting = http_workers_.waiting();
    }
    return m;
  }

  void Stop() override {
    std::lock_guard lock(stop_mu_);
    if (stopped_) return;
    stopped_ = true;
    if (acceptor_ != nullptr && !contexts_.empty()) {
      asio::post(*contexts_[0], [this] {
        beast::error_code ec;
        acceptor_->close(ec);
      });
    }
    for (auto& ctx : contexts_) ctx->stop();
    for (auto& t : threads_) t.join();
    threads_.clear();
    cpu_pool_->stop();
    cpu_pool_->join();
    // Waiters and pending handlers hold connections; dropping them closes the sockets.
    slots_.Clear();
    http_workers_.Clear();
    acceptor_.reset();
    cpu_pool_.reset();
    guards_.clear();
    contexts_.clear();
  }

  bool metrics_enabled() const { return options_.metrics.value_or(true); }

  // /metrics in the family's names: vLLM vllm:*, SGLang sglang:* (python/sglang/srt/metrics/
  // collector.py), llama.cpp llamacpp:* without labels (tools/server/server-context.cpp
  // handle_metrics), followed by the simulator's own structflow_sim_* lines (SimOnlyMetricsText).
  std::string MetricsText() const {
    SimMetrics m = metrics();
    std::string out;
    const Family family = FamilyOf(chat_.api);
    auto metric = [&](std::string_view name, std::string_view help, double v, bool counter) {
      fmt::format_to(std::back_inserter(out), "# HELP {} {}\n# TYPE {} {}\n", name, help, name,
                     counter ? "counter" : "gauge");
      if (family == Family::kLlamaCpp) {
        fmt::format_to(std::back_inserter(out), "{} {}\n", name, v);
        return;
      }
      for (const auto& model : options_.models) {
        fmt::format_to(std::back_inserter(out), "{}{{model_name=\"{}\"}} {}\n", name, model, v);
      }
    };
    const auto running = static_cast<double>(m.running);
    const auto waiting = static_cast<double>(m.waiting);
    const auto prompt = static_cast<double>(m.prompt_tokens);
    const auto generated = static_cast<double>(m.generation_tokens);
    if (family == Family::kLlamaCpp) {
      metric("llamacpp:prompt_tokens_total", "Number of prompt tokens processed.", prompt, true);
      metric("llamacpp:tokens_predicted_total", "Number of generation tokens processed.", generated,
             true);
      if (options_.queue_metrics) {
        metric("llamacpp:requests_processing", "Number of requests processing.", running, false);
        metric("llamacpp:requests_deferred", "Number of requests deferred.", waiting, false);
      }
    } else if (family == Family::kSglang) {
      if (options_.queue_metrics) {
        metric("sglang:num_running_reqs", "The number of running requests.", running, false);
        metric("sglang:num_queue_reqs", "The number of requests in the waiting queue.", waiting,
               false);
      }
      metric("sglang:prompt_tokens_total", "Number of prefill tokens processed.", prompt, true);
      metric("sglang:generation_tokens_total", "Number of generation tokens processed.", generated,
             true);
      // TokenizerMetricsCollector's counter of finished requests (collector.py
      // num_requests_total); llama.cpp and Ollama publish no request count at all.
      metric("sglang:num_requests_total", "Number of requests processed.",
             static_cast<double>(m.finished_requests), true);
      // srt/metrics/collector.py: cached prompt tokens, and the hit rate (here over the whole
      // run; SGLang's gauge is the last prefill batch's).
      metric("sglang:cached_tokens_total", "Number of cached prompt tokens.",
             static_cast<double>(m.prefix_cache_hits), true);
      metric("sglang:cache_hit_rate", "The prefix cache hit rate.",
             m.prefix_cache_queries > 0 ? static_cast<double>(m.prefix_cache_hits) /
                                              static_cast<double>(m.prefix_cache_queries)
                                        : 0.0,
             false);
    } else {
      if (options_.queue_metrics) {
        metric("vllm:num_requests_running", "Number of requests in model execution batches.",
               running, false);
        metric("vllm:num_requests_waiting", "Number of requests waiting to be processed.", waiting,
               false);
      }
      metric("vllm:prompt_tokens_total", "Number of prefill tokens processed.", prompt, true);
      metric("vllm:generation_tokens_total", "Number of generation tokens processed.", generated,
             true);
      // vllm/v1/metrics/loggers.py PrometheusStatLogger (prometheus_client adds _total to
      // counters); zero when prefix caching is off.
      metric("vllm:kv_cache_usage_perc", "KV-cache usage. 1 means 100 percent usage.",
             m.kv_cache_usage, false);
      metric("vllm:prefix_cache_queries_total",
             "Prefix cache queries, in terms of number of queried tokens.",
             static_cast<double>(m.prefix_cache_queries), true);
      metric("vllm:prefix_cache_hits_total",
             "Prefix cache hits, in terms of number of cached tokens.",
             static_cast<double>(m.prefix_cache_hits), true);
      // vllm/v1/metrics/loggers.py log_metrics_info("cache_config", ...): an info gauge set to
      // 1 whose labels are CacheConfig.metrics_info(), the fields as strings (Python's
      // "True"/"False"); a few of them here.
      out += fmt::format(
          "# HELP vllm:cache_config_info Information of the LLMEngine CacheConfig\n"
          "# TYPE vllm:cache_config_info gauge\n"
          "vllm:cache_config_info{{block_size=\"{}\",enable_prefix_caching=\"{}\","
          "num_gpu_blocks=\"{}\"}} 1.0\n",
          block_size_, options_.prefix_caching ? "True" : "False",
          options_.kv_cache_tokens / std::max(1, block_size_));
    }
    out += SimOnlyMetricsText(m);
    return out;
  }

  // The simulator's own counters (structflow_sim_*), in Prometheus text: appended to /metrics
  // where the family serves it, and always at GET /structflow-sim/metrics, an endpoint no real
  // server has, so tests count requests on every family (llama.cpp without --metrics, Ollama).
  std::string SimOnlyMetricsText(const SimMetrics& m) const {
    std::string out;
    fmt::format_to(std::back_inserter(out),
                   "# HELP structflow_sim_chat_requests_total POST /v1/chat/completions received.\n"
                   "# TYPE structflow_sim_chat_requests_total counter\n"
                   "structflow_sim_chat_requests_total {}\n",
                   m.chat_requests);
    out += "# HELP structflow_sim_requests_total HTTP responses by status code.\n";
    out += "# TYPE structflow_sim_requests_total counter\n";
    for (int code = 0; code < kMaxStatus; ++code) {
      uint64_t n = status_counts_[code].load(std::memory_order_relaxed);
      if (n > 0)
        fmt::format_to(std::back_inserter(out), "structflow_sim_requests_total{{code=\"{}\"}} {}\n",
                       code, n);
    }
    fmt::format_to(std::back_inserter(out),
                   "# HELP structflow_sim_busy_slot_seconds_total Integral of running batch slots "
                   "over time.\n# TYPE structflow_sim_busy_slot_seconds_total counter\n"
                   "structflow_sim_busy_slot_seconds_total {}\n",
                   m.busy_slot_seconds);
    fmt::format_to(std::back_inserter(out),
                   "# HELP structflow_sim_gpu_busy_seconds_total Simulated GPU time: each "
                   "request's modelled service time over max_num_seqs.\n"
                   "# TYPE structflow_sim_gpu_busy_seconds_total counter\n"
                   "structflow_sim_gpu_busy_seconds_total {}\n",
                   m.gpu_busy_seconds);
    fmt::format_to(std::back_inserter(out),
                   "# HELP structflow_sim_connections Open client connections.\n"
                   "# TYPE structflow_sim_connections gauge\nstructflow_sim_connections {}\n",
                   m.connections);
    fmt::format_to(std::back_inserter(out),
                   "# HELP structflow_sim_faults_total Requests given a fault from --faults.\n"
                   "# TYPE structflow_sim_faults_total counter\nstructflow_sim_faults_total {}\n",
                   m.faults);
    if (options_.http_threads > 0) {
      fmt::format_to(std::back_inserter(out),
                     "# HELP structflow_sim_http_waiting Connections waiting for an HTTP thread.\n"
                     "# TYPE structflow_sim_http_waiting gauge\nstructflow_sim_http_waiting {}\n",
                     m.http_waiting);
    }
    return out;
  }

  void CountStatus(int status) {
    if (status >= 0 && status < kMaxStatus) {
      status_counts_[status].fetch_add(1, std::memory_order_relaxed);
    }
  }

  const SimOptions& options() const { return options_; }
  const ChatConfig& chat() const { return chat_; }
  const FaultPlan& faults() const { return faults_; }
  Slots& slots() { return slots_; }
  PrefixCache& cache() { return *cache_; }
  void AddGpuSeconds(double s) { gpu_busy_seconds_.fetch_add(s, std::memory_order_relaxed); }
  HttpPool& http_workers() { return http_workers_; }
  // The Server header each family's HTTP stack sends (Go's net/http sends none).
  std::string_view server_header() const {
    switch (FamilyOf(chat_.api)) {
      case Family::kLlamaCpp:
        return "server: llama.cpp\r\n";
      case Family::kOllama:
        return "";
      default:
        return "server: uvicorn\r\n";
    }
  }
  bool has_http_pool() const { return options_.http_threads > 0; }
  asio::thread_pool& cpu_pool() { return *cpu_pool_; }

  std::atomic<uint64_t> requests_total_{0};
  std::atomic<uint64_t> chat_requests_{0};
  std::atomic<uint64_t> prompt_tokens_{0};
  std::atomic<uint64_t> generation_tokens_{0};
  std::atomic<uint64_t> connections_{0};
  std::atomic<uint64_t> sequence_{0};
  std::atomic<uint64_t> faults_given_{0};
  std::atomic<uint64_t> finished_requests_{0};

 private:
  static constexpr int kMaxStatus = 600;

  void Accept() {
    asio::io_context& target = *contexts_[next_context_++ % contexts_.size()];
    acceptor_->async_accept(target, [this](beast::error_code ec, tcp::socket socket) {
      if (ec == asio::error::operation_aborted || !acceptor_->is_open()) return;
      if (!ec) {
        beast::error_code ignored;
        socket.set_option(tcp::no_delay(true), ignored);
        std::make_shared<Connection>(this, std::move(socket))->Start();
      } else {
        // Out of file descriptors and the like: keep accepting, the client retries.
        SF_LOG_WARN("sim: accept failed: {}", ec.message());
      }
      Accept();
    });
  }

  const SimOptions options_;
  const ChatConfig chat_;
  const FaultPlan faults_;
  Slots slots_;
  HttpPool http_workers_;  // used only when options_.http_threads > 0
  std::unique_ptr<PrefixCache> cache_;
  int block_size_ = 16;  // of the prefix cache (vLLM --block-size, SGLang --page-size)
  std::atomic<double> gpu_busy_seconds_{0};
  std::vector<std::unique_ptr<asio::io_context>> contexts_;
  std::vector<asio::executor_work_guard<asio::io_context::executor_type>> guards_;
  std::vector<std::thread> threads_;
  std::unique_ptr<tcp::acceptor> acceptor_;
  std::unique_ptr<asio::thread_pool> cpu_pool_ = std::make_unique<asio::thread_pool>(2);
  size_t next_context_ = 0;  // only touched by the accept handler's thread
  int port_ = 0;
  std::array<std::atomic<uint64_t>, kMaxStatus> status_counts_;
  std::mutex stop_mu_;
  bool stopped_ = false;
};

Connection::Connection(ServerImpl* server, tcp::socket socket)
    : server_(server),
      socket_(std::move(socket)),
      timer_(socket_.get_executor()),
      idle_timer_(socket_.get_executor()) {
  server_->connections_.fetch_add(1, std::memory_order_relaxed);
}

Connection::~Connection() {
  if (holds_slot_) server_->slots().Release();
  if (holds_worker_) server_->http_workers().Release();
  server_->connections_.fetch_sub(1, std::memory_order_relaxed);
}

void Connection::Start() {
  if (!server_->has_http_pool()) return ReadHeader();
  // cpp-httplib queues an accepted socket for the pool; a worker thread then serves it, request
  // after request, until it has been idle CPPHTTPLIB_KEEPALIVE_TIMEOUT_SECOND (5 s) or the client
  // closes it. Connections beyond the pool wait here without being read.
  auto self = shared_from_this();
  server_->http_workers().Enqueue([self] {
    asio::post(self->socket_.get_executor(), [self] {
      self->holds_worker_ = true;
      self->ReadHeader();
    });
  });
}

void Connection::ReadHeader() {
  // A large request leaves a large buffer behind: give it back between requests.
  if (buffer_.size() == 0 && buffer_.capacity() > (1 << 16)) buffer_.shrink_to_fit();
  parser_.emplace();
  parser_->body_limit(server_->options().max_body_bytes);
  parser_->header_limit(64 * 1024);
  if (holds_worker_ && buffer_.size() == 0) {
    // The worker waits this long for the next request on its connection, then closes it.
    idle_timer_.expires_after(
        std::chrono::microseconds(static_cast<int64_t>(server_->options().keep_alive_s * 1e6)));
    idle_timer_.async_wait([self = shared_from_this()](beast::error_code ec) {
      if (!ec) self->Close();
    });
  }
  http::async_read_header(socket_, buffer_, *parser_,
                          [self = shared_from_this()](beast::error_code ec, size_t) {
                            self->idle_timer_.cancel();
                            self->OnHeader(ec);
                          });
}

void Connection::RespondTooLarge() {
  keep_alive_ = false;
  Respond(413, "application/json",
          ErrorBody(ServerError(413,
                                fmt::format("Request body over {} bytes; raise the simulator's "
                                            "body limit or send smaller images",
                                            server_->options().max_body_bytes),
                                server_->chat().api),
                    server_->chat().api));
}

void Connection::OnHeader(beast::error_code ec) {
  // A Content-Length over the limit is caught with the head.
  if (ec == http::error::body_limit) return RespondTooLarge();
  if (ec) {
    if (ec != http::error::end_of_stream && ec != asio::error::eof &&
        ec != asio::error::connection_reset && ec != asio::error::operation_aborted) {
      keep_alive_ = false;
      Respond(400, "application/json", R"({"detail":"Malformed HTTP request"})");
    }
    return;
  }
  auto& req = parser_->get();
  auto expect = req.find(http::field::expect);
  if (expect != req.end() && beast::iequals(expect->value(), "100-continue")) {
    // curl waits up to a second for this before it sends a large body.
    auto self = shared_from_this();
    static const std::string kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
    asio::async_write(socket_, asio::buffer(kContinue), [self](beast::error_code wec, size_t) {
      if (!wec) self->ReadBody();
    });
    return;
  }
  ReadBody();
}

void Connection::ReadBody() {
  http::async_read(
      socket_, buffer_, *parser_,
      [self = shared_from_this()](beast::error_code ec, size_t) { self->OnRequest(ec); });
}

void Connection::OnRequest(beast::error_code ec) {
  if (ec == http::error::body_limit) return RespondTooLarge();
  if (ec) return;
  keep_alive_ = parser_->get().keep_alive();
  const auto& head = parser_->get();
  if (head.method() == http::verb::get && head.target() == kSimOnlyMetricsPath) {
    // Not counted anywhere: reading the counters does not change them.
    uncounted_ = true;
    return Respond(200, "text/plain; version=0.0.4; charset=utf-8",
                   server_->SimOnlyMetricsText(server_->metrics()));
  }
  server_->requests_total_.fetch_add(1, std::memory_order_relaxed);
  // cpp-httplib closes a kept-alive connection after CPPHTTPLIB_KEEPALIVE_MAX_COUNT requests.
  constexpr int kHttplibKeepAliveMaxCount = 100;
  if (FamilyOf(server_->chat().api) == Family::kLlamaCpp &&
      ++requests_served_ >= kHttplibKeepAliveMaxCount) {
    keep_alive_ = false;
  }
  Route();
}

void Connection::Route() {
  const auto& req = parser_->get();
  std::string_view target(req.target().data(), req.target().size());
  if (size_t q = target.find('?'); q != std::string_view::npos) target = target.substr(0, q);
  const bool get = req.method() == http::verb::get;
  const bool post = req.method() == http::verb::post;
  switch (FamilyOf(server_->chat().api)) {
    case Family::kLlamaCpp:
      return RouteLlama(target, get, post);
    case Family::kSglang:
      return RouteSglang(target, get, post);
    case Family::kOllama:
      return RouteOllama(target, get, post);
    default:
      break;
  }
  if (target == "/v1/chat/completions") {
    if (!post) return Respond(405, "application/json", R"({"detail":"Method Not Allowed"})");
    return HandleChat();
  }
  if (target == "/v1/models") {
    if (!get) return Respond(405, "application/json", R"({"detail":"Method Not Allowed"})");
    return Respond(200, "application/json",
                   ModelsBody(server_->options().models, server_->options().max_model_len,
                              static_cast<int64_t>(std::time(nullptr)), server_->chat().api));
  }
  if (target == "/health") {
    if (!get) return Respond(405, "application/json", R"({"detail":"Method Not Allowed"})");
    return Respond(200, "application/json", "");
  }
  if (target == "/metrics" && server_->metrics_enabled()) {
    if (!get) return Respond(405, "application/json", R"({"detail":"Method Not Allowed"})");
    return Respond(200, "text/plain; version=0.0.4; charset=utf-8", server_->MetricsText());
  }
  if (target == "/version" && get)
    return Respond(200, "application/json", R"({"version":"0.12.0-sim"})");
  Respond(404, "application/json", R"({"detail":"Not Found"})");
}

// llama-server's routes (tools/server/server.cpp registers them; handlers in
// server-context.cpp): /health, /props, /slots, /metrics (501 without --metrics), /v1/models and
// /models, /v1/chat/completions and /chat/completions; anything else is cpp-httplib's 404, which
// the server's error handler fills in.
void Connection::RouteLlama(std::string_view target, bool get, bool post) {
  const SimOptions& o = server_->options();
  const Api api = server_->chat().api;
  const bool old_build = api == Api::kLlamaCppB4800;
  const std::string_view json_type = "application/json; charset=utf-8";
  if ((target == "/v1/chat/completions" || target == "/chat/completions") && post) {
    return HandleChat();
  }
  if ((target == "/v1/models" || target == "/models") && get) {
    return Respond(200, json_type,
                   ModelsBody(o.models, o.max_model_len, static_cast<int64_t>(std::time(nullptr)),
                              api, o.image_support && !old_build));
  }
  if ((target == "/health" || target == "/v1/health") && get) {
    return Respond(200, json_type, R"({"status":"ok"})");
  }
  if (target == "/props" && get) {
    std::string out;
    JsonWriter w(&out);
    w.BeginObject().Key("default_generation_settings").BeginObject();
    w.Key("id").Int(0).Key("id_task").Int(-1).Key("n_ctx").Int(o.max_model_len);
    w.Key("speculative").Bool(false).Key("is_processing").Bool(false);
    w.Key("params").BeginObject().Key("n_predict").Int(-1).Key("seed").Int(-1);
    w.Key("temperature").Double(0.8).Key("top_k").Int(40).Key("top_p").Double(0.95);
    w.EndObject().Key("prompt").String("").EndObject();
    w.Key("total_slots").Int(o.max_num_seqs);
    w.Key("model_path").String("/models/" + o.models.front() + ".gguf");
    if (!old_build) {
      // Added with libmtmd (b5xxx, April 2025): what the loaded mmproj lets the model read.
      w.Key("model_alias").String(o.models.front());
      w.Key("modalities").BeginObject().Key("vision").Bool(o.image_support);
      w.Key("audio").Bool(false).EndObject();
      w.Key("endpoint_slots").Bool(true).Key("endpoint_props").Bool(false);
      w.Key("endpoint_metrics").Bool(server_->metrics_enabled());
      w.Key("is_sleeping").Bool(false);
    }
    // With no template in the model, llama-server renders chats with its chatml fallback.
    w.Key("chat_template")
        .String(o.chat_template ? "{% for message in messages %}{{ message['content'] }}"
                                  "{% endfor %}"
                                : "{%- for message in messages -%}{{- '<|im_start|>' + "
                                  "message.role + '\\n' + message.content + '<|im_end|>\\n' -}}"
                                  "{%- endfor -%}{%- if add_generation_prompt -%}{{- "
                                  "'<|im_start|>assistant\\n' -}}{%- endif -%}");
    w.Key("bos_token").String("<s>").Key("eos_token").String("</s>");
    w.Key("build_info").String(old_build ? "b4800-sim" : "b6900-sim").EndObject();
    return Respond(200, json_type, std::move(out));
  }
  if (target == "/slots" && get) {
    const uint64_t running = server_->slots().running();
    std::string out;
    JsonWriter w(&out);
    w.BeginArray();
    for (int i = 0; i < o.max_num_seqs; ++i) {
      w.BeginObject().Key("id").Int(i).Key("id_task").Int(-1).Key("n_ctx").Int(o.max_model_len);
      w.Key("speculative").Bool(false);
      w.Key("is_processing").Bool(static_cast<uint64_t>(i) < running).EndObject();
    }
    w.EndArray();
    return Respond(200, json_type, std::move(out));
  }
  if (target == "/metrics" && get) {
    if (!server_->metrics_enabled()) {
      return Respond(
          501, json_type,
          ErrorBody({501, "not_supported_error",
                     "This server does not support metrics endpoint. Start it with `--metrics`"},
                    api));
    }
    return Respond(200, "text/plain; version=0.0.4", server_->MetricsText());
  }
  Respond(404, json_type,
          R"({"error":{"message":"File Not Found","type":"not_found_error","code":404}})");
}

// SGLang's FastAPI app (python/sglang/srt/entrypoints/http_server.py): /health, /get_model_info,
// /get_server_info (and /server_info in later versions), /metrics only with --enable-metrics,
// /v1/models, /v1/chat/completions; FastAPI's {"detail":"Not Found"} otherwise.
void Connection::RouteSglang(std::string_view target, bool get, bool post) {
  const SimOptions& o = server_->options();
  if (target == "/v1/chat/completions" && post) return HandleChat();
  if (target == "/v1/models" && get) {
    return Respond(200, "application/json",
                   ModelsBody(o.models, o.max_model_len, static_cast<int64_t>(std::time(nullptr)),
                              server_->chat().api));
  }
  if ((target == "/health" || target == "/health_generate") && get) {
    return Respond(200, "application/json", "");
  }
  if (target == "/get_model_info" && get) {
    std::string out;
    JsonWriter w(&out);
    w.BeginObject().Key("model_path").String(o.models.front());
    w.Key("tokenizer_path").String(o.models.front()).Key("is_generation").Bool(true);
    w.Key("preferred_sampling_params").Null().Key("weight_version").String("default");
    w.Key("has_image_understanding").Bool(o.image_support);
    w.Key("has_audio_understanding").Bool(false).EndObject();
    return Respond(200, "application/json", std::move(out));
  }
  if ((target == "/get_server_info" || target == "/server_info") && get) {
    // server_args as a dict, plus the scheduler's internal states and the version.
    std::string out;
    JsonWriter w(&out);
    w.BeginObject().Key("model_path").String(o.models.front());
    w.Key("served_model_name").String(o.models.front());
    w.Key("context_length").Int(o.max_model_len);
    w.Key("max_running_requests").Int(o.max_num_seqs);
    w.Key("max_total_num_tokens").Int(o.max_model_len * 8);
    w.Key("enable_metrics").Bool(server_->metrics_enabled());
    // ServerArgs: the radix cache is on unless --disable-radix-cache; cached tokens are in the
    // usage only with --enable-cache-report.
    w.Key("disable_radix_cache").Bool(!o.prefix_caching);
    w.Key("enable_cache_report").Bool(o.report_cached_tokens);
    w.Key("tp_size").Int(1).Key("dp_size").Int(1);
    w.Key("internal_states").BeginArray().BeginObject();
    w.Key("last_gen_throughput").Double(0).Key("memory_usage").BeginObject().EndObject();
    w.EndObject().EndArray();
    w.Key("version").String("0.5.4-sim").EndObject();
    return Respond(200, "application/json", std::move(out));
  }
  if (target == "/metrics" && get && server_->metrics_enabled()) {
    return Respond(200, "text/plain; version=0.0.4; charset=utf-8", server_->MetricsText());
  }
  Respond(404, "application/json", R"({"detail":"Not Found"})");
}

// Ollama's gin routes (server/routes.go GenerateRoutes): / and /api/version, /api/tags,
// /api/show, /api/ps, and the OpenAI layer /v1/models and /v1/chat/completions; no /metrics,
// no /health. gin's 404 is the plain text "404 page not found".
void Connection::RouteOllama(std::string_view target, bool get, bool post) {
  const SimOptions& o = server_->options();
  const auto& req = parser_->get();
  const bool head = req.method() == http::verb::head;
  if (target == "/v1/chat/completions" && post) return HandleChat();
  if (target == "/api/chat" && post) return HandleNativeChat();
  if (target == "/v1/models" && get) {
    return Respond(200, "application/json",
                   ModelsBody(o.models, o.max_model_len, static_cast<int64_t>(std::time(nullptr)),
                              server_->chat().api));
  }
  if (target == "/" && (get || head)) {
    return Respond(200, "text/plain; charset=utf-8", "Ollama is running");
  }
  if (target == "/api/version" && (get || head)) {
    return Respond(200, "application/json; charset=utf-8", R"({"version":"0.12.6"})");
  }
  auto details = [](JsonWriter& w) {
    w.Key("details").BeginObject().Key("parent_model").String("").Key("format").String("gguf");
    w.Key("family").String("llama").Key("families").BeginArray().String("llama").EndArray();
    w.Key("parameter_size").String("1.1B").Key("quantization_level").String("Q4_K_M");
    w.EndObject();
  };
  if (target == "/api/tags" && (get || head)) {
    std::string out;
    JsonWriter w(&out);
    w.BeginObject().Key("models").BeginArray();
    for (const auto& m : o.models) {
      w.BeginObject().Key("name").String(m).Key("model").String(m);
      w.Key("modified_at").String("2025-10-01T00:00:00Z").Key("size").Int(667814912);
      w.Key("digest").String("0000000000000000000000000000000000000000000000000000000000000000");
      details(w);
      w.EndObject();
    }
    w.EndArray().EndObject();
    return Respond(200, "application/json; charset=utf-8", std::move(out));
  }
  if (target == "/api/ps" && get) {
    std::string out;
    JsonWriter w(&out);
    w.BeginObject().Key("models").BeginArray();
    for (const auto& m : o.models) {
      w.BeginObject().Key("name").String(m).Key("model").String(m).Key("size").Int(667814912);
      details(w);
      w.Key("expires_at").String("2099-01-01T00:00:00Z").Key("size_vram").Int(0);
      w.Key("context_length").Int(o.max_model_len).EndObject();
    }
    w.EndArray().EndObject();
    return Respond(200, "application/json; charset=utf-8", std::move(out));
  }
  if (target == "/api/show" && post) {
    // api/types.go ShowRequest: {"model": ...} (or the older "name").
    auto doc = nlohmann::json::parse(req.body(), nullptr, false);
    std::string name;
    if (doc.is_object()) {
      name = doc.value("model", "");
      if (name.empty()) name = doc.value("name", "");
    }
    if (std::find(o.models.begin(), o.models.end(), name) == o.models.end()) {
      return Respond(404, "application/json; charset=utf-8",
                     nlohmann::json{{"error", fmt::format("model '{}' not found", name)}}.dump());
    }
    std::string out;
    JsonWriter w(&out);
    w.BeginObject().Key("license").String("").Key("modelfile").String("FROM " + name + "\n");
    w.Key("parameters").String("").Key("template").String("{{ .Prompt }}");
    details(w);
    w.Key("model_info").BeginObject().Key("general.architecture").String("llama");
    w.Key("general.parameter_count").Int(1100048384);
    w.Key("llama.context_length").Int(o.max_model_len).EndObject();
    w.Key("capabilities").BeginArray().String("completion");
    if (o.image_support) w.String("vision");
    w.EndArray().Key("modified_at").String("2025-10-01T00:00:00Z").EndObject();
    return Respond(200, "application/json; charset=utf-8", std::move(out));
  }
  Respond(404, "text/plain", "404 page not found");
}

void Connection::HandleChat() {
  server_->chat_requests_.fetch_add(1, std::memory_order_relaxed);
  std::string body = std::move(parser_->get().body());
  parser_.reset();  // the request's bytes are no longer needed
  Plan(std::move(body));
}

void Connection::HandleNativeChat() {
  server_->chat_requests_.fetch_add(1, std::memory_order_relaxed);
  NativeChat native = FromOllamaNative(parser_->get().body());
  parser_.reset();
  if (native.error.status != 0) {
    return Respond(native.error.status, "application/json; charset=utf-8",
                   OllamaNativeErrorBody(native.error));
  }
  native_ = true;
  native_stream_ = native.stream;
  Plan(std::move(native.openai_body));
}

void Connection::Plan(std::string body) {
  if (body.size() > kInlineBodyBytes) {
    // Big bodies (images) are parsed and decoded off the I/O thread, which keeps serving others.
    auto self = shared_from_this();
    asio::post(server_->cpu_pool(), [self, body = std::move(body)] {
      ChatOutcome outcome = PlanChat(body, self->server_->chat());
      asio::post(self->socket_.get_executor(), [self, outcome = std::move(outcome)]() mutable {
        self->OnPlanned(std::move(outcome));
      });
    });
    return;
  }
  OnPlanned(PlanChat(body, server_->chat()));
}

void Connection::OnPlanned(ChatOutcome outcome) {
  if (!outcome.ok() && native_) {
    native_ = false;
    return Respond(outcome.error.status, "application/json; charset=utf-8",
                   OllamaNativeErrorBody(outcome.error));
  }
  if (!outcome.ok()) {
    return Respond(outcome.error.status, "application/json",
                   ErrorBody(outcome.error, server_->chat().api));
  }
  plan_ = std::move(outcome.plan);
  sequence_ = server_->sequence_.fetch_add(1, std::memory_order_relaxed);
  fault_ = server_->faults().Decide(server_->options().seed, sequence_);
  if (fault_ != Fault::kNone) server_->faults_given_.fetch_add(1, std::memory_order_relaxed);
  switch (fault_) {
    case Fault::k429:
      plan_ = ChatPlan();
      return Respond(429, "application/json",
                     ErrorBody(ServerError(429,
                                           "Too many requests: the server is over capacity "
                                           "(simulated 429 fault); retry after the Retry-After "
                                           "delay.",
                                           server_->chat().api),
                               server_->chat().api),
                     fmt::format("retry-after: {}\r\n", server_->options().retry_after_s));
    case Fault::k500:
      plan_ = ChatPlan();
      return Respond(500, "application/json",
                     ErrorBody(ServerError(500, "Internal server error (simulated 500 fault).",
                                           server_->chat().api),
                               server_->chat().api));
    case Fault::k503:
      plan_ = ChatPlan();
      return Respond(503, "application/json",
                     ErrorBody(ServerError(503, "The server is not ready (simulated 503 fault).",
                                           server_->chat().api),
                               server_->chat().api));
    case Fault::kHang:
      plan_ = ChatPlan();
      return Hang();
    default:
      break;
  }
  auto self = shared_from_this();
  server_->slots().Acquire([self] {
    // Runs on whichever thread freed the slot: hop back to this connection's thread.
    asio::post(self->socket_.get_executor(), [self] { self->StartService(); });
  });
}

void Connection::StartService() {
  holds_slot_ = true;
  const SimOptions& o = server_->options();
  // Scheduled: the prompt is looked up in the prefix cache (the cached part is not computed)
  // and made reusable for the requests after it.
  lease_ = server_->cache().Admit(plan_.tokens, plan_.completion_tokens);
  plan_.tokens = PromptTokens();
  plan_.cached_tokens = lease_.cached_tokens();
  plan_.report_cached_tokens = o.report_cached_tokens;
  double ms;
  if (o.latency_ms >= 0) {
    ms = o.latency_ms;
    server_->AddGpuSeconds(ms / 1000.0 / o.max_num_seqs);
  } else {
    double running = static_cast<double>(server_->slots().running());
    double fill = o.max_num_seqs > 1 ? (running - 1) / (o.max_num_seqs - 1) : 1.0;
    if (fill < 0) fill = 0;
    double per_token = o.decode_ms_per_token * (1.0 + o.decode_batch_slowdown * fill);
    double prefill =
        o.prefill_ms_per_1k_tokens * (plan_.prompt_tokens - plan_.cached_tokens) / 1000.0;
    ms = prefill + per_token * plan_.completion_tokens;
    server_->AddGpuSeconds(ms / 1000.0 / o.max_num_seqs);
    if (plan_.stream && (fault_ == Fault::kNone || fault_ == Fault::kLength)) {
      // Streams arrive as they are decoded: the head after prefill, then tokens as they come.
      token_ms_ = per_token;
      return Wait(prefill, [](Connection* c) { c->StartStream(); });
    }
  }
  Wait(ms, [](Connection* c) { c->FinishService(); });
}

void Connection::Wait(double ms, void (*then)(Connection*)) {
  if (ms <= 0) return then(this);
  timer_.expires_after(std::chrono::microseconds(static_cast<int64_t>(ms * 1000)));
  timer_.async_wait([self = shared_from_this(), then](beast::error_code ec) {
    if (!ec) then(self.get());
  });
}

void Connection::StartStream() {
  if (fault_ == Fault::kLength) TruncateForLengthFault(&plan_);
  fault_ = Fault::kNone;
  const int64_t created = static_cast<int64_t>(std::time(nullptr));
  const std::string id = fmt::format("chatcmpl-{:016x}", Mix64(plan_.hash, sequence_));
  stream_ = StreamBody(plan_, id, created);
  stream_pos_ = 0;
  // One event per token; send them in groups of about 50 ms of decoding to bound the writes.
  stream_events_per_write_ = token_ms_ >= 50 ? 1 : static_cast<int>(50 / std::max(token_ms_, 0.01));
  server_->CountStatus(200);
  out_ = fmt::format(
      "HTTP/1.1 200 OK\r\n{}content-type: text/event-stream; "
      "charset=utf-8\r\ntransfer-encoding: chunked\r\n{}\r\n",
      server_->server_header(), keep_alive_ ? "" : "connection: close\r\n");
  StreamNext(1);  // the role chunk goes out with the head
}

void Connection::StreamNext(int events) {
  size_t end = stream_pos_;
  for (int i = 0; i < events && end < stream_.size(); ++i) {
    size_t next = stream_.find("\n\n", end);
    end = next == std::string::npos ? stream_.size() : next + 2;
  }
  std::string_view piece(stream_.data() + stream_pos_, end - stream_pos_);
  fmt::format_to(std::back_inserter(out_), "{:x}\r\n{}\r\n", piece.size(), piece);
  stream_pos_ = end;
  const bool last = stream_pos_ >= stream_.size();
  if (last) out_ += "0\r\n\r\n";
  asio::async_write(
      socket_, asio::buffer(out_), [self = shared_from_this(), last](beast::error_code ec, size_t) {
        self->out_.clear();
        if (ec) return;  // the client left; the destructor frees the slot
        if (!last) {
          double wait = self->token_ms_ * self->stream_events_per_write_;
          return self->Wait(wait,
                            [](Connection* c) { c->StreamNext(c->stream_events_per_write_); });
        }
        self->EndStream();
      });
}

void Connection::EndStream() {
  holds_slot_ = false;
  lease_.Release();
  server_->slots().Release();
  server_->finished_requests_.fetch_add(1, std::memory_order_relaxed);
  server_->prompt_tokens_.fetch_add(plan_.prompt_tokens, std::memory_order_relaxed);
  server_->generation_tokens_.fetch_add(plan_.completion_tokens, std::memory_order_relaxed);
  plan_ = ChatPlan();
  stream_ = std::string();
  if (!keep_alive_) return Close();
  ReadHeader();
}

void Connection::FinishService() {
  holds_slot_ = false;
  lease_.Release();
  server_->slots().Release();
  server_->finished_requests_.fetch_add(1, std::memory_order_relaxed);
  if (fault_ == Fault::kLength) TruncateForLengthFault(&plan_);
  server_->prompt_tokens_.fetch_add(plan_.prompt_tokens, std::memory_order_relaxed);
  server_->generation_tokens_.fetch_add(plan_.completion_tokens, std::memory_order_relaxed);
  const int64_t created = static_cast<int64_t>(std::time(nullptr));
  const std::string id = fmt::format("chatcmpl-{:016x}", Mix64(plan_.hash, sequence_));
  ChatPlan plan = std::move(plan_);
  plan_ = ChatPlan();
  if (fault_ == Fault::kGarbage) {
    static constexpr std::string_view kGarbage[] = {
        "<html><body><h1>502 Bad Gateway</h1></body></html>", "{\"id\": \"chatcmpl-",
        "upstream connect error or disconnect/reset before headers"};
    return Respond(200, "application/json",
                   std::string(kGarbage[Mix64(plan.hash, sequence_) % std::size(kGarbage)]));
  }
  if (native_) {
    native_ = false;
    Respond(200, native_stream_ ? "application/x-ndjson" : "application/json; charset=utf-8",
            OllamaNativeBody(plan, native_stream_));
  } else if (plan.stream) {
    Respond(200, "text/event-stream; charset=utf-8", StreamBody(plan, id, created));
  } else {
    Respond(200, "application/json", CompletionBody(plan, id, created));
  }
}

void Connection::Hang() {
  // Never answer; notice when the client gives up (EOF or reset) and let go of the connection.
  socket_.async_read_some(asio::buffer(&hang_byte_, 1),
                          [self = shared_from_this()](beast::error_code ec, size_t) {
                            if (!ec) return self->Hang();
                            self->Close();
                          });
}

void Connection::Respond(int status, std::string_view content_type, std::string body,
                         std::string_view extra_headers) {
  native_ = false;  // whatever the answer, the next request on this connection starts afresh
  // A reset is not an answer: it is counted in structflow_sim_faults_total only.
  if (!(fault_ == Fault::kReset && status == 200) && !uncounted_) server_->CountStatus(status);
  uncounted_ = false;
  out_.clear();
  out_.reserve(body.size() + 256);
  fmt::format_to(std::back_inserter(out_),
                 "HTTP/1.1 {} {}\r\n{}content-type: {}\r\ncontent-length: {}\r\n{}{}\r\n", status,
                 Reason(status), server_->server_header(), content_type, body.size(), extra_headers,
                 keep_alive_ ? "" : "connection: close\r\n");
  out_ += body;
  if (fault_ == Fault::kReset && status == 200) {
    fault_ = Fault::kNone;
    // Part of the head, then a TCP reset.
    return Reset(std::min<size_t>(out_.size() / 2, 40));
  }
  fault_ = Fault::kNone;
  WriteRaw(!keep_alive_);
}

void Connection::WriteRaw(bool close_after) {
  asio::async_write(socket_, asio::buffer(out_),
                    [self = shared_from_this(), close_after](beast::error_code ec, size_t) {
                      self->out_.clear();
                      if (self->out_.capacity() > (1 << 16)) self->out_.shrink_to_fit();
                      if (ec) return;
                      if (close_after) return self->Close();
                      self->ReadHeader();
                    });
}

void Connection::Reset(size_t partial_bytes) {
  asio::async_write(socket_, asio::buffer(out_.data(), partial_bytes),
                    [self = shared_from_this()](beast::error_code, size_t) {
                      beast::error_code ignored;
                      self->socket_.set_option(asio::socket_base::linger(true, 0), ignored);
                      self->socket_.close(ignored);
                      self->out_.clear();
                    });
}

void Connection::Close() {
  beast::error_code ignored;
  socket_.shutdown(tcp::socket::shutdown_send, ignored);
  socket_.close(ignored);
}

}  // namespace

Result<std::unique_ptr<Server>> Server::Start(const SimOptions& requested) {
  ChatConfig chat;
  SF_ASSIGN_OR_RAISE(chat.api, ParseApi(requested.api));
  // Fill in what the user left to the family.
  SimOptions options = requested;
  const FamilyDefaults defaults = DefaultsFor(chat.api);
  if (options.max_num_seqs == 0) options.max_num_seqs = defaults.slots;
  if (!options.metrics.has_value()) options.metrics = defaults.metrics;
  if (options.json_whitespace < 0) options.json_whitespace = defaults.json_whitespace;
  if (options.http_threads < 0) {
    options.http_threads = defaults.http_threads;
    if (options.http_threads < 0) {
      const int hw = static_cast<int>(std::thread::hardware_concurrency());
      options.http_threads =
          std::max(options.max_num_seqs + defaults.http_threads_over_slots, hw - 1);
    }
  }
  if (options.http_threads_max < 0) {
    options.http_threads_max = options.http_threads + defaults.http_dynamic_threads;
  }
  if (options.http_threads_max > 0 && options.http_threads_max < options.http_threads) {
    return Status::InvalidArgument(
        "--http-threads-max must be at least --http-threads (the threads always running)");
  }
  if (options.http_thread_wake_ms < 0) {
    return Status::InvalidArgument("--http-thread-wake-ms must be 0 or more");
  }
  if (options.json_whitespace > 1) {
    return Status::InvalidArgument("--json-whitespace is a rate: give a value from 0 to 1");
  }
  if (options.keep_alive_s <= 0) return Status::InvalidArgument("--keep-alive-s must be above 0");
  SF_ASSIGN_OR_RAISE(FaultPlan faults, FaultPlan::Parse(options.faults));
  if (options.models.empty())
    return Status::InvalidArgument("--model: give at least one model name");
  if (options.max_num_seqs < 1) return Status::InvalidArgument("--max-num-seqs must be at least 1");
  if (options.max_model_len < 1)
    return Status::InvalidArgument("--max-model-len must be at least 1");
  if (options.bytes_per_text_token < 1) {
    return Status::InvalidArgument("--bytes-per-token must be at least 1");
  }
  if (options.limit_mm_per_prompt < 0) {
    return Status::InvalidArgument("--limit-mm-per-prompt must be 0 or more");
  }
  if (options.port < 0 || options.port > 65535) {
    return Status::InvalidArgument(
        fmt::format("--port {} is not a TCP port (0-65535)", options.port));
  }
  chat.models = options.models;
  chat.max_model_len = options.max_model_len;
  chat.limit_mm_per_prompt = options.limit_mm_per_prompt;
  chat.bytes_per_text_token = options.bytes_per_text_token;
  chat.tokens_per_image = options.tokens_per_image;
  chat.image_support = options.image_support;
  chat.chat_template = options.chat_template;
  chat.json_whitespace = options.json_whitespace;
  chat.seed = options.seed;
  const Family family = FamilyOf(chat.api);
  chat.prompt_token_ids =
      options.prefix_caching && (family == Family::kVllm || family == Family::kSglang);
  if (options.block_size < 0) return Status::InvalidArgument("--block-size must be 0 or more");
  if (options.kv_cache_tokens < 1) {
    return Status::InvalidArgument("--kv-cache-tokens must be at least 1");
  }
  RaiseOpenFileLimit();
  auto server = std::make_unique<ServerImpl>(options, std::move(chat), faults);
  SF_RETURN_NOT_OK(server->Listen());
  return std::unique_ptr<Server>(std::move(server));
}

}  // namespace structflow::sim

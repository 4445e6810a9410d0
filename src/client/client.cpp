#include "client/client.h"

#include <curl/curl.h>
#include <fmt/format.h>
#include <pthread.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstring>
#include <ctime>
#include <deque>
#include <mutex>
#include <optional>
#include <queue>
#include <random>
#include <thread>
#include <unordered_map>
#include <unordered_set>

#include "client/api_key.h"
#include "client/concurrency.h"
#include "client/endpoints.h"
#include "client/error_class.h"
#include "client/response_scan.h"
#include "client/retry_policy.h"
#include "common/bounded_queue.h"
#include "common/logging.h"
#include "common/text.h"

namespace structflow::client {
namespace {

constexpr int kKinds = kNumErrorKinds;

// Log-spaced latency buckets: 5% wide from 50 us to about 2.7 hours.
class LatencyHistogram {
 public:
  void Add(double s) {
    ++buckets_[Bucket(s)];
    ++count_;
  }
  double Quantile(double q) const {
    if (count_ == 0) return 0;
    uint64_t rank = static_cast<uint64_t>(std::ceil(q * static_cast<double>(count_)));
    rank = std::max<uint64_t>(rank, 1);
    uint64_t seen = 0;
    for (size_t i = 0; i < buckets_.size(); ++i) {
      seen += buckets_[i];
      if (seen >= rank) return kMin * std::pow(kRatio, static_cast<double>(i) + 0.5);
    }
    return kMin * std::pow(kRatio, static_cast<double>(buckets_.size()));
  }

 private:
  static constexpr double kMin = 50e-6;
  static constexpr double kRatio = 1.05;
  static size_t Bucket(double s) {
    if (!(s > kMin)) return 0;
    double b = std::log(s / kMin) / std::log(kRatio);
    return std::min<size_t>(static_cast<size_t>(b), kBuckets - 1);
  }
  static constexpr size_t kBuckets = 400;
  std::array<uint64_t, kBuckets> buckets_{};
  uint64_t count_ = 0;
};

// An easy handle with its error buffer; pooled and reused so connections are reused too.
struct EasySlot {
  CURL* easy = nullptr;
  char error[CURL_ERROR_SIZE] = {0};
  double connect_timeout_s = 0;  // as set on `easy`
};

// One request while the I/O thread owns it.
struct Transfer {
  Request request;
  std::string url;
  int attempts = 0;
  int invalid_responses = 0;
  Clock::TimePoint first_start{};
  Clock::TimePoint deadline{};
  Clock::TimePoint attempt_start{};
  Clock::TimePoint attempt_deadline{};  // request timeout or row deadline, whichever is first
  int endpoint = -1;
  int failed_endpoint = -1;
  uint64_t aimd_seq = 0;
  EasySlot* slot = nullptr;
  std::string response;
  std::optional<double> retry_after_s;
  int http_status = 0;
  RowError last_error;
  // Stall detection: the last time bytes moved either way, seen by the progress callback.
  Clock* clock = nullptr;
  Clock::TimePoint last_progress{};
  curl_off_t progress_bytes = 0;
  bool stalled = false;
  size_t active_index = SIZE_MAX;  // position in Impl::active_, while a transfer runs
  bool side() const { return !request.url.empty(); }
};

int OnProgress(void* user, curl_off_t, curl_off_t dlnow, curl_off_t, curl_off_t ulnow) {
  auto* t = static_cast<Transfer*>(user);
  if (dlnow + ulnow != t->progress_bytes) {
    t->progress_bytes = dlnow + ulnow;
    t->last_progress = t->clock->Now();
  }
  return 0;
}

size_t WriteBody(char* data, size_t size, size_t n, void* user) {
  auto* t = static_cast<Transfer*>(user);
  t->response.append(data, size * n);
  return size * n;
}

size_t ReadHeader(char* data, size_t size, size_t n, void* user) {
  auto* t = static_cast<Transfer*>(user);
  std::string_view line(data, size * n);
  constexpr std::string_view kName = "retry-after:";
  if (line.size() > kName.size()) {
    bool match = true;
    for (size_t i = 0; i < kName.size(); ++i) {
      char c = line[i];
      if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
      if (c != kName[i]) {
        match = false;
        break;
      }
    }
    if (match) t->retry_after_s = ParseRetryAfter(line.substr(kName.size()), std::time(nullptr));
  }
  return size * n;
}

// The start of a server's body for a message: one line, control characters escaped (a hostile
// or broken server's bytes may reach a terminal).
std::string Snippet(std::string_view body) { return QuoteInput(body, 300); }

std::string Seconds(double s) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", s);
  return buf;
}

}  // namespace

class Client::Impl {
 public:
  struct EndpointSlots {  // what SetEndpointSlots said about one endpoint
    int slots = 0;
    int max_connections = 0;
    bool ceiling = true;  // false: a family's documented default, a start and not a bound
  };

  Impl(ClientOptions options, Clock* clock)
      : options_(std::move(options)),
        clock_(clock),
        retry_(RetryOptions{options_.max_attempts, options_.backoff_base_s, options_.backoff_max_s,
                            options_.max_invalid_response_attempts}),
        aimd_(
            AimdOptions{.initial = std::min(options_.initial_concurrency, options_.max_concurrency),
                        .min = 1,
                        .max = options_.max_concurrency}),
        endpoints_(options_.endpoints.size(),
                   EndpointOptions{options_.eject_after, options_.endpoint_cooldown_s,
                                   std::max(60.0, options_.endpoint_cooldown_s)},
                   clock),
        rng_(options_.seed != 0 ? options_.seed : std::random_device{}()),
        submit_q_(options_.queue_capacity) {
    endpoint_slots_.resize(options_.endpoints.size());
    groups_[0] = std::make_shared<GroupQueue>();
  }

  ~Impl() {
    Cancel();
    if (thread_.joinable()) thread_.join();
    for (EasySlot* s : pool_) {
      curl_easy_cleanup(s->easy);
      delete s;
    }
    if (multi_ != nullptr) curl_multi_cleanup(multi_);
    if (epoll_fd_ >= 0) ::close(epoll_fd_);
    if (wake_fd_ >= 0) ::close(wake_fd_);
    curl_slist_free_all(post_headers_);
    curl_slist_free_all(get_headers_);
  }

  Status Init() {
    static std::once_flag once;
    std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
    multi_ = curl_multi_init();
    if (multi_ == nullptr) return Status::Internal("curl_multi_init failed");
    // The socket API (curl_multi_socket_action on our own epoll set), not curl_multi_perform:
    // libcurl 7.88's perform and poll walk every transfer on each call, and with hundreds in
    // flight that walk was most of the client's CPU. Here a socket event touches only its own
    // transfer.
    epoll_fd_ = epoll_create1(EPOLL_CLOEXEC);
    wake_fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (epoll_fd_ < 0 || wake_fd_ < 0) {
      return Status::Internal(fmt::format("epoll/eventfd: {}", std::strerror(errno)));
    }
    epoll_event wake_ev{};
    wake_ev.events = EPOLLIN;
    wake_ev.data.fd = wake_fd_;
    if (epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, wake_fd_, &wake_ev) != 0) {
      return Status::Internal(fmt::format("epoll_ctl: {}", std::strerror(errno)));
    }
    curl_multi_setopt(multi_, CURLMOPT_SOCKETFUNCTION, &Impl::OnSocket);
    curl_multi_setopt(multi_, CURLMOPT_SOCKETDATA, this);
    curl_multi_setopt(multi_, CURLMOPT_TIMERFUNCTION, &Impl::OnTimer);
    curl_multi_setopt(multi_, CURLMOPT_TIMERDATA, this);
    long max_in_flight = options_.concurrency > 0 ? options_.concurrency : options_.max_concurrency;
    curl_multi_setopt(multi_, CURLMOPT_MAXCONNECTS, max_in_flight + 16);
    if (options_.http2) curl_multi_setopt(multi_, CURLMOPT_PIPELINING, CURLPIPE_MULTIPLEX);
    std::string auth;
    if (!options_.api_key.empty()) auth = "Authorization: Bearer " + options_.api_key;
    post_headers_ = curl_slist_append(post_headers_, "Content-Type: application/json");
    post_headers_ = curl_slist_append(post_headers_, "Accept: application/json");
    post_headers_ = curl_slist_append(post_headers_, "Expect:");
    get_headers_ = curl_slist_append(get_headers_, "Accept: application/json");
    if (!auth.empty()) {
      post_headers_ = curl_slist_append(post_headers_, auth.c_str());
      get_headers_ = curl_slist_append(get_headers_, auth.c_str());
      std::fill(auth.begin(), auth.end(), '\0');
    }
    if (post_headers_ == nullptr || get_headers_ == nullptr) {
      return Status::Internal("curl_slist_append failed (out of memory?)");
    }
    {
      std::lock_guard lock(stats_mu_);
      stats_.concurrency_limit = Limit();
    }
    limit_.store(Limit());
    thread_ = std::thread([this] { Run(); });
    return Status::OK();
  }

  bool Resubmit(Request request) {
    if (cancel_.load(std::memory_order_acquire)) return false;
    {
      std::lock_guard lock(resubmit_mu_);
      if (resubmit_closed_) return false;
      resubmits_.push_back(std::move(request));
    }
    {
      std::lock_guard lock(stats_mu_);
      ++stats_.submitted;
    }
    Wake();
    return true;
  }

  bool Submit(Request request) {
    if (cancel_.load(std::memory_order_acquire)) return false;
    if (!request.url.empty()) {
      // A side request (a probe): never waits behind the bulk queue or the limit.
      {
        std::lock_guard lock(resubmit_mu_);
        if (resubmit_closed_) return false;
        side_.push_back(std::move(request));
      }
      {
        std::lock_guard lock(stats_mu_);
        ++stats_.submitted;
      }
      Wake();
      return true;
    }
    if (!submit_q_.Push(request)) return false;
    {
      std::lock_guard lock(stats_mu_);
      ++stats_.submitted;
    }
    Wake();
    return true;
  }

  std::optional<Completion> NextCompletion() {
    std::vector<Completion> one;
    if (NextCompletions(&one, 1) == 0) return std::nullopt;
    return std::move(one.front());
  }

  size_t NextCompletions(std::vector<Completion>* out, size_t max) {
    return NextGroupCompletions(0, out, max);
  }

  void OpenGroup(uint64_t group) {
    std::lock_guard lock(cmu_);
    auto& q = groups_[group];
    if (!q) q = std::make_shared<GroupQueue>();
  }

  void CloseGroup(uint64_t group) {
    if (group == 0) return;  // the ungrouped queue lives as long as the client
    std::shared_ptr<GroupQueue> q;
    size_t dropped = 0;
    {
      std::lock_guard lock(cmu_);
      auto it = groups_.find(group);
      if (it == groups_.end()) return;
      q = std::move(it->second);
      groups_.erase(it);
      q->closed = true;
      dropped = q->items.size();
      held_ -= dropped;
      q->items.clear();
    }
    q->cv.notify_all();
    if (dropped > 0) Wake();  // room again for the I/O thread
  }

  size_t NextGroupCompletions(uint64_t group, std::vector<Completion>* out, size_t max) {
    max = std::max<size_t>(max, 1);
    const size_t first = out->size();
    std::unique_lock lock(cmu_);
    auto it = groups_.find(group);
    if (it == groups_.end()) return 0;
    std::shared_ptr<GroupQueue> q = it->second;  // CloseGroup may drop it from the map
    while (q->items.empty() && !io_done_ && !q->closed) {
      ++q->waiting;
      q->cv.wait(lock);
      --q->waiting;
    }
    bool was_full = held_ >= options_.queue_capacity;
    while (out->size() - first < max && !q->items.empty()) {
      out->push_back(std::move(q->items.front()));
      q->items.pop_front();
    }
    held_ -= out->size() - first;
    lock.unlock();
    if (was_full) Wake();
    Tally(*out, first);
    return out->size() - first;
  }

  // Counts completions handed out (or dropped for a closed group): cheap scans, off the I/O
  // thread when a consumer takes them.
  void Tally(const std::vector<Completion>& list, size_t first) {
    uint64_t succeeded = 0;
    int64_t prompt_tokens = 0, completion_tokens = 0;
    std::array<uint64_t, kKinds> errors{};
    for (size_t i = first; i < list.size(); ++i) {
      const Completion& c = list[i];
      if (c.ok()) {
        Usage usage = ScanUsage(c.body);
        ++succeeded;
        prompt_tokens += usage.prompt_tokens;
        completion_tokens += usage.completion_tokens;
      } else {
        ++errors[static_cast<int>(c.error.kind)];
      }
    }
    std::lock_guard slock(stats_mu_);
    stats_.completed += list.size() - first;
    stats_.succeeded += succeeded;
    stats_.prompt_tokens += prompt_tokens;
    stats_.completion_tokens += completion_tokens;
    for (int k = 0; k < kKinds; ++k) stats_.errors_by_kind[k] += errors[k];
  }

  void Close() {
    submit_q_.Close();
    Wake();
  }

  void Cancel() {
    cancel_.store(true, std::memory_order_release);
    submit_q_.Close();
    Wake();
  }

  void StopSending() {
    stop_sending_.store(true, std::memory_order_release);
    submit_q_.Close();
    Wake();
  }

  void StopGroup(uint64_t group, bool abandon) {
    {
      std::lock_guard lock(group_mu_);
      new_group_stops_.emplace_back(group, abandon);
    }
    group_stop_pending_.store(true, std::memory_order_release);
    Wake();
  }

  void ObserveServerLoad(std::optional<ServerLoadReport> report) {
    if (options_.concurrency > 0) return;  // a fixed limit stays fixed
    {
      std::lock_guard lock(load_mu_);
      load_report_ = report;
      report_pending_ = true;
      load_pending_ = true;
    }
    Wake();
  }

  void SetEndpointSlots(int endpoint, int slots, int max_connections, bool ceiling) {
    if (endpoint < 0 || static_cast<size_t>(endpoint) >= options_.endpoints.size()) return;
    // A fixed limit stays fixed, but not above what the server can hold connections for.
    if (options_.concurrency > 0 && max_connections <= 0) return;
    {
      std::lock_guard lock(load_mu_);
      endpoint_slots_[endpoint] =
          EndpointSlots{std::max(0, slots), std::max(0, max_connections), ceiling};
    }
    FlushServerLoad();
  }

  void FlushServerLoad() {
    std::unique_lock lock(load_mu_);
    const uint64_t generation = ++slots_requested_;  // ApplySlots is idempotent
    load_pending_ = true;
    lock.unlock();
    Wake();
    lock.lock();
    slots_cv_.wait(lock, [&] { return slots_applied_ >= generation || io_exited_; });
  }

  ClientStats stats() const {
    std::lock_guard lock(stats_mu_);
    ClientStats s = stats_;
    s.latency_p50_s = latency_.Quantile(0.5);
    s.latency_p90_s = latency_.Quantile(0.9);
    s.latency_p99_s = latency_.Quantile(0.99);
    s.in_flight = in_flight_.load();
    s.concurrency_limit = limit_.load();
    s.io_thread_cpu_s = io_cpu_s_.load();
    return s;
  }

  int in_flight() const { return in_flight_.load(); }
  int concurrency_limit() const { return limit_.load(); }

 private:
  int Limit() const {
    const int wanted = options_.concurrency > 0 ? options_.concurrency : aimd_.limit();
    return connection_cap_ > 0 ? std::min(wanted, connection_cap_) : wanted;
  }

  void Wake() {
    if (!wake_pending_.exchange(true, std::memory_order_acq_rel)) {
      uint64_t one = 1;
      // Cannot fail short of a counter overflow; a full counter is still readable.
      [[maybe_unused]] ssize_t n = ::write(wake_fd_, &one, sizeof one);
    }
  }

  void RecordCpu() {
    timespec ts{};
    if (clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts) == 0) {
      io_cpu_s_.store(static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9);
    }
  }

  // ---- everything below runs on the I/O thread ----

  // libcurl's socket callback: keeps our epoll set in step with the sockets it wants watched.
  // A kept-alive connection is dropped (REMOVE) after each answer and watched again for the next
  // request, so a connection's socket stays in the set, parked, instead of an epoll_ctl DEL and
  // ADD per request; an event on a parked socket (the server closed it) takes it out then. Only
  // sockets opened and closed through our callbacks are parked: we see when those close (which
  // takes them out of the kernel's set); others (the resolver's) leave the set on REMOVE.
  static int OnSocket(CURL*, curl_socket_t s, int what, void* user, void*) {
    auto* self = static_cast<Impl*>(user);
    SocketState& st = self->SocketFor(s);
    if (what == CURL_POLL_REMOVE) {
      st.watched = false;
      if (!st.ours && st.in_set) {
        epoll_ctl(self->epoll_fd_, EPOLL_CTL_DEL, s, nullptr);  // may be closed already
        st.in_set = false;
      }
      return 0;
    }
    uint32_t events =
        ((what & CURL_POLL_IN) ? EPOLLIN : 0u) | ((what & CURL_POLL_OUT) ? EPOLLOUT : 0u);
    st.watched = true;
    if (st.in_set && st.events == events) return 0;
    epoll_event ev{};
    ev.events = events;
    ev.data.fd = s;
    int op = st.in_set ? EPOLL_CTL_MOD : EPOLL_CTL_ADD;
    if (epoll_ctl(self->epoll_fd_, op, s, &ev) != 0) {
      // Out of step with the kernel's set (a socket number closed and reused behind our back):
      // the other operation is the right one.
      int other = op == EPOLL_CTL_MOD ? EPOLL_CTL_ADD : EPOLL_CTL_MOD;
      if (epoll_ctl(self->epoll_fd_, other, s, &ev) != 0) return -1;
    }
    st.in_set = true;
    st.events = events;
    return 0;
  }

  static curl_socket_t OnOpenSocket(void* user, curlsocktype, curl_sockaddr* address) {
    auto* self = static_cast<Impl*>(user);
    curl_socket_t s = ::socket(address->family, address->socktype, address->protocol);
    if (s >= 0) self->SocketFor(s) = SocketState{.ours = true};
    return s;
  }

  // Every socket OnOpenSocket opened is closed here; closing takes it out of the epoll set.
  static int OnCloseSocket(void* user, curl_socket_t s) {
    auto* self = static_cast<Impl*>(user);
    if (s >= 0 && static_cast<size_t>(s) < self->sockets_.size()) self->sockets_[s] = {};
    return ::close(s);
  }

  struct SocketState {
    bool ours = false;     // opened by OnOpenSocket, to be closed by OnCloseSocket
    bool in_set = false;   // registered in epoll_fd_
    bool watched = false;  // libcurl wants its events
    uint32_t events = 0;   // as registered
  };

  SocketState& SocketFor(curl_socket_t s) {
    if (static_cast<size_t>(s) >= sockets_.size()) sockets_.resize(static_cast<size_t>(s) + 64);
    return sockets_[s];
  }

  // libcurl's timer callback: when to call curl_multi_socket_action(CURL_SOCKET_TIMEOUT).
  static int OnTimer(CURLM*, long timeout_ms, void* user) {
    auto* self = static_cast<Impl*>(user);
    if (timeout_ms < 0) {
      self->curl_timer_.reset();
    } else {
      self->curl_timer_ = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    }
    return 0;
  }

  void RunCurlTimer() {
    if (!curl_timer_ || *curl_timer_ > std::chrono::steady_clock::now()) return;
    curl_timer_.reset();
    int running = 0;
    curl_multi_socket_action(multi_, CURL_SOCKET_TIMEOUT, 0, &running);
  }

  void Run() {
    uint64_t iteration = 0;
    std::array<epoll_event, 256> events;
    while (true) {
      wake_pending_.store(false, std::memory_order_release);
      RunCurlTimer();
      ReadDone();
      CheckStalls();
      if (cancel_.load(std::memory_order_acquire)) {
        CancelAll();
      } else if (stop_sending_.load(std::memory_order_acquire)) {
        CancelUnstarted();
      }
      if (group_stop_pending_.exchange(false, std::memory_order_acq_rel)) ApplyGroupStops();
      StartDueRetries();
      ApplyServerLoad();
      PullNew();
      if ((++iteration & 63) == 0) RecordCpu();
      PublishCompletions();
      if (Done()) break;
      int n =
          epoll_wait(epoll_fd_, events.data(), static_cast<int>(events.size()), PollTimeoutMs());
      int running = 0;
      for (int i = 0; i < n; ++i) {
        int fd = events[i].data.fd;
        if (fd == wake_fd_) {
          uint64_t count = 0;
          [[maybe_unused]] ssize_t r = ::read(wake_fd_, &count, sizeof count);
          continue;
        }
        SocketState& st = SocketFor(fd);
        if (!st.watched) {
          epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, fd, nullptr);
          st.in_set = false;
          continue;
        }
        uint32_t e = events[i].events;
        int mask = ((e & EPOLLIN) ? CURL_CSELECT_IN : 0) | ((e & EPOLLOUT) ? CURL_CSELECT_OUT : 0) |
                   ((e & (EPOLLERR | EPOLLHUP)) ? CURL_CSELECT_ERR : 0);
        curl_multi_socket_action(multi_, fd, mask, &running);
      }
    }
    RecordCpu();
    PublishCompletions();
    {
      std::lock_guard lock(load_mu_);
      io_exited_ = true;
    }
    slots_cv_.notify_all();
    std::vector<std::shared_ptr<GroupQueue>> all;
    {
      std::lock_guard lock(cmu_);
      io_done_ = true;
      for (auto& [group, q] : groups_) all.push_back(q);
    }
    for (auto& q : all) q->cv.notify_all();
  }

  // The latest server-load report or loss, and slot counts, from other threads.
  void ApplyServerLoad() {
    std::optional<ServerLoadReport> report;
    bool report_pending = false;
    std::vector<EndpointSlots> slots;
    uint64_t slots_generation = 0;
    {
      std::lock_guard lock(load_mu_);
      if (!load_pending_) return;
      load_pending_ = false;
      report_pending = report_pending_;
      report_pending_ = false;
      report = load_report_;
      if (slots_applied_ < slots_requested_) {
        slots = endpoint_slots_;
        slots_generation = slots_requested_;
      }
    }
    if (slots_generation > 0) ApplySlots(slots);
    if (report_pending && options_.concurrency <= 0) {
      if (report) {
        aimd_.OnServerLoad(report->running, report->waiting,
                           in_flight_.load(std::memory_order_relaxed));
      } else {
        aimd_.OnServerLoadLost();
      }
    }
    PublishLimit();
    if (slots_generation > 0) {
      {
        std::lock_guard lock(load_mu_);
        slots_applied_ = slots_generation;
      }
      slots_cv_.notify_all();
    }
  }

  void ApplySlots(const std::vector<EndpointSlots>& slots) {
    int64_t total = 0;
    bool all_known = true;
    bool all_ceilings = true;
    int max_connections = 0;
    for (size_t i = 0; i < slots.size(); ++i) {
      endpoints_.SetMaxOutstanding(static_cast<int>(i), slots[i].max_connections);
      max_connections = std::max(max_connections, slots[i].max_connections);
      if (slots[i].slots == 0) all_known = false;
      all_ceilings = all_ceilings && slots[i].ceiling;
      total += slots[i].slots;
    }
    const int known = all_known ? static_cast<int>(std::min<int64_t>(total, INT32_MAX)) : 0;
    if (options_.concurrency > 0) {
      // A fixed limit: only the connection cap applies (Limit).
    } else if (all_ceilings) {
      aimd_.SetSlots(known);
    } else if (known > 0) {
      aimd_.StartAt(known);
    }
    connection_cap_ = endpoints_.total_max_outstanding();
    // A backstop under our own cap (which Pick keeps while every endpoint is healthy): libcurl
    // queues a transfer rather than open a connection past it. One value for every host, so
    // only when every endpoint has a cap.
    curl_multi_setopt(multi_, CURLMOPT_MAX_HOST_CONNECTIONS,
                      static_cast<long>(connection_cap_ > 0 ? max_connections : 0));
  }

  int PollTimeoutMs() {
    long ms = 1000;
    if (curl_timer_) {
      auto left = std::chrono::ceil<std::chrono::milliseconds>(*curl_timer_ -
                                                               std::chrono::steady_clock::now());
      ms = std::min<long>(ms, static_cast<long>(left.count()));
    }
    if (!active_.empty()) {
      ms = std::min<long>(
          ms, std::chrono::duration_cast<std::chrono::milliseconds>(kStallCheckEvery).count());
    }
    // A due retry waits for a free slot, which only a finishing transfer (a curl event) makes.
    if (!retries_.empty() && in_flight_.load(std::memory_order_relaxed) < Limit()) {
      double s = SecondsBetween(clock_->Now(), retries_.top().due);
      long due_ms = s <= 0 ? 0 : static_cast<long>(std::ceil(s * 1000));
      ms = std::min(ms, due_ms);
    }
    return static_cast<int>(std::max<long>(ms, 0));
  }

  void PullNew() {
    // Side requests (probes) at once, whatever the limit: a handful, each waited for.
    {
      std::deque<Request> side;
      {
        std::lock_guard lock(resubmit_mu_);
        side.swap(side_);
      }
      for (Request& r : side) {
        if (GroupStopped(r.id)) {
          CancelUnsent(r.id);
        } else {
          Adopt(std::move(r));
        }
      }
    }
    // Resubmissions first, and regardless of the completion backlog: each one follows a
    // completion already taken, so they cannot grow it, and their senders may be the very
    // threads that drain it.
    while (in_flight_.load(std::memory_order_relaxed) < Limit()) {
      std::optional<Request> r;
      {
        std::lock_guard lock(resubmit_mu_);
        if (resubmits_.empty()) break;
        r.emplace(std::move(resubmits_.front()));
        resubmits_.pop_front();
      }
      if (GroupStopped(r->id)) {
        CancelUnsent(r->id);
        continue;
      }
      Adopt(std::move(*r));
    }
    const int limit = Limit();
    const size_t owned_cap = static_cast<size_t>(limit) + options_.queue_capacity;
    while (in_flight_.load(std::memory_order_relaxed) < limit && owned_.size() < owned_cap &&
           !CompletionsFull()) {
      size_t room = std::min<size_t>(static_cast<size_t>(limit - in_flight_.load()),
                                     owned_cap - owned_.size());
      pulled_.clear();
      if (submit_q_.TryPopBatch(&pulled_, room) == 0) return;
      for (Request& r : pulled_) {
        if (GroupStopped(r.id)) {
          CancelUnsent(r.id);
        } else {
          Adopt(std::move(r));
        }
      }
    }
  }

  void Adopt(Request request) {
    auto t = std::make_unique<Transfer>();
    t->request = std::move(request);
    t->first_start = clock_->Now();
    const double deadline_s = t->side() && t->request.timeout_s > 0
                                  ? std::min(options_.row_deadline_s, t->request.timeout_s)
                                  : options_.row_deadline_s;
    t->deadline = t->first_start + std::chrono::duration_cast<Clock::Duration>(
                                       std::chrono::duration<double>(deadline_s));
    Transfer* raw = t.get();
    owned_.emplace(raw, std::move(t));
    StartAttempt(raw);
  }

  // True (and from then on Resubmit refuses) once nothing is left to do after Close.
  bool Done() {
    if (!submit_q_.closed() || submit_q_.size() != 0 || !owned_.empty()) return false;
    std::lock_guard lock(resubmit_mu_);
    if (!resubmits_.empty() || !side_.empty()) return false;
    resubmit_closed_ = true;
    return true;
  }

  bool CompletionsFull() {
    std::lock_guard lock(cmu_);
    return held_ + ready_.size() >= options_.queue_capacity;
  }

  // Hands the completions of this loop turn to their groups' consumers under one lock, with one
  // wake-up per group that has a waiting consumer: a wake-up per completion cost the I/O thread a
  // futex call and the consumers a context switch each. A completion of a group nobody opened
  // (or one closed since) is dropped.
  void PublishCompletions() {
    if (ready_.empty()) return;
    woken_.clear();
    dropped_.clear();
    {
      std::lock_guard lock(cmu_);
      GroupQueue* last = nullptr;
      uint64_t last_group = ~uint64_t{0};
      for (Completion& c : ready_) {
        const uint64_t group = c.id >> kGroupShift;
        if (group != last_group) {
          auto it = groups_.find(group);
          last = it == groups_.end() ? nullptr : it->second.get();
          last_group = group;
          if (last != nullptr && last->waiting > 0 &&
              std::find(woken_.begin(), woken_.end(), it->second) == woken_.end()) {
            woken_.push_back(it->second);
          }
        }
        if (last == nullptr) {
          dropped_.push_back(std::move(c));
          continue;
        }
        last->items.push_back(std::move(c));
        ++held_;
      }
    }
    ready_.clear();
    for (auto& q : woken_) q->cv.notify_all();
    woken_.clear();
    if (!dropped_.empty()) Tally(dropped_, 0);
    dropped_.clear();
  }

  void StartDueRetries() {
    auto now = clock_->Now();
    while (!retries_.empty() && retries_.top().due <= now &&
           in_flight_.load(std::memory_order_relaxed) < Limit()) {
      Transfer* t = retries_.top().transfer;
      retries_.pop();
      StartAttempt(t);
    }
  }

  EasySlot* TakeSlot() {
    if (!pool_free_.empty()) {
      EasySlot* s = pool_free_.back();
      pool_free_.pop_back();
      return s;
    }
    auto* s = new EasySlot;
    s->easy = curl_easy_init();
    if (s->easy == nullptr) {
      delete s;
      return nullptr;
    }
    pool_.push_back(s);
    CURL* e = s->easy;
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_OPENSOCKETFUNCTION, &Impl::OnOpenSocket);
    curl_easy_setopt(e, CURLOPT_OPENSOCKETDATA, this);
    curl_easy_setopt(e, CURLOPT_CLOSESOCKETFUNCTION, &Impl::OnCloseSocket);
    curl_easy_setopt(e, CURLOPT_CLOSESOCKETDATA, this);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, s->error);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, &WriteBody);
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, &ReadHeader);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS,
                     static_cast<long>(std::max(1.0, options_.connect_timeout_s * 1000)));
    s->connect_timeout_s = options_.connect_timeout_s;
    // The stall timeout is checked by CheckStalls, not CURLOPT_LOW_SPEED_TIME: curl averages
    // speed over 5 s, so the request body alone keeps a silent transfer "fast" for seconds.
    curl_easy_setopt(e, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(e, CURLOPT_XFERINFOFUNCTION, &OnProgress);
    curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(e, CURLOPT_USERAGENT, options_.user_agent.c_str());
    curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, options_.verify_tls ? 1L : 0L);
    curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, options_.verify_tls ? 2L : 0L);
    if (options_.http2) {
      curl_easy_setopt(e, CURLOPT_HTTP_VERSION, static_cast<long>(CURL_HTTP_VERSION_2TLS));
      curl_easy_setopt(e, CURLOPT_PIPEWAIT, 1L);
    } else {
      curl_easy_setopt(e, CURLOPT_HTTP_VERSION, static_cast<long>(CURL_HTTP_VERSION_1_1));
    }
    return s;
  }

  void StartAttempt(Transfer* t) {
    ++t->attempts;
    t->attempt_start = clock_->Now();
    t->response.clear();
    t->retry_after_s.reset();
    t->http_status = 0;
    {
      std::lock_guard lock(stats_mu_);
      ++stats_.attempts;
      if (t->attempts > 1) ++stats_.retries;
    }
    // A keyed request (affinity) keeps to its endpoint while that one holds less than its share
    // of the limit: an even split over the healthy endpoints, plus an eighth (the reserve the
    // adaptive limit keeps waiting) and one, so that while the limit is still small (it starts
    // at a few requests) the ~3 questions on one image are not split for a single request.
    int share = 0;
    if (t->request.affinity != 0 && endpoints_.size() > 1) {
      const int healthy = std::max(1, endpoints_.healthy_count());
      const int even = (Limit() + healthy - 1) / healthy;
      share = even + even / 8 + 1;
    }
    int ep = t->side() ? -1 : endpoints_.Pick(t->failed_endpoint, t->request.affinity, share);
    if (ep < 0 && !t->side()) {
      double next = endpoints_.seconds_to_next_probe();
      AttemptFailure f{.kind = ErrorKind::kConnect};
      // Wait for the next probe rather than burning the row's attempts at once.
      if (std::isfinite(next)) f.retry_after_s = next;
      std::string msg = "all " + std::to_string(options_.endpoints.size()) +
                        " endpoint(s) are out of service after repeated connection failures";
      if (std::isfinite(next)) msg += "; the next is probed in " + Seconds(std::ceil(next)) + " s";
      if (!t->last_error.message.empty()) msg += "; last error: " + t->last_error.message;
      msg += "; check that the servers are running";
      t->endpoint = -1;
      Failed(t, f, std::move(msg));
      return;
    }
    t->endpoint = ep;
    EasySlot* slot = TakeSlot();
    if (slot == nullptr) {
      endpoints_.Release(ep, false, false);
      Failed(t, AttemptFailure{.kind = ErrorKind::kConnect, .permanent = true},
             "curl_easy_init failed (out of memory?)");
      return;
    }
    t->slot = slot;
    slot->error[0] = '\0';
    CURL* e = slot->easy;
    t->url = t->side() ? t->request.url : options_.endpoints[ep] + t->request.path;
    curl_easy_setopt(e, CURLOPT_URL, t->url.c_str());
    // Pooled handles: a side request's shorter connect timeout is set back for the next one.
    const double connect_s = t->side() && t->request.timeout_s > 0
                                 ? std::min(options_.connect_timeout_s, t->request.timeout_s)
                                 : options_.connect_timeout_s;
    if (t->side() || slot->connect_timeout_s != connect_s) {
      curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS,
                       static_cast<long>(std::max(1.0, connect_s * 1000)));
      slot->connect_timeout_s = connect_s;
    }
    curl_easy_setopt(e, CURLOPT_PRIVATE, t);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, t);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, t);
    curl_easy_setopt(e, CURLOPT_XFERINFODATA, t);
    t->clock = clock_;
    t->last_progress = t->attempt_start;
    t->progress_bytes = 0;
    t->stalled = false;
    // The attempt's time limit is checked by CheckStalls, not CURLOPT_TIMEOUT_MS: a curl
    // timeout keeps every running transfer in libcurl's timer tree, and with hundreds in flight
    // inserting and removing them cost more than the check every kStallCheckEvery does.
    double remaining = SecondsBetween(t->attempt_start, t->deadline);
    double timeout = std::max(0.001, std::min(options_.request_timeout_s, remaining));
    if (t->side() && t->request.timeout_s > 0) timeout = std::min(timeout, t->request.timeout_s);
    t->attempt_deadline = t->attempt_start + std::chrono::duration_cast<Clock::Duration>(
                                                 std::chrono::duration<double>(timeout));
    if (t->request.method == Method::kGet) {
      curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
      curl_easy_setopt(e, CURLOPT_HTTPHEADER, get_headers_);
    } else {
      curl_easy_setopt(e, CURLOPT_POST, 1L);
      curl_easy_setopt(e, CURLOPT_POSTFIELDS, t->request.body.data());
      curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE,
                       static_cast<curl_off_t>(t->request.body.size()));
      curl_easy_setopt(e, CURLOPT_HTTPHEADER, post_headers_);
    }
    {
      std::lock_guard lock(stats_mu_);
      stats_.bytes_sent += t->request.body.size();
    }
    int now_in_flight = in_flight_.fetch_add(1, std::memory_order_relaxed) + 1;
    // Side requests stay out of the adaptive controller: a probe's latency says nothing about
    // the bulk load.
    if (!t->side()) t->aimd_seq = aimd_.OnSend(now_in_flight);
    CURLMcode mc = curl_multi_add_handle(multi_, e);
    if (mc == CURLM_OK) {
      t->active_index = active_.size();
      active_.push_back(t);
    } else {
      in_flight_.fetch_sub(1, std::memory_order_relaxed);
      ReleaseSlot(t);
      endpoints_.Release(ep, false, false);
      Failed(t, AttemptFailure{.kind = ErrorKind::kConnect, .permanent = true},
             std::string("curl_multi_add_handle failed: ") + curl_multi_strerror(mc));
    }
  }

  void ReleaseSlot(Transfer* t) {
    if (t->slot == nullptr) return;
    pool_free_.push_back(t->slot);
    t->slot = nullptr;
  }

  void ReadDone() {
    // Every message first, then the transfers: curl_multi_remove_handle (libcurl 7.88) walks the
    // unread messages looking for the handle's, so detaching while reading is quadratic in the
    // transfers that finished together, hundreds at a time under load.
    done_.clear();
    int left = 0;
    while (CURLMsg* msg = curl_multi_info_read(multi_, &left)) {
      if (msg->msg == CURLMSG_DONE) done_.push_back({msg->easy_handle, msg->data.result});
    }
    for (const DoneMessage& d : done_) {
      Transfer* t = nullptr;
      curl_easy_getinfo(d.easy, CURLINFO_PRIVATE, reinterpret_cast<char**>(&t));
      long status = 0;
      curl_easy_getinfo(d.easy, CURLINFO_RESPONSE_CODE, &status);
      double connect_time = 0;
      curl_easy_getinfo(d.easy, CURLINFO_CONNECT_TIME, &connect_time);
      std::string curl_error =
          t->slot->error[0] != '\0' ? t->slot->error : curl_easy_strerror(d.code);
      Detach(t);
      Finished(t, d.code, static_cast<int>(status), connect_time, curl_error);
    }
  }

  // Takes a running transfer out of the multi handle.
  void Detach(Transfer* t) {
    curl_multi_remove_handle(multi_, t->slot->easy);
    in_flight_.fetch_sub(1, std::memory_order_relaxed);
    ReleaseSlot(t);
    Transfer* last = active_.back();
    active_[t->active_index] = last;
    last->active_index = t->active_index;
    active_.pop_back();
    t->active_index = SIZE_MAX;
  }

  // Cuts transfers that moved no byte for the stall timeout, or ran out of time.
  void CheckStalls() {
    auto now = clock_->Now();
    if (now < next_stall_check_) return;
    next_stall_check_ = now + kStallCheckEvery;
    const auto stall = std::chrono::duration_cast<Clock::Duration>(
        std::chrono::duration<double>(options_.stall_timeout_s));
    std::vector<Transfer*> cut;
    for (Transfer* t : active_) {
      if (now >= t->attempt_deadline) {
        cut.push_back(t);
      } else if (now - t->last_progress >= stall) {
        t->stalled = true;
        cut.push_back(t);
      }
    }
    for (Transfer* t : cut) {
      long status = 0;
      curl_easy_getinfo(t->slot->easy, CURLINFO_RESPONSE_CODE, &status);
      double connect_time = 0;
      curl_easy_getinfo(t->slot->easy, CURLINFO_CONNECT_TIME, &connect_time);
      Detach(t);
      Finished(t, CURLE_OPERATION_TIMEDOUT, static_cast<int>(status), connect_time,
               t->stalled ? "stalled" : "timed out");
    }
  }

  void Finished(Transfer* t, CURLcode code, int status, double connect_time,
                const std::string& curl_error) {
    auto now = clock_->Now();
    double latency = SecondsBetween(t->attempt_start, now);
    t->http_status = status;
    {
      std::lock_guard lock(stats_mu_);
      stats_.bytes_received += t->response.size();
      if (status == 429) ++stats_.http_429;
    }
    const std::string where = RedactUrl(t->url);
    if (code == CURLE_OK) {
      bool ok_status = status >= 200 && status < 300;
      bool valid = true;
      if (ok_status && t->request.method == Method::kPost &&
          t->request.path.find("completions") != std::string::npos) {
        valid = LooksLikeCompletion(t->response);
      }
      if (ok_status && valid) {
        endpoints_.Release(t->endpoint, true, false);
        if (!t->side()) {
          aimd_.OnComplete(t->aimd_seq, true, false, latency);
          PublishLimit();
          std::lock_guard lock(stats_mu_);
          latency_.Add(latency);
        }
        Complete(t, RowError{});
        return;
      }
      endpoints_.Release(t->endpoint, true, false);
      AttemptFailure f;
      std::string msg;
      if (ok_status) {
        f.kind = ErrorKind::kInvalidResponse;
        ++t->invalid_responses;
        msg = "HTTP " + std::to_string(status) + " from " + where +
              " is not a completion (a JSON object with \"choices\"): " + Snippet(t->response);
      } else {
        f.kind = ErrorKind::kHttpStatus;
        f.http_status = status;
        f.retry_after_s = t->retry_after_s;
        // By meaning, not status alone: llama-server's 500 for images without a projector
        // fails the same way every time, so it is not retried.
        ErrorClass cls = ClassifyHttpError(status, t->response, options_.family);
        f.deterministic = !cls.retryable;
        msg = "HTTP " + std::to_string(status) + " from " + where;
        if (!t->response.empty()) msg += ": " + cls.server_message;
        if (status == 401 || status == 403) {
          msg += " (check the API key: --api-key, OPENAI_API_KEY or the key file)";
        } else if (cls.meaning == ErrorMeaning::kUnknownModel) {
          msg += " (pass --model with a model the server lists at /v1/models)";
        } else if (status == 404) {
          msg += " (check the endpoint URL, which should end in /v1)";
        }
      }
      if (!t->side()) {
        aimd_.OnComplete(t->aimd_seq, false, IsOverloadSignal(f), latency);
        PublishLimit();
      }
      Failed(t, f, std::move(msg));
      return;
    }
    // Transport failure.
    AttemptFailure f;
    bool connect_failure = false;
    std::string msg;
    switch (code) {
      case CURLE_COULDNT_CONNECT:
      case CURLE_COULDNT_RESOLVE_HOST:
      case CURLE_COULDNT_RESOLVE_PROXY:
        f.kind = ErrorKind::kConnect;
        connect_failure = true;
        msg = "cannot connect to " + where + ": " + curl_error +
              " (is the server running and the URL right?)";
        break;
      case CURLE_OPERATION_TIMEDOUT:
        f.kind = ErrorKind::kTimeout;
        if (t->stalled) {
          msg = "no byte from " + where + " for " + Seconds(options_.stall_timeout_s) +
                " s (stall timeout; raise it if generations take longer)";
        } else if (connect_time <= 0 && status == 0 && t->response.empty()) {
          connect_failure = true;
          msg = "could not connect to " + where + " within " + Seconds(options_.connect_timeout_s) +
                " s (connect timeout)";
        } else {
          msg = "no complete answer from " + where + " within " + Seconds(latency) +
                " s (request timeout or row deadline; raise --request-timeout if generations "
                "take longer)";
        }
        break;
      case CURLE_URL_MALFORMAT:
      case CURLE_UNSUPPORTED_PROTOCOL:
      case CURLE_PEER_FAILED_VERIFICATION:
      case CURLE_SSL_CACERT_BADFILE:
      case CURLE_SSL_CERTPROBLEM:
        f.kind = ErrorKind::kConnect;
        f.permanent = true;
        msg = "cannot use " + where + ": " + curl_error +
              " (check the URL and the server's TLS certificate)";
        break;
      default:
        f.kind = ErrorKind::kReset;
        msg = "the connection to " + where + " broke: " + curl_error;
        break;
    }
    endpoints_.Release(t->endpoint, false, connect_failure);
    if (!t->side()) {
      aimd_.OnComplete(t->aimd_seq, false, IsOverloadSignal(f), latency);
      PublishLimit();
    }
    Failed(t, f, std::move(msg));
  }

  void PublishLimit() { limit_.store(Limit(), std::memory_order_relaxed); }

  // The attempt failed; retry or complete with the error.
  void Failed(Transfer* t, const AttemptFailure& f, std::string message) {
    {
      std::lock_guard lock(stats_mu_);
      ++stats_.attempt_errors_by_kind[static_cast<int>(f.kind)];
    }
    t->failed_endpoint = t->endpoint;
    t->last_error.kind = f.kind;
    t->last_error.http_status = f.http_status;
    t->last_error.message = RedactSecret(std::move(message), options_.api_key);
    auto now = clock_->Now();
    double unit = std::uniform_real_distribution<double>(0.0, 1.0)(rng_);
    RetryPolicy::Decision d =
        retry_.Decide(f, t->attempts, t->invalid_responses, now, t->deadline, unit);
    if (t->side() && d.retry) d = RetryPolicy::Decision{.retry = false, .reason = "not retryable"};
    if (d.retry) {
      if (cancel_.load(std::memory_order_acquire)) {
        Cancelled(t);
      } else {
        retries_.push(Pending{now + d.delay, t});
      }
      return;
    }
    RowError err = t->last_error;
    if (d.reason != "not retryable" || t->attempts > 1) err.message += " (" + d.reason + ")";
    Complete(t, std::move(err));
  }

  void Complete(Transfer* t, RowError error) {
    Completion c;
    c.id = t->request.id;
    c.http_status = t->http_status;
    c.attempts = t->attempts;
    c.endpoint = t->endpoint;
    c.latency_s = SecondsBetween(t->first_start, clock_->Now());
    error.attempts = t->attempts;
    if (error.http_status == 0) error.http_status = t->http_status;
    c.error = std::move(error);
    if (c.ok()) {
      c.body = std::move(t->response);
    } else {
      c.body = RedactSecret(std::move(t->response), options_.api_key);
    }
    owned_.erase(t);  // frees t
    ready_.push_back(std::move(c));
  }

  void CancelAll() {
    while (!active_.empty()) {
      Transfer* t = active_.back();
      Detach(t);
      endpoints_.Release(t->endpoint, false, false);
      Cancelled(t);
    }
    CancelUnstarted();
  }

  // Everything not on the wire: requests waiting in the queues and retries waiting out their
  // backoff come out as kCancelled; transfers in progress go on.
  void CancelUnstarted() {
    while (!retries_.empty()) {
      Transfer* t = retries_.top().transfer;
      retries_.pop();
      Cancelled(t);
    }
    std::deque<Request> resubmits;
    {
      std::lock_guard lock(resubmit_mu_);
      resubmits.swap(resubmits_);
    }
    for (Request& r : resubmits) CancelUnsent(r.id);
    std::deque<Request> side;
    {
      std::lock_guard lock(resubmit_mu_);
      side.swap(side_);
    }
    for (Request& r : side) CancelUnsent(r.id);
    while (std::optional<Request> r = submit_q_.TryPop()) CancelUnsent(r->id);
  }

  bool GroupStopped(uint64_t id) const {
    return !stopped_groups_.empty() && stopped_groups_.count(id >> kGroupShift) > 0;
  }

  // A group's stop (one job of several sharing the client): its requests not on the wire come
  // out as kCancelled (queued ones as the I/O thread reaches them); with `abandon`, those on the
  // wire too. Other groups go on.
  void ApplyGroupStops() {
    std::vector<std::pair<uint64_t, bool>> stops;
    {
      std::lock_guard lock(group_mu_);
      stops.swap(new_group_stops_);
    }
    std::unordered_set<uint64_t> abandon;
    for (auto [group, hard] : stops) {
      stopped_groups_.insert(group);
      if (hard) abandon.insert(group);
    }
    for (size_t i = active_.size(); i-- > 0;) {
      if (i >= active_.size()) continue;
      Transfer* t = active_[i];
      if (abandon.count(t->request.id >> kGroupShift) == 0) continue;
      Detach(t);
      endpoints_.Release(t->endpoint, false, false);
      Cancelled(t);
    }
    std::vector<Pending> keep;
    while (!retries_.empty()) {
      Pending p = retries_.top();
      retries_.pop();
      if (GroupStopped(p.transfer->request.id)) {
        Cancelled(p.transfer);
      } else {
        keep.push_back(p);
      }
    }
    for (const Pending& p : keep) retries_.push(p);
    std::deque<Request> resubmits;
    {
      std::lock_guard lock(resubmit_mu_);
      for (Request& r : resubmits_) {
        if (GroupStopped(r.id)) {
          CancelUnsent(r.id);
        } else {
          resubmits.push_back(std::move(r));
        }
      }
      resubmits_.swap(resubmits);
    }
  }

  void CancelUnsent(uint64_t id) {
    {
      Completion c;
      c.id = id;
      c.error.kind = ErrorKind::kCancelled;
      c.error.message = "cancelled before it was sent";
      ready_.push_back(std::move(c));
    }
  }

  void Cancelled(Transfer* t) {
    RowError e;
    e.kind = ErrorKind::kCancelled;
    e.message = "cancelled after " + std::to_string(t->attempts) + " attempt(s)";
    if (!t->last_error.message.empty()) e.message += "; last error: " + t->last_error.message;
    Complete(t, std::move(e));
  }

  struct Pending {
    Clock::TimePoint due;
    Transfer* transfer;
    bool operator>(const Pending& o) const { return due > o.due; }
  };

  const ClientOptions options_;
  Clock* const clock_;
  const RetryPolicy retry_;

  // I/O thread only.
  AimdController aimd_;
  EndpointSet endpoints_;
  CURLM* multi_ = nullptr;
  int epoll_fd_ = -1;
  int wake_fd_ = -1;                  // eventfd in the epoll set: Wake() makes epoll_wait return
  std::vector<SocketState> sockets_;  // by socket number
  std::optional<std::chrono::steady_clock::time_point> curl_timer_;  // from OnTimer
  curl_slist* post_headers_ = nullptr;
  curl_slist* get_headers_ = nullptr;
  std::vector<EasySlot*> pool_;
  std::vector<EasySlot*> pool_free_;
  std::vector<Transfer*> active_;  // transfers in the multi handle
  static constexpr Clock::Duration kStallCheckEvery = std::chrono::milliseconds(200);
  Clock::TimePoint next_stall_check_{};
  std::unordered_map<Transfer*, std::unique_ptr<Transfer>> owned_;
  std::priority_queue<Pending, std::vector<Pending>, std::greater<>> retries_;
  std::mt19937_64 rng_;
  struct DoneMessage {
    CURL* easy;
    CURLcode code;
  };
  std::vector<DoneMessage> done_;  // ReadDone's scratch
  std::vector<Completion> ready_;  // finished this loop turn, published by PublishCompletions
  std::vector<Request> pulled_;    // PullNew's scratch
  int connection_cap_ = 0;         // sum of the endpoints' connection caps; 0: none

  // Shared.
  BoundedQueue<Request> submit_q_;
  std::mutex resubmit_mu_;
  std::deque<Request> resubmits_;  // from Resubmit; bounded by the completions taken
  std::deque<Request> side_;       // side requests (Request::url) not adopted yet
  // Group stops (StopGroup): handed over under group_mu_, applied on the I/O thread.
  std::mutex group_mu_;
  std::vector<std::pair<uint64_t, bool>> new_group_stops_;
  std::atomic<bool> group_stop_pending_{false};
  std::unordered_set<uint64_t> stopped_groups_;  // I/O thread only
  bool resubmit_closed_ = false;
  std::atomic<bool> cancel_{false};
  std::atomic<bool> wake_pending_{false};
  std::atomic<bool> stop_sending_{false};
  std::mutex load_mu_;  // the latest server load report, for the I/O thread
  std::optional<ServerLoadReport> load_report_;
  bool report_pending_ = false;                // load_report_ is new (nullopt: the report was lost)
  bool load_pending_ = false;                  // something for ApplyServerLoad
  std::vector<EndpointSlots> endpoint_slots_;  // by endpoint, from SetEndpointSlots
  uint64_t slots_requested_ = 0;
  uint64_t slots_applied_ = 0;  // by the I/O thread
  bool io_exited_ = false;
  std::condition_variable slots_cv_;  // SetEndpointSlots waits for slots_applied_
  std::atomic<int> in_flight_{0};
  std::atomic<int> limit_{0};
  std::atomic<double> io_cpu_s_{0};
  // Completions wait here for their group's consumers (group 0: NextCompletions).
  struct GroupQueue {
    std::deque<Completion> items;
    std::condition_variable cv;
    int waiting = 0;  // consumers blocked in NextGroupCompletions
    bool closed = false;
  };
  std::mutex cmu_;
  std::unordered_map<uint64_t, std::shared_ptr<GroupQueue>> groups_;  // under cmu_
  size_t held_ = 0;  // completions in every group's queue, under cmu_
  bool io_done_ = false;
  std::vector<std::shared_ptr<GroupQueue>> woken_;  // PublishCompletions' scratch
  std::vector<Completion> dropped_;                 // PublishCompletions' scratch
  mutable std::mutex stats_mu_;
  ClientStats stats_;
  LatencyHistogram latency_;

  std::thread thread_;
};

namespace {

Status ValidateOptions(ClientOptions* o) {
  if (o->endpoints.empty()) {
    return Status::InvalidArgument(
        "no endpoint given; pass the server's base URL, like http://127.0.0.1:8000/v1");
  }
  for (std::string& url : o->endpoints) {
    if (url.rfind("http://", 0) != 0 && url.rfind("https://", 0) != 0) {
      return Status::InvalidArgument("endpoint '" + RedactUrl(url) +
                                     "' is not an http:// or https:// URL; give the server's base "
                                     "URL, like http://127.0.0.1:8000/v1");
    }
    while (!url.empty() && url.back() == '/') url.pop_back();
  }
  if (o->concurrency < 0) {
    return Status::InvalidArgument("concurrency must be 0 (adaptive) or a positive cap, not " +
                                   std::to_string(o->concurrency));
  }
  if (o->max_concurrency < 1) {
    return Status::InvalidArgument("max_concurrency must be at least 1");
  }
  if (o->initial_concurrency < 1) o->initial_concurrency = 1;
  if (o->max_attempts < 1) {
    return Status::InvalidArgument("max_attempts must be at least 1");
  }
  if (!(o->row_deadline_s > 0) || !(o->connect_timeout_s > 0) || !(o->request_timeout_s > 0) ||
      !(o->stall_timeout_s > 0)) {
    return Status::InvalidArgument(
        "row deadline, connect, request and stall timeouts must be positive seconds");
  }
  if (o->queue_capacity == 0) o->queue_capacity = 1;
  return Status::OK();
}

}  // namespace

Client::Client(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Client::~Client() = default;

Result<std::unique_ptr<Client>> Client::Make(ClientOptions options, Clock* clock) {
  SF_RETURN_NOT_OK(ValidateOptions(&options));
  auto impl = std::make_unique<Impl>(std::move(options), clock);
  SF_RETURN_NOT_OK(impl->Init());
  return std::unique_ptr<Client>(new Client(std::move(impl)));
}

bool Client::Submit(Request request) { return impl_->Submit(std::move(request)); }
bool Client::Resubmit(Request request) { return impl_->Resubmit(std::move(request)); }
std::optional<Completion> Client::NextCompletion() { return impl_->NextCompletion(); }
size_t Client::NextCompletions(std::vector<Completion>* out, size_t max) {
  return impl_->NextCompletions(out, max);
}
void Client::OpenGroup(uint64_t group) { impl_->OpenGroup(group); }
void Client::CloseGroup(uint64_t group) { impl_->CloseGroup(group); }
size_t Client::NextGroupCompletions(uint64_t group, std::vector<Completion>* out, size_t max) {
  return impl_->NextGroupCompletions(group, out, max);
}
void Client::Close() { impl_->Close(); }
void Client::Cancel() { impl_->Cancel(); }
void Client::StopSending() { impl_->StopSending(); }
void Client::StopGroup(uint64_t group, bool abandon) { impl_->StopGroup(group, abandon); }

void Client::ObserveServerLoad(int running, int waiting) {
  impl_->ObserveServerLoad(ServerLoadReport{running, waiting});
}

void Client::ServerLoadLost() { impl_->ObserveServerLoad(std::nullopt); }
void Client::SetEndpointSlots(int endpoint, int slots, int max_connections, bool ceiling) {
  impl_->SetEndpointSlots(endpoint, slots, max_connections, ceiling);
}
void Client::FlushServerLoad() { impl_->FlushServerLoad(); }
ClientStats Client::stats() const { return impl_->stats(); }
int Client::in_flight() const { return impl_->in_flight(); }
int Client::concurrency_limit() const { return impl_->concurrency_limit(); }

Result<Completion> Call(const ClientOptions& options, Request request, Clock* clock) {
  ClientOptions o = options;
  o.concurrency = 1;
  o.queue_capacity = 1;
  SF_ASSIGN_OR_RAISE(std::unique_ptr<Client> client, Client::Make(std::move(o), clock));
  uint64_t id = request.id;
  if (!client->Submit(std::move(request))) {
    return Status::Internal("the client refused a request right after starting");
  }
  client->Close();
  std::optional<Completion> c = client->NextCompletion();
  if (!c || c->id != id) return Status::Internal("the client lost a request");
  return std::move(*c);
}

Result<std::string> Get(const ClientOptions& options, const std::string& path) {
  RowError last;
  std::string last_url;
  ClientOptions probe = options;
  if (probe.endpoints.empty()) {
    ClientOptions copy = options;
    SF_RETURN_NOT_OK(ValidateOptions(&copy));
  }
  for (const std::string& endpoint : options.endpoints) {
    probe.endpoints = {endpoint};
    Request r;
    r.path = path;
    r.method = Method::kGet;
    SF_ASSIGN_OR_RAISE(Completion c, Call(probe, std::move(r)));
    if (c.ok()) return std::move(c.body);
    last = c.error;
    last_url = RedactUrl(endpoint) + path;
  }
  return Status::Unavailable("GET " + last_url + " failed: " + DescribeError(last));
}

std::string DescribeError(const RowError& error) {
  if (error.ok()) return "ok";
  std::string s(ErrorKindName(error.kind));
  if (error.kind == ErrorKind::kHttpStatus) s += " " + std::to_string(error.http_status);
  s += " after " + std::to_string(error.attempts) + " attempt(s): " + error.message;
  return s;
}

std::string DescribeStats(const ClientStats& s) {
  std::string out = fmt::format("{} requests, {} ok, {} attempts, {} retries", s.completed,
                                s.succeeded, s.attempts, s.retries);
  std::string errors;
  for (int k = 1; k < kKinds; ++k) {
    if (s.errors_by_kind[k] == 0) continue;
    if (!errors.empty()) errors += ", ";
    errors += fmt::format("{} {}", ErrorKindName(static_cast<ErrorKind>(k)), s.errors_by_kind[k]);
  }
  if (!errors.empty()) out += ", errors: " + errors;
  out += fmt::format(
      "; latency p50 {:.3f} s, p90 {:.3f} s, p99 {:.3f} s; {} tokens in, {} out; "
      "{:.1f} MB sent, {:.1f} MB received; concurrency limit {}",
      s.latency_p50_s, s.latency_p90_s, s.latency_p99_s, s.prompt_tokens, s.completion_tokens,
      static_cast<double>(s.bytes_sent) / 1e6, static_cast<double>(s.bytes_received) / 1e6,
      s.concurrency_limit);
  return out;
}

}  // namespace structflow::client

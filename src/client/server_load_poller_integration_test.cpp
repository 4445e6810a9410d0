// Adaptive concurrency against small servers: the server-load poller with the real client, against
// the in-process simulator and against a scripted llama.cpp-like server.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>

#include "client/client.h"
#include "client/server_load_poller.h"
#include "client/testing/scripted_server.h"
#include "sim/server.h"

namespace structflow::client {
namespace {

using testing::CompletionBody;
using testing::HttpResponse;
using testing::ScriptedServer;
using testing::SeenRequest;

const char* kChat =
    R"({"model":"sim-vlm","messages":[{"role":"user","content":"A) yes B) no"}],"max_tokens":4})";

struct RunFigures {
  int ok = 0;
  int highest_limit_after_warmup = 0;
  int highest_in_flight_after_warmup = 0;
};

// Sends `n` chat requests through `client`, records the limit and what is in flight after each
// completion past the first `warmup`.
RunFigures RunRequests(Client* client, int n, int warmup) {
  std::thread feeder([&] {
    for (int i = 0; i < n; ++i)
      client->Submit(Request{static_cast<uint64_t>(i), "/chat/completions", kChat});
    client->Close();
  });
  RunFigures f;
  int seen = 0;
  while (auto c = client->NextCompletion()) {
    f.ok += c->ok() ? 1 : 0;
    if (++seen > warmup) {
      f.highest_limit_after_warmup =
          std::max(f.highest_limit_after_warmup, client->concurrency_limit());
      f.highest_in_flight_after_warmup =
          std::max(f.highest_in_flight_after_warmup, client->in_flight());
    }
  }
  feeder.join();
  return f;
}

TEST(ServerLoadPoller, AFourSlotServerGetsAShortQueueNotSixtyFour) {
  sim::SimOptions so;
  so.max_num_seqs = 4;
  so.latency_ms = 20;  // four slots of 20 ms: 200 requests/s
  auto server = sim::Server::Start(so);
  ASSERT_TRUE(server.ok()) << server.status().ToString();
  ClientOptions co;
  co.endpoints = {(*server)->base_url()};
  co.initial_concurrency = 64;  // the default: what overshot small servers
  auto client = Client::Make(co);
  ASSERT_TRUE(client.ok());
  ServerLoadPollerOptions po;
  po.endpoints = co.endpoints;
  po.ramp_every_s = 0.05;
  po.every_s = 0.05;
  auto poller = ServerLoadPoller::Start(po, client->get());
  ASSERT_TRUE(poller.ok());
  // The vLLM-like sim publishes no slot count: the first queue report (4 running, ~60 waiting)
  // trims the limit to 4 + the reserve, and the 64 sent before it drain.
  RunFigures f = RunRequests(client->get(), 400, 150);
  (*poller)->Stop();
  EXPECT_EQ(f.ok, 400);
  EXPECT_LE(f.highest_limit_after_warmup, 6);
  EXPECT_LE(f.highest_in_flight_after_warmup, 6);
  EXPECT_GE(f.highest_in_flight_after_warmup, 4);  // the slots stay full
}

TEST(ServerLoadPoller, NoConnectionWaitsForLlamaCppsKeptAliveHttpThreads) {
  // The simulator's llama.cpp family: 4 slots, --metrics, and the smallest default pool of HTTP
  // threads (slots + 2), each bound to a kept-alive connection until it has been idle 5 s, as
  // cpp-httplib does in llama-server. A seventh connection would wait for one of them.
  sim::SimOptions so;
  so.api = "llama.cpp";
  so.max_num_seqs = 4;
  so.metrics = true;
  so.http_threads = 6;
  so.latency_ms = 20;
  auto server = sim::Server::Start(so);
  ASSERT_TRUE(server.ok()) << server.status().ToString();
  ClientOptions co;
  co.endpoints = {(*server)->base_url()};
  auto client = Client::Make(co);
  ASSERT_TRUE(client.ok());
  ServerLoadPollerOptions po;
  po.endpoints = co.endpoints;
  auto poller = ServerLoadPoller::Start(po, client->get());
  ASSERT_TRUE(poller.ok());
  EXPECT_EQ((*client)->concurrency_limit(), 5);  // from /props, before any request
  std::thread feeder([&] {
    for (int i = 0; i < 200; ++i) {
      (*client)->Submit(Request{static_cast<uint64_t>(i), "/chat/completions", kChat});
    }
    (*client)->Close();
  });
  int ok = 0;
  uint64_t most_waiting_for_a_thread = 0;
  while (auto c = (*client)->NextCompletion()) {
    ok += c->ok() ? 1 : 0;
    most_waiting_for_a_thread =
        std::max(most_waiting_for_a_thread, (*server)->metrics().http_waiting);
  }
  feeder.join();
  (*poller)->Stop();
  EXPECT_EQ(ok, 200);
  EXPECT_EQ(most_waiting_for_a_thread, 0u);
  EXPECT_LE((*client)->stats().concurrency_limit, 5);
}

// Ollama runs OLLAMA_NUM_PARALLEL requests at once (1 by default) and queues the rest, and
// publishes neither its size nor its queue: adaptive concurrency starts from that default (plus
// one waiting), not from 64, and latency keeps it near there.
TEST(ServerLoadPoller, StartsOllamaFromItsDefaultParallelNotSixtyFour) {
  sim::SimOptions so;
  so.api = "ollama";  // 1 slot, no /metrics, no slot count
  so.latency_ms = 20;
  auto server = sim::Server::Start(so);
  ASSERT_TRUE(server.ok()) << server.status().ToString();
  ClientOptions co;
  co.endpoints = {(*server)->base_url()};
  auto client = Client::Make(co);
  ASSERT_TRUE(client.ok());
  ServerLoadPollerOptions po;
  po.endpoints = co.endpoints;
  auto poller = ServerLoadPoller::Start(po, client->get());
  ASSERT_TRUE(poller.ok());
  EXPECT_EQ((*client)->concurrency_limit(), 2);  // before any request
  RunFigures f = RunRequests(client->get(), 100, 0);
  (*poller)->Stop();
  EXPECT_EQ(f.ok, 100);
  // A start, not a ceiling (the server may run more than its default), but far from 64.
  EXPECT_LE(f.highest_limit_after_warmup, 8);
}

// A llama.cpp-like server: /props says 4 slots, /metrics (llamacpp: gauges) counts requests in
// its slots and deferred, chats take `service` in one of 4 slots.
class LlamaLike {
 public:
  explicit LlamaLike(std::chrono::milliseconds service)
      : service_(service), server_([this](const SeenRequest& r) { return Answer(r); }) {}
  std::string base_url() const { return server_.base_url(); }
  ScriptedServer& server() { return server_; }
  int peak_active() const { return peak_active_.load(); }

 private:
  std::string Answer(const SeenRequest& r) {
    if (r.head.rfind("GET /props ", 0) == 0) {
      return HttpResponse(200, R"({"total_slots":4,"model_path":"m.gguf","build_info":"b1"})");
    }
    if (r.head.rfind("GET /metrics ", 0) == 0) {
      std::lock_guard lock(mu_);
      const int running = std::min(active_, 4);
      return HttpResponse(200, "llamacpp:requests_processing " + std::to_string(running) +
                                   "\nllamacpp:requests_deferred " +
                                   std::to_string(active_ - running) + "\n");
    }
    if (r.head.rfind("POST /v1/chat/completions ", 0) == 0) {
      std::unique_lock lock(mu_);
      ++active_;
      peak_active_.store(std::max(peak_active_.load(), active_));
      slot_cv_.wait(lock, [&] { return busy_ < 4; });  // deferred until a slot frees
      ++busy_;
      lock.unlock();
      std::this_thread::sleep_for(service_);  // the model's generation time
      lock.lock();
      --busy_;
      --active_;
      lock.unlock();
      slot_cv_.notify_one();
      return HttpResponse(200, CompletionBody());
    }
    return HttpResponse(404, R"({"error":{"message":"File Not Found","code":404}})");
  }

  std::chrono::milliseconds service_;
  std::mutex mu_;
  std::condition_variable slot_cv_;
  int active_ = 0;
  int busy_ = 0;
  std::atomic<int> peak_active_{0};
  ScriptedServer server_;
};

TEST(ServerLoadPoller, StartsFromLlamaCppSlotsWithinItsHttpThreadsOnOneKeptAliveConnection) {
  LlamaLike llama(std::chrono::milliseconds(10));
  ClientOptions co;
  co.endpoints = {llama.base_url()};
  auto client = Client::Make(co);
  ASSERT_TRUE(client.ok());
  ServerLoadPollerOptions po;
  po.endpoints = co.endpoints;
  po.ramp_every_s = 0.02;
  po.every_s = 0.02;
  auto poller = ServerLoadPoller::Start(po, client->get());
  ASSERT_TRUE(poller.ok());
  // Before any request: 4 slots + 1 waiting, not the default 64.
  EXPECT_EQ((*client)->concurrency_limit(), 5);
  RunFigures f = RunRequests(client->get(), 300, 0);
  (*poller)->Stop();
  EXPECT_EQ(f.ok, 300);
  EXPECT_LE(f.highest_limit_after_warmup, 5);
  // Never more chats at once than slots + 1, never more connections than llama.cpp's smallest
  // default HTTP pool (--parallel + 2): ours, plus the poller's one.
  EXPECT_LE(llama.peak_active(), 5);
  EXPECT_LE(llama.server().peak_open_connections(), 6);
  // Every poll on one connection, kept alive.
  int metrics = 0;
  int poll_connection = -1;
  bool one_connection = true;
  for (const SeenRequest& r : llama.server().seen()) {
    if (r.head.rfind("GET /metrics ", 0) != 0 && r.head.rfind("GET /props ", 0) != 0) continue;
    ++metrics;
    if (poll_connection < 0) poll_connection = r.connection;
    one_connection = one_connection && r.connection == poll_connection;
  }
  EXPECT_GE(metrics, 3);
  EXPECT_TRUE(one_connection);
}

TEST(ServerLoadPoller, AHungMetricsEndpointDoesNotStallStop) {
  // /metrics answers once (in Start), then never: Stop still returns at once (the request in
  // progress on the poller's thread is aborted).
  std::mutex mu;
  std::condition_variable cv;
  bool release = false;
  std::atomic<int> polls{0};
  ScriptedServer hung([&](const SeenRequest& r) {
    if (r.head.rfind("GET /metrics ", 0) == 0) {
      if (polls.fetch_add(1) == 0) {
        return HttpResponse(200, "llamacpp:requests_processing 0\nllamacpp:requests_deferred 0\n");
      }
      std::unique_lock lock(mu);
      cv.wait(lock, [&] { return release; });
      return std::string();
    }
    return HttpResponse(404, "{}");
  });
  ClientOptions co;
  co.endpoints = {hung.base_url()};
  auto client = Client::Make(co);
  ASSERT_TRUE(client.ok());
  ServerLoadPollerOptions po;
  po.endpoints = co.endpoints;
  po.timeout_s = 30;  // so only the abort can end the request in progress
  auto poller = ServerLoadPoller::Start(po, client->get());
  ASSERT_TRUE(poller.ok());
  // Wait (without sleeping) until the second poll, on the poller's thread, is in the server.
  while (polls.load() < 2) std::this_thread::yield();
  auto t0 = std::chrono::steady_clock::now();
  (*poller)->Stop();
  // Generous: the abort is checked by curl about once a second at worst.
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(5));
  {
    std::lock_guard lock(mu);
    release = true;
  }
  cv.notify_all();
  hung.Stop();
}

}  // namespace
}  // namespace structflow::client

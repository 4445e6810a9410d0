// The client against a scripted HTTP server on 127.0.0.1, for behaviour that needs exact control
// of single answers: headers sent, Retry-After timing, secrets echoed back, connection reuse.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <future>
#include <set>

#include "client/client.h"
#include "client/testing/scripted_server.h"

namespace structflow::client {
namespace {

using testing::CompletionBody;
using testing::HttpResponse;
using testing::ScriptedServer;
using testing::SeenRequest;

ClientOptions FastOptions(const std::string& url) {
  ClientOptions o;
  o.endpoints = {url};
  o.backoff_base_s = 0.01;
  o.backoff_max_s = 0.05;
  o.connect_timeout_s = 2;
  o.request_timeout_s = 10;
  o.stall_timeout_s = 5;
  return o;
}

std::vector<Completion> RunAll(Client* client, int n, const std::string& body = "{}") {
  for (int i = 0; i < n; ++i) {
    Request r;
    r.id = static_cast<uint64_t>(i);
    r.body = body;
    EXPECT_TRUE(client->Submit(std::move(r)));
  }
  client->Close();
  std::vector<Completion> out;
  while (auto c = client->NextCompletion()) out.push_back(std::move(*c));
  return out;
}

bool HasHeader(const SeenRequest& r, const std::string& header) {
  return r.head.find("\r\n" + header + "\r\n") != std::string::npos ||
         (r.head.size() >= header.size() &&
          r.head.compare(r.head.size() - header.size(), header.size(), header) == 0);
}

TEST(ClientScripted, SendsTheBearerHeaderOnlyWhenAKeyIsSet) {
  ScriptedServer server([](const SeenRequest&) { return HttpResponse(200, CompletionBody()); });
  {
    ClientOptions o = FastOptions(server.base_url());
    o.api_key = "sk-test-123";
    auto c = Call(o, Request{.id = 1, .body = "{\"a\":1}"});
    ASSERT_TRUE(c.ok());
    EXPECT_TRUE(c->ok()) << c->error.message;
  }
  {
    auto c = Call(FastOptions(server.base_url()), Request{.id = 2, .body = "{}"});
    ASSERT_TRUE(c.ok());
    EXPECT_TRUE(c->ok());
  }
  auto seen = server.seen();
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_TRUE(HasHeader(seen[0], "Authorization: Bearer sk-test-123")) << seen[0].head;
  EXPECT_TRUE(HasHeader(seen[0], "Content-Type: application/json"));
  EXPECT_EQ(seen[0].body, "{\"a\":1}");
  EXPECT_EQ(seen[0].head.rfind("POST /v1/chat/completions HTTP/1.1", 0), 0u) << seen[0].head;
  EXPECT_EQ(seen[1].head.find("Authorization"), std::string::npos) << seen[1].head;
}

TEST(ClientScripted, TheApiKeyNeverAppearsInErrors) {
  const std::string key = "sk-very-secret-key-42";
  // A server that echoes the Authorization header back in its error body, as some do.
  ScriptedServer server([](const SeenRequest& r) {
    size_t p = r.head.find("Authorization: ");
    std::string echoed = p == std::string::npos ? "" : r.head.substr(p, r.head.find("\r\n", p) - p);
    return HttpResponse(401, "{\"error\":\"bad key: " + echoed + "\"}");
  });
  ClientOptions o = FastOptions(server.base_url());
  o.api_key = key;
  ASSERT_EQ(server.seen().size(), 0u);
  auto c = Call(o, Request{.id = 7, .body = "{}"});
  ASSERT_TRUE(c.ok());
  ASSERT_EQ(c->error.kind, ErrorKind::kHttpStatus);
  EXPECT_EQ(c->error.http_status, 401);
  EXPECT_EQ(c->attempts, 1);  // 401 is never retried
  ASSERT_EQ(server.seen().size(), 1u);
  EXPECT_NE(server.seen()[0].head.find(key), std::string::npos);  // the server did get it
  EXPECT_EQ(c->error.message.find(key), std::string::npos) << c->error.message;
  EXPECT_EQ(c->body.find(key), std::string::npos) << c->body;
  EXPECT_EQ(DescribeError(c->error).find(key), std::string::npos);
  EXPECT_NE(c->error.message.find("API key"), std::string::npos) << c->error.message;

  // Nor in connection errors, nor in Get's status.
  server.Stop();
  ClientOptions dead = o;
  dead.max_attempts = 2;
  auto d = Call(dead, Request{.id = 8, .body = "{}"});
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->error.kind, ErrorKind::kConnect) << d->error.message;
  EXPECT_EQ(d->error.message.find(key), std::string::npos);
  auto g = Get(dead, "/models");
  ASSERT_FALSE(g.ok());
  EXPECT_EQ(g.status().message().find(key), std::string::npos);
}

TEST(ClientScripted, HonoursRetryAfterSeconds) {
  std::atomic<int> n{0};
  ScriptedServer server([&](const SeenRequest&) {
    if (n.fetch_add(1) == 0) {
      return HttpResponse(429, "{\"error\":\"slow down\"}", "Retry-After: 1\r\n");
    }
    return HttpResponse(200, CompletionBody());
  });
  auto c = Call(FastOptions(server.base_url()), Request{.id = 1, .body = "{}"});
  ASSERT_TRUE(c.ok());
  EXPECT_TRUE(c->ok()) << c->error.message;
  EXPECT_EQ(c->attempts, 2);
  auto seen = server.seen();
  ASSERT_EQ(seen.size(), 2u);
  double gap = std::chrono::duration<double>(seen[1].at - seen[0].at).count();
  EXPECT_GE(gap, 0.95);  // backoff alone would be under 0.05 s
  EXPECT_LT(gap, 3.0);
}

TEST(ClientScripted, DoesNotRetryBadRequests) {
  ScriptedServer server(
      [](const SeenRequest&) { return HttpResponse(400, "{\"error\":\"prompt too long\"}"); });
  auto client = Client::Make(FastOptions(server.base_url()));
  ASSERT_TRUE(client.ok());
  auto out = RunAll(client->get(), 5);
  ASSERT_EQ(out.size(), 5u);
  for (const auto& c : out) {
    EXPECT_EQ(c.error.kind, ErrorKind::kHttpStatus);
    EXPECT_EQ(c.error.http_status, 400);
    EXPECT_EQ(c.attempts, 1);
    EXPECT_NE(c.error.message.find("prompt too long"), std::string::npos);
    EXPECT_NE(c.body.find("prompt too long"), std::string::npos);
  }
  EXPECT_EQ(server.seen().size(), 5u);
}

TEST(ClientScripted, RetriesServerErrorsUntilSuccess) {
  std::atomic<int> n{0};
  ScriptedServer server([&](const SeenRequest&) {
    return n.fetch_add(1) % 3 != 2 ? HttpResponse(500, "{}") : HttpResponse(200, CompletionBody());
  });
  auto c = Call(FastOptions(server.base_url()), Request{.id = 1, .body = "{}"});
  ASSERT_TRUE(c.ok());
  EXPECT_TRUE(c->ok());
  EXPECT_EQ(c->attempts, 3);
  EXPECT_EQ(c->http_status, 200);
}

TEST(ClientScripted, InvalidResponsesAreRetriedALimitedNumberOfTimes) {
  ScriptedServer server([](const SeenRequest&) { return HttpResponse(200, "{\"choi"); });
  ClientOptions o = FastOptions(server.base_url());
  o.max_attempts = 10;
  o.max_invalid_response_attempts = 3;
  auto c = Call(o, Request{.id = 1, .body = "{}"});
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->error.kind, ErrorKind::kInvalidResponse);
  EXPECT_EQ(c->attempts, 3);
  EXPECT_EQ(c->http_status, 200);
}

TEST(ClientScripted, StopsRetryingAtTheRowDeadline) {
  ScriptedServer server([](const SeenRequest&) { return HttpResponse(503, "{}"); });
  ClientOptions o = FastOptions(server.base_url());
  o.max_attempts = 1000;
  o.backoff_base_s = 0.05;
  o.backoff_max_s = 0.05;
  o.row_deadline_s = 0.5;
  auto start = std::chrono::steady_clock::now();
  auto c = Call(o, Request{.id = 1, .body = "{}"});
  double took = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->error.kind, ErrorKind::kHttpStatus);
  EXPECT_EQ(c->error.http_status, 503);
  EXPECT_GT(c->attempts, 2);
  EXPECT_LT(c->attempts, 1000);
  EXPECT_NE(c->error.message.find("row deadline"), std::string::npos) << c->error.message;
  EXPECT_LT(took, 2.0);
}

TEST(ClientScripted, ConnectionClosedWithoutAnswerIsAResetAndRetried) {
  std::atomic<int> n{0};
  ScriptedServer server([&](const SeenRequest&) {
    return n.fetch_add(1) == 0 ? std::string() : HttpResponse(200, CompletionBody());
  });
  auto c = Call(FastOptions(server.base_url()), Request{.id = 1, .body = "{}"});
  ASSERT_TRUE(c.ok());
  EXPECT_TRUE(c->ok()) << c->error.message;
  EXPECT_EQ(c->attempts, 2);
}

TEST(ClientScripted, RefusedConnectionsFailAsConnectAfterAllAttempts) {
  int port;
  {
    ScriptedServer server([](const SeenRequest&) { return std::string(); });
    port = server.port();
  }
  ClientOptions o = FastOptions("http://127.0.0.1:" + std::to_string(port) + "/v1");
  o.max_attempts = 4;
  auto c = Call(o, Request{.id = 3, .body = "{}"});
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->error.kind, ErrorKind::kConnect);
  EXPECT_EQ(c->attempts, 4);
  EXPECT_EQ(c->id, 3u);
  EXPECT_NE(c->error.message.find(std::to_string(port)), std::string::npos) << c->error.message;
}

TEST(ClientScripted, ReusesKeepAliveConnections) {
  ScriptedServer server([](const SeenRequest&) { return HttpResponse(200, CompletionBody()); });
  ClientOptions o = FastOptions(server.base_url());
  o.concurrency = 4;
  auto client = Client::Make(o);
  ASSERT_TRUE(client.ok());
  auto out = RunAll(client->get(), 200);
  ASSERT_EQ(out.size(), 200u);
  for (const auto& c : out) EXPECT_TRUE(c.ok());
  EXPECT_LE(server.connections(), 4);
  auto stats = (*client)->stats();
  EXPECT_EQ(stats.succeeded, 200u);
  EXPECT_EQ(stats.prompt_tokens, 600);
  EXPECT_EQ(stats.completion_tokens, 200);
  EXPECT_EQ(stats.bytes_sent, 400u);
  EXPECT_GT(stats.latency_p50_s, 0);
  std::string line = DescribeStats(stats);
  EXPECT_EQ(line.rfind("200 requests, 200 ok, 200 attempts, 0 retries;", 0), 0u) << line;
}

TEST(ClientScripted, HardConcurrencyCapIsNeverExceeded) {
  std::atomic<int> current{0};
  std::atomic<int> peak{0};
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  std::atomic<int> arrived{0};
  ScriptedServer server([&](const SeenRequest&) {
    int now = current.fetch_add(1) + 1;
    int p = peak.load();
    while (now > p && !peak.compare_exchange_weak(p, now)) {
    }
    if (arrived.fetch_add(1) < 3) released.wait();  // hold the first three
    current.fetch_sub(1);
    return HttpResponse(200, CompletionBody());
  });
  ClientOptions o = FastOptions(server.base_url());
  o.concurrency = 3;
  auto client = Client::Make(o);
  ASSERT_TRUE(client.ok());
  for (int i = 0; i < 20; ++i)
    ASSERT_TRUE((*client)->Submit(Request{.id = uint64_t(i), .body = "{}"}));
  (*client)->Close();
  // Three are held by the server; nothing completes until they are released.
  while (arrived.load() < 3) std::this_thread::yield();
  EXPECT_EQ((*client)->in_flight(), 3);
  release.set_value();
  int n = 0;
  while (auto c = (*client)->NextCompletion()) {
    EXPECT_TRUE(c->ok());
    ++n;
  }
  EXPECT_EQ(n, 20);
  EXPECT_LE(peak.load(), 3);
}

TEST(ClientScripted, CancelReportsEveryUnfinishedRequestQuickly) {
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  std::atomic<int> arrived{0};
  ScriptedServer server([&](const SeenRequest&) {
    arrived.fetch_add(1);
    released.wait();  // a server that never answers until the test ends
    return std::string();
  });
  ClientOptions o = FastOptions(server.base_url());
  o.concurrency = 8;
  o.queue_capacity = 100;
  auto client = Client::Make(o);
  ASSERT_TRUE(client.ok());
  for (int i = 0; i < 50; ++i)
    ASSERT_TRUE((*client)->Submit(Request{.id = uint64_t(i), .body = "{}"}));
  while (arrived.load() < 8) std::this_thread::yield();
  auto start = std::chrono::steady_clock::now();
  (*client)->Cancel();
  EXPECT_FALSE((*client)->Submit(Request{.id = 999, .body = "{}"}));
  std::set<uint64_t> ids;
  while (auto c = (*client)->NextCompletion()) {
    EXPECT_EQ(c->error.kind, ErrorKind::kCancelled) << c->error.message;
    EXPECT_TRUE(ids.insert(c->id).second) << "duplicate " << c->id;
  }
  double took = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_EQ(ids.size(), 50u);
  EXPECT_LT(took, 2.0);
  release.set_value();
}

// A consumer that re-asks (as the pipeline's parsers do on invalid output) while producers keep
// the submit queue full must not deadlock against the I/O thread.
TEST(ClientScripted, ResubmitFromTheConsumerNeverDeadlocks) {
  ScriptedServer server([](const SeenRequest&) { return HttpResponse(200, CompletionBody()); });
  ClientOptions o = FastOptions(server.base_url());
  o.concurrency = 2;
  o.queue_capacity = 2;
  auto client = Client::Make(o);
  ASSERT_TRUE(client.ok());
  Client* c = client->get();
  constexpr int kN = 300;
  std::atomic<int> pending{kN};
  std::thread producer([&] {
    for (int i = 0; i < kN; ++i) ASSERT_TRUE(c->Submit(Request{.id = uint64_t(i), .body = "{}"}));
  });
  std::set<uint64_t> ids;
  std::thread closer;
  while (auto done = c->NextCompletion()) {
    ASSERT_TRUE(done->ok());
    ids.insert(done->id);
    if (done->id < 1000) {
      // Re-ask once, from the consumer, while the queue is full.
      ASSERT_TRUE(c->Resubmit(Request{.id = done->id + 1000, .body = "{}"}));
    } else if (pending.fetch_sub(1) == 1) {
      closer = std::thread([c] { c->Close(); });
    }
  }
  producer.join();
  closer.join();
  EXPECT_EQ(ids.size(), size_t{2 * kN});
  EXPECT_EQ(c->stats().submitted, uint64_t{2 * kN});
}

TEST(ClientScripted, GetReturnsTheBody) {
  ScriptedServer server([](const SeenRequest& r) {
    if (r.head.rfind("GET /v1/models ", 0) == 0) {
      return HttpResponse(200, R"({"object":"list","data":[{"id":"m"}]})");
    }
    return HttpResponse(404, "{}");
  });
  auto body = Get(FastOptions(server.base_url()), "/models");
  ASSERT_TRUE(body.ok()) << body.status().ToString();
  EXPECT_NE(body->find("\"m\""), std::string::npos);
}

TEST(ClientScripted, RejectsBadOptions) {
  EXPECT_FALSE(Client::Make(ClientOptions{}).ok());
  ClientOptions o;
  o.endpoints = {"127.0.0.1:8000/v1"};
  auto bad = Client::Make(o);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("127.0.0.1:8000/v1"), std::string::npos);
  o.endpoints = {"http://127.0.0.1:8000/v1"};
  o.concurrency = -1;
  EXPECT_FALSE(Client::Make(o).ok());
}

}  // namespace
}  // namespace structflow::client

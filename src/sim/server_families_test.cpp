// The simulator's families over HTTP: each family's endpoints, metrics and bodies, and
// llama.cpp's HTTP thread pool with keep-alive binding.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <nlohmann/json.hpp>
#include <thread>

#include "sim/server.h"
#include "sim/testing/http_for_tests.h"

namespace structflow::sim {
namespace {

using nlohmann::json;
using testing::Fetch;

std::unique_ptr<Server> StartOrDie(SimOptions o) {
  auto s = Server::Start(o);
  EXPECT_TRUE(s.ok()) << s.status().ToString();
  return std::move(s).value();
}

SimOptions Family(const std::string& api) {
  SimOptions o;
  o.api = api;
  o.latency_ms = 0;
  o.models = {"tiny"};
  return o;
}

std::string Root(const Server& s) { return "http://127.0.0.1:" + std::to_string(s.port()); }

TEST(SimLlamaCpp, PublishesPropsSlotsModelsAndHealth) {
  SimOptions o = Family("llama.cpp");
  o.image_support = false;
  o.max_model_len = 2048;
  auto server = StartOrDie(o);
  auto props = Fetch(Root(*server) + "/props");
  ASSERT_EQ(props.status, 200) << props.error;
  json p = json::parse(props.body);
  EXPECT_EQ(p["total_slots"], 4);  // -np's default
  EXPECT_EQ(p["default_generation_settings"]["n_ctx"], 2048);
  EXPECT_EQ(p["modalities"]["vision"], false);
  EXPECT_TRUE(p["chat_template"].is_string());
  json models = json::parse(Fetch(server->base_url() + "/models").body);
  EXPECT_EQ(models["data"][0]["meta"]["n_ctx_train"], 2048);
  EXPECT_EQ(json::parse(Fetch(Root(*server) + "/slots").body).size(), 4u);
  auto health = Fetch(Root(*server) + "/health");
  EXPECT_EQ(health.status, 200);
  EXPECT_EQ(json::parse(health.body)["status"], "ok");
  EXPECT_NE(health.headers.find("server: llama.cpp"), std::string::npos);
  auto nf = Fetch(Root(*server) + "/nope");
  EXPECT_EQ(nf.status, 404);
  EXPECT_EQ(json::parse(nf.body)["error"]["type"], "not_found_error");
}

TEST(SimLlamaCpp, MetricsOnlyWithTheFlag) {
  auto off = StartOrDie(Family("llama.cpp"));
  auto r = Fetch(Root(*off) + "/metrics");
  EXPECT_EQ(r.status, 501);
  EXPECT_EQ(json::parse(r.body)["error"]["type"], "not_supported_error");
  SimOptions o = Family("llama.cpp");
  o.metrics = true;
  auto on = StartOrDie(o);
  std::string body = R"({"messages":[{"role":"user","content":"hi"}]})";
  ASSERT_EQ(Fetch(on->base_url() + "/chat/completions", &body).status, 200);
  auto m = Fetch(Root(*on) + "/metrics");
  ASSERT_EQ(m.status, 200);
  for (const char* line :
       {"llamacpp:requests_processing 0", "llamacpp:requests_deferred 0",
        "# TYPE llamacpp:prompt_tokens_total counter", "llamacpp:tokens_predicted_total "}) {
    EXPECT_NE(m.body.find(line), std::string::npos) << line << "\n" << m.body;
  }
  EXPECT_EQ(m.body.find("vllm:"), std::string::npos);
}

TEST(SimLlamaCpp, ErrorsUseItsBodyOverHttp) {
  SimOptions o = Family("llama.cpp");
  o.image_support = false;
  auto server = StartOrDie(o);
  std::string image =
      R"({"messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="}}]}]})";
  auto r = Fetch(server->base_url() + "/chat/completions", &image);
  EXPECT_EQ(r.status, 500);
  json e = json::parse(r.body)["error"];
  EXPECT_EQ(e["code"], 500);
  EXPECT_EQ(e["type"], "server_error");
  EXPECT_NE(e["message"].get<std::string>().find("provide the mmproj"), std::string::npos);
}

TEST(SimSglang, PublishesServerAndModelInfo) {
  auto server = StartOrDie(Family("sglang"));
  json info = json::parse(Fetch(Root(*server) + "/get_server_info").body);
  EXPECT_EQ(info["max_running_requests"], 256);
  EXPECT_EQ(info["context_length"], 8192);
  json model = json::parse(Fetch(Root(*server) + "/get_model_info").body);
  EXPECT_EQ(model["has_image_understanding"], true);
  EXPECT_EQ(Fetch(Root(*server) + "/metrics").status, 404);  // without --enable-metrics
  SimOptions o = Family("sglang");
  o.metrics = true;
  auto on = StartOrDie(o);
  auto m = Fetch(Root(*on) + "/metrics");
  EXPECT_NE(m.body.find("sglang:num_running_reqs{model_name=\"tiny\"} 0"), std::string::npos);
  EXPECT_NE(m.body.find("sglang:num_queue_reqs{model_name=\"tiny\"} 0"), std::string::npos);
  std::string bad = R"({"messages":[]})";
  auto r = Fetch(server->base_url() + "/chat/completions", &bad);
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(json::parse(r.body)["object"], "error");
}

TEST(SimOllama, PublishesShowTagsAndVersion) {
  SimOptions o = Family("ollama");
  o.max_model_len = 4096;
  auto server = StartOrDie(o);
  std::string show = R"({"model":"tiny"})";
  auto r = Fetch(Root(*server) + "/api/show", &show);
  ASSERT_EQ(r.status, 200) << r.body;
  json s = json::parse(r.body);
  EXPECT_EQ(s["capabilities"], json::array({"completion", "vision"}));
  EXPECT_EQ(s["model_info"]["llama.context_length"], 4096);
  std::string missing = R"({"model":"nope"})";
  auto nf = Fetch(Root(*server) + "/api/show", &missing);
  EXPECT_EQ(nf.status, 404);
  EXPECT_EQ(json::parse(nf.body)["error"], "model 'nope' not found");
  EXPECT_EQ(json::parse(Fetch(Root(*server) + "/api/tags").body)["models"][0]["name"], "tiny");
  EXPECT_TRUE(json::parse(Fetch(Root(*server) + "/api/version").body)["version"].is_string());
  EXPECT_EQ(Fetch(Root(*server) + "/metrics").status, 404);
  std::string body = R"({"model":"nope","messages":[{"role":"user","content":"hi"}]})";
  auto chat = Fetch(server->base_url() + "/chat/completions", &body);
  EXPECT_EQ(chat.status, 404);
  EXPECT_EQ(json::parse(chat.body)["error"]["type"], "not_found_error");
}

// Every family counts requests at the simulator's own endpoint, whatever the real server
// publishes (llama.cpp without --metrics and Ollama publish nothing); reading it counts nothing.
TEST(SimFamilies, CountRequestsAtTheSimOnlyEndpoint) {
  for (const char* api : {"vllm-0.12", "llama.cpp", "llama.cpp-b4800", "sglang", "ollama"}) {
    SCOPED_TRACE(api);
    auto server = StartOrDie(Family(api));
    std::string body = R"({"model":"tiny","messages":[{"role":"user","content":"hi"}]})";
    ASSERT_EQ(Fetch(server->base_url() + "/chat/completions", &body).status, 200);
    ASSERT_EQ(Fetch(server->base_url() + "/chat/completions", &body).status, 200);
    for (int read = 0; read < 2; ++read) {
      auto m = Fetch(Root(*server) + "/structflow-sim/metrics");
      ASSERT_EQ(m.status, 200);
      EXPECT_NE(m.body.find("structflow_sim_chat_requests_total 2\n"), std::string::npos) << m.body;
      EXPECT_NE(m.body.find("structflow_sim_requests_total{code=\"200\"} 2\n"), std::string::npos)
          << m.body;
    }
  }
}

// SGLang's own counter of finished requests (collector.py num_requests_total).
TEST(SimSglang, MetricsCountFinishedRequests) {
  SimOptions o = Family("sglang");
  o.metrics = true;
  auto server = StartOrDie(o);
  std::string body = R"({"messages":[{"role":"user","content":"hi"}]})";
  ASSERT_EQ(Fetch(server->base_url() + "/chat/completions", &body).status, 200);
  std::string bad = R"({"messages":[]})";
  ASSERT_EQ(Fetch(server->base_url() + "/chat/completions", &bad).status, 400);
  auto m = Fetch(Root(*server) + "/metrics");
  EXPECT_NE(m.body.find("sglang:num_requests_total{model_name=\"tiny\"} 1\n"), std::string::npos)
      << m.body;
}

TEST(SimOllama, NativeChatHonoursFormat) {
  auto server = StartOrDie(Family("ollama"));
  std::string body =
      R"({"model":"tiny","stream":false,"messages":[{"role":"user","content":"hi"}],
          "format":{"type":"object","properties":{"n":{"type":"integer"}},"required":["n"]}})";
  auto r = Fetch(Root(*server) + "/api/chat", &body);
  ASSERT_EQ(r.status, 200) << r.body;
  json answer = json::parse(r.body);
  EXPECT_EQ(answer["done"], true);
  EXPECT_EQ(answer["done_reason"], "stop");
  EXPECT_TRUE(
      json::parse(answer["message"]["content"].get<std::string>())["n"].is_number_integer());
  // Streaming is the default: NDJSON chunks whose contents join into the answer.
  std::string streamed =
      R"({"model":"tiny","messages":[{"role":"user","content":"hi"}],"format":"json"})";
  auto s = Fetch(Root(*server) + "/api/chat", &streamed);
  ASSERT_EQ(s.status, 200);
  std::string content;
  size_t lines = 0;
  for (size_t pos = 0; pos < s.body.size();) {
    size_t end = s.body.find('\n', pos);
    json chunk = json::parse(s.body.substr(pos, end - pos));
    content += chunk["message"]["content"].get<std::string>();
    ++lines;
    pos = end + 1;
    if (chunk["done"] == true) break;
  }
  EXPECT_GT(lines, 2u);
  EXPECT_TRUE(json::parse(content).is_object()) << content;
  std::string unknown = R"({"model":"nope","messages":[]})";
  auto nf = Fetch(Root(*server) + "/api/chat", &unknown);
  EXPECT_EQ(nf.status, 404);
  EXPECT_TRUE(json::parse(nf.body)["error"].is_string());
}

// A raw keep-alive connection: curl would open a new one when the old one stalls.
class RawConnection {
 public:
  explicit RawConnection(int port) : fd_(socket(AF_INET, SOCK_STREAM, 0)) {
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    connected_ = connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
  }
  ~RawConnection() { Close(); }
  bool connected() const { return connected_; }
  void Close() {
    if (fd_ >= 0) close(fd_);
    fd_ = -1;
  }
  void SendHealth() {
    static const std::string kRequest =
        "GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: keep-alive\r\n\r\n";
    ASSERT_EQ(send(fd_, kRequest.data(), kRequest.size(), MSG_NOSIGNAL),
              static_cast<ssize_t>(kRequest.size()));
  }
  // Bytes available within timeout_ms; 0 when the peer closed; -1 when nothing came.
  ssize_t Read(int timeout_ms, std::string* out) {
    pollfd p{fd_, POLLIN, 0};
    if (poll(&p, 1, timeout_ms) <= 0) return -1;
    char buf[4096];
    ssize_t n = recv(fd_, buf, sizeof(buf), 0);
    if (n > 0) out->append(buf, static_cast<size_t>(n));
    return n;
  }
  // Reads one whole response (head and content-length bytes of body).
  std::string ReadResponse(int timeout_ms) {
    std::string out;
    while (true) {
      size_t head = out.find("\r\n\r\n");
      if (head != std::string::npos) {
        size_t cl = out.find("content-length: ");
        size_t len = cl == std::string::npos ? 0 : std::stoul(out.substr(cl + 16));
        if (out.size() >= head + 4 + len) break;
      }
      if (Read(timeout_ms, &out) <= 0) break;
    }
    return out;
  }

 private:
  int fd_;
  bool connected_ = false;
};

// Waits (bounded) until `pred` holds on the server's metrics.
template <typename Pred>
bool WaitFor(const Server& s, Pred pred) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!pred(s.metrics())) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::yield();
  }
  return true;
}

TEST(SimHttpPool, AKeptAliveConnectionHoldsItsThreadSoTheThirdWaits) {
  SimOptions o = Family("llama.cpp-b4800");  // a fixed pool: no thread is ever added
  o.http_threads = 2;
  o.keep_alive_s = 60;  // only closing a connection frees its thread in this test
  auto server = StartOrDie(o);
  RawConnection a(server->port()), b(server->port()), c(server->port());
  ASSERT_TRUE(a.connected() && b.connected() && c.connected());
  a.SendHealth();
  EXPECT_NE(a.ReadResponse(10000).find("200 OK"), std::string::npos);
  b.SendHealth();
  EXPECT_NE(b.ReadResponse(10000).find("200 OK"), std::string::npos);
  c.SendHealth();
  ASSERT_TRUE(WaitFor(*server,
                      [](const SimMetrics& m) { return m.http_busy == 2 && m.http_waiting == 1; }));
  std::string early;
  EXPECT_EQ(c.Read(0, &early), -1) << "served without a free HTTP thread: " << early;
  a.Close();  // the client lets go: its thread serves the waiting connection
  EXPECT_NE(c.ReadResponse(10000).find("200 OK"), std::string::npos);
  EXPECT_TRUE(WaitFor(*server, [](const SimMetrics& m) { return m.http_waiting == 0; }));
}

TEST(SimHttpPool, AnIdleConnectionIsClosedAfterTheKeepAliveTimeout) {
  SimOptions o = Family("llama.cpp-b4800");
  o.http_threads = 1;
  o.keep_alive_s = 0.2;
  auto server = StartOrDie(o);
  RawConnection a(server->port()), b(server->port());
  a.SendHealth();
  EXPECT_NE(a.ReadResponse(10000).find("200 OK"), std::string::npos);
  b.SendHealth();
  // b waits until a has been idle keep_alive_s; then the server closes a and serves b.
  EXPECT_NE(b.ReadResponse(10000).find("200 OK"), std::string::npos);
  std::string rest;
  EXPECT_EQ(a.Read(10000, &rest), 0) << "the idle connection was not closed";
}

// Newer llama-server builds start a thread for a connection that arrives when none is idle.
TEST(SimHttpPool, ANewBuildAddsAThreadForAConnectionThatFindsNoneIdle) {
  SimOptions o = Family("llama.cpp");
  o.http_threads = 2;
  o.keep_alive_s = 60;
  auto server = StartOrDie(o);
  RawConnection a(server->port());
  a.SendHealth();
  EXPECT_NE(a.ReadResponse(10000).find("200 OK"), std::string::npos);
  RawConnection b(server->port());
  b.SendHealth();
  EXPECT_NE(b.ReadResponse(10000).find("200 OK"), std::string::npos);
  RawConnection c(server->port());  // both threads hold a kept-alive connection: a third starts
  c.SendHealth();
  EXPECT_NE(c.ReadResponse(10000).find("200 OK"), std::string::npos);
  EXPECT_EQ(server->metrics().http_waiting, 0u);
  EXPECT_EQ(server->metrics().http_busy, 3u);
}

// ... but a thread woken for one connection counts as idle until it runs
// (httplib.cpp ThreadPool::enqueue tests idle_thread_count_ == 0): connections arriving in that
// window start no thread and wait behind kept-alive ones, as a burst from a client does.
TEST(SimHttpPool, ABurstOfConnectionsWaitsEvenWhereThreadsCanBeAdded) {
  SimOptions o = Family("llama.cpp");
  o.http_threads = 2;
  o.http_thread_wake_ms = 300;  // a wide window, so the burst below surely lands in it
  o.keep_alive_s = 60;
  auto server = StartOrDie(o);
  RawConnection a(server->port()), b(server->port()), c(server->port()), d(server->port());
  ASSERT_TRUE(a.connected() && b.connected() && c.connected() && d.connected());
  ASSERT_TRUE(WaitFor(*server,
                      [](const SimMetrics& m) { return m.http_busy == 2 && m.http_waiting == 2; }));
  a.SendHealth();
  EXPECT_NE(a.ReadResponse(10000).find("200 OK"), std::string::npos);
  c.SendHealth();
  std::string early;
  EXPECT_EQ(c.Read(0, &early), -1) << "served without a thread: " << early;
  a.Close();
  EXPECT_NE(c.ReadResponse(10000).find("200 OK"), std::string::npos);
}

TEST(SimHttpPool, VllmServesEveryKeptAliveConnectionAtOnce) {
  auto server = StartOrDie(Family("vllm-0.12"));
  RawConnection a(server->port()), b(server->port()), c(server->port());
  for (RawConnection* conn : {&a, &b, &c}) {
    conn->SendHealth();
    EXPECT_NE(conn->ReadResponse(10000).find("200 OK"), std::string::npos);
  }
  EXPECT_EQ(server->metrics().http_waiting, 0u);
}

}  // namespace
}  // namespace structflow::sim

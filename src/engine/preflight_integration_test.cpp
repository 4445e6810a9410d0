// Preflight and the dialect probe against the in-process simulator and a server that never
// answers.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <thread>

#include "engine/dialect_probe.h"
#include "engine/preflight.h"
#include "sim/server.h"

namespace structflow::engine {
namespace {

std::unique_ptr<sim::Server> StartSim(sim::SimOptions o) {
  o.latency_ms = 1;
  auto s = sim::Server::Start(o);
  EXPECT_TRUE(s.ok()) << s.status().ToString();
  return std::move(*s);
}

client::ClientOptions Options(const std::string& url) {
  client::ClientOptions o;
  o.endpoints = {url};
  return o;
}

// A TCP port that accepts connections (the kernel's backlog) but never answers: a hung server.
class SilentServer {
 public:
  SilentServer() {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
    EXPECT_EQ(::listen(fd_, 16), 0);
    socklen_t len = sizeof a;
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
    url_ = "http://127.0.0.1:" + std::to_string(ntohs(a.sin_port)) + "/v1";
  }
  ~SilentServer() { ::close(fd_); }
  const std::string& url() const { return url_; }

 private:
  int fd_ = -1;
  std::string url_;
};

TEST(Preflight, UnknownModelStopsBeforeAnyRowWithTheClosestName) {
  sim::SimOptions so;
  so.models = {"Qwen2.5-VL-7B-Instruct"};
  auto sim = StartSim(so);
  auto facts =
      RunPreflight(Options(sim->base_url()), {"qwen2.5-vl-7b-instruct", false, 64}, nullptr);
  ASSERT_FALSE(facts.ok());
  EXPECT_NE(facts.status().message().find("did you mean --model Qwen2.5-VL-7B-Instruct"),
            std::string::npos)
      << facts.status().message();
  EXPECT_EQ(sim->metrics().chat_requests, 0u);  // stopped before any chat request
}

TEST(Preflight, LearnsTheFamilyAndContextFromTheModelList) {
  sim::SimOptions so;
  so.max_model_len = 4096;
  auto sim = StartSim(so);
  auto facts = RunPreflight(Options(sim->base_url()), {"", false, 64}, nullptr);
  ASSERT_TRUE(facts.ok()) << facts.status().ToString();
  EXPECT_EQ(facts->family, client::ServerFamily::kVllm);
  EXPECT_EQ(facts->context_length, 4096);
  auto tight = RunPreflight(Options(sim->base_url()), {"", false, 4096}, nullptr);
  ASSERT_FALSE(tight.ok());
  EXPECT_NE(tight.status().message().find("--max-model-len"), std::string::npos)
      << tight.status().message();
}

// llama-server serves each kept-alive connection on one of its cpp-httplib HTTP threads: with a
// fixed --concurrency above them, requests wait on connections no thread reads (the job crawls:
// 300 rows of 20 ms on 4 slots took 11.6 s at --concurrency 16, p99 11.8 s). Preflight learns
// the size from /props, and FitClientToServer holds the client within it.
TEST(Preflight, AFixedConcurrencyAboveLlamaCppsHttpThreadsIsHeldToItsSlots) {
  sim::SimOptions so;
  // The fixed pool of builds before dynamic threads, so the stall does not hang on a race; newer
  // builds add a thread only when none is idle at the instant a connection arrives, and a burst
  // of connections meets the same wait (SimHttpPool.ABurstOfConnectionsWaitsEvenWhere...).
  so.api = "llama.cpp-b4800";
  so.max_num_seqs = 4;
  so.http_threads = 6;    // the smallest default pool: --parallel + 2
  so.keep_alive_s = 0.5;  // a held thread lets go of an idle connection after this
  auto sim = StartSim(so);
  client::ClientOptions co = Options(sim->base_url());
  co.concurrency = 16;
  auto facts = RunPreflight(co, {"", false, 16}, nullptr);
  ASSERT_TRUE(facts.ok()) << facts.status().ToString();
  EXPECT_EQ(facts->total_slots, 4);
  EXPECT_EQ(facts->max_connections, 5);
  // Sends 200 chats at --concurrency 16; the most connections that waited for an HTTP thread.
  auto most_waiting = [&](bool fit) {
    auto client = client::Client::Make(co);
    EXPECT_TRUE(client.ok());
    if (fit) {
      FitClientToServer(*facts, client->get());
      EXPECT_EQ((*client)->concurrency_limit(), 5);
    }
    std::thread feeder([&] {
      const std::string chat = R"({"messages":[{"role":"user","content":"hi"}],"max_tokens":4})";
      for (uint64_t i = 0; i < 200; ++i) (*client)->Submit({i, "/chat/completions", chat});
      (*client)->Close();
    });
    int ok = 0;
    uint64_t most = 0;
    while (auto c = (*client)->NextCompletion()) {
      ok += c->ok() ? 1 : 0;
      most = std::max(most, sim->metrics().http_waiting);
    }
    feeder.join();
    EXPECT_EQ(ok, 200);
    return most;
  };
  EXPECT_GE(most_waiting(false), 1u);  // the stall, as llama-server does it
  EXPECT_EQ(most_waiting(true), 0u);
}

TEST(Preflight, AHungServerEndsThePreflightWithAMessage) {
  SilentServer hung;
  auto facts = RunPreflight(Options(hung.url()), {"m", false, 64}, nullptr);
  ASSERT_FALSE(facts.ok());
  EXPECT_NE(facts.status().message().find("does not answer"), std::string::npos)
      << facts.status().message();
}

TEST(Preflight, AStopEndsAHungPreflightAtOnce) {
  SilentServer hung;
  StopSource stop;
  std::thread stopper([&] { stop.Stop(); });
  auto facts = LearnServer(Options(hung.url()), "m", 3600, &stop);
  stopper.join();
  ASSERT_FALSE(facts.ok());  // without the stop this would wait an hour: the test would time out
}

TEST(DialectProbe, AnImageJobOnATextOnlyServerStopsAtTheProbeWithTheFix) {
  sim::SimOptions so;
  so.image_support = false;
  so.models = {"m"};
  auto sim = StartSim(so);
  auto c = *schema::Constraint::FromChoices({"yes", "no"});
  DialectProbeOptions po;
  po.family = client::ServerFamily::kVllm;
  po.with_image = true;
  auto d = ProbeServerDialect(Options(sim->base_url()), "m", c, po, nullptr);
  ASSERT_FALSE(d.ok());
  EXPECT_NE(d.status().message().find("vision model"), std::string::npos) << d.status().message();
  EXPECT_EQ(sim->metrics().chat_requests, 1u);  // one probe request, not one per dialect
}

TEST(DialectProbe, FindsADialectOnEachSimulatedVersion) {
  for (std::string api : {"vllm-0.12", "vllm-0.10", "openai"}) {
    sim::SimOptions so;
    so.api = api;
    so.models = {"m"};
    auto sim = StartSim(so);
    auto c = *schema::Constraint::FromRegex("R-[0-9]{3}");
    auto d = ProbeServerDialect(Options(sim->base_url()), "m", c, {}, nullptr);
    EXPECT_TRUE(d.ok()) << api << ": " << d.status().ToString();
  }
}

}  // namespace
}  // namespace structflow::engine

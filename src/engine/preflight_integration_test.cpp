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

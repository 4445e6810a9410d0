// Holds thousands of requests at once against the in-process simulator: the issue's "2,000
// concurrent requests at --latency-ms 1000 all finish in a small multiple of one second".
#include <gtest/gtest.h>
#include <sys/resource.h>

#include <nlohmann/json.hpp>

#include "sim/server.h"
#include "sim/testing/http_for_tests.h"

namespace structflow::sim {
namespace {

TEST(SimConcurrency, TwoThousandRequestsAtOneSecondFinishTogether) {
  RaiseOpenFileLimit();  // 2,000 client sockets plus 2,000 server sockets in this process
  SimOptions o;
  o.latency_ms = 1000;
  o.max_num_seqs = 2000;
  auto server = Server::Start(o);
  ASSERT_TRUE(server.ok()) << server.status().ToString();
  const std::string body =
      R"({"model":"sim-vlm","messages":[{"role":"user","content":"A) yes B) no"}],"structured_outputs":{"choice":["A","B"]}})";
  auto many = testing::FetchMany((*server)->base_url() + "/chat/completions", body, 2000, 20000);
  int ok = 0;
  std::string first_error;
  for (const auto& r : many.results) {
    if (r.status == 200 && nlohmann::json::accept(r.body)) {
      ++ok;
    } else if (first_error.empty()) {
      first_error = r.error + " status " + std::to_string(r.status);
    }
  }
  EXPECT_EQ(ok, 2000) << first_error;
  EXPECT_GE(many.wall_s, 0.99);
  EXPECT_LT(many.wall_s, 5.0);
  EXPECT_EQ((*server)->metrics().chat_requests, 2000u);
  EXPECT_EQ((*server)->metrics().running, 0u);
}

TEST(SimConcurrency, SlotsBoundTheBatchAndTheRestWaitInOrder) {
  RaiseOpenFileLimit();
  SimOptions o;
  o.latency_ms = 300;
  o.max_num_seqs = 100;
  auto server = Server::Start(o);
  ASSERT_TRUE(server.ok());
  const std::string body = R"({"messages":[{"role":"user","content":"hi"}],"max_tokens":5})";
  // 400 requests through 100 slots of 300 ms: four rounds.
  auto many = testing::FetchMany((*server)->base_url() + "/chat/completions", body, 400, 20000);
  for (const auto& r : many.results) ASSERT_EQ(r.status, 200) << r.error;
  // Four rounds at least (slots bound the batch); a loaded machine can only be slower.
  EXPECT_GE(many.wall_s, 1.19);
  EXPECT_LT(many.wall_s, 12.0);
  EXPECT_GE((*server)->metrics().busy_slot_seconds, 400 * 0.3 * 0.95);
}

TEST(SimConcurrency, HoldsFiveThousandConnectionsOnTwoThreads) {
  RaiseOpenFileLimit();
  rlimit lim{};
  getrlimit(RLIMIT_NOFILE, &lim);
  if (lim.rlim_cur < 10'500)
    GTEST_SKIP() << "needs 10,500 open files, the hard limit is " << lim.rlim_max;
  SimOptions o;
  o.latency_ms = 1000;
  o.max_num_seqs = 5000;
  o.threads = 2;
  auto server = Server::Start(o);
  ASSERT_TRUE(server.ok());
  const std::string body = R"({"messages":[{"role":"user","content":"hi"}],"max_tokens":5})";
  auto many = testing::FetchMany((*server)->base_url() + "/chat/completions", body, 5000, 30000);
  int ok = 0;
  for (const auto& r : many.results) ok += r.status == 200;
  EXPECT_EQ(ok, 5000);
  EXPECT_LT(many.wall_s, 8.0);
}

}  // namespace
}  // namespace structflow::sim

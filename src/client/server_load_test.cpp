#include "client/server_load.h"

#include <gtest/gtest.h>

namespace structflow::client {
namespace {

TEST(ParseServerLoad, ReadsVllmAndSumsLabelSets) {
  const char* text =
      "# HELP vllm:num_requests_running Number of requests in model execution batches.\n"
      "# TYPE vllm:num_requests_running gauge\n"
      "vllm:num_requests_running{engine=\"0\",model_name=\"m\"} 200.0\n"
      "vllm:num_requests_running{engine=\"1\",model_name=\"m\"} 56.0\n"
      "vllm:num_requests_waiting{engine=\"0\",model_name=\"a \\\"}\\\" b\"} 12.0 1700000000000\n"
      "vllm:num_requests_waiting_by_reason{reason=\"capacity\"} 99\n"
      "vllm:num_requests_swapped{model_name=\"m\"} 3.0\n";
  auto load = ParseServerLoad(text);
  ASSERT_TRUE(load.has_value());
  EXPECT_EQ(load->running, 256);
  EXPECT_EQ(load->waiting, 12);
}

TEST(ParseServerLoad, ReadsSglangAndLlamaCpp) {
  auto sglang = ParseServerLoad(
      "sglang:num_running_reqs{model_name=\"x\"} 7\n"
      "sglang:num_queue_reqs{model_name=\"x\"} 2\n");
  ASSERT_TRUE(sglang.has_value());
  EXPECT_EQ(sglang->running, 7);
  EXPECT_EQ(sglang->waiting, 2);
  auto llama = ParseServerLoad("llamacpp:requests_processing 1\nllamacpp:requests_deferred 4");
  ASSERT_TRUE(llama.has_value());
  EXPECT_EQ(llama->running, 1);
  EXPECT_EQ(llama->waiting, 4);
}

TEST(ParseServerLoad, NothingWithoutAQueueMetricOrWithGarbage) {
  EXPECT_FALSE(ParseServerLoad("").has_value());
  EXPECT_FALSE(ParseServerLoad("<html>404 Not Found</html>").has_value());
  EXPECT_FALSE(ParseServerLoad("process_cpu_seconds_total 12.5\n").has_value());
  EXPECT_FALSE(ParseServerLoad("vllm:num_requests_running{model_name=\"m\"} NaNx\n").has_value());
}

TEST(ParseLlamaCppProps, ReadsTotalSlotsAndSaysConnectionsAreBound) {
  auto slots = ParseLlamaCppProps(
      R"({"default_generation_settings":{"n_ctx":1024},"total_slots":4,"model_path":"m.gguf",)"
      R"("modalities":{"vision":false},"build_info":"b6000-abc"})");
  ASSERT_TRUE(slots.has_value());
  EXPECT_EQ(slots->slots, 4);
  EXPECT_TRUE(slots->binds_connections);
  EXPECT_FALSE(ParseLlamaCppProps(R"({"total_slots":0})").has_value());
  EXPECT_FALSE(ParseLlamaCppProps(R"({"total_slots":"4"})").has_value());
  EXPECT_FALSE(ParseLlamaCppProps(R"({"detail":"Not Found"})").has_value());
  EXPECT_FALSE(ParseLlamaCppProps("<html>404</html>").has_value());
}

TEST(ParseSglangServerInfo, SumsRanksElseTakesTheArgument) {
  auto ranks = ParseSglangServerInfo(
      R"({"model_path":"m","max_running_requests":null,"internal_states":[)"
      R"({"max_running_requests":48,"last_gen_throughput":1.5},{"max_running_requests":48}],)"
      R"("version":"0.5.0"})");
  ASSERT_TRUE(ranks.has_value());
  EXPECT_EQ(ranks->slots, 96);
  EXPECT_FALSE(ranks->binds_connections);
  auto arg = ParseSglangServerInfo(
      R"({"max_running_requests":32,"internal_states":[{"last_gen_throughput":1}]})");
  ASSERT_TRUE(arg.has_value());
  EXPECT_EQ(arg->slots, 32);
  // SGLang sizes the batch itself: nothing published.
  EXPECT_FALSE(
      ParseSglangServerInfo(R"({"max_running_requests":null,"internal_states":[{}]})").has_value());
  EXPECT_FALSE(ParseSglangServerInfo(R"({"total_slots":4})").has_value());
}

}  // namespace
}  // namespace structflow::client

namespace structflow::client {
namespace {

TEST(ReadLlamaCppProps, ReadsSlotsContextAndVision) {
  auto r = ReadLlamaCppProps(
      R"({"default_generation_settings":{"n_ctx":4096,"params":{}},"total_slots":4,)"
      R"("modalities":{"vision":false,"audio":false}})");
  ASSERT_TRUE(r.has_value());
  ASSERT_TRUE(r->slots.has_value());
  EXPECT_EQ(r->slots->slots, 4);
  EXPECT_EQ(r->context_length, 4096);
  EXPECT_EQ(r->context_source, "/props n_ctx");
  EXPECT_EQ(r->vision, false);
  // An older build: no modalities, and so nothing said about vision.
  auto old = ReadLlamaCppProps(R"({"total_slots":1})");
  ASSERT_TRUE(old.has_value());
  EXPECT_FALSE(old->vision.has_value());
  EXPECT_EQ(old->context_length, 0);
  EXPECT_FALSE(ReadLlamaCppProps("<html>404</html>").has_value());
  EXPECT_FALSE(ReadLlamaCppProps("[1,2]").has_value());
}

TEST(ReadSglangServerInfo, ReadsSlotsAndContextLength) {
  auto r = ReadSglangServerInfo(R"({"context_length":32768,"max_running_requests":null,)"
                                R"("internal_states":[{"max_running_requests":48}]})");
  ASSERT_TRUE(r.has_value());
  ASSERT_TRUE(r->slots.has_value());
  EXPECT_EQ(r->slots->slots, 48);
  EXPECT_EQ(r->context_length, 32768);
  EXPECT_FALSE(r->vision.has_value());
  auto unsized = ReadSglangServerInfo(R"({"context_length":8192,"max_running_requests":null})");
  ASSERT_TRUE(unsized.has_value());
  EXPECT_FALSE(unsized->slots.has_value());
  EXPECT_EQ(unsized->context_length, 8192);
}

}  // namespace
}  // namespace structflow::client

#include "sim/server.h"

#include <gtest/gtest.h>

#include <chrono>
#include <nlohmann/json.hpp>
#include <thread>

#include "sim/testing/http_for_tests.h"

namespace structflow::sim {
namespace {

using nlohmann::json;
using testing::Fetch;

constexpr const char* kPng1x1 =
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg"
    "==";

std::unique_ptr<Server> StartOrDie(SimOptions o) {
  auto s = Server::Start(o);
  EXPECT_TRUE(s.ok()) << s.status().ToString();
  return std::move(s).value();
}

SimOptions Fast() {
  SimOptions o;
  o.latency_ms = 0;
  return o;
}

std::string Chat(const std::string& extra, const std::string& model = "sim-vlm") {
  return R"({"model":")" + model +
         R"(","messages":[{"role":"user","content":"Which is right? A) one B) two C) three"}])" +
         extra + "}";
}

TEST(SimServer, ListsModelsAndHealth) {
  SimOptions o = Fast();
  o.models = {"m1", "m2"};
  auto server = StartOrDie(o);
  ASSERT_GT(server->port(), 0);
  EXPECT_EQ(server->base_url(), "http://127.0.0.1:" + std::to_string(server->port()) + "/v1");
  auto r = Fetch(server->base_url() + "/models");
  ASSERT_EQ(r.status, 200) << r.error;
  json j = json::parse(r.body);
  EXPECT_EQ(j["object"], "list");
  ASSERT_EQ(j["data"].size(), 2u);
  EXPECT_EQ(j["data"][0]["id"], "m1");
  EXPECT_EQ(j["data"][1]["object"], "model");
  auto h = Fetch("http://127.0.0.1:" + std::to_string(server->port()) + "/health");
  EXPECT_EQ(h.status, 200);
  auto nf = Fetch(server->base_url() + "/nope");
  EXPECT_EQ(nf.status, 404);
}

TEST(SimServer, AnswersChatCompletionInOpenAIShape) {
  auto server = StartOrDie(Fast());
  std::string body = Chat(R"(,"max_tokens":50)");
  auto r = Fetch(server->base_url() + "/chat/completions", &body);
  ASSERT_EQ(r.status, 200) << r.body;
  json j = json::parse(r.body);
  EXPECT_EQ(j["object"], "chat.completion");
  EXPECT_TRUE(j["id"].get<std::string>().starts_with("chatcmpl-"));
  EXPECT_EQ(j["model"], "sim-vlm");
  EXPECT_TRUE(j["created"].is_number_integer());
  ASSERT_EQ(j["choices"].size(), 1u);
  EXPECT_EQ(j["choices"][0]["index"], 0);
  EXPECT_EQ(j["choices"][0]["message"]["role"], "assistant");
  EXPECT_FALSE(j["choices"][0]["message"]["content"].get<std::string>().empty());
  EXPECT_EQ(j["choices"][0]["finish_reason"], "stop");
  int p = j["usage"]["prompt_tokens"], c = j["usage"]["completion_tokens"];
  EXPECT_GT(p, 0);
  EXPECT_GT(c, 0);
  EXPECT_EQ(j["usage"]["total_tokens"], p + c);
  SimMetrics m = server->metrics();
  EXPECT_EQ(m.chat_requests, 1u);
  EXPECT_EQ(m.prompt_tokens, static_cast<uint64_t>(p));
  EXPECT_EQ(m.generation_tokens, static_cast<uint64_t>(c));
}

TEST(SimServer, SameRequestSameAnswerUnderOneSeed) {
  auto server = StartOrDie(Fast());
  std::string body = Chat(R"(,"structured_outputs":{"choice":["A","B","C","D"]})");
  auto a = Fetch(server->base_url() + "/chat/completions", &body);
  auto b = Fetch(server->base_url() + "/chat/completions", &body);
  ASSERT_EQ(a.status, 200);
  EXPECT_EQ(json::parse(a.body)["choices"][0]["message"]["content"],
            json::parse(b.body)["choices"][0]["message"]["content"]);
}

TEST(SimServer, JsonSchemaResponseFormatGivesParsableValue) {
  auto server = StartOrDie(Fast());
  std::string body = Chat(
      R"(,"response_format":{"type":"json_schema","json_schema":{"name":"out","schema":{"type":"object","properties":{"answer":{"type":"string","enum":["A","B","C"]},"score":{"type":"integer","minimum":1,"maximum":5}},"required":["answer","score"]}}})");
  auto r = Fetch(server->base_url() + "/chat/completions", &body);
  ASSERT_EQ(r.status, 200) << r.body;
  json content =
      json::parse(json::parse(r.body)["choices"][0]["message"]["content"].get<std::string>());
  EXPECT_TRUE(content["answer"] == "A" || content["answer"] == "B" || content["answer"] == "C");
  EXPECT_GE(content["score"].get<int>(), 1);
  EXPECT_LE(content["score"].get<int>(), 5);
}

TEST(SimServer, UnknownModelIs404WithVllmErrorBody) {
  auto server = StartOrDie(Fast());
  std::string body = Chat("", "gpt-nope");
  auto r = Fetch(server->base_url() + "/chat/completions", &body);
  ASSERT_EQ(r.status, 404);
  json j = json::parse(r.body)["error"];  // vLLM 0.10.1 and later: OpenAI's nested shape
  EXPECT_EQ(j["message"], "The model `gpt-nope` does not exist.");
  EXPECT_EQ(j["type"], "NotFoundError");
  EXPECT_TRUE(j["param"].is_null());
  EXPECT_EQ(j["code"], 404);
}

TEST(SimServer, Vllm010WritesTheFlatErrorBody) {
  SimOptions o = Fast();
  o.api = "vllm-0.10";
  auto server = StartOrDie(o);
  std::string body = Chat("", "gpt-nope");
  auto r = Fetch(server->base_url() + "/chat/completions", &body);
  ASSERT_EQ(r.status, 404);
  json j = json::parse(r.body);
  EXPECT_EQ(j["object"], "error");
  EXPECT_EQ(j["message"], "The model `gpt-nope` does not exist.");
  EXPECT_EQ(j["type"], "NotFoundError");
  EXPECT_TRUE(j["param"].is_null());
  EXPECT_EQ(j["code"], 404);
}

TEST(SimServer, MalformedJsonIs400) {
  auto server = StartOrDie(Fast());
  std::string body = R"({"model": "sim-vlm", "messages": [)";
  auto r = Fetch(server->base_url() + "/chat/completions", &body);
  ASSERT_EQ(r.status, 400);
  json j = json::parse(r.body)["error"];
  EXPECT_EQ(j["type"], "BadRequestError");
  EXPECT_EQ(j["code"], 400);
}

TEST(SimServer, ImagesAreDecodedAndBrokenOnesRejected) {
  auto server = StartOrDie(Fast());
  auto with_image = [](const std::string& url) {
    return R"({"model":"sim-vlm","messages":[{"role":"user","content":[{"type":"text","text":"What is shown?"},{"type":"image_url","image_url":{"url":")" +
           url + R"("}}]}],"max_tokens":20})";
  };
  std::string good = with_image(std::string("data:image/png;base64,") + kPng1x1);
  auto r = Fetch(server->base_url() + "/chat/completions", &good);
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_GT(json::parse(r.body)["usage"]["prompt_tokens"].get<int>(), 576);

  std::string broken = with_image("data:image/png;base64,aGVsbG8gd29ybGQ=");
  r = Fetch(server->base_url() + "/chat/completions", &broken);
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(json::parse(r.body)["error"]["code"], 400);

  std::string remote = with_image("https://example.com/cat.png");
  r = Fetch(server->base_url() + "/chat/completions", &remote);
  EXPECT_EQ(r.status, 400);
  EXPECT_NE(json::parse(r.body)["error"]["message"].get<std::string>().find("no network"),
            std::string::npos);
}

TEST(SimServer, KeepsConnectionsAliveAcrossRequests) {
  auto server = StartOrDie(Fast());
  CURL* h = curl_easy_init();
  std::string url = server->base_url() + "/models", sink;
  curl_easy_setopt(h, CURLOPT_URL, url.c_str());
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, &testing::AppendToString);
  curl_easy_setopt(h, CURLOPT_WRITEDATA, &sink);
  for (int i = 0; i < 5; ++i) ASSERT_EQ(curl_easy_perform(h), CURLE_OK);
  long connects = -1;
  curl_easy_getinfo(h, CURLINFO_NUM_CONNECTS, &connects);
  EXPECT_EQ(connects, 0);  // the last transfer reused the connection
  curl_easy_cleanup(h);
}

TEST(SimServer, FixedLatencyHoldsSlotsAndQueuesTheRest) {
  SimOptions o;
  o.latency_ms = 200;
  o.max_num_seqs = 2;
  auto server = StartOrDie(o);
  // Four requests, two slots, 200 ms each: two rounds, so at least 400 ms in all.
  auto many = testing::FetchMany(server->base_url() + "/chat/completions", Chat(""), 4);
  for (const auto& r : many.results) EXPECT_EQ(r.status, 200) << r.error;
  // Lower bounds only: a loaded machine may be slower than the model, never faster.
  EXPECT_GE(many.wall_s, 0.39);
  SimMetrics m = server->metrics();
  EXPECT_EQ(m.waiting, 0u);
  EXPECT_GE(m.busy_slot_seconds, 0.75);
}

TEST(SimServer, StopIsIdempotentAndRefusesNewConnections) {
  auto server = StartOrDie(Fast());
  std::string url = server->base_url() + "/models";
  server->Stop();
  server->Stop();
  auto r = Fetch(url, nullptr, 2000);
  EXPECT_EQ(r.status, 0);
}

TEST(SimServer, RejectsBadOptions) {
  SimOptions o;
  o.api = "vllm-9";
  EXPECT_FALSE(Server::Start(o).ok());
  o = SimOptions();
  o.faults = "teapot:0.5";
  auto s = Server::Start(o);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.status().message().find("teapot"), std::string::npos);
}

}  // namespace
}  // namespace structflow::sim

namespace structflow::sim {
namespace {

SimOptions WithFaults(const std::string& spec) {
  SimOptions o = Fast();
  o.faults = spec;
  return o;
}

TEST(SimFaults, Rate429AnswersWithRetryAfter) {
  SimOptions o = WithFaults("429:1");
  o.retry_after_s = 3;
  auto server = StartOrDie(o);
  std::string body = Chat("");
  auto r = Fetch(server->base_url() + "/chat/completions", &body);
  EXPECT_EQ(r.status, 429);
  EXPECT_NE(r.headers.find("retry-after: 3"), std::string::npos) << r.headers;
  EXPECT_EQ(json::parse(r.body)["error"]["code"], 429);
  EXPECT_EQ(server->metrics().faults, 1u);
}

TEST(SimFaults, ServerErrorsCarryVllmBodies) {
  for (int code : {500, 503}) {
    auto server = StartOrDie(WithFaults(std::to_string(code) + ":1"));
    std::string body = Chat("");
    auto r = Fetch(server->base_url() + "/chat/completions", &body);
    EXPECT_EQ(r.status, code);
    EXPECT_EQ(json::parse(r.body)["error"]["code"], code);
  }
}

TEST(SimFaults, ResetBreaksTheConnectionMidResponse) {
  auto server = StartOrDie(WithFaults("reset:1"));
  std::string body = Chat("");
  auto r = Fetch(server->base_url() + "/chat/completions", &body);
  EXPECT_EQ(r.status, 0);
  EXPECT_NE(r.curl_code, 0);
}

TEST(SimFaults, GarbageIs200WithABodyThatIsNotJson) {
  auto server = StartOrDie(WithFaults("garbage:1"));
  std::string body = Chat("");
  auto r = Fetch(server->base_url() + "/chat/completions", &body);
  EXPECT_EQ(r.status, 200);
  EXPECT_FALSE(json::accept(r.body)) << r.body;
}

TEST(SimFaults, LengthCutsTheAnswer) {
  auto server = StartOrDie(WithFaults("length:1"));
  std::string body = Chat(
      R"(,"max_tokens":100,"response_format":{"type":"json_schema","json_schema":{"name":"o","schema":{"type":"object","properties":{"a":{"type":"string","minLength":20}},"required":["a"]}}})");
  auto r = Fetch(server->base_url() + "/chat/completions", &body);
  ASSERT_EQ(r.status, 200);
  json j = json::parse(r.body);
  EXPECT_EQ(j["choices"][0]["finish_reason"], "length");
  EXPECT_FALSE(json::accept(j["choices"][0]["message"]["content"].get<std::string>()));
  EXPECT_EQ(j["usage"]["completion_tokens"], 100);
}

TEST(SimFaults, HangNeverAnswersUntilTheClientGivesUp) {
  auto server = StartOrDie(WithFaults("hang:1"));
  std::string body = Chat("");
  auto r = Fetch(server->base_url() + "/chat/completions", &body, /*timeout_ms=*/300);
  EXPECT_EQ(r.status, 0);
  EXPECT_EQ(r.curl_code, CURLE_OPERATION_TIMEDOUT);
}

TEST(SimServer, StreamsServerSentEventsWithUsage) {
  auto server = StartOrDie(Fast());
  std::string body = Chat(R"(,"stream":true,"stream_options":{"include_usage":true})");
  auto r = Fetch(server->base_url() + "/chat/completions", &body);
  ASSERT_EQ(r.status, 200);
  EXPECT_NE(r.headers.find("text/event-stream"), std::string::npos);
  EXPECT_TRUE(r.body.starts_with("data: {"));
  EXPECT_TRUE(r.body.ends_with("data: [DONE]\n\n"));
  EXPECT_NE(r.body.find("\"usage\""), std::string::npos);
}

TEST(SimServer, MetricsArePrometheusText) {
  auto server = StartOrDie(Fast());
  std::string body = Chat("");
  ASSERT_EQ(Fetch(server->base_url() + "/chat/completions", &body).status, 200);
  std::string bad = Chat("", "nope");
  ASSERT_EQ(Fetch(server->base_url() + "/chat/completions", &bad).status, 404);
  auto r = Fetch("http://127.0.0.1:" + std::to_string(server->port()) + "/metrics");
  ASSERT_EQ(r.status, 200);
  for (const char* line : {"vllm:num_requests_running{model_name=\"sim-vlm\"} 0",
                           "vllm:num_requests_waiting{model_name=\"sim-vlm\"} 0",
                           "# TYPE vllm:prompt_tokens_total counter",
                           "vllm:generation_tokens_total{model_name=\"sim-vlm\"}",
                           "structflow_sim_requests_total{code=\"200\"} 1",
                           "structflow_sim_requests_total{code=\"404\"} 1",
                           "structflow_sim_busy_slot_seconds_total"}) {
    EXPECT_NE(r.body.find(line), std::string::npos) << line << "\n" << r.body;
  }
}

TEST(SimServer, ApiVersionDecidesWhichParametersCount) {
  SimOptions o = Fast();
  o.api = "openai";
  auto server = StartOrDie(o);
  std::string body =
      Chat(R"(,"structured_outputs":{"choice":["zebra"]},"guided_choice":["zebra"])");
  auto r = Fetch(server->base_url() + "/chat/completions", &body);
  ASSERT_EQ(r.status, 200);
  EXPECT_NE(json::parse(r.body)["choices"][0]["message"]["content"], "zebra");
}

}  // namespace
}  // namespace structflow::sim

namespace structflow::sim {
namespace {

TEST(SimLatencyModel, StreamsArriveAsTheyAreDecoded) {
  SimOptions o;
  o.latency_ms = -1;  // the batching model
  o.prefill_ms_per_1k_tokens = 100;
  o.decode_ms_per_token = 20;
  o.decode_batch_slowdown = 0;
  auto server = StartOrDie(o);
  std::string body =
      R"({"messages":[{"role":"user","content":"Tell me about the sea."}],"max_tokens":20,"stream":true})";
  CURL* h = curl_easy_init();
  std::string url = server->base_url() + "/chat/completions", sse;
  curl_slist* headers = curl_slist_append(nullptr, "Content-Type: application/json");
  testing::HttpResult r;
  testing::SetUp(h, url, &body, &r, headers, 10000);
  ASSERT_EQ(curl_easy_perform(h), CURLE_OK);
  double first = 0, total = 0;
  curl_easy_getinfo(h, CURLINFO_STARTTRANSFER_TIME, &first);
  curl_easy_getinfo(h, CURLINFO_TOTAL_TIME, &total);
  curl_slist_free_all(headers);
  curl_easy_cleanup(h);
  EXPECT_NE(r.headers.find("transfer-encoding: chunked"), std::string::npos);
  EXPECT_TRUE(r.body.ends_with("data: [DONE]\n\n"));
  // 20 tokens at 20 ms: about 0.4 s of decoding after a prefill of a few ms, and the first
  // bytes arrive well before the last (the stream is paced, not sent in one piece at the end).
  EXPECT_GT(total, 0.3);
  EXPECT_LT(first, total - 0.2);
}

TEST(SimLatencyModel, DecodeSlowsDownWithTheBatch) {
  SimOptions o;
  o.latency_ms = -1;
  o.prefill_ms_per_1k_tokens = 0;
  o.decode_ms_per_token = 10;
  o.decode_batch_slowdown = 3.0;  // four times slower at a full batch
  o.max_num_seqs = 8;
  auto server = StartOrDie(o);
  std::string body =
      R"({"messages":[{"role":"user","content":"x"}],"max_tokens":10,"structured_outputs":{"regex":"a{40}"}})";
  auto alone = testing::FetchMany(server->base_url() + "/chat/completions", body, 1);
  auto full = testing::FetchMany(server->base_url() + "/chat/completions", body, 8);
  ASSERT_EQ(alone.results[0].status, 200);
  // Alone: 10 tokens x 10 ms = 0.1 s. A full batch: the later requests decode at up to 40 ms,
  // so eight at once take longer than one alone would even on an idle machine.
  EXPECT_GE(alone.wall_s, 0.1);
  EXPECT_GT(full.wall_s, 0.25);
}

}  // namespace
}  // namespace structflow::sim

namespace structflow::sim {
namespace {

TEST(SimServer, LargeBodiesAnswer100ContinueAndParseOffTheIoThread) {
  SimOptions o = Fast();
  o.max_model_len = 1 << 24;
  auto server = StartOrDie(o);
  // Over 1 MiB: curl sends "Expect: 100-continue" and would wait a second for the go-ahead.
  std::string big(2 << 20, 'x');
  std::string body = R"({"messages":[{"role":"user","content":")" + big + R"("}],"max_tokens":5})";
  auto start = std::chrono::steady_clock::now();
  auto r = Fetch(server->base_url() + "/chat/completions", &body);
  double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_LT(s, 0.9);
  EXPECT_GT(json::parse(r.body)["usage"]["prompt_tokens"].get<int>(), (2 << 20) / 4);
}

TEST(SimServer, BodiesOverTheLimitAre413) {
  SimOptions o = Fast();
  o.max_body_bytes = 1000;
  auto server = StartOrDie(o);
  std::string body =
      R"({"messages":[{"role":"user","content":")" + std::string(5000, 'y') + R"("}]})";
  auto r = Fetch(server->base_url() + "/chat/completions", &body);
  EXPECT_EQ(r.status, 413);
}

}  // namespace
}  // namespace structflow::sim

namespace structflow::sim {
namespace {

// Prefix caching through the server: what a client sees (cached_tokens, /metrics) and what the
// GPU is charged (prefill of the uncached tokens only).
class SimPrefixCacheTest : public ::testing::Test {
 protected:
  static SimOptions Options(const std::string& api) {
    SimOptions o;
    o.api = api;
    o.metrics = true;
    o.max_num_seqs = 4;
    o.prefill_ms_per_1k_tokens = 10;  // 0.01 ms a token: the GPU charge is easy to compute
    o.decode_ms_per_token = 0;
    o.decode_batch_slowdown = 0;
    o.report_cached_tokens = true;
    return o;
  }
  // One user message with the image before or after the question.
  static std::string Body(const std::string& question, bool image_first) {
    std::string image =
        std::string(R"({"type":"image_url","image_url":{"url":"data:image/png;base64,)") + kPng1x1 +
        R"("}})";
    std::string text = R"({"type":"text","text":")" + question + R"("})";
    return R"({"model":"sim-vlm","messages":[{"role":"user","content":[)" +
           (image_first ? image + "," + text : text + "," + image) + R"(]}],"max_tokens":4})";
  }
  struct Answer {
    int prompt_tokens = 0;
    int cached_tokens = -1;  // -1: prompt_tokens_details was null
    double gpu_seconds = 0;  // the server's GPU-seconds counter grew by this much
  };
  static Answer Ask(Server& server, const std::string& body) {
    double before = server.metrics().gpu_busy_seconds;
    std::string b = body;
    auto r = Fetch(server.base_url() + "/chat/completions", &b);
    EXPECT_EQ(r.status, 200) << r.body;
    Answer a;
    json usage = json::parse(r.body)["usage"];
    a.prompt_tokens = usage["prompt_tokens"].get<int>();
    if (!usage["prompt_tokens_details"].is_null()) {
      a.cached_tokens = usage["prompt_tokens_details"]["cached_tokens"].get<int>();
    }
    a.gpu_seconds = server.metrics().gpu_busy_seconds - before;
    return a;
  }
  static double Gpu(int computed_tokens) { return computed_tokens * 0.01 / 1000.0 / 4; }
};

TEST_F(SimPrefixCacheTest, VllmReusesTheImageWhenItComesFirst) {
  auto server = StartOrDie(Options("vllm-0.12"));
  // 4 template tokens, "user" (1), 576 image tokens, then the question.
  Answer a = Ask(*server, Body("Which colour is it? A) red B) blue", true));
  EXPECT_EQ(a.cached_tokens, -1);  // nothing cached: vLLM writes null
  EXPECT_NEAR(a.gpu_seconds, Gpu(a.prompt_tokens), 1e-9);
  Answer b = Ask(*server, Body("How many sides? A) three B) four", true));
  // 581 shared tokens: 36 whole blocks of 16.
  EXPECT_EQ(b.cached_tokens, 576);
  EXPECT_NEAR(b.gpu_seconds, Gpu(b.prompt_tokens - 576), 1e-9);
  // Text first, two other questions share only what comes before their first difference.
  Answer c = Ask(*server, Body("Is it round? A) yes B) no", false));
  Answer d = Ask(*server, Body("Where is it? A) left B) right", false));
  EXPECT_EQ(c.cached_tokens, -1);
  EXPECT_EQ(d.cached_tokens, -1);
  EXPECT_NEAR(d.gpu_seconds, Gpu(d.prompt_tokens), 1e-9);
  auto m = Fetch("http://127.0.0.1:" + std::to_string(server->port()) + "/metrics");
  const int queries = a.prompt_tokens + b.prompt_tokens + c.prompt_tokens + d.prompt_tokens;
  for (const std::string& line :
       {std::string("vllm:prefix_cache_hits_total{model_name=\"sim-vlm\"} 576"),
        "vllm:prefix_cache_queries_total{model_name=\"sim-vlm\"} " + std::to_string(queries),
        std::string("vllm:kv_cache_usage_perc{model_name=\"sim-vlm\"} 0"),
        std::string("structflow_sim_gpu_busy_seconds_total")}) {
    EXPECT_NE(m.body.find(line), std::string::npos) << line << "\n" << m.body;
  }
}

TEST_F(SimPrefixCacheTest, StreamsReportCachedTokensInTheUsageChunk) {
  auto server = StartOrDie(Options("vllm-0.12"));
  Ask(*server, Body("Which colour is it? A) red B) blue", true));
  std::string body = Body("How many sides? A) three B) four", true);
  body.insert(body.size() - 1, R"(,"stream":true,"stream_options":{"include_usage":true})");
  auto r = Fetch(server->base_url() + "/chat/completions", &body);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_NE(r.body.find(R"("prompt_tokens_details":{"cached_tokens":576})"), std::string::npos)
      << r.body;
}

TEST_F(SimPrefixCacheTest, OffByFlagAndUnreportedUnlessAsked) {
  SimOptions o = Options("vllm-0.12");
  o.prefix_caching = false;
  auto off = StartOrDie(o);
  Ask(*off, Body("Which colour is it? A) red B) blue", true));
  Answer b = Ask(*off, Body("How many sides? A) three B) four", true));
  EXPECT_EQ(b.cached_tokens, -1);
  EXPECT_NEAR(b.gpu_seconds, Gpu(b.prompt_tokens), 1e-9);
  EXPECT_EQ(off->metrics().prefix_cache_hits, 0u);

  o = Options("vllm-0.12");
  o.report_cached_tokens = false;  // vLLM's default: cached, but not said in usage
  auto quiet = StartOrDie(o);
  Ask(*quiet, Body("Which colour is it? A) red B) blue", true));
  Answer q = Ask(*quiet, Body("How many sides? A) three B) four", true));
  EXPECT_EQ(q.cached_tokens, -1);
  EXPECT_NEAR(q.gpu_seconds, Gpu(q.prompt_tokens - 576), 1e-9);
  EXPECT_EQ(quiet->metrics().prefix_cache_hits, 576u);
}

TEST_F(SimPrefixCacheTest, SglangMatchesTokenByToken) {
  auto server = StartOrDie(Options("sglang"));
  Ask(*server, Body("Which colour is it? A) red B) blue", true));
  // 581 shared tokens, then "Whic" (one more 4-byte token) before the texts differ.
  Answer b = Ask(*server, Body("Which shape is it? A) round B) square", true));
  EXPECT_EQ(b.cached_tokens, 582);
  EXPECT_NEAR(b.gpu_seconds, Gpu(b.prompt_tokens - 582), 1e-9);
  auto m = Fetch("http://127.0.0.1:" + std::to_string(server->port()) + "/metrics");
  EXPECT_NE(m.body.find("sglang:cached_tokens_total{model_name=\"sim-vlm\"} 582"),
            std::string::npos)
      << m.body;
  EXPECT_NE(m.body.find("sglang:cache_hit_rate"), std::string::npos);
}

}  // namespace
}  // namespace structflow::sim

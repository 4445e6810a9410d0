#include <gtest/gtest.h>

#include <algorithm>

#include "engine/doctor.h"
#include "sim/server.h"

namespace structflow::engine {
namespace {

std::unique_ptr<sim::Server> StartSim(sim::SimOptions o) {
  o.latency_ms = 1;
  auto s = sim::Server::Start(o);
  EXPECT_TRUE(s.ok()) << s.status().ToString();
  return std::move(*s);
}

DoctorReport Check(const std::string& endpoint, const std::string& model = "") {
  DoctorOptions o;
  o.endpoint = endpoint;
  o.model = model;
  o.load_test = false;
  return RunDoctor(o, nullptr);
}

const CheckLine* Line(const DoctorReport& r, const std::string& name) {
  for (const auto& l : r.lines) {
    if (l.name == name) return &l;
  }
  return nullptr;
}

bool Has(const std::vector<std::string>& v, const std::string& x) {
  return std::find(v.begin(), v.end(), x) != v.end();
}

TEST(Doctor, FindsTheDialectsEachServerVersionHonours) {
  for (const auto& [api, vllm, openai, legacy] :
       std::vector<std::tuple<std::string, bool, bool, bool>>{{"vllm-0.12", true, true, false},
                                                              {"vllm-0.10", false, true, true},
                                                              {"openai", false, true, false}}) {
    sim::SimOptions so;
    so.api = api;
    auto sim = StartSim(so);
    DoctorReport r = Check(sim->base_url());
    EXPECT_TRUE(r.job_can_run()) << api;
    EXPECT_EQ(Has(r.dialects_honoured, "vllm"), vllm) << api;
    EXPECT_EQ(Has(r.dialects_honoured, "openai"), openai) << api;
    EXPECT_EQ(Has(r.dialects_honoured, "vllm-legacy"), legacy) << api;
    EXPECT_TRUE(r.images_accepted);
    EXPECT_EQ(r.image_limit, 1);
    EXPECT_EQ(r.max_model_len, 8192);
  }
}

TEST(Doctor, SaysWhetherLogprobsAreUsableAndWhatTheyMean) {
  for (const auto& [api, verdict, says] :
       std::vector<std::tuple<std::string, Verdict, std::string>>{
           {"vllm-0.12", Verdict::kOk, "after the grammar mask"},
           {"llama.cpp", Verdict::kOk, "reported before the grammar mask, renormalised"},
           {"ollama", Verdict::kWarn, "would give null confidences"}}) {
    sim::SimOptions so;
    so.api = api;
    auto sim = StartSim(so);
    DoctorReport r = Check(sim->base_url());
    const CheckLine* l = Line(r, "logprobs");
    ASSERT_NE(l, nullptr) << api;
    EXPECT_EQ(l->verdict, verdict) << api << ": " << l->text;
    EXPECT_NE(l->text.find(says), std::string::npos) << api << ": " << l->text;
  }
}

TEST(Doctor, SaysWhetherTheServerReportsItsQueue) {
  auto sim = StartSim(sim::SimOptions{});
  DoctorReport r = Check(sim->base_url());
  const CheckLine* q = Line(r, "queue");
  ASSERT_NE(q, nullptr);
  EXPECT_EQ(q->verdict, Verdict::kOk) << q->text;
  EXPECT_NE(q->text.find("0 running, 0 waiting"), std::string::npos) << q->text;

  sim::SimOptions so;
  so.queue_metrics = false;
  auto quiet = StartSim(so);
  DoctorReport r2 = Check(quiet->base_url());
  EXPECT_TRUE(r2.job_can_run());
  const CheckLine* q2 = Line(r2, "queue");
  ASSERT_NE(q2, nullptr);
  EXPECT_EQ(q2->verdict, Verdict::kWarn);
  EXPECT_NE(q2->text.find("reports no request queue"), std::string::npos) << q2->text;
  EXPECT_NE(q2->text.find("--concurrency"), std::string::npos) << q2->text;
}

TEST(Doctor, SaysWhetherPrefixCachingIsOnAndWhetherAnswersReportIt) {
  struct Case {
    std::string api;
    bool caching;
    bool report;
    Verdict verdict;
    std::vector<std::string> says;
  };
  for (const Case& c : std::vector<Case>{
           {"vllm-0.12", true, true, Verdict::kOk, {"prefix caching is on", "answers report"}},
           {"vllm-0.12",
            true,
            false,
            Verdict::kOk,
            {"prefix caching is on", "--enable-prompt-tokens-details"}},
           {"vllm-0.12",
            false,
            false,
            Verdict::kWarn,
            {"prefix caching is off", "--no-enable-prefix-caching"}},
           {"sglang", true, true, Verdict::kOk, {"prefix caching is on", "answers report"}},
           {"sglang",
            false,
            false,
            Verdict::kWarn,
            {"prefix caching is off", "--disable-radix-cache", "--enable-cache-report"}},
       }) {
    sim::SimOptions so;
    so.api = c.api;
    so.prefix_caching = c.caching;
    so.report_cached_tokens = c.report;
    auto sim = StartSim(so);
    DoctorReport r = Check(sim->base_url());
    const CheckLine* l = Line(r, "prefix");
    ASSERT_NE(l, nullptr) << c.api;
    EXPECT_EQ(l->verdict, c.verdict) << c.api << ": " << l->text;
    for (const auto& s : c.says) EXPECT_NE(l->text.find(s), std::string::npos) << l->text;
  }
}

TEST(Doctor, TextOnlyModelWarnsAboutImagesAndNamesTheFix) {
  sim::SimOptions so;
  so.image_support = false;
  auto sim = StartSim(so);
  DoctorReport r = Check(sim->base_url());
  EXPECT_TRUE(r.job_can_run());  // text jobs still work
  EXPECT_FALSE(r.images_accepted);
  const CheckLine* l = Line(r, "images");
  ASSERT_NE(l, nullptr);
  EXPECT_EQ(l->verdict, Verdict::kWarn);
  EXPECT_NE(l->text.find("vision model"), std::string::npos) << l->text;
}

TEST(Doctor, ModelWithoutChatTemplateFailsWithTheVllmOption) {
  sim::SimOptions so;
  so.chat_template = false;
  auto sim = StartSim(so);
  DoctorReport r = Check(sim->base_url());
  EXPECT_FALSE(r.job_can_run());
  const CheckLine* l = Line(r, "chat");
  ASSERT_NE(l, nullptr);
  EXPECT_EQ(l->verdict, Verdict::kFail);
  EXPECT_NE(l->text.find("--chat-template"), std::string::npos) << l->text;
}

TEST(Doctor, UnknownModelFailsAndListsTheServedModels) {
  sim::SimOptions so;
  so.models = {"m-one", "m-two"};
  auto sim = StartSim(so);
  DoctorReport r = Check(sim->base_url(), "m-three");
  EXPECT_FALSE(r.job_can_run());
  const CheckLine* l = Line(r, "models");
  ASSERT_NE(l, nullptr);
  EXPECT_NE(l->text.find("m-one, m-two"), std::string::npos) << l->text;
  EXPECT_NE(l->text.find("--model"), std::string::npos);
  DoctorReport several = Check(sim->base_url());
  EXPECT_FALSE(several.job_can_run());
}

TEST(Doctor, DeadServerFailsFirstWithTheFix) {
  std::string url;
  {
    auto sim = StartSim(sim::SimOptions{});
    url = sim->base_url();
  }  // stopped: nothing listens there now
  DoctorReport r = Check(url);
  EXPECT_FALSE(r.job_can_run());
  ASSERT_EQ(r.lines.size(), 1u);
  EXPECT_EQ(r.lines[0].name, "server");
  EXPECT_NE(r.lines[0].text.find("--endpoint"), std::string::npos);
}

}  // namespace
}  // namespace structflow::engine

namespace structflow::engine {
namespace {

// Doctor's load test against llama-server stays within what its HTTP threads hold: 8, 32 and 128
// at once on 4 slots measured requests waiting for a thread, and suggested 128.
TEST(Doctor, LoadTestStaysWithinLlamaCppsConnections) {
  sim::SimOptions so;
  so.api = "llama.cpp-b4800";  // a fixed pool of 6 HTTP threads
  so.max_num_seqs = 4;
  so.http_threads = 6;
  auto sim = StartSim(so);
  DoctorOptions o;
  o.endpoint = sim->base_url();
  o.load_test = true;
  DoctorReport r = RunDoctor(o, nullptr);
  const CheckLine* lat = Line(r, "latency");
  ASSERT_NE(lat, nullptr);
  EXPECT_NE(lat->text.find("5 at once"), std::string::npos) << lat->text;
  EXPECT_EQ(lat->text.find("128 at once"), std::string::npos) << lat->text;
  EXPECT_LE(r.suggested_concurrency, 5);
}

}  // namespace
}  // namespace structflow::engine

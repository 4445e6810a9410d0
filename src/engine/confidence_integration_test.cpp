// --confidence against the simulator: the confidences the engine reports are the distribution
// the simulator drew each answer from (sim::ValueDistribution, keyed by --seed, the row's prompt
// and the field), for a choice and for a schema's enum and boolean fields, on a server reporting
// after the grammar mask (vLLM) and one reporting before it (llama.cpp: renormalised away). The
// tolerance is 1e-6: the simulator writes each log-probability as the shortest text that reads
// back to the same double, so the only error is the rounding of the products and sums. A server
// without log-probabilities (Ollama) gives null confidences and one warning, not row errors.
#include <gtest/gtest.h>

#include <mutex>

#include "common/logging.h"
#include "sim/logprobs.h"
#include "sim/server.h"
#include "structflow/engine.h"

namespace structflow {
namespace {

constexpr uint64_t kSeed = 11;
constexpr double kTolerance = 1e-6;

std::shared_ptr<Input> Rows(int64_t n) {
  table::Schema schema;
  schema.fields = {{"text", table::DataType::String(), false}};
  table::RecordBatch b = table::RecordBatch::Empty(schema);
  for (int64_t i = 0; i < n; ++i) b.columns[0].AppendBytes("item " + std::to_string(i));
  auto in = Input::Batches({std::move(b)});
  EXPECT_TRUE(in.ok());
  return *in;
}

struct Ran {
  std::unique_ptr<sim::Server> server;
  table::RecordBatch out;
  JobReport report;
  std::vector<std::string> warnings;
};

Ran RunJob(const std::string& api, JobSpec spec, int64_t rows) {
  Ran r;
  sim::SimOptions o;
  o.api = api;
  o.seed = kSeed;
  o.latency_ms = 0;
  auto server = sim::Server::Start(o);
  EXPECT_TRUE(server.ok()) << server.status().message();
  r.server = std::move(*server);
  EngineOptions eo;
  eo.endpoints = {r.server->base_url()};
  eo.concurrency = 8;
  eo.workers = 2;
  auto engine = Engine::Make(eo);
  EXPECT_TRUE(engine.ok());
  auto input = Rows(rows);
  spec.prompt = "{text}";
  spec.fail_fast = false;
  auto plan = (*engine)->Plan(spec, input->schema());
  EXPECT_TRUE(plan.ok()) << plan.status().message();
  auto sink = Sink::Memory();
  std::mutex mu;
  SetLogSink([&](LogLevel level, std::string_view m) {
    std::lock_guard lock(mu);
    if (level == LogLevel::kWarn && m.find("--confidence") != std::string_view::npos)
      r.warnings.emplace_back(m);
  });
  auto job = (*engine)->Start(*plan, input, RowStore::Memory(), sink);
  EXPECT_TRUE(job.ok()) << job.status().message();
  auto report = (*job)->Wait();
  SetLogSink(nullptr);
  EXPECT_TRUE(report.ok()) << report.status().message();
  r.report = *report;
  auto batches = sink->batches();
  EXPECT_EQ(batches.size(), 1u);
  r.out = std::move(batches[0]);
  return r;
}

// Checks a site's reported answer and distribution columns against the simulator's.
void ExpectSite(const table::Column& conf, const table::Column& dist, int64_t row,
                const std::string& place, const std::vector<std::string>& labels,
                const std::string& chosen) {
  SCOPED_TRACE("row " + std::to_string(row) + " " + place);
  const auto want =
      sim::ValueDistribution(kSeed, "item " + std::to_string(row), place, labels.size());
  ASSERT_TRUE(conf.IsValid(row));
  ASSERT_TRUE(dist.IsValid(row));
  auto [first, last] = dist.ListRange(row);
  ASSERT_EQ(last - first, static_cast<int64_t>(labels.size()));
  for (size_t k = 0; k < labels.size(); ++k) {
    EXPECT_EQ(dist.child(0).child(0).GetBytes(first + k), labels[k]);
    EXPECT_NEAR(dist.child(0).child(1).GetDouble(first + k), want[k], kTolerance) << labels[k];
    if (labels[k] == chosen) {
      EXPECT_NEAR(conf.GetDouble(row), want[k], kTolerance);
    }
  }
}

TEST(ConfidenceIntegration, ChoiceMatchesTheSimulatorsDistribution) {
  const std::vector<std::string> choices = {"positive", "negative", "neutral", "mixed"};
  // vLLM: structured_outputs.choice; llama.cpp: {"answer": enum}; SGLang: a regex alternation.
  for (const char* api : {"vllm-0.12", "llama.cpp", "sglang"}) {
    SCOPED_TRACE(api);
    JobSpec spec;
    spec.constraint = ConstraintKind::kChoice;
    spec.choices = choices;
    spec.confidence = ConfidenceMode::kFull;
    Ran r = RunJob(api, spec, 40);
    EXPECT_EQ(r.report.error_rows, 0);
    EXPECT_TRUE(r.warnings.empty()) << r.warnings[0];
    const table::Column& out = r.out.columns[r.out.schema.FieldIndex("output")];
    const table::Column& conf = r.out.columns[r.out.schema.FieldIndex("confidence")];
    const table::Column& dist = r.out.columns[r.out.schema.FieldIndex("confidence_distribution")];
    // llama.cpp's answer is {"answer": ...}: the simulator sees a schema property "answer".
    const std::string place = std::string(api) == "llama.cpp" ? "answer" : "";
    for (int64_t row = 0; row < r.out.num_rows(); ++row) {
      ExpectSite(conf, dist, row, place, choices, std::string(out.GetBytes(row)));
    }
  }
}

TEST(ConfidenceIntegration, SchemaEnumAndBooleanFieldsMatch) {
  JobSpec spec;
  spec.constraint = ConstraintKind::kJsonSchema;
  spec.json_schema = R"({"type":"object","$defs":{"Tone":{"enum":["calm","angry","sad"]}},
    "properties":{"tone":{"$ref":"#/$defs/Tone"},"urgent":{"type":"boolean"},
    "meta":{"type":"object","properties":{"spam":{"type":"boolean"},"note":{"type":"string"}},
            "required":["spam","note"]},"count":{"type":"integer"}},
    "required":["tone","urgent","meta","count"]})";
  spec.confidence = ConfidenceMode::kFull;
  for (const char* api : {"vllm-0.12", "llama.cpp", "sglang"}) {
    SCOPED_TRACE(api);
    Ran r = RunJob(api, spec, 30);
    EXPECT_EQ(r.report.error_rows, 0);
    const table::Column& out = r.out.columns[r.out.schema.FieldIndex("output")];
    const table::Column& conf = r.out.columns[r.out.schema.FieldIndex("confidence")];
    const table::Column& dist = r.out.columns[r.out.schema.FieldIndex("confidence_distribution")];
    EXPECT_EQ(conf.type()->ToString(),
              "struct<tone: double, urgent: double, meta: struct<spam: double>>");
    ASSERT_EQ(out.type()->fields()[0].name, "tone");
    for (int64_t row = 0; row < r.out.num_rows(); ++row) {
      ExpectSite(conf.child(0), dist.child(0), row, "tone", {"calm", "angry", "sad"},
                 std::string(out.child(0).GetBytes(row)));
      ExpectSite(conf.child(1), dist.child(1), row, "urgent", {"true", "false"},
                 out.child(1).GetBool(row) ? "true" : "false");
      ExpectSite(conf.child(2).child(0), dist.child(2).child(0), row, "meta.spam",
                 {"true", "false"}, out.child(2).child(0).GetBool(row) ? "true" : "false");
    }
  }
}

TEST(ConfidenceIntegration, NoLogprobsGivesNullAndOneWarning) {
  JobSpec spec;
  spec.constraint = ConstraintKind::kChoice;
  spec.choices = {"A", "B"};
  spec.confidence = ConfidenceMode::kAnswer;
  Ran r = RunJob("ollama", spec, 12);
  EXPECT_EQ(r.report.error_rows, 0);
  const table::Column& conf = r.out.columns[r.out.schema.FieldIndex("confidence")];
  EXPECT_EQ(conf.null_count(), 12);
  ASSERT_EQ(r.warnings.size(), 1u);
  EXPECT_NE(r.warnings[0].find("no log-probabilities"), std::string::npos) << r.warnings[0];
  EXPECT_EQ(r.out.schema.FieldIndex("confidence_distribution"), -1);
}

}  // namespace
}  // namespace structflow

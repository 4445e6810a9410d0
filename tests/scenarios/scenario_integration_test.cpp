// The engine's scenarios as data: each tests/scenarios/*.json is one test. A scenario gives the
// input rows, the simulator's settings and faults, the engine options and the job spec, then one
// or more runs over the same row store; a run may act at a chosen point (stop or abandon when the
// store has taken N rows, fail the Nth commit through a fault-injecting RowStore) and states what
// it expects (complete, status, rows and errors, rows resumed, requests the server saw).
// Everything runs in-process through the public API (include/structflow/engine.h).
//
// Scenario keys (all optional but "runs"):
//   rows: N                  input rows {"n": i, "text": "row i"} (default 20), in batches of 7
//   images: {count: K, order: "interleaved" | "grouped"}
//                            rows also get an "image" column (PNG bytes) with K distinct images:
//                            row i shows image i % K (interleaved) or i * K / N (grouped)
//   replicas: R              R simulators with the same settings, all given to the engine
//   sim: {api, latency_ms, max_num_seqs, faults, seed, models, report_cached_tokens}
//   engine: {concurrency, max_attempts, workers}
//   spec: a JobSpec as JSON (JobSpecFromJson); "prompt" defaults to "Label: {text}"
//   store: "memory" (default) or "sqlite"
//   sink: {results_only}
//   jobs: K                  run K jobs at once on one engine (each its own store and sink)
//   runs: [{spec: {...overrides}, sim: {...overrides, restarts the simulator},
//           action: {kind: stop|abandon|fail_commit, after_puts: N | nth: N},
//           expect: {...}}]
// expect keys: status ("ok", "fail_fast", "error", "plan_error": Plan refuses the job),
// message_contains, complete, output_rows,
//   output_ids (the "n" or row_id column), error_rows, errors {kind: n} (this run's), resumed,
//   resumed_min, sent_this_run, chat_requests, chat_requests_max, output_retries, dialect,
//   http_retries_min, chat_equals_sent (the server saw exactly the rows recorded this run),
//   replica_chat_requests_min (each replica saw at least this many), prefix_hits_min and
//   prefix_hits_max (prompt tokens the replicas' prefix caches held, summed; this run's),
//   computed_prompt_tokens_max (prompt tokens looked up and not found, summed: what prefill
//   computed), cached_prompt_tokens (the job report's, from the answers' usage).
// With several replicas, chat_requests counts are summed over them.
#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <functional>
#include <mutex>
#include <nlohmann/json.hpp>
#include <sstream>

#include "image/test_util.h"
#include "sim/server.h"
#include "structflow/engine.h"

namespace structflow {
namespace {

using nlohmann::json;
namespace fs = std::filesystem;

// A RowStore that forwards to another and fails the Nth commit, or calls `on_put` once it has
// taken N rows (the scenario's chosen point).
class ScenarioStore : public RowStore {
 public:
  explicit ScenarioStore(std::shared_ptr<RowStore> inner) : inner_(std::move(inner)) {}
  int fail_commit = 0;  // 1-based; 0: never
  int64_t act_after_puts = -1;
  std::function<void()> on_put;

  Status Put(const RowRecord& r) override {
    if (++puts_ == act_after_puts && on_put) on_put();
    return inner_->Put(r);
  }
  Status Commit() override {
    if (++commits_ == fail_commit) {
      return Status::IOError("injected: the disk is full (commit " + std::to_string(commits_) +
                             ")");
    }
    return inner_->Commit();
  }
  int64_t pending() const override { return inner_->pending(); }
  Result<std::unique_ptr<RowCursor>> Scan(int64_t first, bool reusable_only) override {
    return inner_->Scan(first, reusable_only);
  }
  Status SetMeta(const std::string& k, const std::string& v) override {
    return inner_->SetMeta(k, v);
  }
  Result<std::optional<std::string>> GetMeta(const std::string& k) override {
    return inner_->GetMeta(k);
  }
  std::string location() const override { return inner_->location(); }

 private:
  std::shared_ptr<RowStore> inner_;
  std::atomic<int64_t> puts_{0};
  int commits_ = 0;
};

json Merge(json base, const json& over) {
  if (!over.is_object()) return base;
  for (auto it = over.begin(); it != over.end(); ++it) base[it.key()] = it.value();
  return base;
}

Result<std::unique_ptr<sim::Server>> StartSim(const json& s) {
  sim::SimOptions o;
  o.latency_ms = s.value("latency_ms", 1.0);
  o.api = s.value("api", std::string("vllm-0.12"));
  o.max_num_seqs = s.value("max_num_seqs", 64);
  o.faults = s.value("faults", std::string());
  o.seed = s.value("seed", uint64_t{1});
  o.retry_after_s = 0;
  o.report_cached_tokens = s.value("report_cached_tokens", false);
  if (s.contains("models")) o.models = s["models"].get<std::vector<std::string>>();
  return sim::Server::Start(o);
}

std::vector<table::RecordBatch> MakeRows(int64_t rows, const json& images) {
  std::vector<table::RecordBatch> out;
  table::Schema schema;
  schema.fields = {{"n", table::DataType::Int64(), false},
                   {"text", table::DataType::String(), false}};
  const int64_t image_count = images.value("count", int64_t{0});
  const bool interleaved = images.value("order", std::string("interleaved")) == "interleaved";
  std::vector<std::string> pngs;
  for (int64_t k = 0; k < image_count; ++k) {
    pngs.push_back(image::testing::Save(
        image::testing::Solid(16 + static_cast<int>(k), 12, {10.0 * k, 100, 200}), ".png"));
  }
  if (image_count > 0) schema.fields.push_back({"image", table::DataType::Binary(), false});
  for (int64_t i = 0; i < rows || out.empty();) {
    table::RecordBatch b = table::RecordBatch::Empty(schema);
    for (int k = 0; k < 7 && i < rows; ++k, ++i) {
      b.columns[0].AppendInt(i);
      b.columns[1].AppendBytes("row " + std::to_string(i));
      if (image_count > 0) {
        b.columns[2].AppendBytes(pngs[interleaved ? i % image_count : i * image_count / rows]);
      }
    }
    out.push_back(std::move(b));
  }
  return out;
}

// The "n" column (or row_id, results-only) of every output row, in order.
std::vector<int64_t> OutputIds(const Sink& sink, int64_t* error_rows) {
  std::vector<int64_t> ids;
  *error_rows = 0;
  for (const auto& b : sink.batches()) {
    const table::Column* id = b.ColumnByName("n");
    if (id == nullptr) id = b.ColumnByName("row_id");
    const table::Column* err = b.ColumnByName("error");
    for (int64_t r = 0; r < b.num_rows(); ++r) {
      ids.push_back(id->GetInt(r));
      if (!err->IsNull(r)) ++*error_rows;
    }
  }
  return ids;
}

struct RunState {
  std::shared_ptr<RowStore> base_store;
  std::shared_ptr<Sink> sink;
};

// What the replicas saw during one run (deltas, summed unless per replica).
struct ServerSide {
  uint64_t chat_requests = 0;
  std::vector<uint64_t> replica_chat_requests;
  uint64_t prefix_queries = 0;
  uint64_t prefix_hits = 0;
};

using Servers = std::vector<std::unique_ptr<sim::Server>>;

ServerSide Observe(const Servers& servers) {
  ServerSide o;
  for (const auto& s : servers) {
    sim::SimMetrics m = s->metrics();
    o.chat_requests += m.chat_requests;
    o.replica_chat_requests.push_back(m.chat_requests);
    o.prefix_queries += m.prefix_cache_queries;
    o.prefix_hits += m.prefix_cache_hits;
  }
  return o;
}

ServerSide Delta(const ServerSide& after, const ServerSide& before) {
  ServerSide d;
  d.chat_requests = after.chat_requests - before.chat_requests;
  for (size_t i = 0; i < after.replica_chat_requests.size(); ++i)
    d.replica_chat_requests.push_back(after.replica_chat_requests[i] -
                                      before.replica_chat_requests[i]);
  d.prefix_queries = after.prefix_queries - before.prefix_queries;
  d.prefix_hits = after.prefix_hits - before.prefix_hits;
  return d;
}

void CheckRun(const std::string& where, const json& expect, const Result<JobReport>& result,
              const Sink& sink, const ServerSide& seen) {
  SCOPED_TRACE(where);
  const uint64_t chat_requests = seen.chat_requests;
  if (expect.contains("replica_chat_requests_min")) {
    for (size_t i = 0; i < seen.replica_chat_requests.size(); ++i) {
      EXPECT_GE(seen.replica_chat_requests[i], expect["replica_chat_requests_min"].get<uint64_t>())
          << "replica " << i;
    }
  }
  if (expect.contains("prefix_hits_min")) {
    EXPECT_GE(seen.prefix_hits, expect["prefix_hits_min"].get<uint64_t>());
  }
  if (expect.contains("prefix_hits_max")) {
    EXPECT_LE(seen.prefix_hits, expect["prefix_hits_max"].get<uint64_t>());
  }
  if (expect.contains("computed_prompt_tokens_max")) {
    EXPECT_LE(seen.prefix_queries - seen.prefix_hits,
              expect["computed_prompt_tokens_max"].get<uint64_t>());
  }
  std::string status = expect.value("status", std::string("ok"));
  if (status == "ok") {
    ASSERT_TRUE(result.ok()) << result.status().message();
  } else {
    ASSERT_FALSE(result.ok()) << "the run was expected to end with " << status;
    const bool ff = dynamic_cast<const FailFastDetail*>(result.status().detail().get()) != nullptr;
    EXPECT_EQ(ff, status == "fail_fast") << result.status().message();
    if (expect.contains("message_contains")) {
      EXPECT_NE(result.status().message().find(expect["message_contains"].get<std::string>()),
                std::string::npos)
          << result.status().message();
    }
  }
  if (expect.contains("chat_requests")) {
    EXPECT_EQ(chat_requests, expect["chat_requests"].get<uint64_t>());
  }
  if (expect.contains("chat_requests_max")) {
    EXPECT_LE(chat_requests, expect["chat_requests_max"].get<uint64_t>());
  }
  if (!result.ok()) return;
  const JobReport& r = *result;
  if (expect.contains("complete")) {
    EXPECT_EQ(r.complete, expect["complete"].get<bool>());
  }
  int64_t error_rows = 0;
  std::vector<int64_t> ids = OutputIds(sink, &error_rows);
  if (expect.contains("output_rows")) {
    EXPECT_EQ(static_cast<int64_t>(ids.size()), expect["output_rows"].get<int64_t>());
  }
  if (expect.contains("output_ids")) {
    EXPECT_EQ(ids, expect["output_ids"].get<std::vector<int64_t>>());
  }
  if (expect.contains("error_rows")) {
    EXPECT_EQ(error_rows, expect["error_rows"].get<int64_t>());
    EXPECT_EQ(r.error_rows, expect["error_rows"].get<int64_t>());
  }
  if (expect.contains("errors")) {
    for (auto it = expect["errors"].begin(); it != expect["errors"].end(); ++it) {
      EXPECT_EQ(r.errors[static_cast<int>(ParseErrorKind(it.key()))], it.value().get<int64_t>())
          << it.key();
    }
  }
  if (expect.contains("resumed")) {
    EXPECT_EQ(r.resumed, expect["resumed"].get<int64_t>());
  }
  if (expect.contains("resumed_min")) {
    EXPECT_GE(r.resumed, expect["resumed_min"].get<int64_t>());
  }
  if (expect.contains("sent_this_run")) {
    EXPECT_EQ(r.sent_this_run, expect["sent_this_run"].get<int64_t>());
  }
  if (expect.contains("output_retries")) {
    EXPECT_EQ(r.output_retries, expect["output_retries"].get<int64_t>());
  }
  if (expect.contains("http_retries_min")) {
    EXPECT_GE(r.http_retries, expect["http_retries_min"].get<int64_t>());
  }
  if (expect.value("chat_equals_sent", false)) {
    // Every request the server saw was recorded: nothing was sent twice or lost.
    EXPECT_EQ(static_cast<int64_t>(chat_requests), r.sent_this_run);
  }
  if (expect.contains("cached_prompt_tokens")) {
    EXPECT_EQ(r.cached_prompt_tokens, expect["cached_prompt_tokens"].get<int64_t>());
    EXPECT_GT(r.cached_answers, 0);
  }
  if (expect.contains("dialect")) {
    EXPECT_EQ(r.dialect, expect["dialect"].get<std::string>());
  }
}

class Scenario : public ::testing::TestWithParam<std::string> {};

TEST_P(Scenario, Runs) {
  const fs::path path = fs::path(STRUCTFLOW_SCENARIO_DIR) / GetParam();
  std::ifstream in(path);
  ASSERT_TRUE(in) << path;
  json sc = json::parse(in);
  const int64_t rows = sc.value("rows", int64_t{20});
  auto batches = MakeRows(rows, sc.value("images", json::object()));
  auto input = Input::Batches(batches);
  ASSERT_TRUE(input.ok()) << input.status().message();

  json sim_settings = sc.value("sim", json::object());
  const int replicas = sc.value("replicas", 1);
  Servers servers;
  std::vector<std::string> urls;
  auto start_servers = [&](const json& settings) {
    for (auto& s : servers) s->Stop();
    servers.clear();
    urls.clear();
    for (int i = 0; i < replicas; ++i) {
      auto server = StartSim(settings);
      ASSERT_TRUE(server.ok()) << server.status().message();
      urls.push_back((*server)->base_url());
      servers.push_back(std::move(*server));
    }
  };
  start_servers(sim_settings);
  ASSERT_EQ(static_cast<int>(servers.size()), replicas);

  const json eng = sc.value("engine", json::object());
  EngineOptions eo;
  eo.endpoints = urls;
  eo.concurrency = eng.value("concurrency", 8);
  eo.max_attempts = eng.value("max_attempts", 3);
  eo.workers = eng.value("workers", 2);
  auto engine = Engine::Make(eo);
  ASSERT_TRUE(engine.ok()) << engine.status().message();

  const int jobs = sc.value("jobs", 1);
  const bool results_only = sc.value("sink", json::object()).value("results_only", false);
  std::vector<RunState> states(jobs);
  const std::string dir = ::testing::TempDir() + "/scenario_" + path.stem().string();
  fs::remove_all(dir);
  fs::create_directories(dir);
  for (int j = 0; j < jobs; ++j) {
    if (sc.value("store", std::string("memory")) == "sqlite") {
      auto s = RowStore::Sqlite(dir + "/job" + std::to_string(j) + ".checkpoint", "scenario");
      ASSERT_TRUE(s.ok()) << s.status().message();
      states[j].base_store = *s;
    } else {
      states[j].base_store = RowStore::Memory();
    }
  }

  json spec_json = Merge(json{{"prompt", "Label: {text}"}}, sc.value("spec", json::object()));
  int run_index = 0;
  for (const json& run : sc["runs"]) {
    const std::string where = path.filename().string() + " run " + std::to_string(run_index++);
    if (run.contains("sim")) {
      start_servers(Merge(sim_settings, run["sim"]));
      ASSERT_EQ(static_cast<int>(servers.size()), replicas);
      eo.endpoints = urls;
      engine = Engine::Make(eo);
      ASSERT_TRUE(engine.ok()) << engine.status().message();
    }
    spec_json = Merge(spec_json, run.value("spec", json::object()));
    auto spec = JobSpecFromJson(spec_json.dump());
    ASSERT_TRUE(spec.ok()) << spec.status().message();
    const ServerSide before = Observe(servers);
    auto plan = (*engine)->Plan(*spec, (*input)->schema());
    const json expect = run.value("expect", json::object());
    if (!plan.ok()) {
      ASSERT_EQ(expect.value("status", std::string("ok")), "plan_error") << plan.status().message();
      if (expect.contains("message_contains")) {
        EXPECT_NE(plan.status().message().find(expect["message_contains"].get<std::string>()),
                  std::string::npos)
            << where << ": " << plan.status().message();
      }
      if (expect.contains("chat_requests")) {
        EXPECT_EQ(Delta(Observe(servers), before).chat_requests,
                  expect["chat_requests"].get<uint64_t>())
            << where;
      }
      continue;
    }
    std::vector<std::shared_ptr<Job>> started(jobs);
    std::vector<std::shared_ptr<ScenarioStore>> stores(jobs);
    // The chosen point may come before Start returns: the trigger remembers it.
    struct Trigger {
      std::mutex mu;
      std::shared_ptr<Job> job;
      bool fired = false;
      StopMode mode = StopMode::kDrain;
    };
    std::vector<std::shared_ptr<Trigger>> triggers(jobs);
    for (int j = 0; j < jobs; ++j) {
      stores[j] = std::make_shared<ScenarioStore>(states[j].base_store);
      states[j].sink = Sink::Memory(SinkOptions{results_only});
      triggers[j] = std::make_shared<Trigger>();
      const json action = run.value("action", json::object());
      const std::string kind = action.value("kind", std::string());
      if (kind == "fail_commit") stores[j]->fail_commit = action.value("nth", 1);
      if (kind == "stop" || kind == "abandon") {
        auto t = triggers[j];
        t->mode = kind == "stop" ? StopMode::kDrain : StopMode::kAbandon;
        stores[j]->act_after_puts = action.value("after_puts", int64_t{1});
        stores[j]->on_put = [t] {
          std::lock_guard lock(t->mu);
          t->fired = true;
          if (t->job) t->job->Stop(t->mode);
        };
      }
      auto st = (*engine)->Start(*plan, *input, stores[j], states[j].sink);
      ASSERT_TRUE(st.ok()) << st.status().message();
      started[j] = *st;
      std::lock_guard lock(triggers[j]->mu);
      triggers[j]->job = started[j];
      if (triggers[j]->fired) started[j]->Stop(triggers[j]->mode);
    }
    std::vector<Result<JobReport>> results;
    for (int j = 0; j < jobs; ++j) {
      results.push_back(started[j]->Wait());
      std::lock_guard lock(triggers[j]->mu);
      triggers[j]->job.reset();  // the store (held by the job) holds the trigger
    }
    const ServerSide seen = Delta(Observe(servers), before);
    for (int j = 0; j < jobs; ++j) {
      // With several jobs the request count is the server's total: expect it summed.
      CheckRun(where + " job " + std::to_string(j), expect, results[j], *states[j].sink, seen);
    }
  }
}

std::vector<std::string> ScenarioFiles() {
  std::vector<std::string> out;
  for (const auto& e : fs::directory_iterator(STRUCTFLOW_SCENARIO_DIR)) {
    if (e.path().extension() == ".json") out.push_back(e.path().filename().string());
  }
  std::sort(out.begin(), out.end());
  return out;
}

INSTANTIATE_TEST_SUITE_P(Engine, Scenario, ::testing::ValuesIn(ScenarioFiles()),
                         [](const ::testing::TestParamInfo<std::string>& info) {
                           std::string name = fs::path(info.param).stem().string();
                           for (char& c : name) {
                             if (!isalnum(static_cast<unsigned char>(c))) c = '_';
                           }
                           return name;
                         });

TEST(ScenarioSuite, HasAtLeastTwelveScenarios) { EXPECT_GE(ScenarioFiles().size(), 12u); }

}  // namespace
}  // namespace structflow

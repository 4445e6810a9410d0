// Unit tests of the job's stages: the fail-fast window, the checkpoint writer's commit policy on
// an injected clock, the row walk's merge-join resume, and JobSpec's JSON form.
#include <gtest/gtest.h>

#include "common/json_writer.h"
#include "engine/checkpoint.h"
#include "engine/checkpoint_writer.h"
#include "engine/fail_fast.h"
#include "engine/plan.h"
#include "engine/row_walk.h"
#include "structflow/engine.h"
#include "structflow/job_spec.h"

namespace structflow::engine {
namespace {

RowError Http(int status) { return RowError{ErrorKind::kHttpStatus, "no", status, 1}; }

TEST(FailFastWindow, TripsOnceWhenTheFirstRowsAllFailAlike) {
  FailFastWindow w(4);
  EXPECT_FALSE(w.Observe(Http(404)));
  EXPECT_FALSE(w.Observe(Http(404)));
  EXPECT_FALSE(w.Observe(Http(404)));
  auto tripped = w.Observe(Http(404));
  ASSERT_TRUE(tripped);
  EXPECT_EQ(tripped->http_status, 404);
  EXPECT_FALSE(w.Observe(Http(404)));  // once
}

TEST(FailFastWindow, ASuccessADifferentFailureOrACancellationClosesIt) {
  for (RowError closer : {RowError{}, Http(500), RowError{ErrorKind::kCancelled, "", 0, 0}}) {
    FailFastWindow w(3);
    EXPECT_FALSE(w.Observe(Http(404)));
    EXPECT_FALSE(w.Observe(closer));
    for (int i = 0; i < 5; ++i) EXPECT_FALSE(w.Observe(Http(404)));
  }
}

// Counts commits; each Put moves the injected clock 1 ms.
class ClockedStore : public RowStore {
 public:
  explicit ClockedStore(ManualClock* c) : clock_(c), inner_(RowStore::Memory()) {}
  Status Put(const RowRecord& r) override {
    clock_->Advance(std::chrono::milliseconds(1));
    return inner_->Put(r);
  }
  Status Commit() override {
    if (inner_->pending() > 0) ++commits;
    if (fail_commits) return Status::IOError("disk full");
    return inner_->Commit();
  }
  int64_t pending() const override { return inner_->pending(); }
  Result<std::unique_ptr<RowCursor>> Scan(int64_t f, bool r) override { return inner_->Scan(f, r); }
  Status SetMeta(const std::string& k, const std::string& v) override {
    return inner_->SetMeta(k, v);
  }
  Result<std::optional<std::string>> GetMeta(const std::string& k) override {
    return inner_->GetMeta(k);
  }
  std::string location() const override { return "clocked"; }
  int commits = 0;
  bool fail_commits = false;

 private:
  ManualClock* clock_;
  std::shared_ptr<RowStore> inner_;
};

TEST(CheckpointWriter, CommitsByTheInjectedClockAndByCount) {
  for (int ms_per_put : {0, 1}) {
    ManualClock clock;
    ClockedStore store(&clock);
    BoundedQueue<RowRecord> q(4096);
    std::vector<RowRecord> rows(1000);
    for (int i = 0; i < 1000; ++i) rows[i].row_id = i;
    q.PushBatch(rows);
    q.Close();
    int64_t written = 0;
    CommitPolicy policy;  // 256 per take, 100 ms interval, 1024 per commit at most
    ManualClock frozen;
    CheckpointWriter w(&store, &q, ms_per_put ? static_cast<Clock*>(&clock) : &frozen, policy,
                       nullptr, [&](int64_t n) { written += n; });
    w.Run();
    EXPECT_TRUE(w.status().ok());
    EXPECT_EQ(written, 1000);
    // Advancing 1 ms per row, every take of 256 rows passes the 100 ms interval: 4 commits. A
    // frozen clock never does: one commit at the end.
    EXPECT_EQ(store.commits, ms_per_put ? 4 : 1) << ms_per_put;
  }
}

TEST(CheckpointWriter, ReportsTheFirstFailureOnce) {
  ManualClock clock;
  ClockedStore store(&clock);
  store.fail_commits = true;
  BoundedQueue<RowRecord> q(16);
  std::vector<RowRecord> rows(3);
  q.PushBatch(rows);
  q.Close();
  int failures = 0;
  CheckpointWriter w(
      &store, &q, &clock, CommitPolicy{}, [&](const Status&) { ++failures; }, nullptr);
  w.Run();
  EXPECT_FALSE(w.status().ok());
  EXPECT_EQ(failures, 1);
}

std::shared_ptr<Input> Numbers(int n) {
  table::Schema schema;
  schema.fields = {{"n", table::DataType::Int64(), false}};
  std::vector<table::RecordBatch> batches;
  for (int i = 0; i < n;) {
    table::RecordBatch b = table::RecordBatch::Empty(schema);
    for (int k = 0; k < 4 && i < n; ++k) b.columns[0].AppendInt(i++);
    batches.push_back(std::move(b));
  }
  return *Input::Batches(std::move(batches));
}

TEST(RowWalk, ShardLimitAndMergeJoinAgainstTheStore) {
  auto input = Numbers(20);
  auto t = Transformer::Make(input->schema(), {}, {});
  ASSERT_TRUE(t.ok());
  WalkOptions o;
  o.limit = 15;
  o.shard_index = 1;
  o.shard_count = 2;
  o.job_fingerprint = 7;
  // First pass without a store: learn the fingerprints; store some rows.
  auto store = RowStore::Memory();
  std::vector<int64_t> ids;
  {
    auto walk = RowWalk::Open(*input, *t, o, nullptr);
    ASSERT_TRUE(walk.ok());
    EXPECT_EQ(walk->ExpectedRows(true), 7);
    WalkRow row;
    while (*walk->Next(&row)) {
      ids.push_back(row.row_id);
      EXPECT_EQ(row.stored, nullptr);
      RowRecord r;
      r.row_id = row.row_id;
      r.fingerprint = row.fingerprint;
      if (row.row_id == 5) r.fingerprint ^= 1;  // a stale answer (another prompt)
      if (row.row_id == 9) r.error = RowError{ErrorKind::kHttpStatus, "busy", 503, 1};
      if (row.row_id != 13) {
        ASSERT_TRUE(store->Put(r).ok());
      }
    }
    ASSERT_TRUE(store->Commit().ok());
  }
  EXPECT_EQ(ids, (std::vector<int64_t>{1, 3, 5, 7, 9, 11, 13}));
  // Rows of another shard in the store are skipped by the join.
  RowRecord other;
  other.row_id = 4;
  ASSERT_TRUE(store->Put(other).ok());
  ASSERT_TRUE(store->Commit().ok());
  for (bool reusable_only : {true, false}) {
    o.reusable_only = reusable_only;
    auto walk = RowWalk::Open(*input, *t, o, store.get());
    ASSERT_TRUE(walk.ok());
    std::vector<int64_t> done;
    WalkRow row;
    while (*walk->Next(&row)) {
      if (row.stored != nullptr) {
        EXPECT_EQ(row.stored->row_id, row.row_id);
        done.push_back(row.row_id);
      }
    }
    // 5 is stale, 13 missing; 9 failed for a passing reason (sent again, but written as is).
    EXPECT_EQ(done, reusable_only ? (std::vector<int64_t>{1, 3, 7, 11})
                                  : (std::vector<int64_t>{1, 3, 7, 9, 11}));
  }
}

// Rows an older version stored under its own job fingerprint match through
// legacy_job_fingerprint, beside rows stored under the current one; without it they do not.
TEST(RowWalk, RowsUnderTheLegacyJobFingerprintMatchOnlyWhenAsked) {
  auto input = Numbers(8);
  auto t = Transformer::Make(input->schema(), {}, {});
  ASSERT_TRUE(t.ok());
  constexpr uint64_t kNow = 7, kOld = 99;
  auto store = RowStore::Memory();
  for (uint64_t seed : {kOld, kNow}) {
    WalkOptions o;
    o.job_fingerprint = seed;
    auto walk = RowWalk::Open(*input, *t, o, nullptr);
    ASSERT_TRUE(walk.ok());
    WalkRow row;
    while (*walk->Next(&row)) {
      // Rows 0-3 by the old version, 4-5 by this one, 6-7 by neither.
      const bool old_row = row.row_id < 4;
      if ((seed == kOld) != old_row || row.row_id >= 6) continue;
      RowRecord r;
      r.row_id = row.row_id;
      r.fingerprint = row.fingerprint;
      ASSERT_TRUE(store->Put(r).ok());
    }
  }
  ASSERT_TRUE(store->Commit().ok());
  for (uint64_t legacy : {uint64_t{0}, kOld, uint64_t{12345}}) {
    WalkOptions o;
    o.job_fingerprint = kNow;
    o.legacy_job_fingerprint = legacy;
    auto walk = RowWalk::Open(*input, *t, o, store.get());
    ASSERT_TRUE(walk.ok());
    std::vector<int64_t> done;
    WalkRow row;
    while (*walk->Next(&row)) {
      if (row.stored != nullptr) done.push_back(row.row_id);
    }
    EXPECT_EQ(done, legacy == kOld ? (std::vector<int64_t>{0, 1, 2, 3, 4, 5})
                                   : (std::vector<int64_t>{4, 5}))
        << "legacy " << legacy;
  }
}

// A checkpoint written before 2026-11-27 keyed rows by a job fingerprint holding max_tokens
// (src/engine/pipeline.cpp at ccedeba: model, prompt, system, images, the constraint's request
// members, max_tokens, temperature, seed, image side, pixels, format, quality, explode): the
// plan's legacy fingerprint must be exactly that key, with 256 (that version's default) when
// max_tokens is left to the engine. Image-first jobs have none (their prompt changed).
TEST(EnginePlan, LegacyFingerprintIsTheOldKeyWithItsMaxTokens) {
  EngineOptions eo;
  eo.endpoints = {"http://127.0.0.1:9/v1"};
  auto engine = Engine::Make(eo);
  ASSERT_TRUE(engine.ok()) << engine.status().ToString();
  table::Schema schema;
  schema.fields = {{"text", table::DataType::String(), true}};
  for (int max_tokens : {0, 40}) {
    JobSpec s;
    s.model = "m";
    s.prompt = "Sentiment of: {text}";
    s.constraint = ConstraintKind::kChoice;
    s.choices = {"positive", "negative"};
    s.max_tokens = max_tokens;
    auto plan = (*engine)->Plan(s, schema, /*offline=*/true);
    ASSERT_TRUE(plan.ok()) << plan.status().ToString();
    std::string key;
    JsonWriter w(&key);
    w.BeginArray().String("m").String(s.prompt).String("");
    w.String((*plan)->constraint->RequestMembers(schema::Dialect::kVllm));
    w.Int(max_tokens > 0 ? max_tokens : 256).Double(s.temperature).Int(-1).Int(s.image_max_side);
    w.Int(s.image_max_pixels).String(std::string(ImageFormatName(s.image_format)));
    w.Int(s.image_quality);
    w.EndArray();
    EXPECT_EQ((*plan)->legacy_fingerprint, Fingerprint(key)) << key;
    EXPECT_NE((*plan)->legacy_fingerprint, (*plan)->fingerprint);
  }
  schema.fields.push_back({"image", table::DataType::String(), true});
  JobSpec s;
  s.model = "m";
  s.prompt = "{text}";
  s.images = {"image"};
  auto plan = (*engine)->Plan(s, schema, /*offline=*/true);
  ASSERT_TRUE(plan.ok()) << plan.status().ToString();
  EXPECT_EQ((*plan)->legacy_fingerprint, 0u);  // image first by default
}

TEST(JobSpec, RoundTripsThroughJson) {
  JobSpec s;
  s.model = "m";
  s.prompt = "Q: {q}";
  s.constraint = ConstraintKind::kChoice;
  s.choices = {"A", "B"};
  s.dialect = DialectChoice::kOpenAI;
  s.shard_index = 2;
  s.shard_count = 4;
  s.seed = 9;
  s.image_format = ImageFormat::kWebp;
  s.fail_fast = false;
  s.confidence = ConfidenceMode::kFull;
  auto back = JobSpecFromJson(ToJson(s));
  ASSERT_TRUE(back.ok()) << back.status().message();
  EXPECT_EQ(ToJson(*back), ToJson(s));
  EXPECT_EQ(back->dialect, DialectChoice::kOpenAI);
  EXPECT_EQ(back->seed, 9);
  EXPECT_EQ(back->confidence, ConfidenceMode::kFull);
  EXPECT_FALSE(JobSpecFromJson(R"({"confidence": "maybe"})").ok());
  auto bad = JobSpecFromJson(R"({"modle": "m"})");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("modle"), std::string::npos);
}

}  // namespace
}  // namespace structflow::engine

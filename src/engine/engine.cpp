// Engine, Plan and Job: the library's door (include/structflow/engine.h).
//
// Threads of one engine:
//   client I/O   one, inside client::Client (shared by every job of the engine); it hands each
//                completion straight to its job's queue in the client (request ids carry the
//                job's group in their top bits; Client::NextGroupCompletions);
//   server load  one while jobs run with adaptive concurrency (client::ServerLoadPoller): learns
//                the servers' slot counts before the first request, then polls their queues.
// Threads of one job (all joined before Wait returns):
//   controller   the request pass's RowWalk (reads, transforms, skips rows the store has, hands
//                rows to the workers), then the output pass (a second RowWalk, the assembler,
//                the sink) and the report;
//   workers      build request bodies and submit them (Submit blocks while the client is full:
//                backpressure all the way to the reader);
//   parsers      judge completions (AnswerStage), re-ask, hand records to the writer;
//   writer       CheckpointWriter, the only writer of the row store.
// Every thread entry catches what escapes and ends the job with a Status.
#include "structflow/engine.h"

#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <condition_variable>
#include <mutex>
#include <set>
#include <thread>
#include <unordered_map>

#include "client/client.h"
#include "client/server_load_poller.h"
#include "common/bounded_queue.h"
#include "common/json_writer.h"
#include "common/logging.h"
#include "common/text.h"
#include "engine/answer_stage.h"
#include "engine/checkpoint.h"
#include "engine/checkpoint_writer.h"
#include "engine/diagnosis.h"
#include "engine/dialect_probe.h"
#include "engine/fail_fast.h"
#include "engine/output_assembler.h"
#include "engine/plan.h"
#include "engine/reorder_window.h"
#include "engine/row_walk.h"
#include "engine/server_info.h"
#include "image/prepared_cache.h"
#include "prompt/request_builder.h"
#include "schema/probe.h"

namespace structflow {
namespace {

using engine::RowWalk;
using engine::WalkRow;

// Latencies by 5 % steps from 0.1 ms to ~8 hours: percentiles within 2.5 %, in fixed memory.
class LatencyHistogram {
 public:
  void Add(double s) {
    int i = s <= kMin ? 0 : static_cast<int>(std::log(s / kMin) / std::log(kStep));
    i = std::clamp(i, 0, kBuckets - 1);
    std::lock_guard lock(mu_);
    ++counts_[i];
    ++n_;
  }
  double Percentile(double q) const {
    std::lock_guard lock(mu_);
    if (n_ == 0) return 0;
    uint64_t want = static_cast<uint64_t>(std::ceil(q * static_cast<double>(n_)));
    uint64_t seen = 0;
    for (int i = 0; i < kBuckets; ++i) {
      seen += counts_[i];
      if (seen >= want && counts_[i] > 0) return kMin * std::pow(kStep, i + 0.5);
    }
    return 0;
  }

 private:
  static constexpr double kMin = 1e-4;
  static constexpr double kStep = 1.05;
  static constexpr int kBuckets = 400;
  mutable std::mutex mu_;
  std::array<uint64_t, kBuckets> counts_{};
  uint64_t n_ = 0;
};

// A job's figures: atomics any thread bumps.
struct JobStats {
  std::atomic<int64_t> expected{-1};  // rows of this shard, when the input says
  std::atomic<int64_t> total{-1};     // rows to do in this run, once the walk is done
  std::atomic<int64_t> resumed{0};
  std::atomic<int64_t> done{0};  // recorded by the writer
  std::atomic<int64_t> succeeded{0};
  std::atomic<int64_t> output_retries{0};
  std::atomic<int64_t> prompt_tokens{0};
  std::atomic<int64_t> completion_tokens{0};
  std::atomic<int64_t> cached_tokens{0};
  std::atomic<int64_t> cached_answers{0};  // answers that reported cached_tokens
  std::array<std::atomic<int64_t>, kNumErrorKinds> errors{};
  mutable std::mutex examples_mu;
  std::array<std::string, kNumErrorKinds> error_examples;  // the first message of each kind
  std::atomic<int64_t> requests{0};
  std::atomic<int64_t> http_retries{0};
  std::atomic<int64_t> bytes_sent{0};
  std::atomic<int64_t> bytes_received{0};
  LatencyHistogram latency;
};

// The prepared request side; swapped atomically when `auto` switches dialect.
struct Prepared {
  schema::Dialect dialect;
  std::shared_ptr<const prompt::RequestBuilder> builder;
  std::shared_ptr<const prompt::RequestBuilder> builder_long;  // twice max_tokens (truncation)
};

struct WorkItem {
  std::shared_ptr<const table::RecordBatch> batch;
  int64_t row = 0;
  int64_t row_id = 0;
  uint64_t fingerprint = 0;
};

struct InFlight {
  WorkItem item;
  int output_attempts = 0;
  int http_attempts = 0;
  bool long_tokens = false;
  int64_t body_bytes = 0;
};

class EngineImpl;

class JobImpl : public Job, public std::enable_shared_from_this<JobImpl> {
 public:
  JobImpl(std::shared_ptr<EngineImpl> engine, std::shared_ptr<const JobPlan> plan,
          std::shared_ptr<Input> input, std::shared_ptr<RowStore> store, std::shared_ptr<Sink> sink,
          uint64_t group, std::shared_ptr<image::PreparedCache> image_cache);
  ~JobImpl() override;

  // Set once by Engine::Start before Begin: the request side (its image fetches watch
  // cancel_flag(), set when the job stops).
  void SetPrepared(Prepared p) {
    std::lock_guard lock(prepared_mu_);
    prepared_ = std::make_shared<const Prepared>(std::move(p));
  }
  const std::atomic<bool>* cancel_flag() const { return &stop_; }
  // Set by Engine::Start before Begin: stored truncated rows are sent again (max_tokens grew).
  void set_resend_truncated(bool v) { resend_truncated_ = v; }
  // Set by Engine::Start before Begin: stored rows may carry this older job fingerprint.
  void set_legacy_fingerprint(uint64_t fp) { legacy_fingerprint_ = fp; }

  void Begin();
  void Stop(StopMode mode) override;
  JobProgress progress() const override;
  bool WaitFor(std::chrono::milliseconds timeout) override;
  Result<JobReport> Wait() override;

 private:
  // Thread bodies.
  void Controller();
  void WorkerLoop();
  void ParserLoop();
  void WriterLoop();
  // Runs `body` catching what escapes: the job then ends with that as its Status.
  template <typename F>
  void Guarded(const char* thread, F&& body);

  Status RequestPass();
  Status OutputPass(JobReport* report);
  JobReport MakeReport(bool complete, int64_t error_rows) const;
  bool Submit(const WorkItem& item, int output_attempts, bool long_tokens, int http_attempts = 0);
  void Finish(RowRecord record, std::vector<RowRecord>* batch);
  void Settle(int64_t rows);
  void RequestStop(bool abandon);
  void Fail(Status st);
  void FailFast(const RowError& e);
  std::shared_ptr<const Prepared> prepared() const {
    std::lock_guard lock(prepared_mu_);
    return prepared_;
  }
  void Reprobe(schema::Dialect seen);
  uint64_t RequestId(int64_t row_id) const {
    return (group_ << client::Client::kGroupShift) | static_cast<uint64_t>(row_id);
  }

  std::shared_ptr<EngineImpl> engine_;
  std::shared_ptr<const JobPlan> plan_;
  std::shared_ptr<Input> input_;
  std::shared_ptr<RowStore> store_;
  std::shared_ptr<Sink> sink_;
  const uint64_t group_;
  Clock* clock_;
  Clock::TimePoint start_;

  mutable std::mutex prepared_mu_;
  std::shared_ptr<const Prepared> prepared_;
  std::shared_ptr<image::PreparedCache> image_cache_;
  std::atomic<int> reprobes_{0};
  std::atomic<bool> confidence_warned_{false};  // the one "no log-probabilities" warning
  bool resend_truncated_ = false;
  uint64_t legacy_fingerprint_ = 0;
  engine::StopSource probe_stop_;  // cancels a re-probe when the job stops

  BoundedQueue<WorkItem> prepare_q_{512};
  BoundedQueue<RowRecord> write_q_{4096};
  std::mutex inflight_mu_;
  std::unordered_map<int64_t, InFlight> inflight_;
  std::atomic<int64_t> pending_rows_{0};  // handed to workers, not yet finished or dropped
  std::mutex settle_mu_;
  std::condition_variable settle_cv_;

  JobStats stats_;
  engine::FailFastWindow fail_window_;
  std::atomic<bool> stop_{false};
  std::atomic<bool> abandon_{false};
  std::atomic<bool> stop_requested_{false};  // by the caller (Stop)

  std::mutex status_mu_;
  Status failure_;  // the first failure: read error, writer, a thread's exception, fail-fast

  // Threads (the controller starts and joins the others).
  std::thread controller_;
  std::vector<std::thread> workers_;
  std::vector<std::thread> parsers_;
  std::thread writer_thread_;
  std::unique_ptr<engine::CheckpointWriter> writer_;

  mutable std::mutex done_mu_;
  std::condition_variable done_cv_;
  bool ended_ = false;
  bool joined_ = false;
  bool begun_ = false;  // set by Begin, before any thread starts
  std::optional<Result<JobReport>> result_;

  static constexpr size_t kSliceRows = 64;
  static constexpr size_t kWorkerTake = 16;
  static constexpr size_t kParserTake = 64;
};

class EngineImpl : public Engine {
 public:
  EngineImpl(EngineOptions options, client::ClientOptions copts,
             std::unique_ptr<client::Client> client)
      : options_(std::move(options)), copts_(std::move(copts)), client_(std::move(client)) {
    clock_ = options_.clock ? options_.clock : SystemClock();
  }
  ~EngineImpl() override {
    {
      std::lock_guard lock(poll_mu_);
      poll_done_ = true;
      if (poller_) poller_->Stop();
    }
    client_->Cancel();
  }

  Result<std::shared_ptr<const JobPlan>> Plan(const JobSpec& spec, const table::Schema& schema,
                                              bool offline) override;
  Result<DryRun> DescribeFirstRequest(const std::shared_ptr<const JobPlan>& plan,
                                      const std::shared_ptr<Input>& input) override;
  Result<std::shared_ptr<Job>> Start(const std::shared_ptr<const JobPlan>& plan,
                                     std::shared_ptr<Input> input, std::shared_ptr<RowStore> store,
                                     std::shared_ptr<Sink> sink) override;
  void Interrupt() override {
    std::lock_guard lock(setup_mu_);
    for (engine::StopSource* s : setups_) s->Stop();
  }
  int in_flight() const override { return client_->in_flight(); }
  int concurrency_limit() const override { return client_->concurrency_limit(); }

  // For jobs.
  client::Client* client() { return client_.get(); }
  const client::ClientOptions& client_options() const { return copts_; }
  const EngineOptions& options() const { return options_; }
  Clock* clock() const { return clock_; }
  Result<schema::Dialect> Probe(const JobPlan& plan, engine::StopSource* stop);
  // Calls under `stop` (preflight, dialect probes) go through the engine's client as side
  // requests, each in a group of its own, instead of a client and I/O thread per call.
  void Share(engine::StopSource* stop) {
    stop->UseClient(client_.get(), [this] {
      std::lock_guard lock(jobs_mu_);
      return next_group_++;
    });
  }
  Result<Prepared> MakePrepared(const JobPlan& plan, schema::Dialect dialect,
                                const std::string& base_dir,
                                std::shared_ptr<image::PreparedCache> cache,
                                const std::atomic<bool>* cancel) const;
  // A job has sent its last request (its request pass ended): the poller stops with the last.
  void SendingEnded();

 private:
  void StartPoller();
  // Registers a StopSource for Interrupt while a Plan or Start talks to the server.
  class SetupScope {
   public:
    SetupScope(EngineImpl* e, engine::StopSource* s) : e_(e), s_(s) {
      std::lock_guard lock(e_->setup_mu_);
      e_->setups_.insert(s_);
    }
    ~SetupScope() {
      std::lock_guard lock(e_->setup_mu_);
      e_->setups_.erase(s_);
    }
    SetupScope(const SetupScope&) = delete;
    SetupScope& operator=(const SetupScope&) = delete;

   private:
    EngineImpl* e_;
    engine::StopSource* s_;
  };

  EngineOptions options_;
  client::ClientOptions copts_;
  std::unique_ptr<client::Client> client_;
  Clock* clock_;
  std::mutex jobs_mu_;
  uint64_t next_group_ = 1;
  std::mutex poll_mu_;
  bool poll_done_ = false;
  int sending_jobs_ = 0;  // jobs between StartPoller and SendingEnded
  std::unique_ptr<client::ServerLoadPoller> poller_;
  std::mutex setup_mu_;
  std::set<engine::StopSource*> setups_;
};

// ---------------------------------------------------------------------------------------------
// Engine

// A schema with keywords no server can enforce runs with them checked here only (said once), or
// is refused under schema_strict.
Status CheckLocalOnlyKeywords(const schema::Constraint& c, const std::string& file, bool strict) {
  const auto& keywords = c.local_only_keywords();
  if (keywords.empty()) return Status::OK();
  std::string list;
  for (const auto& k : keywords) list += (list.empty() ? "" : ", ") + k;
  if (strict) {
    return Status::InvalidArgument(fmt::format(
        "{}: keywords {} cannot be enforced by the servers' structured-output backends "
        "(--schema-strict); remove them, or drop --schema-strict to have structflow check them on "
        "each answer and re-ask when one breaks them",
        file, list));
  }
  SF_LOG_INFO(
      "{}: the server cannot enforce {}; they are left out of the request and checked on each "
      "answer here (an answer that breaks them is re-asked, up to --max-output-retries)",
      file, list);
  return Status::OK();
}

void EngineImpl::SendingEnded() {
  std::unique_ptr<client::ServerLoadPoller> stopped;
  {
    std::lock_guard lock(poll_mu_);
    if (--sending_jobs_ > 0 || !poller_) return;
    stopped = std::move(poller_);
    stopped->Stop();
  }
}

void EngineImpl::StartPoller() {
  // Adaptive concurrency follows the servers' size and queue (client/server_load_poller.h); the
  // poller learns the size before the first request goes out, so it starts before the first
  // job's workers, serves every job sending at the same time, and stops when the last of them
  // has sent its last request (no polls linger on a server nobody is using).
  std::lock_guard lock(poll_mu_);
  ++sending_jobs_;
  if (poller_ || poll_done_ || options_.concurrency > 0) return;
  client::ServerLoadPollerOptions po;
  po.endpoints = copts_.endpoints;
  po.api_key = copts_.api_key;
  po.verify_tls = copts_.verify_tls;
  po.user_agent = copts_.user_agent;
  auto poller = client::ServerLoadPoller::Start(std::move(po), client_.get());
  if (poller.ok()) {
    poller_ = std::move(*poller);
  } else {
    SF_LOG_DEBUG("adaptive concurrency follows latency: {}", poller.status().message());
  }
}

Result<std::shared_ptr<const JobPlan>> EngineImpl::Plan(const JobSpec& spec,
                                                        const table::Schema& input_schema,
                                                        bool offline) {
  auto plan = std::make_shared<JobPlan>();
  plan->spec = spec;
  const JobSpec& s = plan->spec;
  if (s.prompt.empty()) {
    return Status::InvalidArgument(
        "no prompt: pass --prompt 'Question: {question}' (column names in braces) or --prompt-file "
        "FILE");
  }
  if (s.shard_count < 1 || s.shard_index < 0 || s.shard_index >= s.shard_count) {
    return Status::InvalidArgument(fmt::format(
        "--shard '{}/{}': expected K/N with 0 <= K < N, e.g. --shard 0/4 on the first of four "
        "machines",
        s.shard_index, s.shard_count));
  }
  switch (s.constraint) {
    case ConstraintKind::kNone:
      break;
    case ConstraintKind::kJsonSchema: {
      SF_ASSIGN_OR_RAISE(auto c,
                         schema::Constraint::FromSchemaText(s.json_schema, s.schema_origin));
      plan->constraint = std::move(c);
      SF_RETURN_NOT_OK(CheckLocalOnlyKeywords(*plan->constraint, s.schema_origin, s.schema_strict));
      break;
    }
    case ConstraintKind::kChoice: {
      std::string note;
      SF_ASSIGN_OR_RAISE(auto c, schema::Constraint::FromChoices(s.choices, &note));
      if (!note.empty()) SF_LOG_WARN("{}", note);
      plan->constraint = std::move(c);
      break;
    }
    case ConstraintKind::kRegex: {
      SF_ASSIGN_OR_RAISE(auto c, schema::Constraint::FromRegex(s.regex));
      plan->constraint = std::move(c);
      break;
    }
  }
  if (s.confidence != ConfidenceMode::kOff) {
    if (!plan->constraint) {
      return Status::InvalidArgument(
          "--confidence scores a --choice answer or the enum and boolean fields of a --schema; "
          "this job's answer is free text: add --choice or --schema, or drop --confidence");
    }
    SF_ASSIGN_OR_RAISE(auto conf,
                       engine::Confidence::Make(*plan->constraint, s.confidence, s.schema_origin));
    plan->confidence = std::move(conf);
  }
  if (plan->spec.max_tokens <= 0) {
    const int suggested = plan->constraint ? plan->constraint->SuggestedMaxTokens() : 0;
    plan->spec.max_tokens =
        s.constraint == ConstraintKind::kChoice && suggested > 0 ? std::max(64, suggested) : 256;
  }
  switch (s.dialect) {
    case DialectChoice::kAuto:
      plan->dialect = plan->constraint ? schema::Dialect::kAuto : schema::Dialect::kVllm;
      break;
    case DialectChoice::kVllm:
      plan->dialect = schema::Dialect::kVllm;
      break;
    case DialectChoice::kVllmLegacy:
      plan->dialect = schema::Dialect::kVllmLegacy;
      break;
    case DialectChoice::kOpenAI:
      plan->dialect = schema::Dialect::kOpenAI;
      break;
    case DialectChoice::kSglang:
      plan->dialect = schema::Dialect::kSglang;
      break;
    case DialectChoice::kLlamaCpp:
      plan->dialect = schema::Dialect::kLlamaCpp;
      break;
  }
  std::vector<engine::ExtractSpec> extracts;
  for (const auto& e : s.extract) {
    SF_ASSIGN_OR_RAISE(auto spec_e, engine::ExtractSpec::Parse(e));
    extracts.push_back(std::move(spec_e));
  }
  // Binary columns that nothing uses are never read (an image column costs nothing unless used).
  for (const auto& f : input_schema.fields) {
    bool used = s.keep_binary || !engine::TypeHasBinary(*f.type);
    auto mentions = [&](const std::string& text) { return text.find(f.name) != std::string::npos; };
    for (const auto& p : s.images) used = used || mentions(p);
    used = used || mentions(s.prompt);
    for (const auto& e : extracts) used = used || mentions(e.source);
    for (const auto& e : s.explode) used = used || e == f.name;
    if (used) plan->read_columns.push_back(f.name);
  }
  table::Schema projected;
  for (const auto& name : plan->read_columns)
    projected.fields.push_back(input_schema.fields[input_schema.FieldIndex(name)]);
  SF_ASSIGN_OR_RAISE(auto t, engine::Transformer::Make(projected, s.explode, extracts));
  plan->transformer = std::make_shared<const engine::Transformer>(std::move(t));
  if (!s.row_id_column.empty() &&
      plan->transformer->output_schema().FieldIndex(s.row_id_column) >= 0) {
    return Status::InvalidArgument(fmt::format(
        "the input already has a column '{}'; pick another name for the row id (--row-id NAME)",
        s.row_id_column));
  }
  plan->image_policy.max_side = s.image_max_side;
  plan->image_policy.max_pixels = s.image_max_pixels;
  SF_ASSIGN_OR_RAISE(plan->image_policy.format,
                     image::ParseOutputFormat(ImageFormatName(s.image_format)));
  plan->image_policy.quality = s.image_quality;

  plan->model = s.model;
  if (!offline) {
    // The preflight: the server's family, models, context and vision, and the job checked
    // against them (an unknown model, images for a text-only server, max_tokens past the
    // context) before row 1.
    engine::StopSource stop;
    Share(&stop);
    SetupScope scope(this, &stop);
    SF_ASSIGN_OR_RAISE(plan->facts, engine::RunPreflight(
                                        copts_, {s.model, !s.images.empty(), s.max_tokens}, &stop));
    // A llama.cpp server serves no more connections than its HTTP threads: the shared client is
    // held to that, with a fixed concurrency too, so no request waits on a connection.
    engine::FitClientToServer(plan->facts, client_.get());
  }
  if (plan->model.empty() && offline) {
    plan->model = "MODEL";
  } else if (plan->model.empty()) {
    const std::vector<engine::ModelInfo>& models = plan->facts.models;
    if (models.empty()) {
      return Status::Unavailable(fmt::format(
          "{} serves no models; start it with a model, or pass --model", copts_.endpoints[0]));
    }
    if (models.size() > 1) {
      return Status::InvalidArgument(
          fmt::format("{} serves several models ({}); pick one with --model", copts_.endpoints[0],
                      engine::ModelNames(models)));
    }
    plan->model = models[0].id;
  }
  plan->fetch_images = s.fetch_images;
  if (!s.fetch_images && !offline && !s.images.empty() &&
      !engine::FamilyFetchesImageUrls(plan->facts.family)) {
    plan->fetch_images = true;
    SF_LOG_INFO(
        "{} ({}) does not download image URLs itself: image URLs in this job, if any, "
        "are downloaded here and sent inline",
        copts_.endpoints[0], client::ServerFamilyName(plan->facts.family));
  }
  // The template against the columns: building the request side fails on an unknown column.
  SF_RETURN_NOT_OK(MakePrepared(*plan,
                                plan->auto_dialect() ? schema::Dialect::kVllm : plan->dialect, "",
                                nullptr, nullptr)
                       .status());

  // The job fingerprint: everything that changes what a row's answer means. `legacy_max_tokens`
  // makes the key of versions before 2026-11-27, which held max_tokens (their default was 256).
  const bool image_first = !s.images.empty() && s.image_position == ImagePosition::kFirst;
  auto job_key = [&](std::optional<int> legacy_max_tokens) {
    std::string key;
    JsonWriter w(&key);
    w.BeginArray().String(plan->model).String(s.prompt).String(s.system);
    for (const auto& i : s.images) w.String(i);
    w.String(plan->constraint ? plan->constraint->RequestMembers(schema::Dialect::kVllm) : "");
    // Keywords checked only here are not in the request; the answer's meaning still depends on
    // them.
    if (plan->constraint && !plan->constraint->local_only_keywords().empty()) {
      w.String(plan->constraint->schema_json());
    }
    // max_tokens is not part of it: an answer that fit stays a valid answer under another limit;
    // rows cut at the old limit are sent again when it grows (Start, resend_truncated).
    if (legacy_max_tokens) w.Int(*legacy_max_tokens);
    w.Double(s.temperature).Int(s.seed.value_or(-1)).Int(s.image_max_side);
    w.Int(s.image_max_pixels).String(std::string(ImageFormatName(s.image_format)));
    w.Int(s.image_quality);
    for (const auto& e : s.explode) w.String(e);
    // The image before the question changes the prompt; text-first (the old order) adds
    // nothing, so checkpoints written before the option existed resume with image_position last.
    if (image_first) w.String("image-first");
    // Image URLs fetched here instead of by the server: a resume after the server failed to
    // fetch them sends those rows again (nothing added without it).
    if (plan->fetch_images) w.String("fetch-images");
    w.EndArray();
    return engine::Fingerprint(key);
  };
  plan->fingerprint = job_key(std::nullopt);
  if (!image_first && !plan->fetch_images) {
    plan->legacy_fingerprint = job_key(spec.max_tokens > 0 ? spec.max_tokens : 256);
  }
  return std::shared_ptr<const JobPlan>(std::move(plan));
}

Result<Prepared> EngineImpl::MakePrepared(const JobPlan& plan, schema::Dialect dialect,
                                          const std::string& base_dir,
                                          std::shared_ptr<image::PreparedCache> cache,
                                          const std::atomic<bool>* cancel) const {
  const JobSpec& s = plan.spec;
  prompt::RequestOptions ro;
  ro.model = plan.model;
  ro.system_prompt = s.system;
  ro.max_tokens = s.max_tokens;
  ro.temperature = s.temperature;
  ro.seed = s.seed;
  ro.fetch_images = plan.fetch_images;
  ro.fetch.timeout_ms = std::lround(s.fetch_timeout_s * 1000);
  ro.fetch.cancel = cancel;
  ro.image_max_bytes = static_cast<size_t>(std::max<int64_t>(0, s.image_max_bytes));
  ro.image_root = s.image_root;
  ro.image_position = s.image_position == ImagePosition::kFirst ? prompt::ImagePosition::kFirst
                                                                : prompt::ImagePosition::kLast;
  if (plan.constraint) ro.extra_members_json = plan.constraint->RequestMembers(dialect);
  if (plan.confidence) {
    if (!ro.extra_members_json.empty()) ro.extra_members_json += ',';
    ro.extra_members_json += plan.confidence->RequestMembers();
  }
  ro.image_cache = std::move(cache);
  Prepared p;
  p.dialect = dialect;
  const table::Schema& schema = plan.transformer->output_schema();
  SF_ASSIGN_OR_RAISE(auto b, prompt::RequestBuilder::Make(s.prompt, s.images, schema, ro,
                                                          plan.image_policy, base_dir));
  p.builder = std::make_shared<const prompt::RequestBuilder>(std::move(b));
  ro.max_tokens = s.max_tokens * 2;
  SF_ASSIGN_OR_RAISE(auto bl, prompt::RequestBuilder::Make(s.prompt, s.images, schema, ro,
                                                           plan.image_policy, base_dir));
  p.builder_long = std::make_shared<const prompt::RequestBuilder>(std::move(bl));
  return p;
}

Result<schema::Dialect> EngineImpl::Probe(const JobPlan& plan, engine::StopSource* stop) {
  return engine::ProbeServerDialect(copts_, plan.model, *plan.constraint,
                                    {plan.facts.family, !plan.spec.images.empty(), 15}, stop);
}

Result<DryRun> EngineImpl::DescribeFirstRequest(const std::shared_ptr<const JobPlan>& plan,
                                                const std::shared_ptr<Input>& input) {
  schema::Dialect d = plan->auto_dialect() ? schema::Dialect::kVllm : plan->dialect;
  SF_ASSIGN_OR_RAISE(auto p, MakePrepared(*plan, d, input->base_dir(), nullptr, nullptr));
  SF_ASSIGN_OR_RAISE(auto scan, input->Scan(plan->read_columns, 64));
  DryRun out;
  while (true) {
    SF_ASSIGN_OR_RAISE(auto batch, scan->Next());
    if (!batch) break;
    table::RecordBatch b = plan->transformer->Apply(std::move(*batch));
    if (b.num_rows() == 0) continue;
    RowError e = p.builder->Build(b, 0, &out.body);
    if (!e.ok()) {
      return Status::InvalidArgument(
          fmt::format("row 0: {}: {}", ErrorKindName(e.kind), e.message));
    }
    break;
  }
  out.body = prompt::AbbreviateBody(out.body);
  out.dialect = std::string(schema::DialectName(d));
  out.model = plan->model;
  out.output_type = plan->constraint ? plan->constraint->OutputType()->ToString() : "string";
  out.columns = plan->transformer->output_schema().ToString();
  return out;
}

Result<std::shared_ptr<Job>> EngineImpl::Start(const std::shared_ptr<const JobPlan>& plan,
                                               std::shared_ptr<Input> input,
                                               std::shared_ptr<RowStore> store,
                                               std::shared_ptr<Sink> sink) {
  if (!plan || !input || !store || !sink)
    return Status::InvalidArgument("Engine::Start needs a plan, an input, a row store and a sink");
  schema::Dialect d = plan->dialect;
  if (plan->auto_dialect()) {
    SF_ASSIGN_OR_RAISE(auto remembered, store->GetMeta("dialect"));
    if (remembered) {
      SF_ASSIGN_OR_RAISE(d, schema::ParseDialect(*remembered));
    } else {
      engine::StopSource stop;
      Share(&stop);
      SetupScope scope(this, &stop);
      auto probed = Probe(*plan, &stop);
      if (!probed.ok() && engine::ProbeErrorEndsJob(probed.status())) {
        return probed.status();  // a refusal no dialect changes, a stop, or a hung server
      } else if (!probed.ok()) {
        d = engine::DialectsToTry(plan->facts.family)[0];
        SF_LOG_WARN(
            "could not learn the structured-output dialect ({}); using {}. Pass --dialect to "
            "choose.",
            probed.status().message(), schema::DialectName(d));
      } else {
        d = *probed;
      }
    }
    if (d == schema::Dialect::kAuto) d = schema::Dialect::kVllm;
  }
  if (plan->constraint)
    SF_RETURN_NOT_OK(store->SetMeta("dialect", std::string(schema::DialectName(d))));
  // Rows cut at max_tokens are sent again when the limit grew since the run that stored them.
  bool resend_truncated = false;
  uint64_t legacy_fingerprint = 0;
  {
    SF_ASSIGN_OR_RAISE(auto stored, store->GetMeta("max_tokens"));
    // A checkpoint without the max_tokens fact was written by a version whose fingerprints held
    // max_tokens: its rows match the job's legacy fingerprint (JobPlan::legacy_fingerprint), in
    // this run and every later one (the flag stays; rows written from now on use the new one).
    SF_ASSIGN_OR_RAISE(auto legacy, store->GetMeta("legacy_rows"));
    if (!legacy && !stored && plan->legacy_fingerprint != 0) {
      SF_ASSIGN_OR_RAISE(auto cursor, store->Scan(0, false));
      SF_ASSIGN_OR_RAISE(auto first, cursor->Next());
      if (first) {
        SF_RETURN_NOT_OK(store->SetMeta("legacy_rows", "1"));
        legacy = "1";
      }
    }
    if (legacy) legacy_fingerprint = plan->legacy_fingerprint;
    if (stored) {
      try {
        resend_truncated = plan->spec.max_tokens > std::stoi(*stored);
      } catch (const std::exception&) {
      }
    }
    SF_RETURN_NOT_OK(store->SetMeta("max_tokens", std::to_string(plan->spec.max_tokens)));
  }
  std::shared_ptr<image::PreparedCache> cache;
  if (!plan->spec.images.empty() && options_.image_cache_mb > 0) {
    cache = std::make_shared<image::PreparedCache>(
        static_cast<size_t>(options_.image_cache_mb) << 20, plan->image_policy);
  }
  uint64_t group;
  {
    std::lock_guard lock(jobs_mu_);
    group = next_group_++;
  }
  const std::string base_dir = input->base_dir();
  auto self = std::static_pointer_cast<EngineImpl>(shared_from_this());
  auto job = std::make_shared<JobImpl>(self, plan, std::move(input), std::move(store),
                                       std::move(sink), group, cache);
  SF_ASSIGN_OR_RAISE(auto prepared, MakePrepared(*plan, d, base_dir, cache, job->cancel_flag()));
  job->SetPrepared(std::move(prepared));
  job->set_resend_truncated(resend_truncated);
  job->set_legacy_fingerprint(legacy_fingerprint);
  client_->OpenGroup(group);
  StartPoller();
  job->Begin();
  return std::shared_ptr<Job>(job);
}

// ---------------------------------------------------------------------------------------------
// Job

JobImpl::JobImpl(std::shared_ptr<EngineImpl> engine, std::shared_ptr<const JobPlan> plan,
                 std::shared_ptr<Input> input, std::shared_ptr<RowStore> store,
                 std::shared_ptr<Sink> sink, uint64_t group,
                 std::shared_ptr<image::PreparedCache> image_cache)
    : engine_(std::move(engine)),
      plan_(std::move(plan)),
      input_(std::move(input)),
      store_(std::move(store)),
      sink_(std::move(sink)),
      group_(group),
      clock_(engine_->clock()),
      image_cache_(std::move(image_cache)) {
  engine_->Share(&probe_stop_);
}

JobImpl::~JobImpl() {
  if (!begun_) return;  // Start failed before the job began
  if (!WaitFor(std::chrono::milliseconds(0))) Stop(StopMode::kAbandon);
  (void)Wait();
}

template <typename F>
void JobImpl::Guarded(const char* thread, F&& body) {
  try {
    body();
  } catch (const std::exception& e) {
    Fail(
        Status::Internal(fmt::format("the job's {} thread failed: {}; finished rows are kept in {}",
                                     thread, e.what(), store_->location())));
  } catch (...) {
    Fail(Status::Internal(fmt::format("the job's {} thread failed; finished rows are kept in {}",
                                      thread, store_->location())));
  }
}

void JobImpl::Begin() {
  begun_ = true;
  start_ = clock_->Now();
  controller_ = std::thread([this] {
    Result<JobReport> result = Status::Internal("the job ended without a report");
    Guarded("controller", [&] {
      JobReport report;
      Status st = RequestPass();
      {
        std::lock_guard lock(status_mu_);
        if (st.ok()) st = failure_;
      }
      if (st.ok() && !stop_.load()) st = OutputPass(&report);
      if (!st.ok()) {
        result = st;
      } else if (stop_.load()) {
        // After a stop, rows are missing for sure: skip re-reading the input to find that out.
        result = MakeReport(false, 0);
      } else {
        result = report;
      }
    });
    {
      std::lock_guard lock(status_mu_);
      if (!failure_.ok() && result.ok()) result = failure_;
    }
    if (!result.ok()) {
      // A fail-fast stop carries the job so far.
      const Status& st = result.status();
      if (auto* ff = dynamic_cast<const FailFastDetail*>(st.detail().get())) {
        auto detail = std::make_shared<FailFastDetail>(*ff);
        detail->report = MakeReport(false, 0);
        result = Status(st.code(), st.message()).WithDetail(std::move(detail));
      }
    }
    std::lock_guard lock(done_mu_);
    result_ = std::move(result);
    ended_ = true;
    done_cv_.notify_all();
  });
}

void JobImpl::Stop(StopMode mode) {
  stop_requested_.store(true);
  RequestStop(mode == StopMode::kAbandon);
}

void JobImpl::RequestStop(bool abandon) {
  bool was_stopped = stop_.exchange(true);
  bool was_abandoned = abandon ? abandon_.exchange(true) : abandon_.load();
  if (!was_stopped || (abandon && !was_abandoned)) engine_->client()->StopGroup(group_, abandon);
  probe_stop_.Stop();
  prepare_q_.Close();
}

void JobImpl::Fail(Status st) {
  {
    std::lock_guard lock(status_mu_);
    if (!failure_.ok()) return;
    failure_ = std::move(st);
  }
  RequestStop(/*abandon=*/true);
}

bool JobImpl::WaitFor(std::chrono::milliseconds timeout) {
  std::unique_lock lock(done_mu_);
  return done_cv_.wait_for(lock, timeout, [&] { return ended_; });
}

Result<JobReport> JobImpl::Wait() {
  std::unique_lock lock(done_mu_);
  done_cv_.wait(lock, [&] { return ended_; });
  if (!joined_ && controller_.joinable()) {
    joined_ = true;
    lock.unlock();
    controller_.join();
    lock.lock();
  }
  return *result_;
}

JobProgress JobImpl::progress() const {
  JobProgress p;
  p.resumed = stats_.resumed.load();
  p.total = stats_.total.load();
  if (p.total < 0 && stats_.expected.load() >= 0) p.total = stats_.expected.load() - p.resumed;
  p.done = stats_.done.load();
  p.succeeded = stats_.succeeded.load();
  p.output_retries = stats_.output_retries.load();
  p.prompt_tokens = stats_.prompt_tokens.load();
  p.completion_tokens = stats_.completion_tokens.load();
  p.cached_prompt_tokens = stats_.cached_tokens.load();
  p.cached_answers = stats_.cached_answers.load();
  for (int k = 0; k < kNumErrorKinds; ++k) p.errors[k] = stats_.errors[k].load();
  p.in_flight = engine_->in_flight();
  p.http_retries = stats_.http_retries.load();
  p.elapsed_s = SecondsBetween(start_, clock_->Now());
  return p;
}

Status JobImpl::RequestPass() {
  const EngineOptions& eo = engine_->options();
  // Fetching image URLs, a worker mostly waits on the network: more workers keep rows going
  // while some wait on slow or unreachable hosts (each for at most fetch_timeout_s).
  const int workers = eo.workers > 0
                          ? eo.workers
                          : static_cast<int>(std::max(2u, std::thread::hardware_concurrency()) *
                                             (plan_->fetch_images ? 4 : 1));
  for (int i = 0; i < workers; ++i)
    workers_.emplace_back([this] { Guarded("worker", [this] { WorkerLoop(); }); });
  for (int i = 0; i < 2; ++i)
    parsers_.emplace_back([this] { Guarded("parser", [this] { ParserLoop(); }); });
  writer_ = std::make_unique<engine::CheckpointWriter>(
      store_.get(), &write_q_, clock_, engine::CommitPolicy{},
      [this](const Status& st) {
        Fail(Status(st.code(), fmt::format("{}\nFinished rows are kept in {}; run the same "
                                           "command again to resume.",
                                           st.message(), store_->location())));
      },
      [this](int64_t n) { stats_.done.fetch_add(n); });
  writer_thread_ = std::thread([this] { Guarded("writer", [this] { writer_->Run(); }); });

  Status read_status;
  int64_t to_do = 0;
  Guarded("reader", [&] {
    const JobSpec& s = plan_->spec;
    engine::WalkOptions wo;
    wo.columns = plan_->read_columns;
    wo.batch_rows = 256;
    wo.limit = s.limit;
    wo.shard_index = s.shard_index;
    wo.shard_count = s.shard_count;
    wo.job_fingerprint = plan_->fingerprint;
    wo.legacy_job_fingerprint = legacy_fingerprint_;
    wo.reusable_only = true;
    wo.retry_failed = s.retry_failed;
    wo.retry_kinds = s.retry_kinds;
    wo.need_confidence = plan_->confidence.has_value();
    if (resend_truncated_ && !(s.retry_failed && s.retry_kinds.empty())) {
      if (!s.retry_failed) wo.retry_kinds.clear();
      wo.retry_failed = true;
      wo.retry_kinds.push_back(ErrorKind::kTruncated);
      SF_LOG_INFO("max_tokens grew to {}: rows cut at the old limit are sent again", s.max_tokens);
    }
    auto walk = RowWalk::Open(*input_, *plan_->transformer, wo, store_.get());
    if (!walk.ok()) {
      read_status = walk.status();
      return;
    }
    // When the input says how many rows it has and no explode changes that, show a total and an
    // ETA from the start; otherwise the total appears once reading is done.
    if (auto n = walk->ExpectedRows(s.explode.empty())) stats_.expected.store(*n);
    std::vector<WorkItem> slice;
    auto hand_out = [&] {
      const size_t pushed = prepare_q_.PushBatch(slice);
      const bool all = pushed == slice.size();
      if (!all) Settle(static_cast<int64_t>(slice.size() - pushed));
      slice.clear();
      return all;
    };
    WalkRow row;
    const table::RecordBatch* last_batch = nullptr;
    // A column the prompt uses that is null in some rows is said once, with the count.
    const auto request_side = prepared();
    prompt::NullTally nulls(request_side->builder->prompt_template());
    // Rows that share an image leave back to back (engine/reorder_window.h); rows the window
    // holds when the job stops were never handed out: unrecorded, a resume sends them.
    const bool regroup = !s.images.empty() && s.reorder_window > 1;
    engine::ReorderWindow<WorkItem> window(regroup ? static_cast<size_t>(s.reorder_window) : 0);
    std::vector<WorkItem> released;
    auto release = [&] {
      for (WorkItem& item : released) {
        pending_rows_.fetch_add(1);
        slice.push_back(std::move(item));
        if (slice.size() >= kSliceRows && !hand_out()) {
          released.clear();
          return false;
        }
      }
      released.clear();
      return true;
    };
    while (!stop_.load()) {
      auto more = walk->Next(&row);
      if (!more.ok()) {
        read_status = more.status();
        break;
      }
      if (!*more) break;
      if (row.batch.get() != last_batch) {
        // Rows go to the workers in slices: one lock and at most one wake-up per slice.
        if (!slice.empty() && !hand_out()) break;
        last_batch = row.batch.get();
      }
      if (row.stored != nullptr) {
        stats_.resumed.fetch_add(1);
        continue;
      }
      ++to_do;
      nulls.Observe(*row.batch, row.row);
      const uint64_t key = regroup ? request_side->builder->ImageCellKey(*row.batch, row.row) : 0;
      window.Push(key, WorkItem{row.batch, row.row, row.row_id, row.fingerprint}, &released);
      if (!release()) break;
    }
    if (!stop_.load()) {
      window.Flush(&released);
      release();
    }
    if (!slice.empty()) hand_out();
    for (const std::string& w : nulls.Warnings()) SF_LOG_WARN("{}", w);
  });
  if (!stop_.load()) stats_.total.store(to_do);
  if (stats_.resumed.load() > 0) {
    SF_LOG_INFO("resuming: {} rows were already in {}", stats_.resumed.load(), store_->location());
  }
  prepare_q_.Close();
  for (auto& t : workers_) t.join();
  // Parsers may still re-ask (invalid output, truncation): end the completion queue only once
  // every row handed out is finished or dropped.
  {
    std::unique_lock lock(settle_mu_);
    settle_cv_.wait(lock, [&] { return pending_rows_.load() == 0; });
  }
  engine_->SendingEnded();
  engine_->client()->CloseGroup(group_);
  for (auto& t : parsers_) t.join();
  write_q_.Close();
  writer_thread_.join();
  if (!read_status.ok()) {
    return Status(read_status.code(),
                  fmt::format("{}\nFinished rows are kept in {}; run the same command again to "
                              "resume.",
                              read_status.message(), store_->location()));
  }
  return Status::OK();
}

bool JobImpl::Submit(const WorkItem& item, int output_attempts, bool long_tokens,
                     int http_attempts) {
  auto p = prepared();
  std::string body;
  uint64_t image_key = 0;
  RowError e =
      (long_tokens ? p->builder_long : p->builder)->Build(*item.batch, item.row, &body, &image_key);
  // An image fetch cut short by the stop: the row is dropped unrecorded, so a resume sends it.
  if (e.kind == ErrorKind::kCancelled) return false;
  if (!e.ok()) {
    e.message = fmt::format("row {}: {}", item.row_id, e.message);
    RowRecord r;
    r.row_id = item.row_id;
    r.fingerprint = item.fingerprint;
    r.error = std::move(e);
    Finish(std::move(r), nullptr);
    return true;
  }
  {
    std::lock_guard lock(inflight_mu_);
    auto& f = inflight_[item.row_id];
    f.item = item;
    f.output_attempts = output_attempts;
    f.long_tokens = long_tokens;
    f.http_attempts = http_attempts;
    f.body_bytes = static_cast<int64_t>(body.size());
  }
  client::Request request{RequestId(item.row_id), "/chat/completions", std::move(body),
                          client::Method::kPost};
  if (plan_->spec.image_affinity) request.affinity = image_key;
  client::Client* c = engine_->client();
  const bool reask = output_attempts > 0 || long_tokens;
  if (!(reask ? c->Resubmit(std::move(request)) : c->Submit(std::move(request)))) {
    std::lock_guard lock(inflight_mu_);
    inflight_.erase(item.row_id);
    return false;
  }
  return true;
}

void JobImpl::Finish(RowRecord record, std::vector<RowRecord>* batch) {
  const int kind = static_cast<int>(record.error.kind);
  if (!record.error.ok() && stats_.errors[kind].fetch_add(1) == 0) {
    std::lock_guard lock(stats_.examples_mu);
    if (stats_.error_examples[kind].empty()) stats_.error_examples[kind] = record.error.message;
  }
  if (record.error.ok()) stats_.succeeded.fetch_add(1);
  stats_.prompt_tokens.fetch_add(record.prompt_tokens);
  stats_.completion_tokens.fetch_add(record.completion_tokens);
  if (record.cached_tokens >= 0) {
    stats_.cached_tokens.fetch_add(record.cached_tokens);
    stats_.cached_answers.fetch_add(1);
  }
  if (plan_->spec.fail_fast) {
    if (auto tripped = fail_window_.Observe(record.error)) FailFast(*tripped);
  }
  if (batch != nullptr) {
    batch->push_back(std::move(record));
    return;
  }
  write_q_.Push(record);
  Settle(1);
}

void JobImpl::Settle(int64_t rows) {
  if (rows > 0 && pending_rows_.fetch_sub(rows) == rows) {
    std::lock_guard lock(settle_mu_);
    settle_cv_.notify_all();
  }
}

void JobImpl::FailFast(const RowError& e) {
  auto detail = std::make_shared<FailFastDetail>();
  detail->error = e;
  detail->rows = static_cast<int>(fail_window_.rows());
  detail->advice = engine::AdviseFix(
      e, engine::DiagnosisContextFor(plan_->facts, plan_->model, !plan_->spec.images.empty()));
  std::string message = fmt::format(
      "the first {} rows all failed the same way, so the job stopped early instead of failing "
      "every row.\n"
      "  error: {}{}: {}\n  fix:   {}",
      detail->rows, ErrorKindName(e.kind),
      e.http_status ? fmt::format(" (HTTP {})", e.http_status) : "", EscapeControl(e.message),
      detail->advice);
  // The report is filled in when the job ends (Wait), so that it counts every row.
  Fail(Status::Unavailable(std::move(message)).WithDetail(detail));
}

void JobImpl::WorkerLoop() {
  std::vector<WorkItem> items;
  while (prepare_q_.PopBatch(&items, kWorkerTake) > 0) {
    for (const WorkItem& item : items) {
      // After a stop, rows not yet sent are dropped unrecorded: a resume sends them.
      if (stop_.load() || !Submit(item, 0, false)) Settle(1);
    }
    items.clear();
  }
}

void JobImpl::Reprobe(schema::Dialect seen) {
  auto d = engine_->Probe(*plan_, &probe_stop_);
  if (!d.ok() || *d == seen) return;
  auto np = engine_->MakePrepared(*plan_, *d, input_->base_dir(), image_cache_, &stop_);
  if (!np.ok()) return;
  SF_LOG_WARN("the server ignored the {} dialect; switching to {}", schema::DialectName(seen),
              schema::DialectName(*d));
  std::lock_guard lock(prepared_mu_);
  prepared_ = std::make_shared<const Prepared>(std::move(*np));
}

void JobImpl::ParserLoop() {
  // Completions come in batches; their records go to the writer in one push, and the rows are
  // settled after it: the controller ends the completion queue once every row is settled.
  const JobSpec& s = plan_->spec;
  engine::AnswerPolicy policy;
  policy.constraint = plan_->constraint ? &*plan_->constraint : nullptr;
  policy.max_tokens = s.max_tokens;
  policy.retry_truncated = s.retry_truncated;
  policy.max_output_retries = s.max_output_retries;
  policy.confidence = plan_->confidence ? &*plan_->confidence : nullptr;
  std::unique_ptr<table::Column> scratch;
  std::vector<client::Completion> completions;
  std::vector<RowRecord> records;
  while (true) {
    completions.clear();
    if (engine_->client()->NextGroupCompletions(group_, &completions, kParserTake) == 0) break;
    int64_t settled = 0;
    for (client::Completion& c : completions) {
      const int64_t row_id =
          static_cast<int64_t>(c.id & ((uint64_t{1} << client::Client::kGroupShift) - 1));
      InFlight f;
      {
        std::lock_guard lock(inflight_mu_);
        auto it = inflight_.find(row_id);
        if (it == inflight_.end()) continue;  // cannot happen: every id is registered first
        f = std::move(it->second);
        inflight_.erase(it);
      }
      stats_.requests.fetch_add(c.attempts);
      stats_.http_retries.fetch_add(std::max(0, c.attempts - 1));
      stats_.bytes_sent.fetch_add(f.body_bytes * c.attempts);
      stats_.bytes_received.fetch_add(static_cast<int64_t>(c.body.size()));
      if (c.ok()) stats_.latency.Add(c.latency_s);
      if (policy.constraint != nullptr && (!scratch || scratch->length() > 4096)) {
        scratch = std::make_unique<table::Column>(policy.constraint->OutputType());
      }
      auto p = prepared();
      engine::AnswerAttempt a;
      a.row_id = f.item.row_id;
      a.fingerprint = f.item.fingerprint;
      a.output_attempts = f.output_attempts;
      a.http_attempts = f.http_attempts;
      a.long_tokens = f.long_tokens;
      a.stopping = abandon_.load();
      engine::AnswerVerdict v = engine::Judge(policy, p->dialect, c, a, scratch.get());
      if (v.action == engine::AnswerVerdict::Action::kDrop) {
        ++settled;  // not recorded: a resume sends it
        continue;
      }
      if (!v.confidence_missing.empty() && !confidence_warned_.exchange(true)) {
        SF_LOG_WARN("--confidence: row {}: {}; the confidence column is null for such rows. {}",
                    v.record.row_id, v.confidence_missing,
                    engine::LogprobsNote(plan_->facts.family));
      }
      if (v.looks_unconstrained && plan_->auto_dialect() && reprobes_.fetch_add(1) < 3) {
        Reprobe(p->dialect);  // the server ignored the constraint: learn the dialect again
      }
      if (v.action == engine::AnswerVerdict::Action::kReask) {
        stats_.output_retries.fetch_add(1);
        if (Submit(f.item, f.output_attempts + 1, v.reask_long_tokens, v.http_attempts)) continue;
      }
      v.record.latency_s = c.latency_s;
      v.record.finished_at_s =
          std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch())
              .count();
      Finish(std::move(v.record), &records);
      ++settled;
    }
    write_q_.PushBatch(records);
    records.clear();
    Settle(settled);
  }
}

Status JobImpl::OutputPass(JobReport* report) {
  const JobSpec& s = plan_->spec;
  engine::OutputLayout layout;
  layout.input = plan_->transformer->output_schema();
  layout.constraint = plan_->constraint ? &*plan_->constraint : nullptr;
  layout.output_column = s.output_column;
  layout.keep_raw = s.keep_raw;
  layout.keep_binary = s.keep_binary;
  layout.results_only = sink_->options().results_only;
  layout.row_id_column = s.row_id_column;
  layout.confidence = plan_->confidence ? &*plan_->confidence : nullptr;
  engine::OutputAssembler out(layout);
  engine::WalkOptions wo;
  wo.columns = plan_->read_columns;
  wo.batch_rows = 1024;
  wo.limit = s.limit;
  wo.shard_index = s.shard_index;
  wo.shard_count = s.shard_count;
  wo.job_fingerprint = plan_->fingerprint;
  wo.legacy_job_fingerprint = legacy_fingerprint_;
  wo.reusable_only = false;
  auto fail = [&](const Status& st) {
    sink_->Abort();
    return Status(st.code(),
                  fmt::format("writing {} failed: {}\nThe answers are kept in {}; fix the problem "
                              "and run the same command again.",
                              sink_->location(), st.message(), store_->location()));
  };
  auto walk = RowWalk::Open(*input_, *plan_->transformer, wo, store_.get());
  if (!walk.ok()) return fail(walk.status());
  if (Status st = sink_->Open(out.schema()); !st.ok()) return fail(st);
  int64_t missing = 0;
  int64_t error_rows = 0;
  WalkRow row;
  const table::RecordBatch* last_batch = nullptr;
  auto flush = [&]() -> Status {
    if (missing > 0 || out.rows() == 0) {
      (void)out.Take();
      return Status::OK();
    }
    return sink_->Write(out.Take());
  };
  while (true) {
    auto more = walk->Next(&row);
    if (!more.ok()) return fail(more.status());
    if (!*more) break;
    if (row.batch.get() != last_batch) {
      if (Status st = flush(); !st.ok()) return fail(st);
      last_batch = row.batch.get();
    }
    if (row.stored == nullptr) {
      ++missing;
      continue;
    }
    if (missing > 0) continue;  // the output will not be written; just count
    if (out.Add(*row.batch, row.row, row.row_id, *row.stored)) ++error_rows;
  }
  if (Status st = flush(); !st.ok()) return fail(st);
  if (missing > 0) {
    sink_->Abort();  // incomplete: nothing is published
    *report = MakeReport(false, error_rows);
    return Status::OK();
  }
  if (Status st = sink_->Finish(); !st.ok()) return fail(st);
  *report = MakeReport(true, error_rows);
  return Status::OK();
}

JobReport JobImpl::MakeReport(bool complete, int64_t error_rows) const {
  JobReport r;
  r.output = sink_->location();
  r.complete = complete;
  r.stopped = stop_requested_.load();
  r.model = plan_->model;
  r.dialect = plan_->constraint ? std::string(schema::DialectName(prepared()->dialect)) : "none";
  r.sent_this_run = stats_.done.load();
  r.resumed = stats_.resumed.load();
  r.succeeded = stats_.succeeded.load();
  for (int k = 0; k < kNumErrorKinds; ++k) r.errors[k] = stats_.errors[k].load();
  for (int k = 1; k < kNumErrorKinds; ++k) r.failed += r.errors[k];
  {
    std::lock_guard lock(stats_.examples_mu);
    r.error_examples = stats_.error_examples;
  }
  r.error_rows = error_rows;
  r.elapsed_s = SecondsBetween(start_, clock_->Now());
  r.requests = stats_.requests.load();
  r.http_retries = stats_.http_retries.load();
  r.output_retries = stats_.output_retries.load();
  r.latency_p50_s = stats_.latency.Percentile(0.5);
  r.latency_p90_s = stats_.latency.Percentile(0.9);
  r.latency_p99_s = stats_.latency.Percentile(0.99);
  r.prompt_tokens = stats_.prompt_tokens.load();
  r.completion_tokens = stats_.completion_tokens.load();
  r.cached_prompt_tokens = stats_.cached_tokens.load();
  r.cached_answers = stats_.cached_answers.load();
  r.bytes_sent = stats_.bytes_sent.load();
  r.bytes_received = stats_.bytes_received.load();
  if (image_cache_) {
    image::PreparedCache::Stats is = image_cache_->stats();
    r.has_images = true;
    r.images_prepared = static_cast<int64_t>(is.prepared);
    r.images_reused = static_cast<int64_t>(is.reused);
  }
  r.row_store = store_->location();
  return r;
}

}  // namespace

Result<std::shared_ptr<Engine>> Engine::Make(EngineOptions options) {
  if (options.endpoints.empty()) {
    return Status::InvalidArgument(
        "no endpoint: pass --endpoint http://127.0.0.1:8000/v1 (or set OPENAI_BASE_URL)");
  }
  if (options.log) SetLogSink(options.log);
  client::ClientOptions c;
  c.endpoints = options.endpoints;
  c.api_key = options.api_key;
  c.concurrency = options.concurrency;
  c.max_attempts = options.max_attempts;
  c.request_timeout_s = options.request_timeout_s;
  c.stall_timeout_s = options.stall_timeout_s;
  c.connect_timeout_s = options.connect_timeout_s;
  c.queue_capacity = options.request_queue;
  SF_ASSIGN_OR_RAISE(auto client, client::Client::Make(c));
  return std::shared_ptr<Engine>(
      std::make_shared<EngineImpl>(std::move(options), std::move(c), std::move(client)));
}

std::string ToJson(const JobReport& r) {
  std::string json;
  JsonWriter w(&json);
  w.BeginObject();
  w.Key("output").String(r.output).Key("complete").Bool(r.complete);
  w.Key("model").String(r.model);
  w.Key("dialect").String(r.dialect);
  w.Key("rows").BeginObject();
  w.Key("sent_this_run").Int(r.sent_this_run).Key("resumed_from_checkpoint").Int(r.resumed);
  w.Key("succeeded").Int(r.succeeded).Key("failed").Int(r.failed);
  w.EndObject();
  w.Key("errors").BeginObject();
  for (int k = 1; k < kNumErrorKinds; ++k) {
    if (r.errors[k] > 0) w.Key(ErrorKindName(static_cast<ErrorKind>(k))).Int(r.errors[k]);
  }
  w.EndObject();
  w.Key("error_examples").BeginObject();
  for (int k = 1; k < kNumErrorKinds; ++k) {
    if (!r.error_examples[k].empty()) {
      w.Key(ErrorKindName(static_cast<ErrorKind>(k))).String(r.error_examples[k]);
    }
  }
  w.EndObject();
  w.Key("elapsed_s").Double(r.elapsed_s);
  w.Key("rows_per_s").Double(r.elapsed_s > 0 ? r.sent_this_run / r.elapsed_s : 0);
  w.Key("requests").Int(r.requests).Key("http_retries").Int(r.http_retries);
  w.Key("output_retries").Int(r.output_retries);
  w.Key("latency_s").BeginObject().Key("p50").Double(r.latency_p50_s);
  w.Key("p90").Double(r.latency_p90_s).Key("p99").Double(r.latency_p99_s).EndObject();
  w.Key("tokens").BeginObject().Key("prompt").Int(r.prompt_tokens);
  w.Key("completion").Int(r.completion_tokens);
  // Only when the server reports them: prompt tokens its prefix cache held (no prefill) and
  // those it computed; "cached_answers" counts the answers that said.
  if (r.cached_answers > 0) {
    w.Key("cached_prompt").Int(r.cached_prompt_tokens);
    w.Key("computed_prompt").Int(r.prompt_tokens - r.cached_prompt_tokens);
    w.Key("cached_answers").Int(r.cached_answers);
  }
  w.EndObject();
  w.Key("bytes").BeginObject().Key("sent").Int(r.bytes_sent);
  w.Key("received").Int(r.bytes_received).EndObject();
  if (r.has_images) {
    w.Key("images").BeginObject().Key("prepared").Int(r.images_prepared);
    w.Key("reused").Int(r.images_reused).EndObject();
  }
  w.EndObject();
  return json;
}

}  // namespace structflow

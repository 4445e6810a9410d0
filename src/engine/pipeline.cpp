// RunJob: the streaming job.
//
// Threads (all owned and joined here):
//   main      reads the source, applies the transforms, skips rows the checkpoint has, and hands
//             rows to the prepare queue (bounded: reading waits for the rest of the pipeline);
//   workers   build request bodies (templates, images, JSON) and submit them to the client
//             (Submit blocks while the client is full: backpressure all the way to the reader);
//   client    one I/O thread inside client::Client;
//   parsers   take completions, parse and validate answers, re-ask on invalid output, and hand
//             finished rows to the writer;
//   writer    the only owner of the checkpoint: records rows durably in small transactions;
//   progress  the live line or periodic log line;
//   signals   turns SIGINT/SIGTERM into a graceful stop (first) or an abandon (second).
// When every row is recorded, the output pass re-reads the input with the same transforms and
// writes the output in input order from the checkpoint, to a temporary name that is renamed
// when complete.
#include <fmt/format.h>
#include <pthread.h>
#include <signal.h>
#include <simdjson.h>
#include <unistd.h>

#include <atomic>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <sstream>
#include <thread>
#include <unordered_map>

#include "client/api_key.h"
#include "client/client.h"
#include "client/server_load_poller.h"
#include "common/bounded_queue.h"
#include "common/clock.h"
#include "common/json_writer.h"
#include "common/logging.h"
#include "common/text.h"
#include "engine/checkpoint.h"
#include "engine/diagnosis.h"
#include "engine/dialect_probe.h"
#include "engine/job.h"
#include "engine/preflight.h"
#include "engine/progress.h"
#include "engine/server_info.h"
#include "engine/transform.h"
#include "image/image.h"
#include "image/prepared_cache.h"
#include "io/source.h"
#include "prompt/request_builder.h"
#include "schema/answer_prefix.h"
#include "schema/chat_completion.h"
#include "schema/constraint.h"
#include "schema/probe.h"

namespace structflow::engine {
namespace {

using table::Column;
using table::DataType;
using table::RecordBatch;
using table::TypeId;

// ---------------------------------------------------------------------------------------------
// Settings resolution.

std::string DefaultEndpoint() {
  const char* env = std::getenv("OPENAI_BASE_URL");
  return env && *env ? env : "http://127.0.0.1:8000/v1";
}

Result<std::string> ReadFile(const std::string& path, std::string_view what) {
  std::ifstream f(path, std::ios::binary);
  if (!f) return Status::NotFound(fmt::format("cannot read {} '{}': check the path", what, path));
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

bool TypeHasBinary(const table::DataType& t) {
  if (t.id() == TypeId::kBinary) return true;
  for (const auto& f : t.fields()) {
    if (TypeHasBinary(*f.type)) return true;
  }
  return false;
}

struct Shard {
  int64_t k = 0;
  int64_t n = 1;
};

Result<Shard> ParseShard(const std::string& text) {
  if (text.empty()) return Shard{};
  size_t slash = text.find('/');
  try {
    if (slash != std::string::npos) {
      Shard s{std::stoll(text.substr(0, slash)), std::stoll(text.substr(slash + 1))};
      if (s.n >= 1 && s.k >= 0 && s.k < s.n) return s;
    }
  } catch (...) {
  }
  return Status::InvalidArgument(fmt::format(
      "--shard '{}': expected K/N with 0 <= K < N, e.g. --shard 0/4 on the first of four machines",
      text));
}

// A schema with keywords no server can enforce runs with them checked here only (said once), or
// is refused under --schema-strict.
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

// Hashes a cell's value (binary bytes directly, without encoding), for row fingerprints.
uint64_t HashCell(const Column& c, int64_t row, uint64_t h) {
  if (c.IsNull(row)) return Fingerprint("\x00null", h);
  switch (c.type_id()) {
    case TypeId::kString:
    case TypeId::kBinary:
      return Fingerprint(c.GetBytes(row), Fingerprint("\x01", h));
    case TypeId::kFloat:
    case TypeId::kDouble: {
      double v = c.GetDouble(row);
      return Fingerprint(std::string_view(reinterpret_cast<const char*>(&v), sizeof v), h);
    }
    case TypeId::kList:
    case TypeId::kMap: {
      auto [b, e] = c.ListRange(row);
      h = Fingerprint("[", h);
      for (int64_t k = b; k < e; ++k) h = HashCell(c.child(0), k, h);
      return Fingerprint("]", h);
    }
    case TypeId::kStruct: {
      h = Fingerprint("{", h);
      for (int k = 0; k < c.num_children(); ++k) h = HashCell(c.child(k), row, h);
      return Fingerprint("}", h);
    }
    case TypeId::kNull:
      return h;
    default: {
      int64_t v = c.GetInt(row);
      return Fingerprint(std::string_view(reinterpret_cast<const char*>(&v), sizeof v), h);
    }
  }
}

uint64_t RowFingerprint(const RecordBatch& b, int64_t row, uint64_t job_fp) {
  uint64_t h = job_fp;
  for (const auto& c : b.columns) h = HashCell(c, row, h);
  return h;
}

// ---------------------------------------------------------------------------------------------
// The job.

struct WorkItem {
  std::shared_ptr<const RecordBatch> batch;
  int64_t row = 0;
  int64_t row_id = 0;
  uint64_t fingerprint = 0;
};

struct InFlight {
  WorkItem item;
  int output_attempts = 0;
  int http_attempts = 0;
  bool truncated_retry = false;
};

// The prepared request side; swapped atomically when `auto` switches dialect.
struct Prepared {
  schema::Dialect dialect;
  std::shared_ptr<const prompt::RequestBuilder> builder;
  std::shared_ptr<const prompt::RequestBuilder> builder_long;  // doubled max_tokens, for truncation
};

class Job {
 public:
  explicit Job(JobConfig cfg) : cfg_(std::move(cfg)) {}
  int Run();

 private:
  Status Setup();
  Status ResolveModel();
  Result<Prepared> MakePrepared(schema::Dialect dialect);
  Status ChooseDialect();
  // Asks the server which structured-output dialect it honours (a cheap probe request).
  Result<schema::Dialect> Probe();
  Status PrintDryRun();
  Status RequestPass();
  Status OutputPass(bool* complete, int64_t* error_rows);
  void WorkerLoop();
  void ParserLoop();
  void WriterLoop();
  void ProgressLoop();
  // Counts a finished row and hands its record to the writer: at once, or by appending it to
  // `batch` for the caller to push (and then Settle) with the rest of its batch.
  void Finish(WorkItem item, RowRecord record, std::vector<RowRecord>* batch = nullptr);
  // Rows handed to the workers are finished (recorded or dropped for a later resume).
  void Settle(int64_t rows = 1);
  // Builds the row's request and hands it to the client. A re-ask (output_attempts > 0) comes
  // from a parser thread and goes through Client::Resubmit, which never blocks: a parser
  // blocked on a full queue could stop the completions that would empty it.
  // `http_attempts`: the requests this row has used so far (a re-ask carries them on, so the
  // row's error counts every request sent for it).
  bool Submit(const WorkItem& item, int output_attempts, bool long_tokens, std::string* err,
              int http_attempts = 0);
  std::shared_ptr<const Prepared> prepared() const {
    std::lock_guard lock(prepared_mu_);
    return prepared_;
  }
  void RequestStop(bool abandon);
  void FailFast(const RowError& e);
  Status WriteStats(double elapsed_s, bool complete);
  table::Schema OutputSchema() const;

  JobConfig cfg_;
  std::vector<std::string> endpoints_;
  std::string api_key_;
  std::string prompt_;
  std::optional<schema::Constraint> constraint_;
  schema::Dialect dialect_ = schema::Dialect::kAuto;
  bool auto_dialect_ = false;
  Shard shard_;
  std::vector<ExtractSpec> extracts_;
  table::Schema input_schema_;
  std::vector<std::string> read_columns_;
  std::optional<Transformer> transformer_;
  std::string base_dir_;
  uint64_t job_fp_ = 0;
  client::ClientOptions client_options_;
  std::unique_ptr<client::Client> client_;
  // The same client, for the signal thread (which may fire while the main thread sets client_).
  std::atomic<client::Client*> client_for_signals_{nullptr};
  std::unique_ptr<Checkpoint> checkpoint_;
  std::unordered_map<int64_t, uint64_t> done_;
  ServerFacts facts_;      // what the server said about itself (preflight)
  StopSource probe_stop_;  // cancels the preflight and probe requests at once (Ctrl-C)

  mutable std::mutex prepared_mu_;
  std::shared_ptr<const Prepared> prepared_;
  std::shared_ptr<image::PreparedCache> image_cache_;  // null without images or --image-cache-mb 0
  std::atomic<int> reprobes_{0};

  BoundedQueue<WorkItem> prepare_q_{512};
  BoundedQueue<RowRecord> write_q_{4096};
  std::mutex inflight_mu_;
  std::unordered_map<int64_t, InFlight> inflight_;
  std::atomic<int64_t> pending_rows_{0};  // handed to workers, not yet finished or dropped

  JobCounters counters_;
  std::atomic<bool> stop_{false};     // stop reading; let in-flight finish
  std::atomic<bool> abandon_{false};  // second Ctrl-C: cancel in-flight
  std::atomic<bool> failed_fast_{false};
  std::mutex fail_mu_;
  static constexpr size_t kFailFastRows = 16;
  // Hand-off sizes: rows per slice from the reader, rows a worker takes at once, completions a
  // parser takes at once, records the writer takes at once. Small next to the queues' capacities,
  // so every thread keeps getting work; large enough that a hand-off costs little per row.
  static constexpr size_t kSliceRows = 64;
  static constexpr size_t kWorkerTake = 16;
  static constexpr size_t kParserTake = 64;
  static constexpr size_t kWriterTake = 256;
  // The writer commits when its queue runs dry, but not within this long of its last commit.
  static constexpr std::chrono::milliseconds kCommitGap{20};
  std::vector<RowError> first_results_;
  bool fail_window_closed_ = false;
  std::mutex settle_mu_;
  std::condition_variable settle_cv_;
  std::string fail_fast_message_;
  Status writer_status_;
  Clock::TimePoint start_;
  std::mutex progress_mu_;
  std::condition_variable progress_cv_;
  bool progress_done_ = false;
};

Status Job::Setup() {
  if (cfg_.inputs.empty())
    return Status::InvalidArgument("no input: give one or more files, globs or folders");
  if (cfg_.out.empty())
    return Status::InvalidArgument("no output: pass --out results.parquet (or .jsonl, .csv)");
  endpoints_ =
      cfg_.endpoints.empty() ? std::vector<std::string>{DefaultEndpoint()} : cfg_.endpoints;
  if (!cfg_.prompt_file.empty()) {
    SF_ASSIGN_OR_RAISE(prompt_, ReadFile(cfg_.prompt_file, "--prompt-file"));
  } else {
    prompt_ = cfg_.prompt;
  }
  if (prompt_.empty()) {
    return Status::InvalidArgument(
        "no prompt: pass --prompt 'Question: {question}' (column names in braces) or --prompt-file "
        "FILE");
  }
  if (!cfg_.schema_file.empty()) {
    SF_ASSIGN_OR_RAISE(auto c, schema::Constraint::FromSchemaFile(cfg_.schema_file));
    constraint_ = std::move(c);
    SF_RETURN_NOT_OK(CheckLocalOnlyKeywords(*constraint_, cfg_.schema_file, cfg_.schema_strict));
  } else if (!cfg_.choices.empty()) {
    SF_ASSIGN_OR_RAISE(auto c, schema::Constraint::FromChoices(cfg_.choices));
    constraint_ = std::move(c);
  } else if (!cfg_.regex.empty()) {
    SF_ASSIGN_OR_RAISE(auto c, schema::Constraint::FromRegex(cfg_.regex));
    constraint_ = std::move(c);
  }
  SF_ASSIGN_OR_RAISE(dialect_, schema::ParseDialect(cfg_.dialect));
  auto_dialect_ = dialect_ == schema::Dialect::kAuto;
  SF_ASSIGN_OR_RAISE(shard_, ParseShard(cfg_.shard));
  for (const auto& e : cfg_.extract) {
    SF_ASSIGN_OR_RAISE(auto spec, ExtractSpec::Parse(e));
    extracts_.push_back(std::move(spec));
  }

  // Open once for the schema, then decide which columns to read: binary columns that nothing
  // uses are never read (an image column costs nothing unless used).
  {
    SF_ASSIGN_OR_RAISE(auto probe, io::OpenSource(cfg_.inputs));
    input_schema_ = probe->schema();
    base_dir_ = probe->base_dir();
  }
  for (const auto& f : input_schema_.fields) {
    bool used = cfg_.keep_binary || !TypeHasBinary(*f.type);
    auto mentions = [&](const std::string& s) { return s.find(f.name) != std::string::npos; };
    for (const auto& p : cfg_.images) used = used || mentions(p);
    used = used || mentions(prompt_);
    for (const auto& e : extracts_) used = used || mentions(e.source);
    for (const auto& e : cfg_.explode) used = used || e == f.name;
    if (used) read_columns_.push_back(f.name);
  }
  table::Schema projected;
  for (const auto& name : read_columns_)
    projected.fields.push_back(input_schema_.fields[input_schema_.FieldIndex(name)]);
  SF_ASSIGN_OR_RAISE(auto t, Transformer::Make(projected, cfg_.explode, extracts_));
  transformer_ = std::move(t);

  client::ClientOptions& copts = client_options_;
  copts.endpoints = endpoints_;
  SF_ASSIGN_OR_RAISE(copts.api_key, client::ResolveApiKey(cfg_.api_key, cfg_.api_key_file));
  copts.concurrency = cfg_.concurrency;
  copts.max_attempts = cfg_.max_attempts;
  copts.request_timeout_s = cfg_.request_timeout_s;
  copts.stall_timeout_s = cfg_.stall_timeout_s;
  copts.connect_timeout_s = cfg_.connect_timeout_s;
  // Bodies ready for the I/O thread beyond those in flight: with images each is ~100 KB, and a
  // few dozen keep up with any server while holding memory down.
  if (!cfg_.images.empty()) copts.queue_capacity = 64;
  if (!cfg_.dry_run) {
    SF_ASSIGN_OR_RAISE(client_, client::Client::Make(copts));
    client_for_signals_.store(client_.get());
    SF_ASSIGN_OR_RAISE(
        facts_,
        RunPreflight(copts, {cfg_.model, !cfg_.images.empty(), cfg_.max_tokens}, &probe_stop_));
    SF_RETURN_NOT_OK(ResolveModel());
  } else if (cfg_.model.empty()) {
    cfg_.model = "MODEL";
  }

  // The job fingerprint: everything that changes what a row's answer means.
  std::string key;
  JsonWriter w(&key);
  w.BeginArray().String(cfg_.model).String(prompt_).String(cfg_.system);
  for (const auto& i : cfg_.images) w.String(i);
  w.String(constraint_ ? constraint_->RequestMembers(schema::Dialect::kVllm) : "");
  // Keywords checked only here are not in the request; the answer's meaning still depends on them.
  if (constraint_ && !constraint_->local_only_keywords().empty()) {
    w.String(constraint_->schema_json());
  }
  w.Int(cfg_.max_tokens)
      .Double(cfg_.temperature)
      .Int(cfg_.seed.value_or(-1))
      .Int(cfg_.image_max_side);
  w.Int(cfg_.image_max_pixels).String(cfg_.image_format).Int(cfg_.image_quality);
  for (const auto& e : cfg_.explode) w.String(e);
  // The image before the question changes the prompt; text-first (the old order) adds nothing,
  // so checkpoints written before the option existed resume with --image-position last.
  if (!cfg_.images.empty() && cfg_.image_position != "last") w.String("image-first");
  w.EndArray();
  job_fp_ = Fingerprint(key);
  return Status::OK();
}

Status Job::ResolveModel() {
  if (!cfg_.model.empty()) return Status::OK();
  const std::vector<ModelInfo>& models = facts_.models;
  if (models.size() == 1) {
    cfg_.model = models[0].id;
    return Status::OK();
  }
  if (models.empty()) {
    return Status::Unavailable(
        fmt::format("{} serves no models; start it with a model, or pass --model", endpoints_[0]));
  }
  return Status::InvalidArgument(fmt::format("{} serves several models ({}); pick one with --model",
                                             endpoints_[0], ModelNames(models)));
}

Result<Prepared> Job::MakePrepared(schema::Dialect dialect) {
  prompt::RequestOptions ro;
  ro.model = cfg_.model;
  ro.system_prompt = cfg_.system;
  ro.max_tokens = cfg_.max_tokens;
  ro.temperature = cfg_.temperature;
  ro.seed = cfg_.seed;
  ro.fetch_images = cfg_.fetch_images;
  ro.fetch.timeout_ms = std::lround(cfg_.fetch_timeout_s * 1000);
  ro.fetch.cancel = &stop_;
  ro.image_max_bytes = static_cast<size_t>(cfg_.image_max_bytes);
  ro.image_root = cfg_.image_root;
  SF_ASSIGN_OR_RAISE(ro.image_position, prompt::ParseImagePosition(cfg_.image_position));
  if (constraint_) ro.extra_members_json = constraint_->RequestMembers(dialect);
  image::ImagePolicy policy;
  policy.max_side = cfg_.image_max_side;
  policy.max_pixels = cfg_.image_max_pixels;
  SF_ASSIGN_OR_RAISE(policy.format, image::ParseOutputFormat(cfg_.image_format));
  policy.quality = cfg_.image_quality;
  if (!cfg_.images.empty() && cfg_.image_cache_mb > 0) {
    // One cache for the job's life: the builders made again after a re-probe keep it.
    if (!image_cache_) {
      image_cache_ = std::make_shared<image::PreparedCache>(
          static_cast<size_t>(cfg_.image_cache_mb) << 20, policy);
    }
    ro.image_cache = image_cache_;
  }
  Prepared p;
  p.dialect = dialect;
  SF_ASSIGN_OR_RAISE(
      auto b, prompt::RequestBuilder::Make(prompt_, cfg_.images, transformer_->output_schema(), ro,
                                           policy, base_dir_));
  p.builder = std::make_shared<const prompt::RequestBuilder>(std::move(b));
  ro.max_tokens = cfg_.max_tokens * 2;
  SF_ASSIGN_OR_RAISE(
      auto bl, prompt::RequestBuilder::Make(prompt_, cfg_.images, transformer_->output_schema(), ro,
                                            policy, base_dir_));
  p.builder_long = std::make_shared<const prompt::RequestBuilder>(std::move(bl));
  return p;
}

Result<schema::Dialect> Job::Probe() {
  return ProbeServerDialect(client_options_, cfg_.model, *constraint_,
                            {facts_.family, !cfg_.images.empty(), 15}, &probe_stop_);
}

Status Job::ChooseDialect() {
  schema::Dialect d = dialect_;
  if (constraint_ && auto_dialect_ && !client_) {
    d = schema::Dialect::kVllm;  // --dry-run sends nothing, so it cannot probe
  } else if (constraint_ && auto_dialect_) {
    auto remembered = checkpoint_ ? checkpoint_->GetMeta("dialect")
                                  : Result<std::optional<std::string>>(std::nullopt);
    if (remembered.ok() && remembered->has_value()) {
      SF_ASSIGN_OR_RAISE(d, schema::ParseDialect(**remembered));
    } else {
      auto probed = Probe();
      if (!probed.ok() && ProbeErrorEndsJob(probed.status())) {
        return probed.status();  // a refusal no dialect changes, a stop, or a hung server
      } else if (!probed.ok()) {
        d = DialectsToTry(facts_.family)[0];
        SF_LOG_WARN(
            "could not learn the structured-output dialect ({}); using {}. Pass --dialect "
            "to choose.",
            probed.status().message(), schema::DialectName(d));
      } else {
        d = *probed;
      }
    }
  }
  if (d == schema::Dialect::kAuto) d = schema::Dialect::kVllm;
  SF_ASSIGN_OR_RAISE(auto p, MakePrepared(d));
  std::lock_guard lock(prepared_mu_);
  prepared_ = std::make_shared<const Prepared>(std::move(p));
  return Status::OK();
}

Status Job::PrintDryRun() {
  SF_ASSIGN_OR_RAISE(auto source, io::OpenSource(cfg_.inputs, io::ReadOptions{read_columns_, 64}));
  std::string body;
  auto p = prepared();
  while (true) {
    SF_ASSIGN_OR_RAISE(auto batch, source->Next());
    if (!batch) break;
    RecordBatch b = transformer_->Apply(std::move(*batch));
    if (b.num_rows() == 0) continue;
    RowError e = p->builder->Build(b, 0, &body);
    if (!e.ok())
      return Status::InvalidArgument(
          fmt::format("row 0: {}: {}", ErrorKindName(e.kind), e.message));
    break;
  }
  std::printf("structflow run --dry-run: nothing will be sent.\n\n");
  std::printf("endpoints:   ");
  for (const auto& e : endpoints_) std::printf("%s ", e.c_str());
  std::printf("\nmodel:       %s\n", cfg_.model.c_str());
  std::printf("dialect:     %s%s\n", std::string(schema::DialectName(p->dialect)).c_str(),
              auto_dialect_ ? " (auto: the real run probes the server first)" : "");
  std::printf("output:      %s (column '%s' is %s)\n", cfg_.out.c_str(), cfg_.as.c_str(),
              constraint_ ? constraint_->OutputType()->ToString().c_str() : "string");
  std::printf("concurrency: %s\n",
              cfg_.concurrency > 0 ? std::to_string(cfg_.concurrency).c_str() : "adaptive");
  std::printf("\ncolumns after transforms:\n%s", transformer_->output_schema().ToString().c_str());
  std::printf("\nfirst request body:\n%s\n", prompt::AbbreviateBody(body).c_str());
  return Status::OK();
}

bool Job::Submit(const WorkItem& item, int output_attempts, bool long_tokens, std::string* err,
                 int http_attempts) {
  auto p = prepared();
  std::string body;
  RowError e = (long_tokens ? p->builder_long : p->builder)->Build(*item.batch, item.row, &body);
  // An image fetch cut short by the stop: the row is dropped unrecorded, so a resume sends it.
  if (e.kind == ErrorKind::kCancelled) return false;
  if (!e.ok()) {
    e.message = fmt::format("row {}: {}", item.row_id, e.message);
    RowRecord r;
    r.row_id = item.row_id;
    r.fingerprint = item.fingerprint;
    r.error = std::move(e);
    Finish(item, std::move(r));
    return true;
  }
  {
    std::lock_guard lock(inflight_mu_);
    auto& f = inflight_[item.row_id];
    f.item = item;
    f.output_attempts = output_attempts;
    f.truncated_retry = long_tokens;
    f.http_attempts = http_attempts;
  }
  client::Request request{static_cast<uint64_t>(item.row_id), "/chat/completions", std::move(body),
                          client::Method::kPost};
  const bool reask = output_attempts > 0 || long_tokens;
  if (!(reask ? client_->Resubmit(std::move(request)) : client_->Submit(std::move(request)))) {
    std::lock_guard lock(inflight_mu_);
    inflight_.erase(item.row_id);
    if (err) *err = "client closed";
    return false;
  }
  return true;
}

void Job::Finish(WorkItem item, RowRecord record, std::vector<RowRecord>* batch) {
  (void)item;
  counters_.errors[static_cast<int>(record.error.kind)].fetch_add(record.error.ok() ? 0 : 1);
  if (record.error.ok()) counters_.succeeded.fetch_add(1);
  counters_.prompt_tokens.fetch_add(record.prompt_tokens);
  counters_.completion_tokens.fetch_add(record.completion_tokens);
  if (cfg_.fail_fast && !failed_fast_.load()) {
    std::lock_guard lock(fail_mu_);
    if (!fail_window_closed_) {
      const RowError& e = record.error;
      if (e.ok() || e.kind == ErrorKind::kCancelled ||
          (!first_results_.empty() &&
           (e.kind != first_results_[0].kind || e.http_status != first_results_[0].http_status))) {
        fail_window_closed_ = true;
      } else {
        first_results_.push_back(e);
        if (first_results_.size() >= kFailFastRows) FailFast(first_results_[0]);
      }
    }
  }
  if (batch != nullptr) {
    batch->push_back(std::move(record));
    return;
  }
  write_q_.Push(record);
  Settle();
}

void Job::Settle(int64_t rows) {
  if (rows > 0 && pending_rows_.fetch_sub(rows) == rows) {
    std::lock_guard lock(settle_mu_);
    settle_cv_.notify_all();
  }
}

void Job::FailFast(const RowError& e) {
  if (failed_fast_.exchange(true)) return;
  fail_fast_message_ = fmt::format(
      "the first {} rows all failed the same way, so the job stopped early instead of failing "
      "every row.\n"
      "  error: {}{}: {}\n  fix:   {}",
      first_results_.size(), ErrorKindName(e.kind),
      e.http_status ? fmt::format(" (HTTP {})", e.http_status) : "", EscapeControl(e.message),
      AdviseFix(e, DiagnosisContextFor(facts_, cfg_.model, !cfg_.images.empty())));
  RequestStop(/*abandon=*/true);
}

void Job::RequestStop(bool abandon) {
  stop_.store(true);
  probe_stop_.Stop();
  if (client::Client* c = client_for_signals_.load(); c && !abandon) c->StopSending();
  if (abandon) {
    abandon_.store(true);
    if (client::Client* c = client_for_signals_.load()) c->Cancel();
  }
  prepare_q_.Close();
}

void Job::WorkerLoop() {
  std::vector<WorkItem> items;
  while (prepare_q_.PopBatch(&items, kWorkerTake) > 0) {
    for (const WorkItem& item : items) {
      // After a stop, rows not yet sent are dropped unrecorded: a resume sends them.
      std::string err;
      if (stop_.load() || !Submit(item, 0, false, &err)) Settle();
    }
    items.clear();
  }
}

void Job::ParserLoop() {
  // Completions come in batches (one lock and one wake-up each); their records go to the writer
  // in one push, and the rows are settled after it: the main thread closes the client once every
  // row is settled.
  std::vector<client::Completion> completions;
  std::vector<RowRecord> records;
  size_t next = 0;
  int64_t settled = 0;
  while (true) {
    if (next == completions.size()) {
      write_q_.PushBatch(records);
      records.clear();
      Settle(settled);
      settled = 0;
      completions.clear();
      next = 0;
      if (client_->NextCompletions(&completions, kParserTake) == 0) break;
    }
    client::Completion* c = &completions[next++];
    InFlight f;
    {
      std::lock_guard lock(inflight_mu_);
      auto it = inflight_.find(static_cast<int64_t>(c->id));
      if (it == inflight_.end()) continue;  // cannot happen: every id is registered before Submit
      f = std::move(it->second);
      inflight_.erase(it);
    }
    RowRecord r;
    r.row_id = f.item.row_id;
    r.fingerprint = f.item.fingerprint;
    f.http_attempts += c->attempts;
    r.error = c->error;
    r.latency_s = c->latency_s;
    r.finished_at_s =
        std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
    if (r.error.kind == ErrorKind::kCancelled) {
      ++settled;
      continue;  // not recorded: a resume sends it
    }
    if (r.error.ok()) {
      auto answer = schema::ParseChatCompletion(c->body);
      if (!answer.ok()) {
        r.error =
            RowError{ErrorKind::kInvalidResponse, answer.status().message(), c->http_status, 0};
      } else {
        r.prompt_tokens = answer->prompt_tokens;
        r.completion_tokens = answer->completion_tokens;
        r.raw = std::move(answer->content);
        auto p = prepared();
        r.dialect = std::string(schema::DialectName(p->dialect));
        bool retry = false;
        bool long_tokens = f.truncated_retry;
        // Cut at max_tokens: re-asked with more tokens only while it could still become an
        // answer that fits; one that fits no allowed value means the constraint was ignored.
        if (answer->finish_reason == "length" &&
            (!constraint_ || schema::IsViablePrefix(*constraint_, p->dialect, r.raw))) {
          r.error =
              RowError{ErrorKind::kTruncated,
                       fmt::format("the answer was cut at max_tokens ({}); raise --max-tokens",
                                   f.truncated_retry ? cfg_.max_tokens * 2 : cfg_.max_tokens),
                       c->http_status, 0};
          if (cfg_.retry_truncated && !f.truncated_retry && !abandon_.load()) {
            retry = true;
            long_tokens = true;
          }
        } else if (constraint_) {
          thread_local std::unique_ptr<Column> scratch;
          if (!scratch || !scratch->type()->Equals(*constraint_->OutputType())) {
            scratch = std::make_unique<Column>(constraint_->OutputType());
          }
          if (scratch->length() > 4096)
            scratch = std::make_unique<Column>(constraint_->OutputType());
          auto pr = constraint_->ParseInto(r.raw, p->dialect, scratch.get());
          if (!pr.error.ok()) {
            r.error = pr.error;
            r.error.http_status = c->http_status;
            if (pr.looks_unconstrained && auto_dialect_ && reprobes_.fetch_add(1) < 3) {
              // The server ignored the constraint: learn the dialect again and re-ask.
              auto d = Probe();
              if (d.ok() && *d != p->dialect) {
                auto np = MakePrepared(*d);
                if (np.ok()) {
                  SF_LOG_WARN("the server ignored the {} dialect; switching to {}",
                              schema::DialectName(p->dialect), schema::DialectName(*d));
                  std::lock_guard lock(prepared_mu_);
                  prepared_ = std::make_shared<const Prepared>(std::move(*np));
                }
              }
            }
            if (f.output_attempts < cfg_.max_output_retries && !abandon_.load()) retry = true;
          }
        }
        if (retry) {
          counters_.output_retries.fetch_add(1);
          std::string err;
          if (Submit(f.item, f.output_attempts + 1, long_tokens, &err, f.http_attempts)) continue;
        }
      }
    }
    r.error.attempts = f.http_attempts;
    if (!r.error.ok() && r.error.message.find("row ") != 0) {
      r.error.message = fmt::format("row {}: {}", r.row_id, r.error.message);
    }
    Finish(f.item, std::move(r), &records);
    ++settled;
  }
}

void Job::WriterLoop() {
  auto last_commit = SystemClock()->Now();
  std::vector<RowRecord> records;
  // A checkpoint that cannot be written (disk full, I/O error) stops the job at once: answers
  // arriving after it could not be kept, so sending more only wastes the server's work. Rows
  // already committed stay; a resume sends the rest.
  auto failed = [this](const Status& st) {
    if (st.ok() || !writer_status_.ok()) return;
    writer_status_ = st;
    RequestStop(/*abandon=*/true);
  };
  while (true) {
    records.clear();
    if (write_q_.TryPopBatch(&records, kWriterTake) == 0) {
      // Nothing waiting: make what we have durable, then block for more. Rows come in bursts
      // (a parser's batch at a time), so first give the next burst a moment to join this
      // transaction: a commit (an fsync) per burst was most of the writer's time.
      auto since = SystemClock()->Now() - last_commit;
      bool more = checkpoint_->pending() > 0 && since < kCommitGap &&
                  write_q_.PopBatchFor(&records, kWriterTake, kCommitGap - since) > 0;
      if (!more) {
        if (checkpoint_->pending() > 0) {
          failed(checkpoint_->Commit());
          last_commit = SystemClock()->Now();
        }
        if (write_q_.PopBatch(&records, kWriterTake) == 0) break;
      }
    }
    for (const RowRecord& r : records) {
      failed(checkpoint_->Put(r));
      if (checkpoint_->pending() >= 1024) {
        failed(checkpoint_->Commit());
        last_commit = SystemClock()->Now();
      }
    }
    counters_.done.fetch_add(static_cast<int64_t>(records.size()));
    auto now = SystemClock()->Now();
    if (now - last_commit > std::chrono::milliseconds(100)) {
      failed(checkpoint_->Commit());
      last_commit = now;
    }
  }
  failed(checkpoint_->Commit());
}

void Job::ProgressLoop() {
  bool tty = cfg_.progress == "tty" ||
             (cfg_.progress == "auto" && ::isatty(STDERR_FILENO) && !std::getenv("CI"));
  if (cfg_.progress == "off") tty = false;
  double interval = cfg_.progress_interval_s > 0 ? cfg_.progress_interval_s : (tty ? 0.5 : 5.0);
  std::unique_lock lock(progress_mu_);
  while (!progress_done_) {
    progress_cv_.wait_for(lock, std::chrono::duration<double>(interval));
    if (progress_done_ || cfg_.progress == "off") break;
    LiveFigures live;
    auto stats = client_->stats();
    live.in_flight = client_->in_flight();
    live.http_retries = stats.retries;
    std::string line =
        RenderProgress(counters_, live, SecondsBetween(start_, SystemClock()->Now()));
    if (tty) {
      std::fprintf(stderr, "\r\033[K%s", line.c_str());
    } else {
      std::fprintf(stderr, "[structflow] %s\n", line.c_str());
    }
    std::fflush(stderr);
  }
  if (tty) std::fprintf(stderr, "\r\033[K");
}

Status Job::RequestPass() {
  // Adaptive concurrency follows the server's size and queue (client/server_load_poller.h); it
  // learns the size before the first request goes out.
  std::unique_ptr<client::ServerLoadPoller> server_load;
  if (cfg_.concurrency <= 0) {
    client::ServerLoadPollerOptions po;
    po.endpoints = client_options_.endpoints;
    po.api_key = client_options_.api_key;
    po.verify_tls = client_options_.verify_tls;
    po.user_agent = client_options_.user_agent;
    auto poller = client::ServerLoadPoller::Start(std::move(po), client_.get());
    if (poller.ok()) server_load = std::move(*poller);
  }
  // Fetching image URLs, a worker mostly waits on the network: more workers keep rows going
  // while some wait on slow or unreachable hosts (each for at most --fetch-timeout).
  const int workers = cfg_.workers > 0
                          ? cfg_.workers
                          : static_cast<int>(std::max(2u, std::thread::hardware_concurrency()) *
                                             (cfg_.fetch_images ? 4 : 1));
  std::vector<std::thread> worker_threads;
  for (int i = 0; i < workers; ++i) worker_threads.emplace_back([this] { WorkerLoop(); });
  std::vector<std::thread> parser_threads;
  for (int i = 0; i < 2; ++i) parser_threads.emplace_back([this] { ParserLoop(); });
  std::thread writer([this] { WriterLoop(); });
  std::thread progress([this] { ProgressLoop(); });

  Status read_status;
  int64_t row_id = 0;
  int64_t to_do = 0;
  bool at_limit = false;
  {
    auto source = io::OpenSource(cfg_.inputs, io::ReadOptions{read_columns_, 256});
    if (!source.ok()) read_status = source.status();
    // When the input says how many rows it has (Parquet) and no --explode changes that, show
    // a total and an ETA from the start; otherwise the total appears once reading is done.
    if (source.ok() && cfg_.explode.empty()) {
      if (std::optional<int64_t> n = (*source)->num_rows()) {
        int64_t rows = cfg_.limit >= 0 ? std::min(*n, cfg_.limit) : *n;
        rows = (rows + shard_.n - 1 - shard_.k) / shard_.n;
        counters_.total.store(std::max<int64_t>(0, rows - static_cast<int64_t>(done_.size())));
      }
    }
    // Rows go to the workers in slices: one lock and at most one wake-up per slice.
    std::vector<WorkItem> slice;
    auto hand_out = [&] {
      const size_t pushed = prepare_q_.PushBatch(slice);
      const bool all = pushed == slice.size();
      if (!all) pending_rows_.fetch_sub(static_cast<int64_t>(slice.size() - pushed));
      slice.clear();
      return all;
    };
    while (read_status.ok() && !stop_.load() && !at_limit) {
      auto batch = (*source)->Next();
      if (!batch.ok()) {
        read_status = batch.status();
        break;
      }
      if (!batch->has_value()) break;
      auto b = std::make_shared<const RecordBatch>(transformer_->Apply(std::move(**batch)));
      for (int64_t r = 0; r < b->num_rows() && !stop_.load(); ++r, ++row_id) {
        if (cfg_.limit >= 0 && row_id >= cfg_.limit) {
          at_limit = true;
          break;
        }
        if (row_id % shard_.n != shard_.k) continue;
        uint64_t fp = RowFingerprint(*b, r, job_fp_);
        auto it = done_.find(row_id);
        if (it != done_.end() && it->second == fp) {
          counters_.resumed.fetch_add(1);
          continue;
        }
        ++to_do;
        pending_rows_.fetch_add(1);
        slice.push_back(WorkItem{b, r, row_id, fp});
        if (slice.size() >= kSliceRows && !hand_out()) break;
      }
      if (!slice.empty()) hand_out();
    }
  }
  if (!stop_.load()) counters_.total.store(to_do);
  prepare_q_.Close();
  for (auto& t : worker_threads) t.join();
  // Parsers may still re-ask (invalid output, truncation): close the client only once every
  // row handed out is finished or dropped.
  {
    std::unique_lock lock(settle_mu_);
    settle_cv_.wait(lock, [&] { return pending_rows_.load() == 0; });
  }
  client_->Close();
  for (auto& t : parser_threads) t.join();
  write_q_.Close();
  writer.join();
  {
    std::lock_guard lock(progress_mu_);
    progress_done_ = true;
  }
  progress_cv_.notify_all();
  progress.join();
  if (server_load) server_load->Stop();
  SF_RETURN_NOT_OK(read_status);
  return writer_status_;
}

table::Schema Job::OutputSchema() const {
  table::Schema s;
  for (const auto& f : transformer_->output_schema().fields) {
    if (cfg_.keep_binary || !TypeHasBinary(*f.type)) s.fields.push_back(f);
  }
  s.fields.push_back({cfg_.as, constraint_ ? constraint_->OutputType() : DataType::String(), true});
  if (cfg_.keep_raw) s.fields.push_back({cfg_.as + "_raw", DataType::String(), true});
  s.fields.push_back({"error",
                      DataType::Struct({{"kind", DataType::String(), false},
                                        {"message", DataType::String(), false},
                                        {"http_status", DataType::Int32(), true},
                                        {"attempts", DataType::Int32(), false}}),
                      true});
  return s;
}

Status Job::OutputPass(bool* complete, int64_t* error_rows) {
  *complete = false;
  *error_rows = 0;
  table::Schema out_schema = OutputSchema();
  SF_ASSIGN_OR_RAISE(auto source,
                     io::OpenSource(cfg_.inputs, io::ReadOptions{read_columns_, 1024}));
  SF_ASSIGN_OR_RAISE(auto cursor, checkpoint_->Scan(0));
  std::unique_ptr<io::Sink> sink;
  std::optional<RowRecord> rec;
  auto next_rec = [&]() -> Status {
    SF_ASSIGN_OR_RAISE(rec, cursor->Next());
    return Status::OK();
  };
  SF_RETURN_NOT_OK(next_rec());
  SF_ASSIGN_OR_RAISE(sink, io::OpenSink(cfg_.out, out_schema));
  int64_t row_id = 0;
  int64_t missing = 0;
  bool at_limit = false;
  const int n_in = static_cast<int>(out_schema.fields.size()) - (cfg_.keep_raw ? 3 : 2);
  while (!at_limit) {
    SF_ASSIGN_OR_RAISE(auto batch, source->Next());
    if (!batch) break;
    RecordBatch b = transformer_->Apply(std::move(*batch));
    RecordBatch out = RecordBatch::Empty(out_schema);
    for (int64_t r = 0; r < b.num_rows(); ++r, ++row_id) {
      if (cfg_.limit >= 0 && row_id >= cfg_.limit) {
        at_limit = true;
        break;
      }
      if (row_id % shard_.n != shard_.k) continue;
      while (rec && rec->row_id < row_id) SF_RETURN_NOT_OK(next_rec());
      uint64_t fp = RowFingerprint(b, r, job_fp_);
      if (!rec || rec->row_id != row_id || rec->fingerprint != fp) {
        ++missing;
        continue;
      }
      if (missing > 0) continue;  // the output will not be written; just count
      int col = 0;
      for (int c = 0; c < b.num_columns(); ++c) {
        if (cfg_.keep_binary || !TypeHasBinary(*b.schema.fields[c].type))
          out.columns[col++].AppendFrom(b.columns[c], r);
      }
      (void)n_in;
      Column& result = out.columns[col++];
      RowError err = rec->error;
      if (err.ok()) {
        if (constraint_) {
          auto d = schema::ParseDialect(rec->dialect);
          auto pr = constraint_->ParseInto(rec->raw, d.ok() ? *d : schema::Dialect::kVllm, &result);
          if (!pr.error.ok()) {
            err = pr.error;
            result.AppendNull();
          }
        } else {
          result.AppendBytes(rec->raw);
        }
      } else {
        result.AppendNull();
      }
      if (cfg_.keep_raw) {
        Column& raw = out.columns[col++];
        if (rec->raw.empty() && !rec->error.ok())
          raw.AppendNull();
        else
          raw.AppendBytes(rec->raw);
      }
      Column& e = out.columns[col++];
      if (!err.ok()) ++*error_rows;
      if (err.ok()) {
        e.AppendNull();
      } else {
        e.child(0).AppendBytes(ErrorKindName(err.kind));
        e.child(1).AppendBytes(err.message);
        if (err.http_status)
          e.child(2).AppendInt(err.http_status);
        else
          e.child(2).AppendNull();
        e.child(3).AppendInt(err.attempts);
        e.CloseStruct();
      }
    }
    if (missing == 0 && out.num_rows() > 0) SF_RETURN_NOT_OK(sink->Write(out));
  }
  if (missing > 0) {
    return Status::OK();  // incomplete: the sink's temporary file is removed, nothing published
  }
  SF_RETURN_NOT_OK(sink->Finish());
  *complete = true;
  return Status::OK();
}

Status Job::WriteStats(double elapsed_s, bool complete) {
  std::string json;
  JsonWriter w(&json);
  auto cs = client_->stats();
  int64_t failed = 0;
  for (int k = 1; k < kNumErrorKinds; ++k) failed += counters_.errors[k].load();
  w.BeginObject();
  w.Key("output").String(cfg_.out).Key("complete").Bool(complete);
  w.Key("model").String(cfg_.model);
  w.Key("dialect").String(constraint_ ? std::string(schema::DialectName(prepared()->dialect))
                                      : "none");
  w.Key("rows").BeginObject();
  w.Key("sent_this_run")
      .Int(counters_.done.load())
      .Key("resumed_from_checkpoint")
      .Int(counters_.resumed.load());
  w.Key("succeeded").Int(counters_.succeeded.load()).Key("failed").Int(failed);
  w.EndObject();
  w.Key("errors").BeginObject();
  for (int k = 1; k < kNumErrorKinds; ++k) {
    if (counters_.errors[k].load() > 0)
      w.Key(ErrorKindName(static_cast<ErrorKind>(k))).Int(counters_.errors[k].load());
  }
  w.EndObject();
  w.Key("elapsed_s").Double(elapsed_s);
  w.Key("rows_per_s").Double(elapsed_s > 0 ? counters_.done.load() / elapsed_s : 0);
  w.Key("requests").Int(cs.attempts).Key("http_retries").Int(cs.retries);
  w.Key("output_retries").Int(counters_.output_retries.load());
  w.Key("latency_s")
      .BeginObject()
      .Key("p50")
      .Double(cs.latency_p50_s)
      .Key("p90")
      .Double(cs.latency_p90_s);
  w.Key("p99").Double(cs.latency_p99_s).EndObject();
  w.Key("tokens").BeginObject().Key("prompt").Int(counters_.prompt_tokens.load());
  w.Key("completion").Int(counters_.completion_tokens.load()).EndObject();
  w.Key("bytes")
      .BeginObject()
      .Key("sent")
      .Int(cs.bytes_sent)
      .Key("received")
      .Int(cs.bytes_received)
      .EndObject();
  if (image_cache_) {
    image::PreparedCache::Stats is = image_cache_->stats();
    w.Key("images").BeginObject().Key("prepared").Int(static_cast<int64_t>(is.prepared));
    w.Key("reused").Int(static_cast<int64_t>(is.reused)).EndObject();
  }
  w.EndObject();
  json += "\n";
  std::string path = cfg_.out + ".stats.json";
  std::string tmp = path + ".tmp";
  {
    std::ofstream f(tmp, std::ios::binary | std::ios::trunc);
    f << json;
    if (!f) return Status::IOError(fmt::format("cannot write {}", tmp));
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) return Status::IOError(fmt::format("cannot write {}: {}", path, ec.message()));
  return Status::OK();
}

// ---------------------------------------------------------------------------------------------
// Signals: SIGINT/SIGTERM are blocked in every thread and taken by one thread with sigwait.

class SignalWatcher {
 public:
  template <typename F>
  explicit SignalWatcher(F on_signal) {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGUSR2);
    pthread_sigmask(SIG_BLOCK, &set, &old_);
    thread_ = std::thread([this, set, on_signal] {
      while (true) {
        int sig = 0;
        if (sigwait(&set, &sig) != 0) continue;
        if (sig == SIGUSR2 && done_.load()) return;
        if (sig == SIGINT || sig == SIGTERM) on_signal(++count_);
      }
    });
  }
  ~SignalWatcher() {
    done_.store(true);
    pthread_kill(thread_.native_handle(), SIGUSR2);
    thread_.join();
    pthread_sigmask(SIG_SETMASK, &old_, nullptr);
  }
  int count() const { return count_.load(); }

 private:
  sigset_t old_;
  std::atomic<bool> done_{false};
  std::atomic<int> count_{0};
  std::thread thread_;
};

int Job::Run() {
  start_ = SystemClock()->Now();
  // Installed before any thread starts, so every thread inherits SIGINT/SIGTERM blocked and only
  // the watcher takes them.
  SignalWatcher watcher([this](int n) {
    if (n == 1) {
      std::fprintf(stderr,
                   "\nstructflow: stopping: no new requests; waiting for those in flight (Ctrl-C "
                   "again abandons them)\n");
      RequestStop(false);
    } else {
      RequestStop(true);
    }
  });
  Status st = Setup();
  if (!st.ok()) {
    std::fprintf(stderr, "structflow run: %s\n", ForTerminal(st.message()).c_str());
    return kExitFailed;
  }
  if (cfg_.dry_run) {
    st = ChooseDialect();
    if (st.ok()) st = PrintDryRun();
    if (!st.ok()) {
      std::fprintf(stderr, "structflow run: %s\n", ForTerminal(st.message()).c_str());
      return kExitFailed;
    }
    return kExitOk;
  }
  std::string cp_path = cfg_.checkpoint.empty() ? cfg_.out + ".checkpoint" : cfg_.checkpoint;
  auto cp = Checkpoint::Open(cp_path, std::filesystem::absolute(cfg_.out).string());
  if (!cp.ok()) {
    std::fprintf(stderr, "structflow run: %s\n", ForTerminal(cp.status().message()).c_str());
    return kExitFailed;
  }
  checkpoint_ = std::move(*cp);
  auto fps = checkpoint_->LoadFingerprints(cfg_.retry_failed);
  if (!fps.ok()) {
    std::fprintf(stderr, "structflow run: %s\n", ForTerminal(fps.status().message()).c_str());
    return kExitFailed;
  }
  done_ = std::move(*fps);
  st = cfg_.command.empty() ? Status::OK() : checkpoint_->SetMeta("command", cfg_.command);
  if (st.ok()) st = ChooseDialect();
  if (st.ok() && constraint_)
    st = checkpoint_->SetMeta("dialect", std::string(schema::DialectName(prepared()->dialect)));
  if (!st.ok()) {
    std::fprintf(stderr, "structflow run: %s\n", ForTerminal(st.message()).c_str());
    return kExitFailed;
  }
  if (!done_.empty())
    SF_LOG_INFO("resuming: {} rows are in the checkpoint {}", WithThousands(done_.size()), cp_path);

  st = RequestPass();
  const int signals = watcher.count();
  double elapsed = SecondsBetween(start_, SystemClock()->Now());
  if (!st.ok()) {
    std::fprintf(
        stderr,
        "structflow run: %s\nFinished rows are kept in %s; run the same command again to resume.\n",
        ForTerminal(st.message()).c_str(), cp_path.c_str());
    return kExitFailed;
  }
  if (failed_fast_.load()) {
    std::fprintf(stderr, "structflow run: %s\n", ForTerminal(fail_fast_message_).c_str());
    (void)WriteStats(elapsed, false);
    return kExitFailed;
  }
  bool complete = false;
  int64_t failed = 0;
  // After a stop, rows are missing for sure: skip re-reading the input just to find that out.
  st = stop_.load() ? Status::OK() : OutputPass(&complete, &failed);
  if (!st.ok()) {
    std::fprintf(stderr,
                 "structflow run: writing %s failed: %s\nThe answers are kept in %s; fix the "
                 "problem and run the same command again.\n",
                 cfg_.out.c_str(), ForTerminal(st.message()).c_str(), cp_path.c_str());
    return kExitFailed;
  }
  (void)WriteStats(elapsed, complete);
  if (!complete) {
    std::fprintf(stderr,
                 "structflow run: interrupted after %s rows (%s kept in %s).\nTo resume, run the "
                 "same command again.\n",
                 WithThousands(counters_.done.load()).c_str(),
                 WithThousands(counters_.done.load() + counters_.resumed.load()).c_str(),
                 cp_path.c_str());
    return signals > 0 ? kExitInterrupted : kExitFailed;
  }
  auto cs = client_->stats();
  std::fprintf(
      stderr,
      "structflow run: %s rows sent (%s from the checkpoint), %s succeeded, %s failed in %.1f s "
      "(%.1f rows/s); "
      "latency p50 %.3f s p99 %.3f s; %s HTTP retries, %s output retries\n",
      WithThousands(counters_.done.load()).c_str(), WithThousands(counters_.resumed.load()).c_str(),
      WithThousands(counters_.succeeded.load()).c_str(), WithThousands(failed).c_str(), elapsed,
      elapsed > 0 ? counters_.done.load() / elapsed : 0.0, cs.latency_p50_s, cs.latency_p99_s,
      WithThousands(cs.retries).c_str(), WithThousands(counters_.output_retries.load()).c_str());
  std::printf("wrote %s (stats: %s.stats.json)\n", cfg_.out.c_str(), cfg_.out.c_str());
  std::fflush(stdout);
  if (failed > 0) {
    std::fprintf(
        stderr,
        "%s rows failed; their reasons are in the `error` column. Rows that failed for a passing "
        "reason (timeouts, 429, 5xx, connection) are sent again if you re-run the same command.\n",
        WithThousands(failed).c_str());
    return kExitRowsFailed;
  }
  // A finished job leaves no checkpoint behind... but keep it so a re-run is instant and
  // answers stay reusable; it is small next to the output.
  return kExitOk;
}

}  // namespace

int RunJob(const JobConfig& config) {
  Job job(config);
  return job.Run();
}

}  // namespace structflow::engine

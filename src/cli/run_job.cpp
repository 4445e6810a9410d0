#include "cli/run_job.h"

#include <fmt/format.h>
#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <sstream>
#include <thread>

#include "client/api_key.h"
#include "common/text.h"
#include "engine/progress.h"
#include "io/source.h"
#include "structflow/engine.h"

namespace structflow::cli {
namespace {

using engine::WithThousands;

Result<std::string> ReadFile(const std::string& path, std::string_view what) {
  std::ifstream f(path, std::ios::binary);
  if (!f) return Status::NotFound(fmt::format("cannot read {} '{}': check the path", what, path));
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

Status ParseShard(const std::string& text, JobSpec* spec) {
  if (text.empty()) return Status::OK();
  size_t slash = text.find('/');
  try {
    if (slash != std::string::npos) {
      int64_t k = std::stoll(text.substr(0, slash)), n = std::stoll(text.substr(slash + 1));
      if (n >= 1 && k >= 0 && k < n) {
        spec->shard_index = k;
        spec->shard_count = n;
        return Status::OK();
      }
    }
  } catch (...) {
  }
  return Status::InvalidArgument(fmt::format(
      "--shard '{}': expected K/N with 0 <= K < N, e.g. --shard 0/4 on the first of four machines",
      text));
}

Result<JobSpec> MakeSpec(const RunFlags& f) {
  JobSpec s;
  s.model = f.model;
  if (!f.prompt_file.empty()) {
    SF_ASSIGN_OR_RAISE(s.prompt, ReadFile(f.prompt_file, "--prompt-file"));
  } else {
    s.prompt = f.prompt;
  }
  s.system = f.system;
  s.images = f.images;
  s.image_position = f.image_position == "last" ? ImagePosition::kLast : ImagePosition::kFirst;
  if (!f.schema_file.empty()) {
    s.constraint = ConstraintKind::kJsonSchema;
    SF_ASSIGN_OR_RAISE(s.json_schema, ReadFile(f.schema_file, "--schema"));
    s.schema_origin = f.schema_file;
    s.schema_strict = f.schema_strict;
  } else if (!f.choices.empty()) {
    s.constraint = ConstraintKind::kChoice;
    s.choices = f.choices;
  } else if (!f.regex.empty()) {
    s.constraint = ConstraintKind::kRegex;
    s.regex = f.regex;
  }
  SF_ASSIGN_OR_RAISE(s.dialect, ParseDialectChoice(f.dialect));
  s.output_column = f.as;
  s.row_id_column = f.row_id;
  s.max_output_retries = f.max_output_retries;
  s.retry_truncated = f.retry_truncated;
  s.keep_raw = f.keep_raw;
  {
    auto mode = ParseConfidenceMode(f.confidence);
    if (!mode.ok()) return Status::InvalidArgument("--" + mode.status().message());
    s.confidence = *mode;
  }
  s.keep_binary = f.keep_binary;
  s.explode = f.explode;
  s.extract = f.extract;
  s.limit = f.limit;
  SF_RETURN_NOT_OK(ParseShard(f.shard, &s));
  s.max_tokens = f.max_tokens_given ? f.max_tokens : 0;  // 0: the engine sizes it
  s.temperature = f.temperature;
  s.seed = f.seed;
  s.image_max_side = f.image_max_side;
  s.image_max_pixels = f.image_max_pixels;
  SF_ASSIGN_OR_RAISE(s.image_format, ParseImageFormat(f.image_format));
  s.image_quality = f.image_quality;
  s.fetch_images = f.fetch_images;
  s.fetch_timeout_s = f.fetch_timeout_s;
  s.image_max_bytes = f.image_max_bytes;
  s.image_root = f.image_root;
  s.retry_failed = f.retry_failed;
  for (size_t at = 0; f.retry_failed && at < f.retry_kinds.size();) {
    size_t comma = std::min(f.retry_kinds.find(',', at), f.retry_kinds.size());
    std::string name = f.retry_kinds.substr(at, comma - at);
    at = comma + 1;
    if (name.empty() || name == "all") continue;
    auto kind = ParseRetryKind(name);
    if (!kind.ok()) {
      return Status::InvalidArgument(
          fmt::format("--retry-failed={}: {}", f.retry_kinds, kind.status().message()));
    }
    s.retry_kinds.push_back(*kind);
  }
  s.fail_fast = f.fail_fast;
  s.reorder_window = f.reorder_window;
  s.image_affinity = f.image_affinity;
  return s;
}

Result<EngineOptions> MakeEngineOptions(const RunFlags& f) {
  EngineOptions o;
  o.endpoints = f.endpoints.empty() ? std::vector<std::string>{DefaultEndpoint()} : f.endpoints;
  SF_ASSIGN_OR_RAISE(o.api_key,
                     client::ResolveApiKey(f.api_key, f.api_key_file, ApiKeyFromEnvironment()));
  o.concurrency = f.concurrency;
  o.max_attempts = f.max_attempts;
  o.request_timeout_s = f.request_timeout_s;
  o.stall_timeout_s = f.stall_timeout_s;
  o.connect_timeout_s = f.connect_timeout_s;
  // Bodies ready for the I/O thread beyond those in flight: with images each is ~100 KB, and a
  // few dozen keep up with any server while holding memory down.
  if (!f.images.empty()) o.request_queue = 64;
  o.workers = f.workers;
  o.image_cache_mb = f.image_cache_mb;
  return o;
}

// SIGINT/SIGTERM are blocked in every thread (the mask is set before any thread starts, and
// threads inherit it) and taken by one thread with sigwait.
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

Status WriteStats(const std::string& out, const JobReport& report) {
  std::string json = ToJson(report) + "\n";
  std::string path = out + ".stats.json";
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

int PrintDryRun(Engine& engine, const RunFlags& f, const EngineOptions& eo, const JobSpec& spec,
                const std::shared_ptr<Input>& input) {
  auto plan = engine.Plan(spec, input->schema(), /*offline=*/true);
  if (!plan.ok()) {
    std::fprintf(stderr, "structflow run: %s\n", ForTerminal(plan.status().message()).c_str());
    return kExitFailed;
  }
  auto dry = engine.DescribeFirstRequest(*plan, input);
  if (!dry.ok()) {
    std::fprintf(stderr, "structflow run: %s\n", ForTerminal(dry.status().message()).c_str());
    return kExitFailed;
  }
  std::printf("structflow run --dry-run: nothing will be sent.\n\n");
  std::printf("endpoints:   ");
  for (const auto& e : eo.endpoints) std::printf("%s ", e.c_str());
  std::printf("\nmodel:       %s\n", dry->model.c_str());
  std::printf("dialect:     %s%s\n", dry->dialect.c_str(),
              spec.dialect == DialectChoice::kAuto && spec.constraint != ConstraintKind::kNone
                  ? " (auto: the real run probes the server first)"
                  : "");
  std::printf("output:      %s (column '%s' is %s)\n", f.out.c_str(), f.as.c_str(),
              dry->output_type.c_str());
  std::printf("concurrency: %s\n",
              f.concurrency > 0 ? std::to_string(f.concurrency).c_str() : "adaptive");
  std::printf("\ncolumns after transforms:\n%s", dry->columns.c_str());
  std::printf("\nfirst request body:\n%s\n", dry->body.c_str());
  return kExitOk;
}

}  // namespace

std::string DefaultEndpoint() {
  const char* env = std::getenv("OPENAI_BASE_URL");
  return env && *env ? env : "http://127.0.0.1:8000/v1";
}

std::string ApiKeyFromEnvironment() {
  const char* env = std::getenv("OPENAI_API_KEY");
  return env ? env : "";
}

int RunJob(const RunFlags& f) {
  auto fail = [](const Status& st) {
    std::fprintf(stderr, "structflow run: %s\n", ForTerminal(st.message()).c_str());
    return kExitFailed;
  };
  // Installed before any thread starts, so every thread inherits SIGINT/SIGTERM blocked and only
  // the watcher takes them. A signal before the job starts stops it as soon as it does.
  std::mutex job_mu;
  std::shared_ptr<Engine> engine_for_signals;  // until the job starts: stops its server checks
  std::shared_ptr<Job> job;
  SignalWatcher watcher([&](int n) {
    if (n == 1) {
      std::fprintf(stderr,
                   "\nstructflow: stopping: no new requests; waiting for those in flight (Ctrl-C "
                   "again abandons them)\n");
    }
    std::lock_guard lock(job_mu);
    if (job) {
      job->Stop(n == 1 ? StopMode::kDrain : StopMode::kAbandon);
    } else if (engine_for_signals) {
      engine_for_signals->Interrupt();
    }
  });
  if (f.inputs.empty())
    return fail(Status::InvalidArgument("no input: give one or more files, globs or folders"));
  if (f.out.empty())
    return fail(Status::InvalidArgument("no output: pass --out results.parquet (or .jsonl, .csv)"));
  // The output is checked before anything is sent: a wrong extension or folder found after the
  // last request would waste the whole job.
  if (Status st = io::CheckSinkPath(f.out); !st.ok()) return fail(st);
  auto spec = MakeSpec(f);
  if (!spec.ok()) return fail(spec.status());
  auto eo = MakeEngineOptions(f);
  if (!eo.ok()) return fail(eo.status());
  auto engine = Engine::Make(*eo);
  if (!engine.ok()) return fail(engine.status());
  {
    std::lock_guard lock(job_mu);
    engine_for_signals = *engine;
  }
  auto interrupted = [&] { return watcher.count() > 0; };
  auto input =
      Input::Files(f.inputs, {f.read.infer_rows, f.read.type_overrides, f.read.bad_lines_path});
  if (!input.ok()) return fail(input.status());
  if (f.dry_run) return PrintDryRun(**engine, f, *eo, *spec, *input);

  auto plan = (*engine)->Plan(*spec, (*input)->schema());
  if (!plan.ok() && interrupted()) return kExitInterrupted;
  if (!plan.ok()) return fail(plan.status());
  const std::string cp_path = f.checkpoint.empty() ? f.out + ".checkpoint" : f.checkpoint;
  std::error_code ec;
  const bool cp_existed = std::filesystem::exists(cp_path, ec);
  auto store = RowStore::Sqlite(cp_path, std::filesystem::absolute(f.out).string());
  if (!store.ok()) return fail(store.status());
  // A job that fails before its first request leaves no empty checkpoint behind.
  auto drop_new_checkpoint = [&] {
    if (cp_existed) return;
    store = Status::Cancelled("closed");
    for (const char* suffix : {"", "-wal", "-shm"}) {
      std::filesystem::remove(cp_path + suffix, ec);
    }
  };
  // Recorded so that `structflow report` can show the command that re-sends failed rows.
  if (!f.command.empty()) {
    if (Status st = (*store)->SetMeta("command", f.command); !st.ok()) return fail(st);
  }
  auto started = (*engine)->Start(*plan, *input, *store, Sink::File(f.out));
  if (!started.ok()) drop_new_checkpoint();
  if (!started.ok() && interrupted()) return kExitInterrupted;
  if (!started.ok()) return fail(started.status());
  {
    std::lock_guard lock(job_mu);
    job = *started;
    if (watcher.count() > 0)
      job->Stop(watcher.count() == 1 ? StopMode::kDrain : StopMode::kAbandon);
  }

  // The progress line (a terminal) or a log line every few seconds (CI, files).
  bool tty = f.progress == "tty" ||
             (f.progress == "auto" && ::isatty(STDERR_FILENO) && !std::getenv("CI"));
  if (f.progress == "off") tty = false;
  const double interval = f.progress_interval_s > 0 ? f.progress_interval_s : (tty ? 0.5 : 5.0);
  const auto every = std::chrono::milliseconds(static_cast<int64_t>(interval * 1000));
  while (!job->WaitFor(every)) {
    if (f.progress == "off") continue;
    std::string line = engine::RenderProgress(job->progress());
    if (tty) {
      std::fprintf(stderr, "\r\033[K%s", line.c_str());
    } else {
      std::fprintf(stderr, "[structflow] %s\n", line.c_str());
    }
    std::fflush(stderr);
  }
  if (tty) std::fprintf(stderr, "\r\033[K");
  Result<JobReport> result = job->Wait();
  const int signals = watcher.count();
  {
    std::lock_guard lock(job_mu);
    job.reset();
  }
  if (!result.ok()) {
    const Status& st = result.status();
    if (auto* ff = dynamic_cast<const FailFastDetail*>(st.detail().get())) {
      std::fprintf(stderr, "structflow run: %s\n", ForTerminal(st.message()).c_str());
      (void)WriteStats(f.out, ff->report);
      return kExitFailed;
    }
    return fail(st);
  }
  const JobReport& r = *result;
  (void)WriteStats(f.out, r);
  if (!f.read.bad_lines_path.empty()) {
    std::ifstream bad(f.read.bad_lines_path);
    int64_t n = 0;
    for (std::string line; std::getline(bad, line);) n += line.empty() ? 0 : 1;
    if (n > 0) {
      std::fprintf(stderr, "structflow run: skipped %s malformed line%s; each is listed in %s\n",
                   WithThousands(n).c_str(), n == 1 ? "" : "s", f.read.bad_lines_path.c_str());
    }
  }
  if (r.complete && r.sent_this_run == 0 && r.resumed == 0) {
    std::fprintf(stderr,
                 "structflow run: warning: the input has no rows (a CSV with only its header?); "
                 "the output %s is empty\n",
                 f.out.c_str());
  }
  if (!r.complete) {
    std::fprintf(stderr,
                 "structflow run: interrupted after %s rows (%s kept in %s).\nTo resume, run the "
                 "same command again.\n",
                 WithThousands(r.sent_this_run).c_str(),
                 WithThousands(r.sent_this_run + r.resumed).c_str(), cp_path.c_str());
    return signals > 0 ? kExitInterrupted : kExitFailed;
  }
  std::fprintf(
      stderr,
      "structflow run: %s rows sent (%s from the checkpoint), %s succeeded, %s failed in %.1f s "
      "(%.1f rows/s); latency p50 %.3f s p99 %.3f s; %s HTTP retries, %s output retries\n",
      WithThousands(r.sent_this_run).c_str(), WithThousands(r.resumed).c_str(),
      WithThousands(r.succeeded).c_str(), WithThousands(r.error_rows).c_str(), r.elapsed_s,
      r.elapsed_s > 0 ? r.sent_this_run / r.elapsed_s : 0.0, r.latency_p50_s, r.latency_p99_s,
      WithThousands(r.http_retries).c_str(), WithThousands(r.output_retries).c_str());
  std::printf("wrote %s (stats: %s.stats.json)\n", f.out.c_str(), f.out.c_str());
  std::fflush(stdout);
  if (r.error_rows > 0) {
    // Failures by kind, each with one full message, so what went wrong shows without a tool.
    for (int k = 1; k < kNumErrorKinds; ++k) {
      if (r.errors[k] == 0) continue;
      std::fprintf(stderr, "  %s: %s rows this run, e.g. %s\n",
                   std::string(ErrorKindName(static_cast<ErrorKind>(k))).c_str(),
                   WithThousands(r.errors[k]).c_str(), ForTerminal(r.error_examples[k]).c_str());
    }
    std::fprintf(
        stderr,
        "%s rows failed; their reasons are in the `error` column (`structflow inspect %s`). Rows "
        "that failed for a passing reason (timeouts, 429, 5xx, connection) are sent again if you "
        "re-run the same command; add --retry-failed to re-send every failed row, or "
        "--retry-failed=KIND,... (e.g. truncated,invalid_output) to re-send only those.\n",
        WithThousands(r.error_rows).c_str(), f.out.c_str());
    return kExitRowsFailed;
  }
  return kExitOk;
}

}  // namespace structflow::cli

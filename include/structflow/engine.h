// The engine as a library: the one door that the CLI, the Python package and distributed
// workers all use.
//
//   auto engine = Engine::Make(options);                         // one shared client
//   auto input = Input::Files({"questions.parquet"});
//   auto plan = (*engine)->Plan(spec, (*input)->schema());       // checked before row 1
//   auto job = (*engine)->Start(*plan, *input, RowStore::Sqlite(...), Sink::File(...));
//   ... (*job)->progress() / (*job)->Stop(StopMode::kDrain) from any thread ...
//   Result<JobReport> report = (*job)->Wait();
//
// An Engine owns one inference client (its I/O thread, its adaptive concurrency controller and
// its connections), shared by every job it runs: two jobs at once are one controller, not two.
// Nothing here prints, reads the environment, touches signals or exits: log lines go to
// EngineOptions::log, signals are the caller's (call Job::Stop from its handler thread).
//
// Thread-safety: Engine methods may be called from any thread, also at once. A Job's methods
// may be called from any thread; Wait/WaitFor by several at once. Destroy jobs before their
// engine (a Job holds its engine alive, so this is automatic with shared_ptr).
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/logging.h"
#include "common/row_error.h"
#include "common/status.h"
#include "structflow/data.h"
#include "structflow/job_spec.h"
#include "table/types.h"

namespace structflow {

struct EngineOptions {
  // Client: base URLs like http://127.0.0.1:8000/v1 (several for replicas). Required.
  std::vector<std::string> endpoints;
  std::string api_key;   // already resolved; never logged
  int concurrency = 0;   // 0: adaptive; > 0: a hard cap on requests in flight
  int max_attempts = 5;  // HTTP attempts per request
  double request_timeout_s = 300;
  double stall_timeout_s = 60;
  double connect_timeout_s = 10;
  // Bodies ready for the I/O thread beyond those in flight (each an image job's ~100 KB).
  size_t request_queue = 1024;
  // CPU worker threads per job (templates, images, JSON); 0: one per core, at least 2.
  int workers = 0;
  // Prepared images kept by content per job, so rows that share one prepare it once; 0: off.
  int64_t image_cache_mb = 64;
  // Time for commit gaps and reports. Null: the system's steady clock. Must outlive the engine.
  Clock* clock = nullptr;
  // Receives the engine's log lines. Unset: structflow's default logger (stderr). Note: the
  // callback is process-wide (the last engine made sets it), like the log level.
  std::function<void(LogLevel, std::string_view)> log;
};

// A job checked against its input's schema and the server, ready to start.
class JobPlan;

enum class StopMode {
  kDrain,    // send nothing new; requests on the wire finish and are recorded
  kAbandon,  // cancel what is in flight too; only finished rows are kept
};

// Live figures of a running job (also valid after it ends).
struct JobProgress {
  int64_t total = -1;   // rows to do in this run; -1 while unknown
  int64_t resumed = 0;  // rows found done in the row store
  int64_t done = 0;     // rows finished in this run, ok or failed
  int64_t succeeded = 0;
  int64_t output_retries = 0;
  int64_t prompt_tokens = 0;
  int64_t completion_tokens = 0;
  // Prompt tokens the servers' prefix caches held, over the answers that said
  // (usage.prompt_tokens_details.cached_tokens); cached_answers: how many said.
  int64_t cached_prompt_tokens = 0;
  int64_t cached_answers = 0;
  std::array<int64_t, kNumErrorKinds> errors{};  // by ErrorKind
  int64_t in_flight = 0;                         // the engine's, all jobs
  int64_t http_retries = 0;                      // this job's
  double elapsed_s = 0;
};

// What a finished job did (the CLI writes it as OUT.stats.json).
struct JobReport {
  std::string output;     // the sink's location
  bool complete = false;  // every row is in the sink (false after a stop or a missing row)
  bool stopped = false;   // Stop was called
  std::string model;
  std::string dialect;  // "none" without a constraint
  int64_t sent_this_run = 0;
  int64_t resumed = 0;
  int64_t succeeded = 0;
  int64_t failed = 0;      // rows finished in this run with an error
  int64_t error_rows = 0;  // rows in the output with an error (after re-validation)
  std::array<int64_t, kNumErrorKinds> errors{};
  // The first full message of each kind of failure in this run ("" where none), to show what
  // went wrong without opening the output.
  std::array<std::string, kNumErrorKinds> error_examples{};
  double elapsed_s = 0;
  int64_t requests = 0;  // HTTP attempts
  int64_t http_retries = 0;
  int64_t output_retries = 0;
  double latency_p50_s = 0, latency_p90_s = 0, latency_p99_s = 0;
  int64_t prompt_tokens = 0, completion_tokens = 0;
  // As in JobProgress: cached prompt tokens over the cached_answers answers that reported them
  // (0 answers: the server does not report them; OUT.stats.json then leaves them out).
  int64_t cached_prompt_tokens = 0, cached_answers = 0;
  int64_t bytes_sent = 0, bytes_received = 0;
  bool has_images = false;
  int64_t images_prepared = 0, images_reused = 0;
  std::string row_store;  // where finished rows are kept
};
// The JSON object of OUT.stats.json.
std::string ToJson(const JobReport& report);

// The detail of the Status a job ends with when its first rows all failed the same way.
struct FailFastDetail : StatusDetail {
  RowError error;      // the shared failure
  int rows = 0;        // how many rows failed it
  std::string advice;  // what to change
  JobReport report;    // the job so far
};

class Job {
 public:
  virtual ~Job() = default;
  // Asks the job to stop; returns at once. Callable from any thread (a signal thread), any
  // number of times; kAbandon after kDrain escalates.
  virtual void Stop(StopMode mode) = 0;
  virtual JobProgress progress() const = 0;
  // True once the job has ended (then Wait returns at once).
  virtual bool WaitFor(std::chrono::milliseconds timeout) = 0;
  // Blocks until the job ends. The report of a complete or stopped job; a Status when it could
  // not go on (unreadable input, the row store or sink failing, fail-fast with FailFastDetail).
  virtual Result<JobReport> Wait() = 0;
};

// The first request a plan would send, for a dry run (nothing is sent).
struct DryRun {
  std::string body;  // abbreviated (long data URLs cut)
  std::string dialect;
  std::string model;
  std::string output_type;  // the result column's type
  std::string columns;      // the columns after the transforms
};

class Engine : public std::enable_shared_from_this<Engine> {
 public:
  // Validates the options and starts the client's I/O thread.
  static Result<std::shared_ptr<Engine>> Make(EngineOptions options);
  virtual ~Engine() = default;

  // Checks everything that can be checked before row 1: the constraint, the transforms and the
  // prompt template against `input_schema`, the model (an empty JobSpec::model is resolved to
  // the server's only model). `offline`: ask the server nothing (dry runs): the model must be
  // given or is shown as MODEL.
  virtual Result<std::shared_ptr<const JobPlan>> Plan(const JobSpec& spec,
                                                      const table::Schema& input_schema,
                                                      bool offline = false) = 0;
  // The first request body the plan would send for `input`, for a dry run.
  virtual Result<DryRun> DescribeFirstRequest(const std::shared_ptr<const JobPlan>& plan,
                                              const std::shared_ptr<Input>& input) = 0;
  // Starts the job on its own threads and returns at once. Rows the store already holds (with
  // the same fingerprint) are not sent again.
  virtual Result<std::shared_ptr<Job>> Start(const std::shared_ptr<const JobPlan>& plan,
                                             std::shared_ptr<Input> input,
                                             std::shared_ptr<RowStore> store,
                                             std::shared_ptr<Sink> sink) = 0;
  // Cancels the server checks Plan and Start are making at this moment (the preflight, the
  // dialect probe): they return a Cancelled status at once. Callable from any thread (a signal
  // thread). Jobs already started are stopped with Job::Stop instead; later calls are unaffected.
  virtual void Interrupt() = 0;
  // Requests in flight across all jobs, and the adaptive limit.
  virtual int in_flight() const = 0;
  virtual int concurrency_limit() const = 0;
};

}  // namespace structflow

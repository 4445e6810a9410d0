// What a job reads and writes: Input (files or in-memory record batches), RowStore (the durable
// record of finished rows: a SQLite checkpoint or memory) and Sink (files or in-memory batches).
// Each is made by a factory here and handed to Engine::Start; the engine reads an Input twice
// (the request pass and the output pass) and a RowStore in row-id order (resume and output).
//
// Thread-safety: an Input may be opened from any thread, several times, also at once. A RowStore
// has one writer (the job's writer thread) and, at the same time, readers through Scan (the
// job's reader): implementations must allow that. A Sink is used by one thread at a time. None
// of them may be shared by two jobs running at once, except an Input.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "common/row_error.h"
#include "common/status.h"
#include "table/record_batch.h"

namespace structflow {

// ---------------------------------------------------------------------------------------------
// Input

// One pass over an input: batches of rows in a fixed order (the same on every pass).
class InputScan {
 public:
  virtual ~InputScan() = default;
  // The next batch, or nullopt at the end.
  virtual Result<std::optional<table::RecordBatch>> Next() = 0;
  // Total rows when known cheaply (Parquet footers), else nullopt.
  virtual std::optional<int64_t> num_rows() const = 0;
};

class Input {
 public:
  virtual ~Input() = default;
  // How JSONL and CSV files are read (the flags `run`, `inspect` and `convert` share).
  struct FileOptions {
    int64_t infer_rows = 1000;                // lines per file sampled to infer column types
    std::vector<std::string> type_overrides;  // "column=type" (bool, int64, double, string, binary)
    std::string bad_lines_path;  // non-empty: skip malformed JSONL lines, listing them here
  };
  // Files, globs or image folders (.parquet, .jsonl, .csv); opened once here for the schema.
  static Result<std::shared_ptr<Input>> Files(std::vector<std::string> paths, FileOptions options);
  static Result<std::shared_ptr<Input>> Files(std::vector<std::string> paths) {
    return Files(std::move(paths), FileOptions{});
  }
  // Record batches held in memory (all of one schema); `base_dir` resolves relative image paths.
  static Result<std::shared_ptr<Input>> Batches(std::vector<table::RecordBatch> batches,
                                                std::string base_dir = ".");

  virtual const table::Schema& schema() const = 0;
  // The folder relative image paths resolve against.
  virtual std::string base_dir() const = 0;
  // A new pass reading only `columns` (empty: all), about `batch_rows` rows per batch.
  virtual Result<std::unique_ptr<InputScan>> Scan(const std::vector<std::string>& columns,
                                                  int64_t batch_rows) const = 0;
};

// ---------------------------------------------------------------------------------------------
// RowStore

// One finished row as the store keeps it.
struct RowRecord {
  int64_t row_id = 0;
  uint64_t fingerprint = 0;
  std::string raw;      // the model's answer text (message content), empty on failure
  std::string dialect;  // the structured-output dialect the answer was produced under
  RowError error;       // kind kNone on success
  int64_t prompt_tokens = 0;
  int64_t completion_tokens = 0;
  // Of prompt_tokens, those the server's prefix cache held (usage.prompt_tokens_details.
  // cached_tokens), -1 when the answer did not say. This run's figure only: row stores do not
  // keep it (a resumed row has -1).
  int64_t cached_tokens = -1;
  // When the answer came back (seconds since the Unix epoch; 0: not known, e.g. a row that
  // failed before any request) and how long its request took (from the first attempt's start to
  // the end of the last). For the report's latency histogram and throughput over time.
  double finished_at_s = 0;
  double latency_s = 0;
  // With --confidence: the answer's scores in engine/confidence.h's stored form ("null": asked,
  // the server gave none); empty: not asked (a resume with --confidence sends the row again).
  std::string confidence;
};

// True when a stored row may be reused by a resume: a success, or a failure for a lasting reason.
// Failures for a passing reason (connect, timeout, reset, cancelled, a 2xx whose body is not a
// completion, HTTP 408/409/429/5xx) are sent again.
bool ReusableOnResume(const RowError& error);

// Stored rows in row-id order.
class RowCursor {
 public:
  virtual ~RowCursor() = default;
  virtual Result<std::optional<RowRecord>> Next() = 0;
};

class RowStore {
 public:
  virtual ~RowStore() = default;
  // The SQLite checkpoint at `path` (created when missing). `job_key` names the job's output: a
  // checkpoint written for another output is refused with a message saying so.
  static Result<std::shared_ptr<RowStore>> Sqlite(const std::string& path,
                                                  const std::string& job_key);
  // Rows kept in this process only (a job that need not survive a crash, tests).
  static std::shared_ptr<RowStore> Memory();

  // Buffers a record; it is durable once Commit() returns OK. Called by one thread at a time.
  virtual Status Put(const RowRecord& record) = 0;
  virtual Status Commit() = 0;
  // Records put and not yet committed.
  virtual int64_t pending() const = 0;
  // Stored rows from `first_row_id` on, in row-id order; `reusable_only` leaves out rows a resume
  // sends again (see ReusableOnResume). May be called while another thread puts and commits:
  // the cursor sees committed rows and holds no lock or read transaction between calls.
  virtual Result<std::unique_ptr<RowCursor>> Scan(int64_t first_row_id, bool reusable_only) = 0;
  // Job-level facts (the dialect a job settled on). Called by the job's controlling thread
  // before or after the writer runs, never while it does.
  virtual Status SetMeta(const std::string& key, const std::string& value) = 0;
  virtual Result<std::optional<std::string>> GetMeta(const std::string& key) = 0;
  // Where it lives, for messages ("memory" for the in-memory store).
  virtual std::string location() const = 0;
};

// ---------------------------------------------------------------------------------------------
// Sink

struct SinkOptions {
  // Only (row_id, the result column, [raw,] error) instead of the input's columns followed by
  // them: for callers that join the results to their own table themselves.
  bool results_only = false;
};

// Receives the output pass's batches in input order. The engine calls Open once with the output
// schema, then Write for each batch, then Finish when every row is there. A job that ends
// without Finish (stopped, rows missing) publishes nothing.
class Sink {
 public:
  virtual ~Sink() = default;
  // A file (.parquet, .jsonl, .csv), written to a temporary name and renamed by Finish.
  static std::shared_ptr<Sink> File(std::string path, SinkOptions options = {});
  // Batches kept in memory; read them with batches() once the job is done.
  static std::shared_ptr<Sink> Memory(SinkOptions options = {});

  virtual const SinkOptions& options() const = 0;
  virtual Status Open(const table::Schema& schema) = 0;
  virtual Status Write(const table::RecordBatch& batch) = 0;
  virtual Status Finish() = 0;
  // Drops what was written (the job ends without a complete output); the sink may be opened
  // again by a later job.
  virtual void Abort() = 0;
  // Where it goes, for messages and reports (the path, or "memory").
  virtual std::string location() const = 0;
  // The batches written (the in-memory sink); empty for files.
  virtual std::vector<table::RecordBatch> batches() const { return {}; }
};

}  // namespace structflow

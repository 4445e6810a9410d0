// Checkpoint: the durable record of finished rows, so a job resumes after a crash, kill -9,
// power cut or Ctrl-C and sends only what is not done.
//
// Design: one SQLite database in WAL mode with synchronous=FULL. Each finished row is stored
// under its row id (the row's position in the transformed input) with the fingerprint of its
// request (job settings + the row's input values), the model's raw answer and its error. Rows
// are committed in small transactions by the single writer thread; a committed row survives any
// crash, an uncommitted one is simply sent again. A row is reused on resume only when its
// fingerprint matches, so changing the prompt, schema or model never reuses a stale answer.
// The final output is written from the checkpoint in row order (see pipeline.h).
//
// Thread-safety: a Checkpoint is owned by one thread at a time (the writer thread while the job
// runs, then the output pass). It is not shared.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/row_error.h"
#include "common/status.h"

struct sqlite3;
struct sqlite3_stmt;

namespace structflow::engine {

struct RowRecord {
  int64_t row_id = 0;
  uint64_t fingerprint = 0;
  std::string raw;      // the model's answer text (message content), empty on failure
  std::string dialect;  // the structured-output dialect the answer was produced under
  RowError error;       // kind kNone on success
  int64_t prompt_tokens = 0;
  int64_t completion_tokens = 0;
  // When the answer came back (seconds since the Unix epoch; 0: not known, e.g. a row that
  // failed before any request) and how long its request took (from the first attempt's start to
  // the end of the last). For the report's latency histogram and throughput over time.
  double finished_at_s = 0;
  double latency_s = 0;
};

// One row's timing, as ReadTimings returns it.
struct RowTiming {
  int64_t row_id = 0;
  double finished_at_s = 0;
  double latency_s = 0;
};

class Checkpoint {
 public:
  ~Checkpoint();
  Checkpoint(const Checkpoint&) = delete;
  Checkpoint& operator=(const Checkpoint&) = delete;

  // Opens or creates the database at `path`. `job_key` names the job's input and output; a
  // checkpoint written for another output is refused with a message saying so. The file is
  // locked while the Checkpoint lives: a second Open of the same path (from this or another
  // process) fails with a message instead of both jobs sending every row.
  static Result<std::unique_ptr<Checkpoint>> Open(const std::string& path,
                                                  const std::string& job_key);

  // Fingerprints of the stored rows a resume may reuse (row id -> fingerprint): successes and
  // rows that failed for a lasting reason. Rows that failed for a passing reason (connect,
  // timeout, reset, a 2xx whose body is not a completion, HTTP 408/409/429/5xx) are left out, so
  // a re-run sends them again. With `resend_failed`, rows that failed for any reason are left
  // out too (`run --retry-failed`): only successes are reused.
  Result<std::unordered_map<int64_t, uint64_t>> LoadFingerprints(bool resend_failed = false);

  // Buffers a record; it is durable once Commit() returns.
  Status Put(const RowRecord& record);
  Status Commit();
  int64_t pending() const { return pending_; }

  // Streams stored rows in row-id order from `first_row_id` on; nullopt at the end.
  class Cursor {
   public:
    ~Cursor();
    Result<std::optional<RowRecord>> Next();

   private:
    friend class Checkpoint;
    sqlite3_stmt* stmt_ = nullptr;
  };
  Result<std::unique_ptr<Cursor>> Scan(int64_t first_row_id);

  // Job-level key/value facts (the chosen dialect, the input row count, the command).
  Status SetMeta(const std::string& key, const std::string& value);
  Result<std::optional<std::string>> GetMeta(const std::string& key);

  const std::string& path() const { return path_; }

  // The timings of the rows in the checkpoint at `path`, opened read-only, in row order; rows
  // without a finish time are left out. A checkpoint written before timings were recorded gives
  // an empty list.
  static Result<std::vector<RowTiming>> ReadTimings(const std::string& path);
  // A job-level fact of the checkpoint at `path`, opened read-only (nullopt when not set).
  static Result<std::optional<std::string>> ReadMeta(const std::string& path,
                                                     const std::string& key);

 private:
  Checkpoint() = default;
  Status Exec(const char* sql);
  Status Begin();

  sqlite3* db_ = nullptr;
  sqlite3_stmt* put_ = nullptr;
  int lock_fd_ = -1;  // holds an exclusive flock on the database file while open
  std::string path_;
  int64_t pending_ = 0;
  bool in_txn_ = false;
};

// 64-bit FNV-1a, for fingerprints (stable across runs and machines).
uint64_t Fingerprint(std::string_view data, uint64_t seed = 14695981039346656037ull);

}  // namespace structflow::engine

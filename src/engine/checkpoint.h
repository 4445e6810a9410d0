// Checkpoint: the durable record of finished rows, so a job resumes after a crash, kill -9,
// power cut or Ctrl-C and sends only what is not done.
//
// Design: one SQLite database in WAL mode with synchronous=FULL. Each finished row is stored
// under its row id (the row's position in the transformed input) with the fingerprint of its
// request (job settings + the row's input values), the model's raw answer and its error. Rows
// are committed in small transactions by the single writer thread; a committed row survives any
// crash, an uncommitted one is simply sent again. A row is reused on resume only when its
// fingerprint matches, so changing the prompt, schema or model never reuses a stale answer.
// The final output is written from the checkpoint in row order (see engine/output_assembler.h).
// A resume never loads the finished rows into memory: the row walk merge-joins the input against
// a paged scan in row-id order (ScanPages), on a connection of its own.
//
// Thread-safety: a Checkpoint's writing connection is owned by one thread at a time (the writer
// thread while the job runs, then the output pass). ScanPages opens its own read connection and
// may run on another thread while the writer writes (WAL mode).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/row_error.h"
#include "common/status.h"
#include "structflow/data.h"

struct sqlite3;
struct sqlite3_stmt;

namespace structflow::engine {

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

  // Stored rows from `first_row_id` on in row-id order, read a page at a time on a read-only
  // connection of the cursor's own, with no read transaction held between pages (the WAL can be
  // checkpointed while a long resume walks). `reusable_only` leaves out rows that failed for a
  // passing reason (see ReusableOnResume), so a re-run sends them again.
  Result<std::unique_ptr<RowCursor>> ScanPages(int64_t first_row_id, bool reusable_only);

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

// RowWalk: the one walk over a job's rows, used by both passes (requests, then output), so that
// the two agree on every row by construction: read the input, apply the transforms, number the
// rows (the row id: the position after the transforms), stop at the limit, keep this shard's
// rows, fingerprint each row (the job's fingerprint and the row's values), and pair it with the
// row store's record of the same id by a merge-join against the store's ordered scan. No set of
// finished rows is held in memory: a resume of a million rows holds one page of the store.
//
// Thread-safety: one thread drives a RowWalk.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"
#include "engine/transform.h"
#include "structflow/data.h"
#include "table/record_batch.h"

namespace structflow::engine {

struct WalkOptions {
  std::vector<std::string> columns;  // read from the input (empty: all)
  int64_t batch_rows = 256;
  int64_t limit = -1;  // rows (after the transforms); -1: all
  int64_t shard_index = 0;
  int64_t shard_count = 1;
  uint64_t job_fingerprint = 0;
  // Non-zero: a record whose row fingerprint was made with this job fingerprint matches too (a
  // checkpoint written by an older version, JobPlan::legacy_fingerprint).
  uint64_t legacy_job_fingerprint = 0;
  // Pair rows only with records a resume may reuse (the request pass), or with any record (the
  // output pass writes failures for a passing reason as they are).
  bool reusable_only = true;
  // With reusable_only: records that failed are not reused either (`--retry-failed`): all of
  // them, or with `retry_kinds` only those of these kinds.
  bool retry_failed = false;
  std::vector<ErrorKind> retry_kinds;
  // With reusable_only: successful records without confidence scores (stored by a run without
  // --confidence) are not reused: the job asks for them now.
  bool need_confidence = false;
};

struct WalkRow {
  std::shared_ptr<const table::RecordBatch> batch;  // transformed
  int64_t row = 0;                                  // index in `batch`
  int64_t row_id = 0;
  uint64_t fingerprint = 0;
  // The store's record of this row id when its fingerprint matches (the row is done); the
  // record is valid until the next call to Next.
  const RowRecord* stored = nullptr;
  bool first_of_batch = false;  // the first row of this shard in a new input batch
};

class RowWalk {
 public:
  // `store` may be null (nothing is done yet). `transformer` must outlive the walk.
  static Result<RowWalk> Open(const Input& input, const Transformer& transformer,
                              WalkOptions options, RowStore* store);

  // The next row of this shard, or false at the end (the input's or the limit's).
  Result<bool> Next(WalkRow* row);

  // The rows this shard will see, when the input says how many it has and the transforms keep
  // the count (no explode); else nullopt.
  std::optional<int64_t> ExpectedRows(bool transforms_keep_count) const;

 private:
  RowWalk() = default;
  Status AdvanceStore(int64_t row_id);
  // A stored record the request pass sends again (retry_failed).
  bool Resend(const RowRecord& r) const;

  const Transformer* transformer_ = nullptr;
  WalkOptions options_;
  std::unique_ptr<InputScan> scan_;
  std::unique_ptr<RowCursor> cursor_;
  std::optional<RowRecord> record_;  // the cursor's current record (row id >= the walk's)
  bool store_done_ = true;
  std::shared_ptr<const table::RecordBatch> batch_;
  int64_t next_row_ = 0;  // in batch_
  int64_t next_row_id_ = 0;
  bool ended_ = false;
};

// Hashes a row's values (binary bytes directly) into `seed`: the row's fingerprint.
uint64_t RowFingerprint(const table::RecordBatch& batch, int64_t row, uint64_t seed);

}  // namespace structflow::engine

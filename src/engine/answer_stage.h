// AnswerStage: what one completion means for its row. A pure function (no I/O, no shared state):
// a completion and the row's attempt history in; a record to keep, a re-ask (and with which
// max_tokens), or a drop (cancelled: a resume sends the row) out. The parser threads call it and
// act on the verdict; the dialect re-probe that `looks_unconstrained` may trigger is theirs.
//
// Thread-safety: Judge may be called from any number of threads at once (each passes its own
// scratch column).
#pragma once

#include <optional>
#include <string>

#include "client/client.h"
#include "engine/confidence.h"
#include "schema/constraint.h"
#include "structflow/data.h"
#include "table/column.h"

namespace structflow::engine {

struct AnswerPolicy {
  const schema::Constraint* constraint = nullptr;  // null: the answer is free text
  int max_tokens = 256;
  bool retry_truncated = true;  // re-ask once with twice the max_tokens
  int max_output_retries = 2;   // re-asks after an answer that does not fit
  // Non-null (--confidence): a recorded answer is scored from the response's log-probabilities
  // into RowRecord::confidence.
  const Confidence* confidence = nullptr;
};

// The row's history so far.
struct AnswerAttempt {
  int64_t row_id = 0;
  uint64_t fingerprint = 0;
  int output_attempts = 0;   // re-asks already made for invalid output
  int http_attempts = 0;     // HTTP attempts of the earlier asks
  bool long_tokens = false;  // this ask had twice the max_tokens (a truncation re-ask)
  bool stopping = false;     // the job is being abandoned: no re-ask
};

struct AnswerVerdict {
  enum class Action { kRecord, kReask, kDrop };
  Action action = Action::kRecord;
  RowRecord record;  // kRecord: the row's record; kReask: what would be kept otherwise
  bool reask_long_tokens = false;    // kReask: ask with twice the max_tokens
  bool output_retry = false;         // kReask: the re-ask counts as an output retry
  bool looks_unconstrained = false;  // the server seems to ignore the constraint's dialect
  int http_attempts = 0;             // the row's HTTP attempts including this completion's
  // With a confidence policy: why this answer has no confidence scores (the server gave no
  // usable log-probabilities); the job says so once.
  std::string confidence_missing;
};

// `scratch` receives the parsed value (reused between calls; its content is not used).
AnswerVerdict Judge(const AnswerPolicy& policy, schema::Dialect dialect,
                    const client::Completion& completion, const AnswerAttempt& attempt,
                    table::Column* scratch);

}  // namespace structflow::engine

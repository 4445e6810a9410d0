// RowError: why one row failed. A row's failure is a value that travels with the row to the
// output's `error` column; it never escapes as an exception and never stops the job.
// Thread-safety: a plain value.
#pragma once

#include <string>
#include <string_view>

namespace structflow {

enum class ErrorKind {
  kNone = 0,
  kConnect,          // could not connect to any endpoint
  kTimeout,          // connect, total or stall timeout
  kHttpStatus,       // the server answered with a non-2xx status (see http_status)
  kReset,            // the connection broke mid-response
  kInvalidResponse,  // a 2xx body that is not a chat completion
  kCancelled,        // the job was stopped before this row finished
  kImageError,       // an image could not be read, decoded or encoded
  kTemplateError,    // the prompt could not be built for this row
  kInvalidOutput,    // the model's answer does not fit the schema / choice / regex
  kTruncated,        // finish_reason "length": the answer was cut at max_tokens
};

// The stable names written to output files: "connect", "timeout", "http_status", "reset",
// "invalid_response", "cancelled", "image_error", "template_error", "invalid_output",
// "truncated".
// How many kinds there are (kNone included): the size of every per-kind table.
constexpr int kNumErrorKinds = static_cast<int>(ErrorKind::kTruncated) + 1;

std::string_view ErrorKindName(ErrorKind kind);
// The inverse of ErrorKindName; kNone when unknown.
ErrorKind ParseErrorKind(std::string_view name);

struct RowError {
  ErrorKind kind = ErrorKind::kNone;
  std::string message;
  int http_status = 0;  // 0 when no HTTP answer was received
  int attempts = 0;
  bool ok() const { return kind == ErrorKind::kNone; }
};

}  // namespace structflow

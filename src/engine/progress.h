// Progress: the one-line rendering of a job's live figures (rows done/total, rows/s, in flight,
// retries, errors by kind, tokens/s, ETA), for the CLI's live line or periodic log line.
// Thread-safety: pure functions.
#pragma once

#include <cstdint>
#include <string>

#include "structflow/engine.h"

namespace structflow::engine {

// "1,234/7,462 rows  312.4 rows/s  in flight 96  retries 3  errors: timeout 2  1,024 tok/s
// ETA 0:00:20".
std::string RenderProgress(const JobProgress& p);
// "1,234,567"
std::string WithThousands(int64_t v);

}  // namespace structflow::engine

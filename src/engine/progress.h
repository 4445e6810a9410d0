// Progress: the live line on a terminal (rows done/total, rows/s, in flight, retries, errors by
// kind, tokens/s, ETA) or a log line every few seconds without one (CI), and the counters the
// final summary and OUT.stats.json are made from.
// Thread-safety: the counters are atomics that any thread may bump; Render/Print are called from
// the progress thread only.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <string>

#include "common/clock.h"
#include "common/row_error.h"

namespace structflow::engine {

constexpr int kNumErrorKinds = static_cast<int>(ErrorKind::kTruncated) + 1;

struct JobCounters {
  std::atomic<int64_t> total{-1};   // rows to do in this run (-1 while unknown)
  std::atomic<int64_t> resumed{0};  // rows found done in the checkpoint
  std::atomic<int64_t> done{0};     // rows finished in this run (ok or failed)
  std::atomic<int64_t> succeeded{0};
  std::atomic<int64_t> output_retries{0};
  std::atomic<int64_t> prompt_tokens{0};
  std::atomic<int64_t> completion_tokens{0};
  std::array<std::atomic<int64_t>, kNumErrorKinds> errors{};
};

struct LiveFigures {
  int64_t in_flight = 0;
  int64_t http_retries = 0;
  int concurrency_limit = 0;
};

// One line of text: "1,234/7,462 rows  312.4 rows/s  in flight 96  retries 3  errors: timeout 2
// 1,024 tok/s  ETA 0:20".
std::string RenderProgress(const JobCounters& c, const LiveFigures& live, double elapsed_s);
// "1,234,567"
std::string WithThousands(int64_t v);

}  // namespace structflow::engine

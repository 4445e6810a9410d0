#include "engine/progress.h"

#include <fmt/format.h>

namespace structflow::engine {

std::string WithThousands(int64_t v) {
  std::string digits = std::to_string(v < 0 ? -v : v);
  std::string out;
  int n = static_cast<int>(digits.size());
  for (int i = 0; i < n; ++i) {
    out.push_back(digits[i]);
    if ((n - i - 1) % 3 == 0 && i != n - 1) out.push_back(',');
  }
  return v < 0 ? "-" + out : out;
}

std::string RenderProgress(const JobProgress& p) {
  const int64_t done = p.done;
  const int64_t total = p.total;
  const double elapsed_s = p.elapsed_s;
  double rate = elapsed_s > 0 ? done / elapsed_s : 0;
  std::string out = total >= 0
                        ? fmt::format("{}/{} rows", WithThousands(done), WithThousands(total))
                        : fmt::format("{} rows", WithThousands(done));
  if (total > 0) out += fmt::format(" ({:.1f}%)", 100.0 * static_cast<double>(done) / total);
  // After a resume: the rows the checkpoint already held, so the job's whole size shows.
  if (p.resumed > 0) out += fmt::format(" +{} from the checkpoint", WithThousands(p.resumed));
  out += fmt::format("  {:.1f} rows/s  in flight {}", rate, p.in_flight);
  if (p.http_retries > 0) out += fmt::format("  retries {}", WithThousands(p.http_retries));
  std::string errors;
  for (int k = 1; k < kNumErrorKinds; ++k) {
    int64_t n = p.errors[k];
    if (n > 0)
      errors += fmt::format(" {} {}", ErrorKindName(static_cast<ErrorKind>(k)), WithThousands(n));
  }
  if (!errors.empty()) out += "  errors:" + errors;
  int64_t tokens = p.completion_tokens;
  if (tokens > 0 && elapsed_s > 0) out += fmt::format("  {:.0f} tok/s", tokens / elapsed_s);
  // The server's prefix cache at work, when it reports it: the share of prompt tokens it held
  // (not computed again).
  if (p.cached_answers > 0 && p.prompt_tokens > 0) {
    out += fmt::format("  prompt cached {:.0f}%",
                       100.0 * static_cast<double>(p.cached_prompt_tokens) / p.prompt_tokens);
  }
  if (total > 0 && rate > 0 && done < total) {
    int64_t eta = static_cast<int64_t>((total - done) / rate);
    out += fmt::format("  ETA {}:{:02}:{:02}", eta / 3600, eta / 60 % 60, eta % 60);
  }
  return out;
}

}  // namespace structflow::engine

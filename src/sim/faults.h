// Faults on request, for testing clients: `--faults 429:0.1,500:0.05,reset:0.02,...`.
// Each chat completion request draws one number from a hash of (--seed, the request's sequence
// number) and gets at most one fault, so a run is reproducible under the same seed and order.
//   429      answered at once with 429 and a Retry-After header (vLLM behind a rate limiter)
//   500/503  answered at once with that status and vLLM's error body
//   reset    the connection is reset after part of the response head was sent
//   hang     no answer ever; the connection stays open until the client gives up
//   garbage  200 with a body that is not JSON
//   length   the answer is cut: finish_reason "length", content that no longer parses
// Thread-safety: FaultPlan is immutable after Parse; Decide may be called from any thread.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

#include "common/status.h"

namespace structflow::sim {

enum class Fault { kNone = 0, k429, k500, k503, kReset, kHang, kGarbage, kLength };
inline constexpr int kFaultCount = 8;

// "none", "429", "500", "503", "reset", "hang", "garbage", "length".
std::string_view FaultName(Fault fault);

class FaultPlan {
 public:
  FaultPlan() = default;
  // Parses "name:rate,name:rate". Rates are in [0, 1] and add up to at most 1; names are those of
  // FaultName. Errors quote the bad item and list the accepted names.
  static Result<FaultPlan> Parse(std::string_view spec);

  // The fault for request number `sequence` under `seed`.
  Fault Decide(uint64_t seed, uint64_t sequence) const;
  double rate(Fault fault) const { return rates_[static_cast<int>(fault)]; }
  bool empty() const { return total_ == 0; }

 private:
  std::array<double, kFaultCount> rates_{};
  double total_ = 0;
};

}  // namespace structflow::sim

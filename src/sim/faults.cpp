#include "sim/faults.h"

#include <fmt/format.h>

#include <charconv>
#include <cmath>

#include "sim/rng.h"

namespace structflow::sim {
namespace {

constexpr std::string_view kNames[kFaultCount] = {"none",  "429",  "500",     "503",
                                                  "reset", "hang", "garbage", "length"};

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

}  // namespace

std::string_view FaultName(Fault fault) { return kNames[static_cast<int>(fault)]; }

Result<FaultPlan> FaultPlan::Parse(std::string_view spec) {
  FaultPlan plan;
  constexpr std::string_view kAccepted = "429, 500, 503, reset, hang, garbage, length";
  spec = Trim(spec);
  if (spec.empty()) return plan;
  size_t start = 0;
  while (start <= spec.size()) {
    size_t comma = spec.find(',', start);
    if (comma == std::string_view::npos) comma = spec.size();
    std::string_view item = Trim(spec.substr(start, comma - start));
    start = comma + 1;
    if (item.empty()) {
      if (comma == spec.size()) break;
      continue;
    }
    size_t colon = item.find(':');
    if (colon == std::string_view::npos) {
      return Status::InvalidArgument(
          fmt::format("--faults: '{}' has no rate; write NAME:RATE, e.g. 429:0.1 (names: {})", item,
                      kAccepted));
    }
    std::string_view name = Trim(item.substr(0, colon));
    std::string rate_text(Trim(item.substr(colon + 1)));
    int index = -1;
    for (int i = 1; i < kFaultCount; ++i) {
      if (kNames[i] == name) index = i;
    }
    if (index < 0) {
      return Status::InvalidArgument(fmt::format(
          "--faults: unknown fault '{}' in '{}'; use one of {}", name, item, kAccepted));
    }
    char* end = nullptr;
    double rate = std::strtod(rate_text.c_str(), &end);
    if (rate_text.empty() || end != rate_text.c_str() + rate_text.size() || !std::isfinite(rate) ||
        rate < 0 || rate > 1) {
      return Status::InvalidArgument(fmt::format(
          "--faults: rate '{}' of '{}' must be a number from 0 to 1 (a fraction of requests)",
          rate_text, name));
    }
    plan.rates_[index] += rate;
    plan.total_ += rate;
    if (comma == spec.size()) break;
  }
  if (plan.total_ > 1 + 1e-9) {
    return Status::InvalidArgument(fmt::format(
        "--faults: the rates add up to {:.3f}; they must add up to at most 1", plan.total_));
  }
  return plan;
}

Fault FaultPlan::Decide(uint64_t seed, uint64_t sequence) const {
  if (total_ == 0) return Fault::kNone;
  double u = static_cast<double>(Mix64(Mix64(sequence, 0xfa017), seed) >> 11) * 0x1.0p-53;
  double acc = 0;
  for (int i = 1; i < kFaultCount; ++i) {
    acc += rates_[i];
    if (u < acc) return static_cast<Fault>(i);
  }
  return Fault::kNone;
}

}  // namespace structflow::sim

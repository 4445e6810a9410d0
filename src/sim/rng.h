// Deterministic pseudo-randomness for the simulator: every choice it makes (which enum value, how
// many array items, which fault) comes from a hash of the request and --seed, so the same request
// gets the same answer and a test run can be replayed.
// Thread-safety: Rng is a plain value owned by one thread; Hash64 is a pure function.
#pragma once

#include <cstdint>
#include <string_view>

namespace structflow::sim {

// A 64-bit hash of `data` (FNV-1a over words), mixed with `seed` through splitmix64's finaliser.
uint64_t Hash64(std::string_view data, uint64_t seed);
// Mixes two 64-bit values into one (splitmix64 finaliser of a ^ rotated b).
uint64_t Mix64(uint64_t a, uint64_t b);

// splitmix64: tiny, fast, and good enough for picking values.
class Rng {
 public:
  explicit Rng(uint64_t seed) : state_(seed) {}
  uint64_t Next();
  // Uniform in [0, n); 0 when n == 0.
  uint64_t Below(uint64_t n) { return n == 0 ? 0 : Next() % n; }
  // Uniform in [lo, hi] (inclusive); lo when hi < lo.
  int64_t Range(int64_t lo, int64_t hi);
  // Uniform in [0, 1).
  double Unit() { return static_cast<double>(Next() >> 11) * 0x1.0p-53; }
  bool Chance(double p) { return Unit() < p; }

 private:
  uint64_t state_;
};

}  // namespace structflow::sim

#include "sim/rng.h"

#include <cstring>

namespace structflow::sim {
namespace {

uint64_t Finalise(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

}  // namespace

uint64_t Hash64(std::string_view data, uint64_t seed) {
  // FNV-1a over 8-byte words (a byte at a time would cost a millisecond per megabyte of image).
  uint64_t h = 0xcbf29ce484222325ULL ^ data.size();
  size_t i = 0;
  for (; i + 8 <= data.size(); i += 8) {
    uint64_t w;
    std::memcpy(&w, data.data() + i, 8);
    h = (h ^ w) * 0x100000001b3ULL;
    h ^= h >> 29;
  }
  for (; i < data.size(); ++i) {
    h = (h ^ static_cast<unsigned char>(data[i])) * 0x100000001b3ULL;
  }
  return Mix64(h, seed);
}

uint64_t Mix64(uint64_t a, uint64_t b) {
  return Finalise(a ^ ((b << 17) | (b >> 47)) ^ 0x9e3779b97f4a7c15ULL);
}

uint64_t Rng::Next() {
  state_ += 0x9e3779b97f4a7c15ULL;
  return Finalise(state_);
}

int64_t Rng::Range(int64_t lo, int64_t hi) {
  if (hi <= lo) return lo;
  uint64_t span = static_cast<uint64_t>(hi) - static_cast<uint64_t>(lo) + 1;
  if (span == 0) return static_cast<int64_t>(Next());  // the full 64-bit range
  return lo + static_cast<int64_t>(Next() % span);
}

}  // namespace structflow::sim

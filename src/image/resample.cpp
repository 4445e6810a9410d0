#include "image/resample.h"

#include <algorithm>
#include <cmath>
#include <memory>
#include <vector>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

// AVX2 and generic copies chosen at load time by an ifunc resolver. ThreadSanitizer cannot run
// ifunc resolvers (they run before its runtime starts), so sanitizer builds keep one copy; so
// does clang (the libFuzzer build: clang 14 cannot multiversion function templates).
#if defined(__SANITIZE_THREAD__) || defined(__SANITIZE_ADDRESS__) || defined(__clang__)
#define STRUCTFLOW_AVX2_CLONES
#else
#define STRUCTFLOW_AVX2_CLONES __attribute__((target_clones("avx2", "default")))
#endif

namespace structflow::image {
namespace {

constexpr int kPrecisionBits = 22;  // 8-bit pixels x 22-bit weights fit an int32 sum

double CatmullRom(double x) {
  constexpr double a = -0.5;
  x = std::fabs(x);
  if (x < 1.0) return ((a + 2.0) * x - (a + 3.0)) * x * x + 1.0;
  if (x < 2.0) return (((x - 5.0) * x + 8.0) * x - 4.0) * a;
  return 0.0;
}

// For each output position: the first input index, the tap count and fixed-point weights.
struct Coeffs {
  int taps = 0;
  std::vector<int> start;
  std::vector<int> count;
  std::vector<int32_t> w;  // out * taps
};

Coeffs Compute(int in, int out) {
  Coeffs c;
  const double scale = static_cast<double>(in) / out;
  const double fscale = std::max(scale, 1.0);
  const double support = 2.0 * fscale;
  c.taps = static_cast<int>(std::ceil(support)) * 2 + 1;
  c.start.resize(out);
  c.count.resize(out);
  c.w.assign(static_cast<size_t>(out) * c.taps, 0);
  std::vector<double> tmp(c.taps);
  for (int x = 0; x < out; ++x) {
    const double center = (x + 0.5) * scale;
    int lo = std::max(static_cast<int>(center - support + 0.5), 0);
    int hi = std::min(static_cast<int>(center + support + 0.5), in);
    int n = std::min(hi - lo, c.taps);
    double sum = 0;
    for (int k = 0; k < n; ++k) {
      tmp[k] = CatmullRom((lo + k + 0.5 - center) / fscale);
      sum += tmp[k];
    }
    for (int k = 0; k < n; ++k) {
      double v = sum != 0 ? tmp[k] / sum : 0;
      c.w[static_cast<size_t>(x) * c.taps + k] =
          static_cast<int32_t>(std::lround(v * (1 << kPrecisionBits)));
    }
    c.start[x] = lo;
    c.count[x] = n;
  }
  return c;
}

inline uint8_t Clamp(int32_t acc) {
  acc >>= kPrecisionBits;
  return static_cast<uint8_t>(acc < 0 ? 0 : (acc > 255 ? 255 : acc));
}

template <int B>
STRUCTFLOW_AVX2_CLONES void Horizontal(const uint8_t* src, int sw, int rows, uint8_t* dst, int dw,
                                       const Coeffs& c) {
  for (int y = 0; y < rows; ++y) {
    const uint8_t* row = src + static_cast<size_t>(y) * sw * B;
    uint8_t* out = dst + static_cast<size_t>(y) * dw * B;
    for (int x = 0; x < dw; ++x) {
      const uint8_t* p = row + static_cast<size_t>(c.start[x]) * B;
      const int32_t* w = &c.w[static_cast<size_t>(x) * c.taps];
      const int n = c.count[x];
      int32_t acc[B];
      for (int b = 0; b < B; ++b) acc[b] = 1 << (kPrecisionBits - 1);
      for (int k = 0; k < n; ++k) {
        for (int b = 0; b < B; ++b) acc[b] += p[k * B + b] * w[k];
      }
      for (int b = 0; b < B; ++b) out[x * B + b] = Clamp(acc[b]);
    }
  }
}

STRUCTFLOW_AVX2_CLONES void Vertical(const uint8_t* src, int row_bytes, uint8_t* dst, int dh,
                                     const Coeffs& c, int32_t* acc) {
  for (int y = 0; y < dh; ++y) {
    const int32_t* w = &c.w[static_cast<size_t>(y) * c.taps];
    for (int i = 0; i < row_bytes; ++i) acc[i] = 1 << (kPrecisionBits - 1);
    for (int k = 0; k < c.count[y]; ++k) {
      const uint8_t* r = src + static_cast<size_t>(c.start[y] + k) * row_bytes;
      const int32_t wk = w[k];
      for (int i = 0; i < row_bytes; ++i) acc[i] += r[i] * wk;
    }
    uint8_t* out = dst + static_cast<size_t>(y) * row_bytes;
    for (int i = 0; i < row_bytes; ++i) out[i] = Clamp(acc[i]);
  }
}

// Transpose of a rows x cols byte matrix into cols x rows: 8x8 tiles with SSE2 unpacks (part of
// the x86-64 baseline), scalar at the edges.
void Transpose(const uint8_t* src, int rows, int cols, uint8_t* dst) {
  int r0 = 0;
#if defined(__SSE2__)
  for (; r0 + 8 <= rows; r0 += 8) {
    int c0 = 0;
    for (; c0 + 8 <= cols; c0 += 8) {
      __m128i r[8];
      for (int i = 0; i < 8; ++i) {
        r[i] = _mm_loadl_epi64(
            reinterpret_cast<const __m128i*>(src + static_cast<size_t>(r0 + i) * cols + c0));
      }
      __m128i a0 = _mm_unpacklo_epi8(r[0], r[1]);
      __m128i a1 = _mm_unpacklo_epi8(r[2], r[3]);
      __m128i a2 = _mm_unpacklo_epi8(r[4], r[5]);
      __m128i a3 = _mm_unpacklo_epi8(r[6], r[7]);
      __m128i b0 = _mm_unpacklo_epi16(a0, a1);
      __m128i b1 = _mm_unpackhi_epi16(a0, a1);
      __m128i b2 = _mm_unpacklo_epi16(a2, a3);
      __m128i b3 = _mm_unpackhi_epi16(a2, a3);
      __m128i c[4] = {_mm_unpacklo_epi32(b0, b2), _mm_unpackhi_epi32(b0, b2),
                      _mm_unpacklo_epi32(b1, b3), _mm_unpackhi_epi32(b1, b3)};
      for (int k = 0; k < 4; ++k) {
        uint8_t* out = dst + static_cast<size_t>(c0 + 2 * k) * rows + r0;
        _mm_storel_epi64(reinterpret_cast<__m128i*>(out), c[k]);
        _mm_storel_epi64(reinterpret_cast<__m128i*>(out + rows), _mm_unpackhi_epi64(c[k], c[k]));
      }
    }
    for (; c0 < cols; ++c0) {
      for (int i = 0; i < 8; ++i) {
        dst[static_cast<size_t>(c0) * rows + r0 + i] = src[static_cast<size_t>(r0 + i) * cols + c0];
      }
    }
  }
#endif
  for (; r0 < rows; ++r0) {
    for (int c = 0; c < cols; ++c) {
      dst[static_cast<size_t>(c) * rows + r0] = src[static_cast<size_t>(r0) * cols + c];
    }
  }
}

}  // namespace

void ResampleU8(const uint8_t* src, int sw, int sh, int bands, uint8_t* dst, int dw, int dh) {
  const Coeffs ch = Compute(sw, dw);
  const Coeffs cv = Compute(sh, dh);
  if (bands == 1) {
    // One plane (the JPEG fast path's Y, Cb, Cr): the vectorised vertical pass does both
    // directions, with a transpose around the second (a scalar horizontal pass cost 3x more).
    // Scratch reused per thread: fresh multi-megabyte buffers per image cost page faults.
    thread_local std::vector<uint8_t> a;
    thread_local std::vector<uint8_t> b;
    thread_local std::vector<int32_t> acc;
    const size_t n = static_cast<size_t>(std::max(sw, dw)) * std::max(sh, dh);
    if (a.size() < n) a.resize(n);
    if (b.size() < n) b.resize(n);
    if (acc.size() < static_cast<size_t>(std::max(sw, dh))) acc.resize(std::max(sw, dh));
    Vertical(src, sw, a.data(), dh, cv, acc.data());       // sw x dh
    Transpose(a.data(), dh, sw, b.data());                 // sw rows of dh
    Vertical(b.data(), dh, a.data(), dw, ch, acc.data());  // dw rows of dh
    Transpose(a.data(), dw, dh, dst);                      // dh rows of dw
    return;
  }
  // Interleaved pixels: horizontal first into a dw x sh buffer, then vertical.
  std::unique_ptr<uint8_t[]> tmp(new uint8_t[static_cast<size_t>(dw) * sh * bands]);
  switch (bands) {
    case 2:
      Horizontal<2>(src, sw, sh, tmp.get(), dw, ch);
      break;
    case 3:
      Horizontal<3>(src, sw, sh, tmp.get(), dw, ch);
      break;
    default:
      Horizontal<4>(src, sw, sh, tmp.get(), dw, ch);
      break;
  }
  std::unique_ptr<int32_t[]> acc(new int32_t[static_cast<size_t>(dw) * bands]);
  Vertical(tmp.get(), dw * bands, dst, dh, cv, acc.get());
}

}  // namespace structflow::image

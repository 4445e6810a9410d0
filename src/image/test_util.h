// Test helpers: images generated with libvips in the test itself (no binary fixtures).
// Test-only; include from *_test.cpp files. Errors throw vips::VError, which fails the test.
#pragma once

#include <gtest/gtest.h>

#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>
#include <vips/vips8>

#include "image/image.h"

namespace structflow::image::testing {

inline void EnsureVips() {
  Status st = Init();
  if (!st.ok()) {
    ADD_FAILURE() << st.ToString();
    std::abort();
  }
}

// A w x h image of one colour; the number of bands is colour.size() (1 grey, 3 RGB, 4 RGBA).
inline vips::VImage Solid(int w, int h, const std::vector<double>& colour) {
  EnsureVips();
  vips::VImage im = vips::VImage::black(
      w, h, vips::VImage::option()->set("bands", static_cast<int>(colour.size())));
  std::vector<double> ones(colour.size(), 1.0);
  im = im.linear(ones, colour).cast(VIPS_FORMAT_UCHAR);
  VipsInterpretation interp =
      colour.size() >= 3 ? VIPS_INTERPRETATION_sRGB : VIPS_INTERPRETATION_B_W;
  return im.copy(vips::VImage::option()->set("interpretation", interp));
}

// A photo-like RGB image: gradients plus noise, so encoders do real work.
inline vips::VImage PhotoLike(int w, int h, int seed = 1) {
  EnsureVips();
  vips::VImage xy = vips::VImage::xyz(w, h);
  vips::VImage x = xy.extract_band(0);
  vips::VImage y = xy.extract_band(1);
  vips::VImage noise = vips::VImage::gaussnoise(
      w, h, vips::VImage::option()->set("sigma", 18.0)->set("mean", 0.0)->set("seed", seed));
  vips::VImage r = x * (255.0 / w) + noise;
  vips::VImage g = y * (255.0 / h) + noise;
  vips::VImage b = (x + y) * (127.0 / (w + h)) + 64 + noise;
  vips::VImage rgb = r.bandjoin(g).bandjoin(b).cast(VIPS_FORMAT_UCHAR);
  return rgb.copy(vips::VImage::option()->set("interpretation", VIPS_INTERPRETATION_sRGB));
}

// Encodes with the saver chosen by `suffix` (".jpg", ".png[palette]", ".webp", ".gif", ".bmp",
// ".tif").
inline std::string Save(const vips::VImage& im, const char* suffix) {
  void* buf = nullptr;
  size_t len = 0;
  im.write_to_buffer(suffix, &buf, &len);
  std::string out(static_cast<const char*>(buf), len);
  g_free(buf);
  return out;
}

inline vips::VImage Load(std::string_view bytes) {
  EnsureVips();
  // Copy: the image must not point into a buffer the test frees.
  vips::VImage im = vips::VImage::new_from_buffer(bytes.data(), bytes.size(), "");
  return im.copy_memory();
}

}  // namespace structflow::image::testing

#include "image/resample.h"

#include <gtest/gtest.h>

#include <array>
#include <cmath>
#include <string>
#include <vector>

#include "image/test_util.h"

namespace structflow::image {
namespace {

using testing::PhotoLike;
using vips::VImage;

std::vector<uint8_t> Pixels(const VImage& im) {
  size_t size = 0;
  void* data = im.write_to_memory(&size);
  std::vector<uint8_t> out(static_cast<uint8_t*>(data), static_cast<uint8_t*>(data) + size);
  g_free(data);
  return out;
}

TEST(ResampleU8, KeepsAConstantImageExactlyAtEverySizeAndBandCount) {
  for (int bands : {1, 3, 4}) {
    for (auto [sw, sh, dw, dh] : {std::array<int, 4>{800, 600, 768, 576},
                                  {37, 53, 11, 29},
                                  {9, 8, 1, 1},
                                  {1000, 3, 17, 2}}) {
      std::vector<uint8_t> src(static_cast<size_t>(sw) * sh * bands);
      for (size_t i = 0; i < src.size(); ++i) src[i] = static_cast<uint8_t>(40 + i % bands * 50);
      std::vector<uint8_t> dst(static_cast<size_t>(dw) * dh * bands, 0);
      ResampleU8(src.data(), sw, sh, bands, dst.data(), dw, dh);
      for (size_t i = 0; i < dst.size(); ++i) {
        ASSERT_EQ(dst[i], 40 + i % bands * 50)
            << bands << " bands " << sw << "x" << sh << "->" << dw << "x" << dh << " at " << i;
      }
    }
  }
}

// Within a few levels of libvips' own bicubic reduce on a photo-like image, for planes (the
// transposing path, odd sizes included) and interleaved RGB.
TEST(ResampleU8, MatchesLibvipsBicubicWithinAFewLevels) {
  VImage photo = PhotoLike(403, 301);
  for (int bands : {1, 3}) {
    VImage src = bands == 1 ? photo.extract_band(0) : photo;
    for (auto [dw, dh] : {std::array<int, 2>{384, 287}, {201, 150}, {99, 75}}) {
      SCOPED_TRACE(std::to_string(bands) + " bands to " + std::to_string(dw) + "x" +
                   std::to_string(dh));
      std::vector<uint8_t> in = Pixels(src);
      std::vector<uint8_t> out(static_cast<size_t>(dw) * dh * bands);
      ResampleU8(in.data(), 403, 301, bands, out.data(), dw, dh);
      VImage ref = src.resize(static_cast<double>(dw) / 403,
                              VImage::option()
                                  ->set("vscale", static_cast<double>(dh) / 301)
                                  ->set("kernel", VIPS_KERNEL_CUBIC));
      ASSERT_EQ(ref.width(), dw);
      ASSERT_EQ(ref.height(), dh);
      std::vector<uint8_t> expected = Pixels(ref);
      double diff = 0;
      for (size_t i = 0; i < out.size(); ++i) diff += std::abs(out[i] - expected[i]);
      EXPECT_LT(diff / out.size(), 3.0);
    }
  }
}

}  // namespace
}  // namespace structflow::image

#include "image/image.h"

#include <gtest/gtest.h>
#include <sys/resource.h>
#include <zlib.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <thread>
#include <vector>

#include "image/test_util.h"

namespace structflow::image {
namespace {

using testing::Load;
using testing::PhotoLike;
using testing::Save;
using testing::Solid;
using vips::VImage;

const std::vector<double> kRed = {255, 0, 0};
const std::vector<double> kWhite = {255, 255, 255};

bool IsRed(const std::vector<double>& px) { return px[0] > 200 && px[1] < 80 && px[2] < 80; }
bool IsWhite(const std::vector<double>& px) {
  for (size_t i = 0; i < std::min<size_t>(px.size(), 3); ++i) {
    if (px[i] < 235) return false;
  }
  return true;
}

ImagePolicy Policy(int max_side, int64_t max_pixels = 0,
                   OutputFormat format = OutputFormat::kJpeg) {
  ImagePolicy p;
  p.max_side = max_side;
  p.max_pixels = max_pixels;
  p.format = format;
  return p;
}

PreparedImage MustPrepare(std::string_view bytes, const ImagePolicy& policy) {
  auto r = Prepare(bytes, policy);
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  if (!r.ok()) return PreparedImage();
  return std::move(r).value();
}

TEST(SniffFormat, RecognisesEveryInputFormatFromItsFirstBytes) {
  VImage im = Solid(4, 3, kRed);
  EXPECT_EQ(SniffFormat(Save(im, ".jpg")), Format::kJpeg);
  EXPECT_EQ(SniffFormat(Save(im, ".png")), Format::kPng);
  EXPECT_EQ(SniffFormat(Save(im, ".webp")), Format::kWebp);
  EXPECT_EQ(SniffFormat(Save(im, ".gif")), Format::kGif);
  EXPECT_EQ(SniffFormat(Save(im, ".bmp")), Format::kBmp);
  EXPECT_EQ(SniffFormat(Save(im, ".tif")), Format::kTiff);
  EXPECT_EQ(SniffFormat("<!DOCTYPE html>"), Format::kUnknown);
  EXPECT_EQ(SniffFormat(""), Format::kUnknown);
}

// Every input format decodes; big ones are resized to the policy and re-encoded as JPEG with
// the colour preserved.
TEST(Prepare, DecodesEveryFormatAndResizesToMaxSide) {
  VImage im = Solid(300, 200, kRed);
  for (const char* suffix : {".jpg", ".png", ".webp", ".gif", ".bmp", ".tif"}) {
    SCOPED_TRACE(suffix);
    std::string bytes = Save(im, suffix);
    PreparedImage p = MustPrepare(bytes, Policy(150));
    EXPECT_TRUE(p.reencoded());
    EXPECT_EQ(p.mime(), "image/jpeg");
    EXPECT_EQ(SniffFormat(p.bytes()), Format::kJpeg);
    EXPECT_EQ(p.width(), 150);
    EXPECT_EQ(p.height(), 100);
    VImage out = Load(p.bytes());
    EXPECT_EQ(out.width(), 150);
    EXPECT_EQ(out.height(), 100);
    EXPECT_EQ(out.bands(), 3);
    EXPECT_TRUE(IsRed(out.getpoint(75, 50)));
  }
}

TEST(Prepare, KeepsFittingImagesInServerFormatsByteForByte) {
  VImage im = PhotoLike(120, 80);
  for (const char* suffix : {".jpg", ".png", ".webp", ".gif"}) {
    SCOPED_TRACE(suffix);
    std::string bytes = Save(im, suffix);
    PreparedImage p = MustPrepare(bytes, Policy(768));
    EXPECT_FALSE(p.reencoded());
    EXPECT_EQ(p.bytes().data(), bytes.data()) << "kept bytes must not be copied";
    EXPECT_EQ(p.bytes().size(), bytes.size());
    EXPECT_EQ(p.mime(), MimeType(SniffFormat(bytes)));
    EXPECT_EQ(p.width(), 120);
    EXPECT_EQ(p.height(), 80);
  }
}

TEST(Prepare, ReencodesFittingBmpAndTiffBecauseServersRejectThem) {
  VImage im = Solid(40, 30, kRed);
  for (const char* suffix : {".bmp", ".tif"}) {
    SCOPED_TRACE(suffix);
    std::string bytes = Save(im, suffix);
    PreparedImage p = MustPrepare(bytes, Policy(768));
    EXPECT_TRUE(p.reencoded());
    EXPECT_EQ(p.mime(), "image/jpeg");
    EXPECT_EQ(p.width(), 40);
    EXPECT_EQ(p.height(), 30);
  }
}

// The JPEG fast path (TurboJPEG on YCbCr planes) must look like the libvips path it replaces.
TEST(Prepare, JpegFastPathMatchesTheLibvipsPipeline) {
  std::string jpeg = Save(PhotoLike(1600, 1200), ".jpg[Q=90,subsample_mode=on]");
  PreparedImage fast = MustPrepare(jpeg, Policy(768));
  PreparedImage slow = MustPrepare(jpeg, Policy(768, 0, OutputFormat::kPng));
  ASSERT_EQ(fast.mime(), "image/jpeg");
  ASSERT_EQ(slow.mime(), "image/png");
  VImage a = Load(fast.bytes());
  VImage b = Load(slow.bytes());
  ASSERT_EQ(a.width(), 768);
  ASSERT_EQ(a.height(), 576);
  ASSERT_EQ(b.width(), 768);
  EXPECT_LT((a - b).abs().avg(), 6.0);
  EXPECT_NEAR(a.avg(), b.avg(), 1.0);
}

TEST(Prepare, KeepFittingFalseAlwaysReencodes) {
  std::string bytes = Save(PhotoLike(64, 48), ".png");
  ImagePolicy policy = Policy(768);
  policy.keep_fitting = false;
  PreparedImage p = MustPrepare(bytes, policy);
  EXPECT_TRUE(p.reencoded());
  EXPECT_EQ(p.mime(), "image/jpeg");
  EXPECT_EQ(p.width(), 64);
}

TEST(Prepare, EncodesPngAndWebpAndKeepsTheInputFormatOnRequest) {
  std::string png = Save(PhotoLike(400, 300), ".png");
  PreparedImage as_webp = MustPrepare(png, Policy(200, 0, OutputFormat::kWebp));
  EXPECT_EQ(as_webp.mime(), "image/webp");
  EXPECT_EQ(SniffFormat(as_webp.bytes()), Format::kWebp);
  EXPECT_EQ(Load(as_webp.bytes()).width(), 200);

  PreparedImage keep = MustPrepare(png, Policy(200, 0, OutputFormat::kKeep));
  EXPECT_EQ(keep.mime(), "image/png");
  EXPECT_EQ(SniffFormat(keep.bytes()), Format::kPng);

  std::string bmp = Save(PhotoLike(400, 300), ".bmp");
  PreparedImage bmp_keep = MustPrepare(bmp, Policy(200, 0, OutputFormat::kKeep));
  EXPECT_EQ(bmp_keep.mime(), "image/jpeg") << "BMP without alpha becomes JPEG";
}

// The stored image has a red block in its top-left corner; after the EXIF orientation is
// applied the block must be where a viewer shows it, and sizes 5-8 swap width and height.
TEST(Prepare, AppliesExifOrientationsOneToEight) {
  VImage base = Solid(64, 32, kWhite).insert(Solid(12, 12, kRed), 0, 0);
  enum Corner { kTopLeft, kTopRight, kBottomLeft, kBottomRight };
  const Corner expected[9] = {kTopLeft, kTopLeft,  kTopRight,    kBottomRight, kBottomLeft,
                              kTopLeft, kTopRight, kBottomRight, kBottomLeft};
  for (int orientation = 1; orientation <= 8; ++orientation) {
    SCOPED_TRACE("orientation " + std::to_string(orientation));
    VImage tagged = base.copy();
    tagged.set(VIPS_META_ORIENTATION, orientation);
    std::string bytes = Save(tagged, ".jpg[Q=95]");
    ASSERT_EQ(Load(bytes).get_int(VIPS_META_ORIENTATION), orientation);

    PreparedImage p = MustPrepare(bytes, Policy(768));
    EXPECT_EQ(p.reencoded(), orientation != 1) << "only upright images are kept";
    bool swapped = orientation >= 5;
    EXPECT_EQ(p.width(), swapped ? 32 : 64);
    EXPECT_EQ(p.height(), swapped ? 64 : 32);
    VImage out = Load(p.bytes());
    ASSERT_EQ(out.width(), p.width());
    int w = out.width();
    int h = out.height();
    int x =
        (expected[orientation] == kTopRight || expected[orientation] == kBottomRight) ? w - 5 : 4;
    int y =
        (expected[orientation] == kBottomLeft || expected[orientation] == kBottomRight) ? h - 5 : 4;
    EXPECT_TRUE(IsRed(out.getpoint(x, y))) << "marker not at (" << x << "," << y << ")";
    EXPECT_TRUE(IsWhite(out.getpoint(w - 1 - x, h - 1 - y)));
    if (p.reencoded()) {
      EXPECT_FALSE(vips_image_get_typeof(out.get_image(), VIPS_META_ORIENTATION) &&
                   out.get_int(VIPS_META_ORIENTATION) != 1)
          << "the output must not be rotated a second time by the server";
    }
  }
}

TEST(Prepare, ConvertsCmykJpegToSrgb) {
  // C=0 M=255 Y=255 K=0 is red.
  VImage cmyk = Solid(80, 60, {0, 255, 255, 0})
                    .copy(VImage::option()->set("interpretation", VIPS_INTERPRETATION_CMYK));
  std::string bytes = Save(cmyk, ".jpg");
  ASSERT_EQ(Load(bytes).bands(), 4);
  PreparedImage p = MustPrepare(bytes, Policy(768));
  EXPECT_TRUE(p.reencoded()) << "CMYK JPEG is not sent as is";
  VImage out = Load(p.bytes());
  EXPECT_EQ(out.bands(), 3);
  EXPECT_EQ(out.interpretation(), VIPS_INTERPRETATION_sRGB);
  EXPECT_TRUE(IsRed(out.getpoint(40, 30)));
}

TEST(Prepare, KeepsFittingGrayscaleJpegAndResizesLargeOnes) {
  std::string bytes = Save(Solid(300, 100, {90}), ".jpg");
  PreparedImage kept = MustPrepare(bytes, Policy(768));
  EXPECT_FALSE(kept.reencoded());
  PreparedImage small = MustPrepare(bytes, Policy(150));
  EXPECT_TRUE(small.reencoded());
  VImage out = Load(small.bytes());
  EXPECT_EQ(out.width(), 150);
  EXPECT_EQ(out.height(), 50);
  std::vector<double> px = out.getpoint(75, 25);
  EXPECT_NEAR(px[0], 90, 4);
}

TEST(Prepare, Converts16BitPngTo8BitWithTheSameColour) {
  // Half intensity red in 16 bits.
  VImage im16 = VImage::black(50, 40, VImage::option()->set("bands", 3))
                    .linear({1, 1, 1}, {40000, 20000, 0})
                    .cast(VIPS_FORMAT_USHORT)
                    .copy(VImage::option()->set("interpretation", VIPS_INTERPRETATION_RGB16));
  std::string bytes = Save(im16, ".png");
  ASSERT_EQ(Load(bytes).format(), VIPS_FORMAT_USHORT);
  PreparedImage p = MustPrepare(bytes, Policy(768, 0, OutputFormat::kPng));
  EXPECT_TRUE(p.reencoded()) << "16-bit PNG is converted to 8 bits";
  VImage out = Load(p.bytes());
  EXPECT_EQ(out.format(), VIPS_FORMAT_UCHAR);
  std::vector<double> px = out.getpoint(10, 10);
  EXPECT_NEAR(px[0], 40000 / 257.0, 2);
  EXPECT_NEAR(px[1], 20000 / 257.0, 2);
  EXPECT_NEAR(px[2], 0, 2);
}

TEST(Prepare, FlattensPalettePngTransparencyOnWhiteForJpeg) {
  // Left half opaque red, right half fully transparent.
  VImage rgba = Solid(60, 40, {255, 0, 0, 0}).insert(Solid(30, 40, {255, 0, 0, 255}), 0, 0);
  std::string bytes = Save(rgba, ".png[palette]");
  VImage loaded = Load(bytes);
  ASSERT_EQ(loaded.bands(), 4);

  PreparedImage kept = MustPrepare(bytes, Policy(768));
  EXPECT_FALSE(kept.reencoded()) << "PNG with alpha fits and servers read it";

  PreparedImage jpeg = MustPrepare(bytes, Policy(30));
  EXPECT_EQ(jpeg.mime(), "image/jpeg");
  VImage out = Load(jpeg.bytes());
  EXPECT_EQ(out.bands(), 3);
  EXPECT_TRUE(IsRed(out.getpoint(3, 10)));
  EXPECT_TRUE(IsWhite(out.getpoint(27, 10))) << "transparent pixels become white, not black";

  PreparedImage png = MustPrepare(bytes, Policy(30, 0, OutputFormat::kPng));
  VImage out_png = Load(png.bytes());
  EXPECT_EQ(out_png.bands(), 4) << "PNG output keeps alpha";
  EXPECT_LT(out_png.getpoint(27, 10)[3], 10);
}

TEST(Prepare, HandlesOnePixelImages) {
  for (const char* suffix : {".jpg", ".png", ".gif", ".bmp", ".webp"}) {
    SCOPED_TRACE(suffix);
    std::string bytes = Save(Solid(1, 1, kRed), suffix);
    PreparedImage p = MustPrepare(bytes, Policy(768));
    EXPECT_EQ(p.width(), 1);
    EXPECT_EQ(p.height(), 1);
    EXPECT_TRUE(IsRed(Load(p.bytes()).getpoint(0, 0)));
  }
  // A 1-pixel-wide strip keeps at least one pixel across when shrunk.
  PreparedImage strip = MustPrepare(Save(Solid(1, 1000, kRed), ".png"), Policy(100));
  EXPECT_EQ(strip.width(), 1);
  EXPECT_EQ(strip.height(), 100);
}

TEST(Prepare, NeverUpscales) {
  std::string bytes = Save(Solid(50, 20, kRed), ".bmp");
  PreparedImage p = MustPrepare(bytes, Policy(4000, 100000000));
  EXPECT_EQ(p.width(), 50);
  EXPECT_EQ(p.height(), 20);
}

TEST(Prepare, OutputDimensionsRespectMaxSideAndMaxPixels) {
  struct Case {
    int w, h, max_side;
    int64_t max_pixels;
  };
  const Case cases[] = {{1601, 1199, 768, 0},      {1199, 1601, 768, 0},   {3000, 17, 512, 0},
                        {17, 3000, 0, 10000},      {999, 1000, 0, 250000}, {1000, 999, 512, 200000},
                        {2048, 1536, 1024, 65536}, {777, 333, 0, 12345}};
  for (const Case& c : cases) {
    SCOPED_TRACE(std::to_string(c.w) + "x" + std::to_string(c.h));
    for (const char* suffix : {".jpg", ".png"}) {
      std::string bytes = Save(Solid(c.w, c.h, kRed), suffix);
      PreparedImage p = MustPrepare(bytes, Policy(c.max_side, c.max_pixels));
      VImage out = Load(p.bytes());
      EXPECT_EQ(out.width(), p.width());
      EXPECT_EQ(out.height(), p.height());
      if (c.max_side > 0) {
        EXPECT_LE(std::max(out.width(), out.height()), c.max_side);
      }
      if (c.max_pixels > 0) {
        EXPECT_LE(int64_t{out.width()} * out.height(), c.max_pixels);
      }
      int fw = 0;
      int fh = 0;
      FitWithin(c.w, c.h, Policy(c.max_side, c.max_pixels), &fw, &fh);
      EXPECT_NEAR(out.width(), fw, 1);
      EXPECT_NEAR(out.height(), fh, 1);
      // Aspect ratio is kept to within a pixel of rounding.
      EXPECT_NEAR(static_cast<double>(out.width()) / out.height(), static_cast<double>(c.w) / c.h,
                  1.5 * static_cast<double>(c.w) / c.h / std::min(out.width(), out.height()));
    }
  }
}

TEST(FitWithin, ComputesTheLargestSizeWithinBothLimits) {
  int w = 0;
  int h = 0;
  FitWithin(1600, 1200, Policy(768), &w, &h);
  EXPECT_EQ(w, 768);
  EXPECT_EQ(h, 576);
  FitWithin(1200, 1600, Policy(768), &w, &h);
  EXPECT_EQ(w, 576);
  EXPECT_EQ(h, 768);
  FitWithin(2000, 2000, Policy(0, 1000000), &w, &h);
  EXPECT_EQ(w, 1000);
  EXPECT_EQ(h, 1000);
  FitWithin(4000, 1000, Policy(1000, 100000), &w, &h);
  EXPECT_LE(int64_t{w} * h, 100000);
  EXPECT_EQ(w, 632);
  FitWithin(100, 50, Policy(768, 1000000), &w, &h);
  EXPECT_EQ(w, 100);
  EXPECT_EQ(h, 50);
}

TEST(Prepare, RejectsEmptyInput) {
  auto r = Prepare("", Policy(768));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kCorrupt);
  EXPECT_NE(r.status().message().find("empty image (0 bytes)"), std::string::npos);
}

TEST(Prepare, RejectsBytesThatAreNotAnImage) {
  auto r = Prepare("<!DOCTYPE html><html>404</html>", Policy(768));
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("not an image"), std::string::npos) << r.status().message();
  EXPECT_NE(r.status().message().find("an HTML page"), std::string::npos) << r.status().message();
}

TEST(Prepare, NeverCopiesTheBytesOfANonImageIntoTheMessage) {
  // A row pointing at /etc/passwd must not leak its content into the output's error column.
  auto r = Prepare("root:x:0:0:root:/root:/bin/bash\ndaemon:x:1:1::/usr/sbin\n", Policy(768));
  ASSERT_FALSE(r.ok());
  const std::string& m = r.status().message();
  EXPECT_EQ(m.find("root"), std::string::npos) << m;
  EXPECT_EQ(m.find("72 6f"), std::string::npos) << m;
  EXPECT_NE(m.find("looks like text"), std::string::npos) << m;
  auto pdf = Prepare("%PDF-1.7 secret", Policy(768));
  ASSERT_FALSE(pdf.ok());
  EXPECT_NE(pdf.status().message().find("a PDF document"), std::string::npos);
  EXPECT_EQ(pdf.status().message().find("secret"), std::string::npos);
  auto bin = Prepare(std::string("\x01\x02\x03\xfe secret", 11), Policy(768));
  ASSERT_FALSE(bin.ok());
  EXPECT_NE(bin.status().message().find("binary data of an unknown format"), std::string::npos);
}

// Truncation must fail the row both when the image would be kept and when it is re-encoded.
TEST(Prepare, RejectsTruncatedImagesOfEveryServerFormat) {
  VImage im = PhotoLike(300, 200);
  for (const char* suffix : {".jpg", ".png", ".webp", ".gif"}) {
    std::string bytes = Save(im, suffix);
    for (double keep_fraction : {0.5, 0.9}) {
      std::string cut = bytes.substr(0, static_cast<size_t>(bytes.size() * keep_fraction));
      for (int max_side : {768, 100}) {
        SCOPED_TRACE(std::string(suffix) + " cut to " + std::to_string(cut.size()) +
                     " bytes, max side " + std::to_string(max_side));
        auto r = Prepare(cut, Policy(max_side));
        ASSERT_FALSE(r.ok());
        EXPECT_EQ(r.status().code(), StatusCode::kCorrupt);
        EXPECT_NE(r.status().message().find(std::string(FormatName(SniffFormat(bytes)))),
                  std::string::npos)
            << r.status().message();
      }
    }
  }
}

TEST(Prepare, RejectsAHeaderOnlyJpeg) {
  std::string bytes = Save(PhotoLike(64, 64), ".jpg");
  auto r = Prepare(bytes.substr(0, 20), Policy(768));
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("jpeg"), std::string::npos) << r.status().message();
}

TEST(Prepare, KeepsJpegWithTrailingDataAfterFullCheck) {
  std::string bytes = Save(PhotoLike(64, 64), ".jpg") + std::string(300, 'x');
  PreparedImage p = MustPrepare(bytes, Policy(768));
  EXPECT_FALSE(p.reencoded());
}

TEST(ValidatePolicy, NamesTheFlagThatIsOutOfRange) {
  ImagePolicy p;
  p.quality = 0;
  Status st = ValidatePolicy(p);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("--image-quality"), std::string::npos);
  p.quality = 85;
  p.max_side = -1;
  EXPECT_NE(ValidatePolicy(p).message().find("--image-max-side"), std::string::npos);
  EXPECT_TRUE(ValidatePolicy(ImagePolicy{}).ok());
}

TEST(ParseOutputFormat, AcceptsKnownNamesAndListsThemOtherwise) {
  EXPECT_EQ(*ParseOutputFormat("jpg"), OutputFormat::kJpeg);
  EXPECT_EQ(*ParseOutputFormat("webp"), OutputFormat::kWebp);
  EXPECT_EQ(*ParseOutputFormat("keep"), OutputFormat::kKeep);
  auto bad = ParseOutputFormat("avif");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("jpeg, png, webp, keep"), std::string::npos);
}

TEST(Prepare, GivesTheSameResultFromManyThreadsAtOnce) {
  std::vector<std::string> inputs;
  for (int i = 0; i < 4; ++i) inputs.push_back(Save(PhotoLike(500 + i * 10, 400, i + 1), ".jpg"));
  std::vector<std::string> expected;
  for (const auto& in : inputs) expected.emplace_back(MustPrepare(in, Policy(200)).bytes());
  std::vector<std::thread> threads;
  std::vector<int> mismatches(4, 0);
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int k = 0; k < 10; ++k) {
        size_t i = static_cast<size_t>((t + k) % 4);
        auto r = Prepare(inputs[i], Policy(200));
        if (!r.ok() || r->bytes() != expected[i]) ++mismatches[t];
      }
    });
  }
  for (auto& th : threads) th.join();
  for (int t = 0; t < 4; ++t) EXPECT_EQ(mismatches[t], 0) << "thread " << t;
}

long PeakRssKb() {
  struct rusage ru {};
  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_maxrss;
}

void AppendBe32(std::string* out, uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8)
    out->push_back(static_cast<char>((v >> shift) & 0xFF));
}

void AppendChunk(std::string* out, const char* type, std::string_view data) {
  AppendBe32(out, static_cast<uint32_t>(data.size()));
  std::string body = std::string(type, 4) + std::string(data);
  out->append(body);
  AppendBe32(out, static_cast<uint32_t>(
                      crc32(0, reinterpret_cast<const Bytef*>(body.data()), body.size())));
}

// A w x h RGB PNG, black with a white square in the middle half, written with zlib at level 1
// (repeated rows become long-distance matches that also inflate fast): 1.2 GB of pixels become 5 MB
// in about 2 s (libvips' own PNG writer takes over ten).
std::string BigPng(int w, int h) {
  std::string png("\x89PNG\r\n\x1A\n", 8);
  std::string ihdr;
  AppendBe32(&ihdr, static_cast<uint32_t>(w));
  AppendBe32(&ihdr, static_cast<uint32_t>(h));
  ihdr += std::string("\x08\x02\x00\x00\x00", 5);  // 8-bit RGB, deflate, no filter, no interlace
  AppendChunk(&png, "IHDR", ihdr);
  std::string black(1 + size_t{3} * w, '\0');  // filter byte 0, then pixels
  std::string middle = black;
  std::fill(middle.begin() + 1 + 3 * (w / 4), middle.begin() + 1 + 3 * (3 * w / 4), '\xFF');
  z_stream zs{};
  EXPECT_EQ(deflateInit2(&zs, 1, Z_DEFLATED, 15, 9, Z_DEFAULT_STRATEGY), Z_OK);
  std::string idat;
  std::string buf(size_t{1} << 20, '\0');
  auto pump = [&](std::string_view in, int flush) {
    zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
    zs.avail_in = static_cast<uInt>(in.size());
    int rc = Z_OK;
    do {
      zs.next_out = reinterpret_cast<Bytef*>(buf.data());
      zs.avail_out = static_cast<uInt>(buf.size());
      rc = deflate(&zs, flush);
      idat.append(buf.data(), buf.size() - zs.avail_out);
    } while (zs.avail_out == 0 || (flush == Z_FINISH && rc != Z_STREAM_END));
  };
  for (int y = 0; y < h; ++y) {
    pump((y >= h / 4 && y < 3 * h / 4) ? middle : black, Z_NO_FLUSH);
  }
  pump("", Z_FINISH);
  deflateEnd(&zs);
  AppendChunk(&png, "IDAT", idat);
  AppendChunk(&png, "IEND", "");
  return png;
}

TEST(Prepare, HandMadeBigPngIsAValidPng) {
  std::string png = BigPng(64, 32);
  VImage im = Load(png);
  EXPECT_EQ(im.width(), 64);
  EXPECT_EQ(im.height(), 32);
  EXPECT_TRUE(IsWhite(im.getpoint(32, 16)));
  EXPECT_LT(im.getpoint(2, 2)[0], 1);
}

// Prepares a side x side RGB PNG to 768 and checks that peak RSS grew by less than
// `limit_mb`, far below the raw image (side * side * 3 bytes): it must be resized line by line.
void ExpectBoundedMemory(int side, long limit_mb) {
  testing::EnsureVips();
  long before = PeakRssKb();
  std::string png = BigPng(side, side);
  ASSERT_LT(png.size(), size_t{64} << 20);
  auto t0 = std::chrono::steady_clock::now();
  PreparedImage p = MustPrepare(png, Policy(768));
  auto secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  long growth_mb = (PeakRssKb() - before) / 1024;
  EXPECT_EQ(p.width(), 768);
  EXPECT_EQ(p.height(), 768);
  VImage out = Load(p.bytes());
  EXPECT_TRUE(IsWhite(out.getpoint(384, 384)));
  EXPECT_LT(out.getpoint(20, 20)[0], 30);
  EXPECT_LT(growth_mb, limit_mb) << "peak RSS grew by " << growth_mb << " MB";
  std::printf("%dx%d PNG (%zu MB raw): %zu bytes, prepared in %.2f s, peak RSS growth %ld MB\n",
              side, side, size_t{3} * side * side >> 20, png.size(), secs, growth_mb);
}

// 8,000 x 8,000 RGB is 192 MB of pixels; the default suite checks it streams.
TEST(Prepare, ResizesAn8000SquarePngWithinBoundedMemory) { ExpectBoundedMemory(8000, 120); }

// 20,000 x 20,000 RGB is 1.2 GB of pixels. Soak: 10-30 s on the shared build machine; run as
// the ctest `image_soak` (label soak).
TEST(Prepare, DISABLED_ResizesA20000SquarePngWithinBoundedMemory) {
  ExpectBoundedMemory(20000, 300);
}

uint32_t LittleEndianAt(std::string_view b, size_t at) {
  uint32_t v = 0;
  for (int k = 3; k >= 0; --k) v = (v << 8) | static_cast<unsigned char>(b[at + k]);
  return v;
}

// The image fuzz target's regression inputs (tools/fuzz/regress/image/).
std::filesystem::path RegressDir() {
  return std::filesystem::path(STRUCTFLOW_SOURCE_DIR) / "tools/fuzz/regress/image";
}

std::string ReadAll(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  EXPECT_TRUE(in.good()) << path;
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// Found by the image fuzz target: 66 bytes of GIF whose first frame declares a 51,220 x 7,710
// canvas, which libnsgif allocated whole (1.6 GB as RGBA) before failing on the data.
std::string GifBomb() { return ReadAll(RegressDir() / "gif-canvas-bomb"); }

void ExpectTooLargeToDecode(std::string_view bytes, const ImagePolicy& policy,
                            std::string_view size) {
  long before = PeakRssKb();
  auto r = Prepare(bytes, policy);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument) << r.status().ToString();
  EXPECT_NE(r.status().message().find(size), std::string::npos) << r.status().message();
  EXPECT_NE(r.status().message().find("too large to decode"), std::string::npos)
      << r.status().message();
  EXPECT_NE(r.status().message().find("shrink it before the job"), std::string::npos)
      << r.status().message();
  // Refused from the header: nothing near the declared size was allocated.
  EXPECT_LT((PeakRssKb() - before) / 1024, 64);
}

TEST(Prepare, RefusesAGifWhoseCanvasIsADecompressionBomb) {
  testing::EnsureVips();
  const std::string gif = GifBomb();
  ASSERT_EQ(SniffFormat(gif), Format::kGif);
  // Resized (decoded by us) and kept as is (decoded by the server): both refused.
  ExpectTooLargeToDecode(gif, Policy(768), "gif image of 51220x7710 (395 megapixels)");
  ExpectTooLargeToDecode(gif, Policy(0), "gif image of 51220x7710 (395 megapixels)");
  ExpectTooLargeToDecode(gif, Policy(0, 0, OutputFormat::kKeep), "51220x7710");
}

// Every input the fuzz target kept fails (or succeeds) with a Status under the policies the
// target uses, within bounded memory.
TEST(Prepare, FuzzRegressionInputsFailCleanly) {
  testing::EnsureVips();
  int n = 0;
  for (const auto& e : std::filesystem::directory_iterator(RegressDir())) {
    SCOPED_TRACE(e.path().string());
    const std::string bytes = ReadAll(e.path());
    ++n;
    for (const ImagePolicy& policy : {Policy(0), Policy(64), Policy(128, 4096)}) {
      long before = PeakRssKb();
      auto r = Prepare(bytes, policy);
      if (r.ok()) {
        EXPECT_FALSE(r->bytes().empty());
      }
      EXPECT_LT((PeakRssKb() - before) / 1024, 256);
    }
  }
  EXPECT_GT(n, 0) << "no regression inputs in " << RegressDir();
}

// The first bytes of a w x h RGB PNG, with the interlace flag as asked and one empty row of
// data: enough for the header, cut before the pixels.
std::string PngHeader(int w, int h, bool interlaced) {
  std::string png("\x89PNG\r\n\x1A\n", 8);
  std::string ihdr;
  AppendBe32(&ihdr, static_cast<uint32_t>(w));
  AppendBe32(&ihdr, static_cast<uint32_t>(h));
  ihdr += std::string("\x08\x02\x00\x00", 4);
  ihdr.push_back(interlaced ? '\x01' : '\x00');
  AppendChunk(&png, "IHDR", ihdr);
  AppendChunk(&png, "IDAT", std::string("\x78\x01\x01\x00\x00\xff\xff", 7));
  return png;
}

// An interlaced PNG's rows all stay in memory until its last pass; a plain one streams (the
// 8,000 and 20,000 square tests above), so the same declared size is decoded (and here found
// truncated) rather than refused.
TEST(Prepare, RefusesAHugeInterlacedPngButStreamsAPlainOne) {
  testing::EnsureVips();
  ExpectTooLargeToDecode(PngHeader(12000, 10000, true), Policy(768),
                         "png image of 12000x10000 (120 megapixels)");
  auto plain = Prepare(PngHeader(12000, 10000, false), Policy(768));
  ASSERT_FALSE(plain.ok());
  EXPECT_EQ(plain.status().code(), StatusCode::kCorrupt) << plain.status().ToString();
  EXPECT_EQ(plain.status().message().find("too large"), std::string::npos)
      << plain.status().message();
}

// `jpeg` with the size in its SOF marker (baseline FFC0 or progressive FFC2) replaced.
std::string WithJpegSize(std::string jpeg, int w, int h) {
  for (size_t i = 2; i + 9 < jpeg.size(); ++i) {
    const auto m = static_cast<unsigned char>(jpeg[i + 1]);
    if (jpeg[i] == '\xFF' && (m == 0xC0 || m == 0xC2)) {
      jpeg[i + 5] = static_cast<char>(h >> 8);
      jpeg[i + 6] = static_cast<char>(h & 0xFF);
      jpeg[i + 7] = static_cast<char>(w >> 8);
      jpeg[i + 8] = static_cast<char>(w & 0xFF);
      return jpeg;
    }
  }
  ADD_FAILURE() << "no SOF marker";
  return jpeg;
}

// A progressive JPEG keeps all its DCT coefficients whatever the decode scale; a baseline one
// streams at 1/8 scale.
TEST(Prepare, RefusesAHugeProgressiveJpegButNotABaselineOne) {
  VImage im = Solid(64, 48, kRed);
  std::string progressive = WithJpegSize(Save(im, ".jpg[interlace]"), 12000, 10000);
  ExpectTooLargeToDecode(progressive, Policy(768), "jpeg image of 12000x10000");
  ExpectTooLargeToDecode(progressive, Policy(768), "progressive JPEG");
  // libvips fills the missing rows (a marker cut the data short: a warning, not truncation) and
  // streams them at 1/8 scale.
  auto baseline = Prepare(WithJpegSize(Save(im, ".jpg"), 12000, 10000), Policy(768));
  ASSERT_TRUE(baseline.ok()) << baseline.status().ToString();
  EXPECT_EQ(baseline->width(), 768);
  EXPECT_EQ(baseline->height(), 640);
}

// The image chunk (`fourcc`: "VP8 " or "VP8L") of a WebP in the simple file format (RIFF header,
// then the chunk at byte 12): libvips writes the extended one (a VP8X chunk first).
std::string SimpleWebp(std::string_view webp, std::string_view fourcc) {
  for (size_t at = 12; at + 8 <= webp.size();) {
    const uint32_t size = LittleEndianAt(webp, at + 4);
    if (webp.substr(at, 4) == fourcc) {
      std::string chunk(webp.substr(at, 8 + size + (size & 1)));
      std::string out = "RIFF" + std::string(4, '\0') + "WEBP" + chunk;
      const auto riff = static_cast<uint32_t>(out.size() - 8);
      for (int k = 0; k < 4; ++k) out[4 + k] = static_cast<char>((riff >> (8 * k)) & 0xFF);
      return out;
    }
    at += 8 + size + (size & 1);
  }
  ADD_FAILURE() << "no " << fourcc << " chunk";
  return std::string(webp);
}

// `webp` with its lossless image in the simple file format ("VP8L" at byte 12) and the size in
// its bitstream header replaced: after the signature byte 0x2F, 14 bits of width - 1 and 14 of
// height - 1.
std::string WithLosslessWebpSize(std::string_view extended, int w, int h) {
  std::string webp = SimpleWebp(extended, "VP8L");
  EXPECT_EQ(webp[20], '\x2F');
  uint32_t bits = LittleEndianAt(webp, 21);
  bits = (bits & 0xF0000000u) | static_cast<uint32_t>(w - 1) | (static_cast<uint32_t>(h - 1) << 14);
  for (int k = 0; k < 4; ++k) webp[21 + k] = static_cast<char>((bits >> (8 * k)) & 0xFF);
  return webp;
}

// `webp` with its lossy image in the simple file format ("VP8 " at byte 12) and the size in its key
// frame header replaced: after the 3-byte frame tag and the start code 9D 01 2A, 16-bit width and
// height.
std::string WithLossyWebpSize(std::string_view extended, int w, int h) {
  std::string webp = SimpleWebp(extended, "VP8 ");
  EXPECT_EQ(webp.substr(23, 3), "\x9D\x01\x2A");
  webp[26] = static_cast<char>(w & 0xFF);
  webp[27] = static_cast<char>(w >> 8);
  webp[28] = static_cast<char>(h & 0xFF);
  webp[29] = static_cast<char>(h >> 8);
  return webp;
}

// libwebp keeps a lossless image's every ARGB pixel whatever the output scale; a lossy one is
// decoded at its shrink-on-load scale, so only a lossy one sent at full size is refused.
TEST(Prepare, RefusesAHugeLosslessWebpAndAHugeLossyOneAtFullSize) {
  VImage im = Solid(64, 48, kRed);
  std::string lossless = WithLosslessWebpSize(Save(im, ".webp[lossless,strip]"), 16000, 12000);
  ExpectTooLargeToDecode(lossless, Policy(768), "webp image of 16000x12000 (192 megapixels)");
  std::string lossy = WithLossyWebpSize(Save(im, ".webp[strip]"), 16000, 12000);
  ExpectTooLargeToDecode(lossy, Policy(0), "webp image of 16000x12000");
  auto shrunk = Prepare(lossy, Policy(768));
  ASSERT_FALSE(shrunk.ok());
  EXPECT_EQ(shrunk.status().message().find("too large"), std::string::npos)
      << shrunk.status().message();
}

}  // namespace
}  // namespace structflow::image

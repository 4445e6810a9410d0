#include "image/image.h"

#include <fmt/format.h>
#include <turbojpeg.h>
#include <vips/vips.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstring>
#include <mutex>

#include "common/logging.h"
#include "image/resample.h"

namespace structflow::image {

// Builds PreparedImage values; the only code allowed to set their private members.
class ImagePreparer {
 public:
  static PreparedImage Kept(std::string_view input, Format format, int width, int height) {
    PreparedImage p;
    p.bytes_ = input;
    p.format_ = format;
    p.width_ = width;
    p.height_ = height;
    return p;
  }
  static PreparedImage Owned(void* buf, size_t len, void (*release)(void*), Format format,
                             int width, int height) {
    PreparedImage p;
    p.owned_ = std::unique_ptr<void, void (*)(void*)>(buf, release);
    p.bytes_ = std::string_view(static_cast<const char*>(buf), len);
    p.format_ = format;
    p.width_ = width;
    p.height_ = height;
    return p;
  }
};

namespace {

// Owns one VipsImage reference.
struct VipsRef {
  VipsImage* im = nullptr;
  VipsRef() = default;
  explicit VipsRef(VipsImage* i) : im(i) {}
  VipsRef(const VipsRef&) = delete;
  VipsRef& operator=(const VipsRef&) = delete;
  ~VipsRef() {
    if (im) g_object_unref(im);
  }
  // Replaces the held image with `next` (the result of an operation on it).
  void Reset(VipsImage* next) {
    if (im) g_object_unref(im);
    im = next;
  }
};

// libvips keeps one process-wide error buffer; take its text and clear it. Under concurrency a
// message may come from another thread's failure at the same moment; the reason we add around it
// is always ours.
std::string TakeVipsError() {
  char* text = vips_error_buffer_copy();
  std::string msg = text ? text : "";
  g_free(text);
  // One line: "jpegload_buffer: Premature end of JPEG file\n..." -> "...; ...".
  while (!msg.empty() && (msg.back() == '\n' || msg.back() == ' ')) msg.pop_back();
  for (auto& c : msg) {
    if (c == '\n') c = ';';
  }
  if (msg.empty()) msg = "libvips gave no reason";
  return msg;
}

void DropVipsLog(const gchar* domain, GLogLevelFlags level, const gchar* message, gpointer) {
  // libvips warns on stderr about recoverable damage; structflow turns damage into row errors,
  // so route the text to the debug log instead of the user's terminal.
  SF_LOG_DEBUG("{} ({}): {}", domain ? domain : "glib", static_cast<int>(level),
               message ? message : "");
}

std::once_flag g_init_once;
Status* g_init_status = nullptr;

void InitOnce() {
  static Status status;
  g_init_status = &status;
  if (VIPS_INIT("structflow") != 0) {
    status = Status::Internal("libvips failed to start (" + TakeVipsError() +
                              "); check the libvips42 package with `structflow doctor`");
    return;
  }
  // The operation cache keys buffer loads by pointer; rows reuse memory, so it must be off.
  vips_cache_set_max(0);
  vips_cache_set_max_mem(0);
  vips_cache_set_max_files(0);
  // Rows are prepared in parallel by the worker pool; one image uses one thread.
  vips_concurrency_set(1);
  g_log_set_handler("VIPS", static_cast<GLogLevelFlags>(G_LOG_LEVEL_WARNING | G_LOG_LEVEL_MESSAGE),
                    DropVipsLog, nullptr);
}

bool StartsWith(std::string_view s, std::string_view prefix) {
  return s.substr(0, prefix.size()) == prefix;
}

// What a non-image file looks like, by its signature or by its text, without quoting a byte of
// it: the bytes of a file a row points at (a key, /etc/passwd) must not land in the output.
std::string_view DescribeContent(std::string_view bytes) {
  std::string_view head = bytes.substr(0, 512);
  size_t lead = head.find_first_not_of(" \t\r\n");
  std::string_view text = lead == std::string_view::npos ? std::string_view() : head.substr(lead);
  auto text_starts = [&](std::string_view p) {
    if (text.size() < p.size()) return false;
    for (size_t i = 0; i < p.size(); ++i) {
      if (std::tolower(static_cast<unsigned char>(text[i])) != p[i]) return false;
    }
    return true;
  };
  if (StartsWith(bytes, "%PDF-")) return "a PDF document";
  if (StartsWith(bytes, "PK\x03\x04")) return "a ZIP archive (or a document inside one)";
  if (StartsWith(bytes, "\x1f\x8b")) return "gzip-compressed data";
  if (StartsWith(bytes,
                 "\x7f"
                 "ELF"))
    return "an ELF executable";
  if (StartsWith(bytes, "PAR1")) return "a Parquet file";
  if (bytes.size() >= 12 && bytes.substr(4, 4) == "ftyp") {
    return "an ISO media file (MP4, MOV, HEIC or AVIF; not supported)";
  }
  if (StartsWith(bytes, "RIFF")) return "a RIFF file (audio or video)";
  if (StartsWith(bytes, std::string_view("\x00\x00\x01\x00", 4))) return "a Windows icon (ICO)";
  if (StartsWith(bytes, "8BPS")) return "a Photoshop document (PSD)";
  if (text_starts("<svg") ||
      (text_starts("<?xml") && head.find("<svg") != std::string_view::npos)) {
    return "an SVG image (vector images are not supported; convert it to PNG)";
  }
  if (text_starts("<!doctype html") || text_starts("<html")) return "an HTML page";
  if (text_starts("<?xml") || text_starts("<")) return "XML or HTML text";
  if (text_starts("{") || text_starts("[")) return "JSON text";
  bool printable = !head.empty();
  for (char ch : head) {
    auto c = static_cast<unsigned char>(ch);
    if ((c < 0x20 && c != '\n' && c != '\r' && c != '\t') || c == 0x7f) printable = false;
  }
  return printable ? "text" : "binary data of an unknown format";
}

bool EndsWithin(std::string_view bytes, std::string_view marker, size_t window) {
  size_t from = bytes.size() > window ? bytes.size() - window : 0;
  return bytes.find(marker, from) != std::string_view::npos;
}

// Cheap check that a file we are about to send unchanged is complete: the end marker of its
// format is where it belongs. Files with trailing data after the marker get a full decode
// instead (VerifyDecodes).
bool LooksComplete(Format format, std::string_view bytes) {
  switch (format) {
    case Format::kJpeg: {
      // EOI, possibly followed by a little padding.
      size_t end = bytes.size();
      while (end > 0 && (bytes[end - 1] == '\0' || bytes[end - 1] == '\n')) --end;
      return end >= 4 && static_cast<unsigned char>(bytes[end - 2]) == 0xFF &&
             static_cast<unsigned char>(bytes[end - 1]) == 0xD9;
    }
    case Format::kPng:
      return EndsWithin(bytes, std::string_view("IEND\xAE\x42\x60\x82", 8), 16);
    case Format::kGif:
      return !bytes.empty() && bytes.back() == 0x3B;
    case Format::kWebp: {
      if (bytes.size() < 12) return false;
      const auto* p = reinterpret_cast<const unsigned char*>(bytes.data());
      uint32_t riff = p[4] | (p[5] << 8) | (p[6] << 16) | (uint32_t{p[7]} << 24);
      return uint64_t{riff} + 8 <= bytes.size();
    }
    default:
      return false;
  }
}

// Decodes every pixel of `bytes`, failing on truncation.
Status VerifyDecodes(std::string_view bytes, Format format) {
  VipsRef im(vips_image_new_from_buffer(bytes.data(), bytes.size(), "", "access",
                                        VIPS_ACCESS_SEQUENTIAL, "fail_on", VIPS_FAIL_ON_TRUNCATED,
                                        nullptr));
  double avg = 0;
  if (!im.im || vips_avg(im.im, &avg, nullptr) != 0) {
    return Status::Corrupt(
        fmt::format("truncated or corrupt {}: {}", FormatName(format), TakeVipsError()));
  }
  return Status::OK();
}

Format PickOutput(OutputFormat want, Format input, bool has_alpha) {
  switch (want) {
    case OutputFormat::kJpeg:
      return Format::kJpeg;
    case OutputFormat::kPng:
      return Format::kPng;
    case OutputFormat::kWebp:
      return Format::kWebp;
    case OutputFormat::kKeep:
      if (input == Format::kJpeg || input == Format::kPng || input == Format::kWebp) return input;
      return has_alpha ? Format::kPng : Format::kJpeg;
  }
  return Format::kJpeg;
}

// The scale-down factor LoadShrunk asks the WebP decoder for (1: none).
int WebpShrink(int w, int h, int tw, int th) {
  if (tw >= w && th >= h) return 1;
  return std::max(1, std::min(w / std::max(tw, 1), h / std::max(th, 1)));
}

uint32_t LittleEndian32(std::string_view b, size_t at) {
  const auto* p = reinterpret_cast<const unsigned char*>(b.data() + at);
  return p[0] | (p[1] << 8) | (p[2] << 16) | (uint32_t{p[3]} << 24);
}

// Whether a WebP holds a lossless bitstream (libwebp's VP8L decoder keeps the whole ARGB image,
// whatever the output scale) or an animation (libvips composes frames on a full-size canvas).
// Walks the RIFF chunks (WebP container spec: "VP8 " simple lossy, "VP8L" simple lossless,
// "VP8X" extended with the animation flag 0x02 in its first byte, then ANIM/ANMF/ALPH/VP8/VP8L
// chunks, each padded to an even size).
bool WebpDecodedWhole(std::string_view b) {
  if (b.size() < 16) return false;
  const std::string_view first = b.substr(12, 4);
  if (first == "VP8L") return true;
  if (first != "VP8X") return false;
  if (b.size() < 21 || (static_cast<unsigned char>(b[20]) & 0x02) != 0) return true;
  size_t at = 12;
  for (int chunks = 0; chunks < 64 && at + 8 <= b.size(); ++chunks) {
    const std::string_view fourcc = b.substr(at, 4);
    if (fourcc == "VP8L" || fourcc == "ANMF") return true;
    if (fourcc == "VP8 ") return false;
    const uint64_t size = LittleEndian32(b, at + 4);
    at += 8 + size + (size & 1);
  }
  return false;
}

// The pixels the decoder must hold in memory at once to decode `header` (the image `input`, of
// w x h, prepared to tw x th), when it cannot stream them row by row; 0 when it can, with *why
// set to the reason otherwise. Read from libvips 8.14 (gifload via libnsgif keeps the whole
// canvas; pngload and jpegload mark interlaced files with "interlaced", whose rows or DCT
// coefficients all stay in memory until the last pass; magickload reads the whole image) and
// libwebp (see WebpDecodedWhole; lossy WebP holds only the scaled frame).
int64_t BufferedPixels(VipsImage* header, std::string_view input, Format format, int w, int h,
                       int tw, int th, const char** why) {
  const int64_t all = int64_t{w} * h;
  auto interlaced = [&] {
    int flag = 0;
    return vips_image_get_typeof(header, "interlaced") &&
           vips_image_get_int(header, "interlaced", &flag) == 0 && flag != 0;
  };
  switch (format) {
    case Format::kGif:
      *why = "GIF frames are decoded onto the whole canvas";
      return all;
    case Format::kBmp:
      *why = "BMP is decoded whole";
      return all;
    case Format::kPng:
      *why = "an interlaced PNG is decoded whole";
      return interlaced() ? all : 0;
    case Format::kJpeg:
      *why = "a progressive JPEG keeps every DCT coefficient until its last scan";
      return interlaced() ? all : 0;
    case Format::kWebp: {
      if (WebpDecodedWhole(input)) {
        *why = "a lossless or animated WebP is decoded whole";
        return all;
      }
      *why = "a WebP frame is decoded whole at its shrink-on-load scale";
      const int64_t shrink = WebpShrink(w, h, tw, th);
      return (w / shrink) * (h / shrink);
    }
    case Format::kTiff:
    case Format::kUnknown:
      break;
  }
  return 0;
}

// Loads `input` at the smallest scale the codec offers that still covers tw x th (JPEG: DCT
// scaling by 1/2, 1/4, 1/8; WebP: scaled decode), reading sequentially and failing on truncation.
Status LoadShrunk(std::string_view input, Format format, int w, int h, int tw, int th,
                  VipsRef* out) {
  VipsImage* im = nullptr;
  const char* data = input.data();
  const size_t size = input.size();
  if (format == Format::kJpeg) {
    int shrink = 1;
    for (int s : {8, 4, 2}) {
      if ((w + s - 1) / s >= tw && (h + s - 1) / s >= th) {
        shrink = s;
        break;
      }
    }
    im = vips_image_new_from_buffer(data, size, "", "access", VIPS_ACCESS_SEQUENTIAL, "fail_on",
                                    VIPS_FAIL_ON_TRUNCATED, "shrink", shrink, nullptr);
  } else if (format == Format::kWebp && (tw < w || th < h)) {
    const int shrink = WebpShrink(w, h, tw, th);
    im = vips_image_new_from_buffer(data, size, "", "access", VIPS_ACCESS_SEQUENTIAL, "fail_on",
                                    VIPS_FAIL_ON_TRUNCATED, "scale", 1.0 / shrink, nullptr);
  } else {
    im = vips_image_new_from_buffer(data, size, "", "access", VIPS_ACCESS_SEQUENTIAL, "fail_on",
                                    VIPS_FAIL_ON_TRUNCATED, nullptr);
  }
  if (!im) {
    return Status::Corrupt(
        fmt::format("cannot read the {} image: {}", FormatName(format), TakeVipsError()));
  }
  out->Reset(im);
  return Status::OK();
}

// Runs `op` on im->im and replaces it with the result; `what` names the step in errors.
template <typename Op>
Status Apply(VipsRef* im, const char* what, Op op) {
  VipsImage* next = nullptr;
  if (op(im->im, &next) != 0) {
    return Status::Corrupt(fmt::format("cannot {}: {}", what, TakeVipsError()));
  }
  im->Reset(next);
  return Status::OK();
}

// Decodes with shrink-on-load, resizes to tw x th (in stored orientation), applies the EXIF
// orientation, converts to 8-bit sRGB and flattens alpha when `out` has none. This is libvips'
// own thumbnail pipeline, spelled out because vips_thumbnail hides decode errors (a truncated
// file becomes grey tiles and a warning) and rows must fail instead.
Status DecodeToSrgb(std::string_view input, Format format, int w, int h, int tw, int th,
                    int orientation, OutputFormat want, VipsRef* result, Format* out) {
  VipsRef im;
  SF_RETURN_NOT_OK(LoadShrunk(input, format, w, h, tw, th, &im));
  const int lw = vips_image_get_width(im.im);
  const int lh = vips_image_get_height(im.im);
  if (lw != tw || lh != th) {
    const double hscale = static_cast<double>(tw) / lw;
    const double vscale = static_cast<double>(th) / lh;
    const bool alpha = vips_image_hasalpha(im.im);
    const VipsBandFormat band_format = vips_image_get_format(im.im);
    // Resample premultiplied so transparent pixels do not bleed their colour into edges.
    if (alpha) {
      SF_RETURN_NOT_OK(Apply(&im, "premultiply alpha", [](VipsImage* in, VipsImage** o) {
        return vips_premultiply(in, o, nullptr);
      }));
    }
    SF_RETURN_NOT_OK(Apply(&im, "resize", [&](VipsImage* in, VipsImage** o) {
      return vips_resize(in, o, hscale, "vscale", vscale, nullptr);
    }));
    if (alpha) {
      SF_RETURN_NOT_OK(Apply(&im, "unpremultiply alpha", [&](VipsImage* in, VipsImage** o) {
        return vips_unpremultiply(in, o, nullptr);
      }));
      SF_RETURN_NOT_OK(Apply(&im, "cast", [&](VipsImage* in, VipsImage** o) {
        return vips_cast(in, o, band_format, nullptr);
      }));
    }
  }
  if (orientation > 1) {
    // Rotation reads out of order, so it runs on the (already small) image in memory.
    SF_RETURN_NOT_OK(Apply(&im, "decode", [](VipsImage* in, VipsImage** o) {
      *o = vips_image_copy_memory(in);
      return *o ? 0 : -1;
    }));
    SF_RETURN_NOT_OK(Apply(&im, "apply the EXIF orientation", [](VipsImage* in, VipsImage** o) {
      return vips_autorot(in, o, nullptr);
    }));
  }
  const VipsInterpretation interp = vips_image_get_interpretation(im.im);
  if (interp == VIPS_INTERPRETATION_CMYK) {
    // The embedded profile when there is one, else libvips' default CMYK profile.
    SF_RETURN_NOT_OK(Apply(&im, "convert CMYK to sRGB", [](VipsImage* in, VipsImage** o) {
      return vips_icc_transform(in, o, "srgb", "input_profile", "cmyk", "embedded", TRUE, nullptr);
    }));
  } else if (vips_image_get_typeof(im.im, VIPS_META_ICC_NAME)) {
    // The profile is stripped on save, so bring colours to sRGB first. A broken profile is
    // ignored rather than failing the row: the pixels are still usable.
    VipsImage* next = nullptr;
    if (vips_icc_transform(im.im, &next, "srgb", "embedded", TRUE, nullptr) == 0) {
      im.Reset(next);
    } else {
      SF_LOG_DEBUG("ignoring a broken ICC profile: {}", TakeVipsError());
    }
  }
  if (vips_image_get_interpretation(im.im) != VIPS_INTERPRETATION_sRGB ||
      vips_image_get_format(im.im) != VIPS_FORMAT_UCHAR) {
    SF_RETURN_NOT_OK(Apply(&im, "convert to sRGB", [](VipsImage* in, VipsImage** o) {
      return vips_colourspace_issupported(in)
                 ? vips_colourspace(in, o, VIPS_INTERPRETATION_sRGB, nullptr)
                 : vips_cast_uchar(in, o, nullptr);
    }));
  }
  if (vips_image_get_format(im.im) != VIPS_FORMAT_UCHAR) {
    SF_RETURN_NOT_OK(Apply(&im, "cast to 8 bits", [](VipsImage* in, VipsImage** o) {
      return vips_cast_uchar(in, o, nullptr);
    }));
  }
  const bool alpha = vips_image_hasalpha(im.im);
  *out = PickOutput(want, format, alpha);
  if (alpha && *out == Format::kJpeg) {
    SF_RETURN_NOT_OK(Apply(&im, "flatten alpha", [](VipsImage* in, VipsImage** o) {
      VipsArrayDouble* white = vips_array_double_newv(1, 255.0);
      int rc = vips_flatten(in, o, "background", white, nullptr);
      vips_area_unref(VIPS_AREA(white));
      return rc;
    }));
    if (vips_image_get_format(im.im) != VIPS_FORMAT_UCHAR) {
      SF_RETURN_NOT_OK(Apply(&im, "cast to 8 bits", [](VipsImage* in, VipsImage** o) {
        return vips_cast_uchar(in, o, nullptr);
      }));
    }
  }
  // Multiband TIFFs and the like: keep colour (and alpha where the format has it).
  const int keep_bands = (*out == Format::kJpeg) ? 3 : 4;
  if (vips_image_get_bands(im.im) > keep_bands) {
    SF_RETURN_NOT_OK(Apply(&im, "drop extra bands", [&](VipsImage* in, VipsImage** o) {
      return vips_extract_band(in, o, 0, "n", keep_bands, nullptr);
    }));
  }
  result->Reset(im.im);
  im.im = nullptr;
  return Status::OK();
}

Status Encode(VipsImage* im, Format out, int quality, void** buf, size_t* len, Format input) {
  int rc = 0;
  switch (out) {
    case Format::kPng:
      rc = vips_pngsave_buffer(im, buf, len, "compression", 6, "strip", TRUE, nullptr);
      break;
    case Format::kWebp:
      rc = vips_webpsave_buffer(im, buf, len, "Q", quality, "strip", TRUE, nullptr);
      break;
    default:
      rc = vips_jpegsave_buffer(im, buf, len, "Q", quality, "strip", TRUE, nullptr);
      break;
  }
  if (rc != 0) {
    // Decoding is lazy, so damage in the input usually surfaces here.
    return Status::Corrupt(
        fmt::format("truncated or corrupt {}: {}", FormatName(input), TakeVipsError()));
  }
  return Status::OK();
}

// The JPEG fast path: libjpeg-turbo's TurboJPEG API decodes at a reduced DCT scale straight into
// a buffer, ResampleU8 resizes, TurboJPEG encodes. Measured on 1600x1200 photos to 768: about
// twice as fast as the same steps through libvips (whose per-image pipeline set-up and
// unvectorised horizontal reduce dominate at this size). Used for plain JPEG -> JPEG only: no
// EXIF rotation, no ICC profile, no CMYK; anything else, and any decoder warning, goes through
// libvips, which also produces the error message for damaged files.
struct TjHandles {
  tjhandle dec = tjInitDecompress();
  tjhandle enc = tjInitCompress();
  ~TjHandles() {
    if (dec) tjDestroy(dec);
    if (enc) tjDestroy(enc);
  }
};

// A reusable per-thread pixel buffer (no zero-filling on growth).
struct PixelBuffer {
  std::unique_ptr<uint8_t[]> data;
  size_t capacity = 0;
  uint8_t* Get(size_t n) {
    if (n > capacity) {
      data.reset(new uint8_t[n]);
      capacity = n;
    }
    return data.get();
  }
};

void TjFree(void* p) { tjFree(static_cast<unsigned char*>(p)); }

// Returns true with *result set when the fast path handled the image; false to fall back to
// libvips. Works on the YCbCr planes as stored: no colour
// conversion or chroma upsampling on decode, none on encode, and the resampler touches 1.5 bytes
// per pixel instead of 3 (4:2:0).
bool TryTurboJpeg(std::string_view input, int tw, int th, int quality, PreparedImage* result) {
  thread_local TjHandles tj;
  thread_local PixelBuffer decoded[3];
  thread_local PixelBuffer resized[3];
  if (!tj.dec || !tj.enc) return false;
  const auto* in = reinterpret_cast<const unsigned char*>(input.data());
  int w = 0, h = 0, subsamp = 0, colorspace = 0;
  if (tjDecompressHeader3(tj.dec, in, input.size(), &w, &h, &subsamp, &colorspace) != 0) {
    return false;
  }
  if (colorspace != TJCS_YCbCr && colorspace != TJCS_GRAY) return false;
  if (subsamp < 0 || subsamp >= TJ_NUMSAMP) return false;
  const int planes = colorspace == TJCS_GRAY ? 1 : 3;
  // The largest power-of-two reduction that still covers the target.
  int sw = w, sh = h;
  for (int denom : {8, 4, 2}) {
    tjscalingfactor f{1, denom};
    if (TJSCALED(w, f) >= tw && TJSCALED(h, f) >= th) {
      sw = TJSCALED(w, f);
      sh = TJSCALED(h, f);
      break;
    }
  }
  // The fast path holds the decoded image in memory; huge ones stream through libvips instead.
  constexpr int64_t kMaxFastPathPixels = int64_t{40} << 20;
  if (int64_t{sw} * sh > kMaxFastPathPixels) return false;
  unsigned char* src_planes[3] = {nullptr, nullptr, nullptr};
  int src_w[3] = {0, 0, 0}, src_h[3] = {0, 0, 0};
  for (int c = 0; c < planes; ++c) {
    src_w[c] = tjPlaneWidth(c, sw, subsamp);
    src_h[c] = tjPlaneHeight(c, sh, subsamp);
    if (src_w[c] <= 0 || src_h[c] <= 0) return false;
    src_planes[c] = decoded[c].Get(static_cast<size_t>(src_w[c]) * src_h[c]);
  }
  if (tjDecompressToYUVPlanes(tj.dec, in, input.size(), src_planes, sw, nullptr, sh, 0) != 0) {
    // Warnings (a truncated file) and errors alike: libvips decodes again and decides, so damaged
    // files get one consistent message and libvips' tolerance for harmless damage.
    return false;
  }
  // Chroma is resampled straight to the output's subsampling (4:2:0 below quality 90, as libvips
  // and Pillow do), whatever the input's.
  const int out_subsamp = planes == 1 ? TJSAMP_GRAY : (quality >= 90 ? TJSAMP_444 : TJSAMP_420);
  const unsigned char* out_planes[3] = {nullptr, nullptr, nullptr};
  for (int c = 0; c < planes; ++c) {
    const int dw = tjPlaneWidth(c, tw, out_subsamp);
    const int dh = tjPlaneHeight(c, th, out_subsamp);
    if (dw <= 0 || dh <= 0) return false;
    if (dw == src_w[c] && dh == src_h[c]) {
      out_planes[c] = src_planes[c];
      continue;
    }
    uint8_t* out = resized[c].Get(static_cast<size_t>(dw) * dh);
    ResampleU8(src_planes[c], src_w[c], src_h[c], 1, out, dw, dh);
    out_planes[c] = out;
  }
  unsigned char* jpeg = nullptr;
  unsigned long len = 0;
  if (tjCompressFromYUVPlanes(tj.enc, out_planes, tw, nullptr, th, out_subsamp, &jpeg, &len,
                              quality, 0) != 0) {
    tjFree(jpeg);
    return false;
  }
  *result = ImagePreparer::Owned(jpeg, len, TjFree, Format::kJpeg, tw, th);
  return true;
}

bool Fits(int w, int h, const ImagePolicy& policy) {
  if (policy.max_side > 0 && std::max(w, h) > policy.max_side) return false;
  if (policy.max_pixels > 0 && int64_t{w} * h > policy.max_pixels) return false;
  return true;
}

}  // namespace

std::string_view FormatName(Format format) {
  switch (format) {
    case Format::kJpeg:
      return "jpeg";
    case Format::kPng:
      return "png";
    case Format::kWebp:
      return "webp";
    case Format::kGif:
      return "gif";
    case Format::kBmp:
      return "bmp";
    case Format::kTiff:
      return "tiff";
    case Format::kUnknown:
      break;
  }
  return "unknown";
}

std::string_view MimeType(Format format) {
  switch (format) {
    case Format::kJpeg:
      return "image/jpeg";
    case Format::kPng:
      return "image/png";
    case Format::kWebp:
      return "image/webp";
    case Format::kGif:
      return "image/gif";
    case Format::kBmp:
      return "image/bmp";
    case Format::kTiff:
      return "image/tiff";
    case Format::kUnknown:
      break;
  }
  return "application/octet-stream";
}

Format SniffFormat(std::string_view b) {
  auto starts = [&](std::string_view m) { return b.substr(0, m.size()) == m; };
  if (starts("\xFF\xD8\xFF")) return Format::kJpeg;
  if (starts(std::string_view("\x89PNG\r\n\x1A\n", 8))) return Format::kPng;
  if (starts("GIF87a") || starts("GIF89a")) return Format::kGif;
  if (b.size() >= 12 && starts("RIFF") && b.substr(8, 4) == "WEBP") return Format::kWebp;
  if (starts("BM")) return Format::kBmp;
  if (starts(std::string_view("II*\0", 4)) || starts(std::string_view("MM\0*", 4)))
    return Format::kTiff;
  return Format::kUnknown;
}

bool ServerAccepts(Format format) {
  return format == Format::kJpeg || format == Format::kPng || format == Format::kWebp ||
         format == Format::kGif;
}

Result<OutputFormat> ParseOutputFormat(std::string_view text) {
  if (text == "jpeg" || text == "jpg") return OutputFormat::kJpeg;
  if (text == "png") return OutputFormat::kPng;
  if (text == "webp") return OutputFormat::kWebp;
  if (text == "keep") return OutputFormat::kKeep;
  return Status::InvalidArgument(
      fmt::format("image format '{}' is not supported; use one of jpeg, png, webp, keep", text));
}

std::string_view OutputFormatName(OutputFormat format) {
  switch (format) {
    case OutputFormat::kJpeg:
      return "jpeg";
    case OutputFormat::kPng:
      return "png";
    case OutputFormat::kWebp:
      return "webp";
    case OutputFormat::kKeep:
      return "keep";
  }
  return "jpeg";
}

Status ValidatePolicy(const ImagePolicy& policy) {
  if (policy.max_side < 0) {
    return Status::InvalidArgument(fmt::format(
        "--image-max-side {} is negative; use a positive size or 0 for no limit", policy.max_side));
  }
  if (policy.max_pixels < 0) {
    return Status::InvalidArgument(
        fmt::format("--image-max-pixels {} is negative; use a positive count or 0 for no limit",
                    policy.max_pixels));
  }
  if (policy.quality < 1 || policy.quality > 100) {
    return Status::InvalidArgument(fmt::format(
        "--image-quality {} is out of range; use 1-100 (85 is a good default)", policy.quality));
  }
  return Status::OK();
}

Status Init() {
  std::call_once(g_init_once, InitOnce);
  return *g_init_status;
}

void FitWithin(int width, int height, const ImagePolicy& policy, int* out_width, int* out_height) {
  *out_width = width;
  *out_height = height;
  if (width <= 0 || height <= 0 || Fits(width, height, policy)) return;
  const bool landscape = width >= height;
  const int64_t long_side = landscape ? width : height;
  const int64_t short_side = landscape ? height : width;
  // The long side: exact when max_side binds (no floating-point round-off), else from the area.
  int64_t l = long_side;
  if (policy.max_side > 0) l = std::min<int64_t>(l, policy.max_side);
  if (policy.max_pixels > 0) {
    double fit = std::sqrt(static_cast<double>(policy.max_pixels) * static_cast<double>(long_side) /
                           static_cast<double>(short_side));
    l = std::min<int64_t>(l, static_cast<int64_t>(fit + 1e-6));
  }
  l = std::max<int64_t>(l, 1);
  auto short_for = [&](int64_t lng) {
    return std::max<int64_t>(1, std::llround(static_cast<double>(short_side) * lng / long_side));
  };
  int64_t s = short_for(l);
  while (l > 1 && ((policy.max_pixels > 0 && l * s > policy.max_pixels) ||
                   (policy.max_side > 0 && l > policy.max_side))) {
    --l;
    s = short_for(l);
  }
  *out_width = static_cast<int>(landscape ? l : s);
  *out_height = static_cast<int>(landscape ? s : l);
}

Result<PreparedImage> Prepare(std::string_view input, const ImagePolicy& policy) {
  SF_RETURN_NOT_OK(Init());
  if (input.empty()) return Status::Corrupt("empty image (0 bytes)");
  const Format format = SniffFormat(input);
  if (format == Format::kUnknown) {
    return Status::Corrupt(
        fmt::format("not an image: {} bytes of what looks like {}; expected JPEG, PNG, WebP, GIF, "
                    "BMP or TIFF",
                    input.size(), DescribeContent(input)));
  }

  int width = 0;
  int height = 0;
  int orientation = 1;
  bool plain = false;  // 8-bit RGB or grey, no CMYK, no 16-bit
  bool has_icc = false;
  int tw = 0;
  int th = 0;
  {
    VipsRef header(vips_image_new_from_buffer(input.data(), input.size(), "", "access",
                                              VIPS_ACCESS_SEQUENTIAL, "fail_on",
                                              VIPS_FAIL_ON_TRUNCATED, nullptr));
    if (!header.im) {
      return Status::Corrupt(fmt::format("cannot read the {} header ({} bytes): {}",
                                         FormatName(format), input.size(), TakeVipsError()));
    }
    width = vips_image_get_width(header.im);
    height = vips_image_get_height(header.im);
    if (vips_image_get_typeof(header.im, VIPS_META_ORIENTATION)) {
      if (vips_image_get_int(header.im, VIPS_META_ORIENTATION, &orientation) != 0) orientation = 1;
    }
    has_icc = vips_image_get_typeof(header.im, VIPS_META_ICC_NAME) != 0;
    VipsInterpretation interp = vips_image_get_interpretation(header.im);
    plain = vips_image_get_format(header.im) == VIPS_FORMAT_UCHAR &&
            (interp == VIPS_INTERPRETATION_sRGB || interp == VIPS_INTERPRETATION_B_W) &&
            vips_image_get_bands(header.im) <= 4;
    if (width <= 0 || height <= 0) {
      return Status::Corrupt(
          fmt::format("{} header gives an empty size {}x{}", FormatName(format), width, height));
    }
    FitWithin(width, height, policy, &tw, &th);
    // Checked from the header, before a single pixel is decoded (or the image is sent to a
    // server that would decode it whole).
    const char* why = "";
    const int64_t buffered = BufferedPixels(header.im, input, format, width, height, tw, th, &why);
    if (buffered > kMaxBufferedPixels) {
      auto megapixels = [](int64_t n) { return (n + 500'000) / 1'000'000; };
      const std::string scaled =
          buffered == int64_t{width} * height
              ? std::string()
              : fmt::format(", {} megapixels at that scale", megapixels(buffered));
      return Status::InvalidArgument(fmt::format(
          "{} image of {}x{} ({} megapixels) is too large to decode ({}{}; the limit for images "
          "decoded whole is {} megapixels); shrink it before the job, or convert it to a baseline "
          "JPEG or a non-interlaced PNG, which are decoded row by row",
          FormatName(format), width, height, megapixels(int64_t{width} * height), why, scaled,
          megapixels(kMaxBufferedPixels)));
    }
  }
  const bool fits = tw == width && th == height;
  if (policy.keep_fitting && fits && ServerAccepts(format) && orientation <= 1 && plain) {
    if (!LooksComplete(format, input)) SF_RETURN_NOT_OK(VerifyDecodes(input, format));
    return ImagePreparer::Kept(input, format, width, height);
  }

  if (format == Format::kJpeg && plain && !has_icc && orientation <= 1 &&
      (policy.format == OutputFormat::kJpeg || policy.format == OutputFormat::kKeep)) {
    PreparedImage fast;
    if (TryTurboJpeg(input, tw, th, policy.quality, &fast)) return fast;
  }

  VipsRef im;
  Format out = Format::kJpeg;
  SF_RETURN_NOT_OK(
      DecodeToSrgb(input, format, width, height, tw, th, orientation, policy.format, &im, &out));
  void* buf = nullptr;
  size_t len = 0;
  SF_RETURN_NOT_OK(Encode(im.im, out, policy.quality, &buf, &len, format));
  return ImagePreparer::Owned(buf, len, g_free, out, vips_image_get_width(im.im),
                              vips_image_get_height(im.im));
}

}  // namespace structflow::image

// Image preparation: turn the bytes of one image (JPEG, PNG, WebP, GIF, BMP, TIFF) into bytes a
// vision-language server accepts, at the size it will be sent. Decoding is done by libvips with
// shrink-on-load (JPEG and WebP are decoded at the smallest scale that still covers the target),
// EXIF orientation applied, colour converted to 8-bit sRGB (ICC profiles and CMYK included) and
// alpha flattened on white when the output format has none. Plain JPEG -> JPEG (upright, no ICC
// profile, not CMYK) takes a faster path: libjpeg-turbo decodes the YCbCr planes at reduced DCT
// scale, ResampleU8 resizes them and libjpeg-turbo encodes them, with no colour conversion.
// Images that already fit the policy and are in a format servers read (JPEG, PNG, WebP, GIF) are
// kept byte for byte, with no re-encode.
//
// Thread-safety: every function here may be called from many threads at once. libvips is
// started once per process (Init) with its operation cache off and one thread per operation:
// structflow parallelises across rows, not inside one image.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "common/status.h"

namespace structflow::image {

// Formats recognised from the first bytes of a file.
enum class Format { kUnknown, kJpeg, kPng, kWebp, kGif, kBmp, kTiff };

// "jpeg", "png", "webp", "gif", "bmp", "tiff" or "unknown".
std::string_view FormatName(Format format);
// "image/jpeg", ...; "application/octet-stream" for kUnknown.
std::string_view MimeType(Format format);
// The format from the magic bytes at the start of `bytes`; kUnknown when none matches.
Format SniffFormat(std::string_view bytes);
// JPEG, PNG, WebP and GIF: what OpenAI-compatible servers (vLLM, SGLang, OpenAI) accept.
bool ServerAccepts(Format format);

// The format of re-encoded images. kKeep re-encodes in the input's format when it is JPEG, PNG or
// WebP, and otherwise as PNG when the image has alpha, JPEG when it has not.
enum class OutputFormat { kJpeg, kPng, kWebp, kKeep };

// Parses "jpeg" (or "jpg"), "png", "webp", "keep"; the error names the accepted values.
Result<OutputFormat> ParseOutputFormat(std::string_view text);
std::string_view OutputFormatName(OutputFormat format);

struct ImagePolicy {
  // Longest side in pixels after resizing; 0: no limit.
  int max_side = 0;
  // Width x height after resizing; 0: no limit.
  int64_t max_pixels = 0;
  OutputFormat format = OutputFormat::kJpeg;
  // JPEG and WebP quality, 1-100.
  int quality = 85;
  // Keep the original bytes when the image already fits, is upright, is 8-bit RGB or grey, and
  // is in a format servers accept. false: always decode and re-encode.
  bool keep_fitting = true;

  bool operator==(const ImagePolicy&) const = default;
};

// Checks the ranges of a policy (quality 1-100, no negative limits); the message names the flag.
Status ValidatePolicy(const ImagePolicy& policy);

// The result of Prepare: encoded bytes with their MIME type and final size.
// Ownership: when the input was kept (`reencoded()` false), bytes() points into the caller's
// input, which must outlive this object; otherwise this object owns the encoded buffer.
class PreparedImage {
 public:
  PreparedImage() = default;

  std::string_view bytes() const { return bytes_; }
  // "image/jpeg", "image/png", "image/webp" or "image/gif".
  std::string_view mime() const { return MimeType(format_); }
  Format format() const { return format_; }
  int width() const { return width_; }
  int height() const { return height_; }
  bool reencoded() const { return owned_ != nullptr; }

 private:
  friend class ImagePreparer;
  std::unique_ptr<void, void (*)(void*)> owned_{nullptr, nullptr};
  std::string_view bytes_;
  Format format_ = Format::kUnknown;
  int width_ = 0;
  int height_ = 0;
};

// Starts libvips for the whole process. Idempotent and thread-safe; Prepare calls it, so call it
// directly only to fail early (say, in `structflow doctor`).
Status Init();

// The most pixels an image may make a decoder hold in memory at once: 100 megapixels, 400 MB as
// RGBA. JPEG (baseline), non-interlaced PNG and TIFF stream row by row and JPEG and lossy WebP
// shrink on load, so a 20,000 x 20,000 baseline JPEG or PNG is prepared in bounded memory; GIF
// (the whole canvas), interlaced PNG, progressive JPEG (its coefficients), lossless or animated
// WebP and BMP are decoded whole, and a 66-byte GIF can declare a 51,220 x 7,710 canvas. Such
// images above this limit are refused from their header, before any decoding (servers decode
// them whole too: Pillow refuses 179 megapixels). Same spirit as Pillow's MAX_IMAGE_PIXELS.
inline constexpr int64_t kMaxBufferedPixels = 100'000'000;

// Decodes, orients, resizes and encodes `input` following `policy`. Errors (code kCorrupt or
// kInvalidArgument) say why: "empty image (0 bytes)", "not an image: 120 bytes of what looks like
// an HTML page" (never the bytes themselves: they may be a file that is not the user's to show),
// "truncated or corrupt JPEG: ...", "gif image of 51220x7710 (395 megapixels) is too large to
// decode (...)" (kMaxBufferedPixels). The caller adds the row, the column and where the image came
// from.
Result<PreparedImage> Prepare(std::string_view input, const ImagePolicy& policy);

// The size of the image after the policy, without decoding: the largest size within max_side and
// max_pixels with the same aspect ratio, never larger than (width, height).
void FitWithin(int width, int height, const ImagePolicy& policy, int* out_width, int* out_height);

}  // namespace structflow::image

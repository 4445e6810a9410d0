// Fuzz target for the image loader: each input is an image file's bytes (or, when it starts with
// "data:", a data URL), prepared as a row's image would be: decoded, oriented, resized and
// encoded. The first byte picks the policy, so keep-as-is, re-encode and shrink paths all run.
// Any Status is fine; a crash, hang or sanitizer report is a bug.
#include <cstdint>
#include <string>
#include <string_view>

#include "image/image.h"
#include "image/image_value.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace structflow::image;
  std::string_view in(reinterpret_cast<const char*>(data), size);
  std::string storage;
  if (in.substr(0, 5) == "data:") {
    LoadOptions lo;
    lo.max_bytes = 1 << 20;
    auto b = LoadImageBytes(RefFromString(in), lo, &storage);
    if (!b.ok()) return 0;
    in = *b;
  }
  ImagePolicy policy;
  const uint8_t pick = size > 0 ? data[size - 1] : 0;
  policy.max_side = (pick & 3) == 0 ? 0 : 16 << (pick & 3);
  policy.max_pixels = (pick & 4) ? 4096 : 0;
  policy.format = (pick & 8) ? OutputFormat::kKeep : OutputFormat::kJpeg;
  policy.keep_fitting = (pick & 16) == 0;
  auto p = Prepare(in, policy);
  if (p.ok() && p->bytes().empty()) std::abort();
  return 0;
}

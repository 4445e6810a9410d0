#include "sim/image_check.h"

#include <fmt/format.h>
#include <vips/vips.h>

#include <mutex>
#include <string>

#include "common/base64.h"

namespace structflow::sim {
namespace {

void InitVips() {
  static std::once_flag once;
  std::call_once(once, [] {
    // VIPS_INIT is a macro that also checks the library version; the function form is enough.
    if (vips_init("structflow-sim") != 0) vips_error_clear();
    vips_concurrency_set(1);
    vips_cache_set_max(0);
  });
}

}  // namespace

Status CheckImageBytes(std::string_view bytes, int* width, int* height) {
  InitVips();
  if (bytes.empty()) return Status::InvalidArgument("the image is empty (0 bytes)");
  VipsImage* image = vips_image_new_from_buffer(bytes.data(), bytes.size(), "", nullptr);
  if (image == nullptr) {
    std::string why = vips_error_buffer();
    vips_error_clear();
    while (!why.empty() && (why.back() == '\n' || why.back() == ' ')) why.pop_back();
    return Status::InvalidArgument(fmt::format("cannot identify image file ({} bytes): {}",
                                               bytes.size(),
                                               why.empty() ? "not a known image format" : why));
  }
  *width = vips_image_get_width(image);
  *height = vips_image_get_height(image);
  g_object_unref(image);
  if (*width <= 0 || *height <= 0) {
    return Status::InvalidArgument(fmt::format("image has no pixels ({}x{})", *width, *height));
  }
  return Status::OK();
}

Status CheckImageUrl(std::string_view url) {
  if (url.starts_with("http://") || url.starts_with("https://")) {
    return Status::InvalidArgument(fmt::format(
        "Failed to fetch image from '{}': the simulator has no network; send the image inline as "
        "a data URL (data:image/png;base64,...)",
        url.substr(0, 200)));
  }
  if (!url.starts_with("data:")) {
    return Status::InvalidArgument(fmt::format(
        "Invalid image URL '{}': expected a data URL (data:image/...;base64,...) or http(s)",
        url.substr(0, 60)));
  }
  size_t comma = url.find(',');
  if (comma == std::string_view::npos) {
    return Status::InvalidArgument("Invalid image data URL: no ',' after the media type");
  }
  std::string_view meta = url.substr(5, comma - 5);
  if (!meta.ends_with(";base64")) {
    return Status::InvalidArgument(
        fmt::format("Invalid image data URL: media type '{}' is not base64-encoded", meta));
  }
  if (!meta.starts_with("image/")) {
    return Status::InvalidArgument(
        fmt::format("Invalid image data URL: media type '{}' is not an image", meta));
  }
  std::string bytes;
  if (!Base64Decode(url.substr(comma + 1), &bytes)) {
    return Status::InvalidArgument("Invalid image data URL: the payload is not valid base64");
  }
  int w = 0, h = 0;
  return CheckImageBytes(bytes, &w, &h);
}

}  // namespace structflow::sim

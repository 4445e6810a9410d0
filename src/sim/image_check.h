// Checks that an image sent in a request is a real image, the way vLLM does before it accepts
// the request: the bytes must decode (libvips reads the header) to an image with a width and a
// height. Thread-safety: may be called from any thread; libvips is initialised once.
#pragma once

#include <string_view>

#include "common/status.h"

namespace structflow::sim {

// OK with *width and *height set, or InvalidArgument saying why the bytes are not an image.
Status CheckImageBytes(std::string_view bytes, int* width, int* height);

// Decodes a "data:image/...;base64,..." URL and checks the image. Remote http(s) URLs are an
// error too: the simulator has no network. Messages name the problem and the fix.
Status CheckImageUrl(std::string_view url);

}  // namespace structflow::sim

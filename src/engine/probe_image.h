// The one small image that checks sends (doctor's image check, the dialect probe of a job with
// --image): a 64x64 grey square on white as PNG, big enough for every vision processor (some
// refuse images under 28 pixels a side), small enough to cost nothing.
// Thread-safety: built once, immutable.
#pragma once

#include <string>

namespace structflow::engine {

// The PNG bytes.
const std::string& ProbeImagePng();
// "data:image/png;base64,..."
const std::string& ProbeImageDataUrl();

}  // namespace structflow::engine

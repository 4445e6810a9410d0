// A separable image resampler for 8-bit interleaved pixels, used by the JPEG fast path. Written
// here because libvips 8.14's horizontal reduce is unvectorised and took 8 ms of a 10 ms image;
// this one is Pillow's antialiased BICUBIC (Catmull-Rom widened by the scale factor) in fixed
// point, with loops the compiler vectorises.
// Thread-safety: pure function.
#pragma once

#include <cstdint>

namespace structflow::image {

// Resizes `src` (sw x sh, `bands` interleaved 8-bit channels, rows packed) to dw x dh into `dst`
// (dw * dh * bands bytes). Meant for downscaling; upscaling works but is not antialiased.
void ResampleU8(const uint8_t* src, int sw, int sh, int bands, uint8_t* dst, int dw, int dh);

}  // namespace structflow::image

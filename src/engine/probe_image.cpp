#include "engine/probe_image.h"

#include <zlib.h>

#include "common/base64.h"

namespace structflow::engine {
namespace {

std::string MakePng() {
  const int n = 64;
  std::string raw;
  for (int y = 0; y < n; ++y) {
    raw.push_back(0);  // filter: none
    for (int x = 0; x < n; ++x) {
      bool in = x > 16 && x < 48 && y > 16 && y < 48;
      raw.append(3, static_cast<char>(in ? 96 : 255));
    }
  }
  uLongf zlen = compressBound(raw.size());
  std::string z(zlen, '\0');
  compress(reinterpret_cast<Bytef*>(z.data()), &zlen, reinterpret_cast<const Bytef*>(raw.data()),
           raw.size());
  z.resize(zlen);
  auto be32 = [](uint32_t v) {
    return std::string{static_cast<char>(v >> 24), static_cast<char>(v >> 16),
                       static_cast<char>(v >> 8), static_cast<char>(v)};
  };
  auto chunk = [&](const char* type, const std::string& data) {
    std::string body = std::string(type, 4) + data;
    uint32_t crc = crc32(0, reinterpret_cast<const Bytef*>(body.data()), body.size());
    return be32(data.size()) + body + be32(crc);
  };
  std::string ihdr = be32(n) + be32(n) + std::string{8, 2, 0, 0, 0};
  return std::string("\x89PNG\r\n\x1a\n", 8) + chunk("IHDR", ihdr) + chunk("IDAT", z) +
         chunk("IEND", "");
}

}  // namespace

const std::string& ProbeImagePng() {
  static const std::string png = MakePng();
  return png;
}

const std::string& ProbeImageDataUrl() {
  static const std::string url = "data:image/png;base64," + Base64Encode(ProbeImagePng());
  return url;
}

}  // namespace structflow::engine

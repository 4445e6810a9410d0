// prepare_bench: the image half of structflow's request preparation, timed on one core.
//   prepare_bench generate DIR N     writes N photo-like 1600x1200 JPEGs (gradients + noise)
//   prepare_bench run DIR            prepares every image of DIR into a chat-completions body
//                                    (decode, resize to max side 768, JPEG q=85, base64), and
//                                    times the base64 encoder alone
// Output lines are `key=value` so run.sh can compare them with Pillow's.
#include <dirent.h>
#include <time.h>
#include <vips/vips.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "common/base64.h"
#include "image/fetch.h"
#include "image/image.h"
#include "prompt/request_builder.h"

namespace sf = structflow;

namespace {

double CpuSeconds() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + ts.tv_nsec * 1e-9;
}

double WallSeconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

int Fail(const std::string& msg) {
  std::fprintf(stderr, "prepare_bench: %s\n", msg.c_str());
  return 1;
}

int Generate(const std::string& dir, int n) {
  sf::Status st = sf::image::Init();
  if (!st.ok()) return Fail(st.ToString());
  const int w = 1600;
  const int h = 1200;
  for (int i = 0; i < n; ++i) {
    // Gradients that differ per image plus Gaussian noise: about the entropy of a photo.
    VipsImage* xyz = nullptr;
    VipsImage* noise = nullptr;
    vips_xyz(&xyz, w, h, nullptr);
    vips_gaussnoise(&noise, w, h, "sigma", 12.0 + i % 7, "seed", i + 1, nullptr);
    VipsImage *x = nullptr, *y = nullptr;
    vips_extract_band(xyz, &x, 0, nullptr);
    vips_extract_band(xyz, &y, 1, nullptr);
    double a = 0.05 + 0.1 * (i % 5);
    VipsImage *r = nullptr, *g = nullptr, *b = nullptr, *r2 = nullptr, *g2 = nullptr, *b2 = nullptr;
    vips_linear1(x, &r, 255.0 / w, 20.0 * (i % 3), nullptr);
    vips_linear1(y, &g, 255.0 / h, 10.0 * (i % 4), nullptr);
    vips_linear1(x, &b, a, 60.0, nullptr);
    vips_add(r, noise, &r2, nullptr);
    vips_add(g, noise, &g2, nullptr);
    vips_add(b, noise, &b2, nullptr);
    VipsImage* bands[3] = {r2, g2, b2};
    VipsImage *rgb = nullptr, *u8 = nullptr, *srgb = nullptr;
    vips_bandjoin(bands, &rgb, 3, nullptr);
    vips_cast_uchar(rgb, &u8, nullptr);
    vips_copy(u8, &srgb, "interpretation", VIPS_INTERPRETATION_sRGB, nullptr);
    char path[4096];
    std::snprintf(path, sizeof(path), "%s/img%04d.jpg", dir.c_str(), i);
    // 4:2:0 chroma, as cameras and Pillow write JPEGs (libvips would pick 4:4:4 at Q=90).
    if (vips_jpegsave(srgb, path, "Q", 90, "subsample_mode", VIPS_FOREIGN_SUBSAMPLE_ON, nullptr) !=
        0) {
      return Fail(std::string("cannot write ") + path + ": " + vips_error_buffer());
    }
    for (VipsImage* im : {xyz, noise, x, y, r, g, b, r2, g2, b2, rgb, u8, srgb}) {
      g_object_unref(im);
    }
  }
  std::printf("generated=%d\n", n);
  return 0;
}

int Run(const std::string& dir, double min_seconds) {
  std::vector<std::string> names;
  DIR* d = opendir(dir.c_str());
  if (!d) return Fail("cannot open " + dir);
  while (dirent* e = readdir(d)) {
    std::string n = e->d_name;
    if (n.size() > 4 && n.substr(n.size() - 4) == ".jpg") names.push_back(n);
  }
  closedir(d);
  std::sort(names.begin(), names.end());
  if (names.empty()) return Fail("no .jpg files in " + dir);

  namespace table = sf::table;
  table::Schema schema{{{"image", table::DataType::Binary()}}};
  table::RecordBatch batch = table::RecordBatch::Empty(schema);
  size_t input_bytes = 0;
  for (const auto& n : names) {
    std::string bytes;
    sf::Status st = sf::image::ReadFileBytes(dir + "/" + n, &bytes);
    if (!st.ok()) return Fail(st.ToString());
    input_bytes += bytes.size();
    batch.columns[0].AppendBytes(bytes);
  }
  sf::prompt::RequestOptions options;
  options.model = "bench-vlm";
  sf::image::ImagePolicy policy;
  policy.max_side = 768;
  policy.quality = 85;
  policy.format = sf::image::OutputFormat::kJpeg;
  auto builder = sf::prompt::RequestBuilder::Make("Describe the image.", {"image"}, schema, options,
                                                  policy, "");
  if (!builder.ok()) return Fail(builder.status().ToString());

  // Correctness first: the body carries a 768x576 JPEG.
  std::string body;
  sf::RowError err = builder->Build(batch, 0, &body);
  if (!err.ok()) return Fail(err.message);
  size_t at = body.find(";base64,");
  size_t end = body.find('"', at);
  std::string jpeg;
  if (at == std::string::npos ||
      !sf::Base64Decode(std::string_view(body).substr(at + 8, end - at - 8), &jpeg)) {
    return Fail("the body has no base64 image");
  }
  auto check = sf::image::Prepare(jpeg, sf::image::ImagePolicy{});
  if (!check.ok() || check->width() != 768 || check->height() != 576 ||
      check->format() != sf::image::Format::kJpeg) {
    return Fail("the prepared image is not a 768x576 JPEG");
  }

  // Prepare: every image once per pass, passes until min_seconds of CPU time.
  size_t images = 0;
  size_t body_bytes = 0;
  double cpu0 = CpuSeconds();
  double wall0 = WallSeconds();
  do {
    for (int64_t r = 0; r < batch.num_rows(); ++r) {
      err = builder->Build(batch, r, &body);
      if (!err.ok()) return Fail(err.message);
      body_bytes += body.size();
      ++images;
    }
  } while (CpuSeconds() - cpu0 < min_seconds);
  double cpu = CpuSeconds() - cpu0;
  double wall = WallSeconds() - wall0;
  std::printf("images=%zu\n", names.size());
  std::printf("input_mb=%.1f\n", input_bytes / 1e6);
  std::printf("prepare_images_per_cpu_s=%.1f\n", images / cpu);
  std::printf("prepare_images_per_wall_s=%.1f\n", images / wall);
  std::printf("mean_body_kb=%.1f\n", body_bytes / 1e3 / images);

  // Base64 alone: 64 MiB of random bytes (larger than the caches), encoded into a reused buffer.
  std::string raw(size_t{64} << 20, '\0');
  std::mt19937_64 rng(1);
  for (size_t i = 0; i + 8 <= raw.size(); i += 8) {
    uint64_t v = rng();
    std::memcpy(raw.data() + i, &v, 8);
  }
  std::string out(sf::Base64EncodedSize(raw.size()), '\0');
  sf::Base64EncodeTo(raw, out.data());
  std::string back;
  if (!sf::Base64Decode(out, &back) || back != raw) return Fail("base64 round trip failed");
  int reps = 0;
  cpu0 = CpuSeconds();
  do {
    sf::Base64EncodeTo(raw, out.data());
    ++reps;
  } while (CpuSeconds() - cpu0 < 1.0);
  cpu = CpuSeconds() - cpu0;
  std::printf("base64_gb_per_s=%.2f\n", static_cast<double>(raw.size()) * reps / cpu / 1e9);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc >= 4 && std::strcmp(argv[1], "generate") == 0) {
    return Generate(argv[2], std::atoi(argv[3]));
  }
  if (argc >= 3 && std::strcmp(argv[1], "run") == 0) {
    return Run(argv[2], argc >= 4 ? std::atof(argv[3]) : 3.0);
  }
  std::fprintf(stderr, "usage: prepare_bench generate DIR N | prepare_bench run DIR [SECONDS]\n");
  return 2;
}

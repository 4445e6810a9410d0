#include "demo/dataset.h"

#include <fmt/format.h>
#include <vips/vips.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <mutex>
#include <random>
#include <vector>

namespace structflow::demo {
namespace {

using table::DataType;

struct Rgb {
  uint8_t r, g, b;
};

struct NamedColour {
  const char* name;
  Rgb rgb;
};

constexpr std::array<NamedColour, 6> kColours{{{"red", {220, 40, 40}},
                                               {"green", {40, 170, 60}},
                                               {"blue", {40, 80, 220}},
                                               {"yellow", {235, 200, 30}},
                                               {"purple", {140, 60, 170}},
                                               {"orange", {245, 140, 20}}}};

// A small RGB canvas with the few primitives the diagrams need.
class Canvas {
 public:
  Canvas(int w, int h) : w_(w), h_(h), px_(static_cast<size_t>(w) * h * 3, 255) {}

  void Pixel(int x, int y, Rgb c) {
    if (x < 0 || y < 0 || x >= w_ || y >= h_) return;
    uint8_t* p = &px_[(static_cast<size_t>(y) * w_ + x) * 3];
    p[0] = c.r;
    p[1] = c.g;
    p[2] = c.b;
  }
  void Rect(int x0, int y0, int x1, int y1, Rgb c) {
    for (int y = y0; y < y1; ++y) {
      for (int x = x0; x < x1; ++x) Pixel(x, y, c);
    }
  }
  void Circle(int cx, int cy, int r, Rgb c) {
    for (int y = -r; y <= r; ++y) {
      for (int x = -r; x <= r; ++x) {
        if (x * x + y * y <= r * r) Pixel(cx + x, cy + y, c);
      }
    }
  }
  // An upward triangle inside the box centred on (cx, cy) with half-size r.
  void Triangle(int cx, int cy, int r, Rgb c) {
    for (int y = -r; y <= r; ++y) {
      int half = (y + r) / 2;
      for (int x = -half; x <= half; ++x) Pixel(cx + x, cy + y, c);
    }
  }
  void Line(int x0, int y0, int x1, int y1, Rgb c) {
    int steps = std::max(std::abs(x1 - x0), std::abs(y1 - y0));
    for (int i = 0; i <= steps; ++i) {
      int x = x0 + (steps ? (x1 - x0) * i / steps : 0);
      int y = y0 + (steps ? (y1 - y0) * i / steps : 0);
      Rect(x - 1, y - 1, x + 1, y + 1, c);
    }
  }
  // A digit 0-9 as seven segments, s pixels tall, top-left at (x, y).
  void Digit(int x, int y, int d, int s, Rgb c) {
    static const uint8_t kSegments[10] = {0x3F, 0x06, 0x5B, 0x4F, 0x66,
                                          0x6D, 0x7D, 0x07, 0x7F, 0x6F};
    int w = s / 2, t = std::max(2, s / 10), h = s / 2;
    uint8_t m = kSegments[d % 10];
    if (m & 0x01) Rect(x, y, x + w, y + t, c);                      // a: top
    if (m & 0x02) Rect(x + w - t, y, x + w, y + h, c);              // b: top right
    if (m & 0x04) Rect(x + w - t, y + h, x + w, y + s, c);          // c: bottom right
    if (m & 0x08) Rect(x, y + s - t, x + w, y + s, c);              // d: bottom
    if (m & 0x10) Rect(x, y + h, x + t, y + s, c);                  // e: bottom left
    if (m & 0x20) Rect(x, y, x + t, y + h, c);                      // f: top left
    if (m & 0x40) Rect(x, y + h - t / 2, x + w, y + h + t / 2, c);  // g: middle
  }

  Result<std::string> Png() const {
    VipsImage* img =
        vips_image_new_from_memory(px_.data(), px_.size(), w_, h_, 3, VIPS_FORMAT_UCHAR);
    if (!img) return Status::Internal(fmt::format("libvips: {}", vips_error_buffer()));
    void* buf = nullptr;
    size_t len = 0;
    int rc = vips_pngsave_buffer(img, &buf, &len, "compression", 6, nullptr);
    g_object_unref(img);
    if (rc != 0) {
      std::string err = vips_error_buffer();
      vips_error_clear();
      return Status::Internal(fmt::format("libvips could not encode a demo image: {}", err));
    }
    std::string out(static_cast<const char*>(buf), len);
    g_free(buf);
    return out;
  }

 private:
  int w_, h_;
  std::vector<uint8_t> px_;
};

struct Question {
  std::string question;
  std::array<std::string, 4> choices;
  int answer;  // 0-3
};

std::string UserText(const Question& q) {
  std::string out = "Question: " + q.question + "\nChoices:\n";
  for (int i = 0; i < 4; ++i)
    out += fmt::format("{}. {}\n", static_cast<char>('A' + i), q.choices[i]);
  return out + "Answer with the option's letter from the given choices directly.";
}

// Four distinct choices holding `right`, drawn from `pool`, in a shuffled order.
template <typename T>
Question MakeQuestion(std::string text, const T& right, std::vector<T> pool, std::mt19937_64& rng,
                      std::string (*show)(const T&)) {
  pool.erase(std::remove(pool.begin(), pool.end(), right), pool.end());
  std::shuffle(pool.begin(), pool.end(), rng);
  std::vector<T> picks = {right, pool[0], pool[1], pool[2]};
  std::shuffle(picks.begin(), picks.end(), rng);
  Question q;
  q.question = std::move(text);
  for (int i = 0; i < 4; ++i) {
    q.choices[i] = show(picks[i]);
    if (picks[i] == right) q.answer = i;
  }
  return q;
}

std::string ShowInt(const int& v) { return std::to_string(v); }
std::string ShowStr(const std::string& v) { return v; }

std::vector<std::string> ColourNames() {
  std::vector<std::string> out;
  for (const auto& c : kColours) out.push_back(c.name);
  return out;
}

// Counting: scattered circles and squares; how many of one kind or colour.
std::vector<Question> CountingDiagram(Canvas& cv, int w, int h, std::mt19937_64& rng) {
  std::uniform_int_distribution<int> n_dist(2, 7);
  int circles = n_dist(rng), squares = n_dist(rng);
  const NamedColour& cc = kColours[rng() % kColours.size()];
  const NamedColour& sc =
      kColours[(rng() % (kColours.size() - 1) + 1 + (&cc - kColours.data())) % kColours.size()];
  // Place on a jittered grid so shapes never overlap.
  std::vector<std::pair<int, int>> cells;
  for (int gy = 0; gy < 4; ++gy) {
    for (int gx = 0; gx < 5; ++gx) cells.push_back({gx, gy});
  }
  std::shuffle(cells.begin(), cells.end(), rng);
  int cw = w / 5, ch = h / 4, r = std::min(cw, ch) / 3;
  for (int i = 0; i < circles + squares; ++i) {
    int cx = cells[i].first * cw + cw / 2 + static_cast<int>(rng() % 7) - 3;
    int cy = cells[i].second * ch + ch / 2 + static_cast<int>(rng() % 7) - 3;
    if (i < circles)
      cv.Circle(cx, cy, r, cc.rgb);
    else
      cv.Rect(cx - r, cy - r, cx + r, cy + r, sc.rgb);
  }
  std::vector<int> counts = {1, 2, 3, 4, 5, 6, 7, 8, 9};
  std::vector<Question> qs;
  qs.push_back(
      MakeQuestion<int>("How many circles are in the diagram?", circles, counts, rng, ShowInt));
  qs.push_back(
      MakeQuestion<int>("How many squares are in the diagram?", squares, counts, rng, ShowInt));
  qs.push_back(MakeQuestion<std::string>("What colour are the circles?", cc.name, ColourNames(),
                                         rng, ShowStr));
  return qs;
}

// A bar chart with four coloured bars of different heights.
std::vector<Question> BarChart(Canvas& cv, int w, int h, std::mt19937_64& rng) {
  std::vector<int> colour_idx = {0, 1, 2, 3, 4, 5};
  std::shuffle(colour_idx.begin(), colour_idx.end(), rng);
  std::vector<int> heights = {1, 2, 3, 4, 5, 6, 7, 8};
  std::shuffle(heights.begin(), heights.end(), rng);
  int base = h - 30, unit = (h - 60) / 8, bw = w / 7;
  cv.Line(20, base, w - 20, base, {0, 0, 0});
  cv.Line(30, 20, 30, base, {0, 0, 0});
  int tallest = 0, shortest = 0;
  for (int i = 0; i < 4; ++i) {
    int x = 50 + i * (bw + 20);
    cv.Rect(x, base - heights[i] * unit, x + bw, base, kColours[colour_idx[i]].rgb);
    if (heights[i] > heights[tallest]) tallest = i;
    if (heights[i] < heights[shortest]) shortest = i;
  }
  std::vector<Question> qs;
  qs.push_back(MakeQuestion<std::string>("Which colour is the tallest bar in the chart?",
                                         kColours[colour_idx[tallest]].name, ColourNames(), rng,
                                         ShowStr));
  qs.push_back(MakeQuestion<std::string>("Which colour is the shortest bar in the chart?",
                                         kColours[colour_idx[shortest]].name, ColourNames(), rng,
                                         ShowStr));
  return qs;
}

// Three shapes, each pointed at by a numbered label.
std::vector<Question> LabelledDiagram(Canvas& cv, int w, int h, std::mt19937_64& rng) {
  std::vector<int> labels = {1, 2, 3, 4, 5, 6, 7, 8, 9};
  std::shuffle(labels.begin(), labels.end(), rng);
  const char* names[3] = {"circle", "square", "triangle"};
  std::vector<int> order = {0, 1, 2};
  std::shuffle(order.begin(), order.end(), rng);
  int r = h / 7;
  for (int i = 0; i < 3; ++i) {
    int cx = w / 6 + i * w / 3, cy = h / 2 + 20;
    Rgb c = kColours[(i + rng() % 3) % kColours.size()].rgb;
    switch (order[i]) {
      case 0:
        cv.Circle(cx, cy, r, c);
        break;
      case 1:
        cv.Rect(cx - r, cy - r, cx + r, cy + r, c);
        break;
      default:
        cv.Triangle(cx, cy, r, c);
        break;
    }
    cv.Line(cx, cy - r - 4, cx, 60, {0, 0, 0});
    cv.Digit(cx - 8, 20, labels[i], 32, {0, 0, 0});
  }
  int target = static_cast<int>(rng() % 3);
  int pos = static_cast<int>(std::find(order.begin(), order.end(), target) - order.begin());
  std::vector<Question> qs;
  qs.push_back(
      MakeQuestion<int>(fmt::format("Which number labels the {} in the diagram?", names[target]),
                        labels[pos], {1, 2, 3, 4, 5, 6, 7, 8, 9}, rng, ShowInt));
  qs.push_back(MakeQuestion<std::string>(
      fmt::format("Which shape does label {} point to?", labels[0]), names[order[0]],
      {"circle", "square", "triangle", "star", "hexagon"}, rng, ShowStr));
  return qs;
}

}  // namespace

table::Schema DatasetSchema() {
  auto image_t = DataType::Struct({{"bytes", DataType::Binary()}, {"path", DataType::String()}});
  auto text_t = DataType::Struct({{"user", DataType::String()},
                                  {"assistant", DataType::String()},
                                  {"source", DataType::String()}});
  return table::Schema{{{"id", DataType::Int64(), false},
                        {"images", DataType::List(image_t)},
                        {"texts", DataType::List(text_t)}}};
}

Result<table::RecordBatch> GenerateDataset(const DatasetOptions& options) {
  static std::once_flag vips_once;
  std::call_once(vips_once, [] { VIPS_INIT("structflow"); });
  table::RecordBatch batch = table::RecordBatch::Empty(DatasetSchema());
  std::mt19937_64 rng(options.seed);
  for (int i = 0; i < options.images; ++i) {
    Canvas cv(options.width, options.height);
    std::vector<Question> qs;
    const char* kind;
    switch (i % 3) {
      case 0:
        qs = CountingDiagram(cv, options.width, options.height, rng);
        kind = "shapes";
        break;
      case 1:
        qs = BarChart(cv, options.width, options.height, rng);
        kind = "chart";
        break;
      default:
        qs = LabelledDiagram(cv, options.width, options.height, rng);
        kind = "labels";
        break;
    }
    SF_ASSIGN_OR_RAISE(std::string png, cv.Png());
    batch.columns[0].AppendInt(i);
    table::Column& images = batch.columns[1];
    images.child(0).child(0).AppendBytes(png);
    images.child(0).child(1).AppendBytes(fmt::format("{}_{:04}.png", kind, i));
    images.child(0).CloseStruct();
    images.CloseList();
    table::Column& texts = batch.columns[2];
    size_t n = 1 + rng() % qs.size();
    for (size_t q = 0; q < n; ++q) {
      texts.child(0).child(0).AppendBytes(UserText(qs[q]));
      texts.child(0).child(1).AppendBytes(
          fmt::format("Answer: {}", static_cast<char>('A' + qs[q].answer)));
      texts.child(0).child(2).AppendBytes(fmt::format("structflow-demo/{}", kind));
      texts.child(0).CloseStruct();
    }
    texts.CloseList();
  }
  return batch;
}

}  // namespace structflow::demo

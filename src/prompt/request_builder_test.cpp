#include "prompt/request_builder.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "common/base64.h"
#include "image/test_http_server.h"
#include "image/test_util.h"

namespace structflow::prompt {
namespace {

using image::testing::Load;
using image::testing::PhotoLike;
using image::testing::Save;
using image::testing::Solid;
using nlohmann::json;
using table::Column;
using table::DataType;
using table::RecordBatch;
using table::Schema;

RequestOptions Options() {
  RequestOptions o;
  o.model = "sim-vlm";
  return o;
}

image::ImagePolicy Policy768() {
  image::ImagePolicy p;
  p.max_side = 768;
  return p;
}

RecordBatch TextBatch(const std::vector<std::string>& questions) {
  RecordBatch b = RecordBatch::Empty(Schema{{{"question", DataType::String()}}});
  for (const auto& q : questions) b.columns[0].AppendBytes(q);
  return b;
}

json MustBuild(const RequestBuilder& builder, const RecordBatch& b, int64_t row,
               std::string* body_out = nullptr) {
  std::string body;
  RowError err = builder.Build(b, row, &body);
  EXPECT_TRUE(err.ok()) << err.message;
  if (body_out) *body_out = body;
  json j = json::parse(body, nullptr, /*allow_exceptions=*/false);
  EXPECT_FALSE(j.is_discarded()) << "not JSON: " << body.substr(0, 300);
  return j;
}

// The data URL's MIME type and decoded bytes.
std::pair<std::string, std::string> DecodeDataUrl(const std::string& url) {
  size_t comma = url.find(',');
  EXPECT_EQ(url.rfind("data:", 0), 0u);
  std::string mime = url.substr(5, url.find(';') - 5);
  std::string bytes;
  EXPECT_TRUE(Base64Decode(std::string_view(url).substr(comma + 1), &bytes));
  return {mime, bytes};
}

TEST(RequestBuilder, TextOnlyRowsHavePlainStringContentAndEveryOption) {
  RequestOptions o = Options();
  o.system_prompt = "You label questions.";
  o.max_tokens = 32;
  o.temperature = 0.5;
  o.seed = 42;
  o.extra_members_json = R"("structured_outputs":{"choice":["A","B"]})";
  auto b = RequestBuilder::Make("Q: {question}", {}, TextBatch({"x"}).schema, o, Policy768(), "");
  ASSERT_TRUE(b.ok()) << b.status().ToString();
  json j = MustBuild(*b, TextBatch({"Is it?"}), 0);
  EXPECT_EQ(j["model"], "sim-vlm");
  ASSERT_EQ(j["messages"].size(), 2u);
  EXPECT_EQ(j["messages"][0]["role"], "system");
  EXPECT_EQ(j["messages"][0]["content"], "You label questions.");
  EXPECT_EQ(j["messages"][1]["role"], "user");
  EXPECT_EQ(j["messages"][1]["content"], "Q: Is it?");
  EXPECT_EQ(j["max_tokens"], 32);
  EXPECT_DOUBLE_EQ(j["temperature"].get<double>(), 0.5);
  EXPECT_EQ(j["seed"], 42);
  EXPECT_EQ(j["structured_outputs"]["choice"][1], "B");
}

TEST(RequestBuilder, OmitsSystemMessageAndSeedWhenUnset) {
  auto b = RequestBuilder::Make("{question}", {}, TextBatch({}).schema, Options(), Policy768(), "");
  ASSERT_TRUE(b.ok());
  json j = MustBuild(*b, TextBatch({"q"}), 0);
  EXPECT_EQ(j["messages"].size(), 1u);
  EXPECT_FALSE(j.contains("seed"));
  EXPECT_EQ(j["temperature"], 0.0);
}

TEST(RequestBuilder, EscapesQuotesNewlinesControlsAndNonAsciiText) {
  const std::string tricky =
      "He said \"hi\"\\ then\nleft\ttab\r\x01 caf\xC3\xA9 \xE6\x97\xA5\xE6\x9C\xAC "
      "\xF0\x9F\x8E\x89 </script>";
  RequestOptions o = Options();
  o.system_prompt = "sys \"quoted\"\n";
  auto b = RequestBuilder::Make("{question}", {}, TextBatch({}).schema, o, Policy768(), "");
  ASSERT_TRUE(b.ok());
  std::string body;
  json j = MustBuild(*b, TextBatch({tricky}), 0, &body);
  EXPECT_EQ(j["messages"][1]["content"], tricky);
  EXPECT_EQ(j["messages"][0]["content"], "sys \"quoted\"\n");
  EXPECT_EQ(body.find('\n'), std::string::npos) << "raw newline in the body";
}

TEST(RequestBuilder, InvalidUtf8InTextStillGivesValidJson) {
  auto b = RequestBuilder::Make("{question}", {}, TextBatch({}).schema, Options(), Policy768(), "");
  ASSERT_TRUE(b.ok());
  json j = MustBuild(*b, TextBatch({"bad \xFF\xFE bytes"}), 0);
  EXPECT_EQ(j["messages"][0]["content"], "bad \xEF\xBF\xBD\xEF\xBF\xBD bytes");
}

// The dataset-hub layout: images as list<struct{bytes, path}>.
RecordBatch HubBatch(const std::vector<std::vector<std::string>>& rows) {
  auto image_t = DataType::Struct({{"bytes", DataType::Binary()}, {"path", DataType::String()}});
  Schema schema{{{"question", DataType::String()}, {"images", DataType::List(image_t)}}};
  RecordBatch b = RecordBatch::Empty(schema);
  for (const auto& images : rows) {
    b.columns[0].AppendBytes("What is shown?");
    for (const auto& bytes : images) {
      b.columns[1].child(0).child(0).AppendBytes(bytes);
      b.columns[1].child(0).child(1).AppendBytes("img.bin");
      b.columns[1].child(0).CloseStruct();
    }
    b.columns[1].CloseList();
  }
  return b;
}

TEST(RequestBuilder, WritesImagesAsDataUrlsInOrderBeforeTheText) {
  std::string big_jpeg = Save(PhotoLike(1600, 1200), ".jpg");
  std::string small_png = Save(PhotoLike(100, 80), ".png");
  RecordBatch batch = HubBatch({{big_jpeg, small_png}});
  auto b = RequestBuilder::Make("{question}", {"images"}, batch.schema, Options(), Policy768(), "");
  ASSERT_TRUE(b.ok()) << b.status().ToString();
  json j = MustBuild(*b, batch, 0);
  const json& content = j["messages"][0]["content"];
  ASSERT_TRUE(content.is_array());
  ASSERT_EQ(content.size(), 3u);
  // Images first (the default): every question about one image shares the server's cached
  // prefix up to the text.
  EXPECT_EQ(content[0]["type"], "image_url");
  EXPECT_EQ(content[2]["type"], "text");
  EXPECT_EQ(content[2]["text"], "What is shown?");
  auto [mime1, bytes1] = DecodeDataUrl(content[0]["image_url"]["url"]);
  EXPECT_EQ(mime1, "image/jpeg");
  vips::VImage first = Load(bytes1);
  EXPECT_EQ(first.width(), 768);
  EXPECT_EQ(first.height(), 576);
  auto [mime2, bytes2] = DecodeDataUrl(content[1]["image_url"]["url"]);
  EXPECT_EQ(mime2, "image/png");
  EXPECT_EQ(bytes2, small_png) << "a fitting PNG is sent byte for byte";
}

TEST(RequestBuilder, SelectsOneListElementAndCanPutTheTextFirst) {
  std::string a = Save(Solid(40, 30, {255, 0, 0}), ".png");
  std::string c = Save(Solid(40, 30, {0, 0, 255}), ".png");
  RecordBatch batch = HubBatch({{a, c}});
  RequestOptions o = Options();
  o.image_position = ImagePosition::kLast;
  auto b = RequestBuilder::Make("{question}", {"images[1]"}, batch.schema, o, Policy768(), "");
  ASSERT_TRUE(b.ok()) << b.status().ToString();
  json j = MustBuild(*b, batch, 0);
  const json& content = j["messages"][0]["content"];
  ASSERT_EQ(content.size(), 2u);
  EXPECT_EQ(content[0]["type"], "text");
  EXPECT_EQ(content[1]["type"], "image_url");
  EXPECT_EQ(DecodeDataUrl(content[1]["image_url"]["url"]).second, c);
}

TEST(RequestBuilder, ImagePositionParsesFirstAndLast) {
  EXPECT_EQ(*ParseImagePosition("first"), ImagePosition::kFirst);
  EXPECT_EQ(*ParseImagePosition("last"), ImagePosition::kLast);
  auto bad = ParseImagePosition("before");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("use first"), std::string::npos);
}

TEST(RequestBuilder, PassesUrlsThroughAndResolvesRelativePaths) {
  char tmpl[] = "/tmp/structflow-prompt-XXXXXX";
  std::string dir = mkdtemp(tmpl);
  std::string png = Save(Solid(20, 10, {0, 255, 0}), ".png");
  std::filesystem::create_directories(dir + "/imgs");
  std::ofstream(dir + "/imgs/g.png", std::ios::binary) << png;
  Schema schema{{{"image", DataType::String()}}};
  RecordBatch batch = RecordBatch::Empty(schema);
  batch.columns[0].AppendBytes("https://example.com/cat.jpg?a=1&b=\"2\"");
  batch.columns[0].AppendBytes("imgs/g.png");
  batch.columns[0].AppendBytes("imgs/missing.png");
  auto b = RequestBuilder::Make("Describe.", {"image"}, schema, Options(), Policy768(), dir);
  ASSERT_TRUE(b.ok()) << b.status().ToString();
  json j0 = MustBuild(*b, batch, 0);
  EXPECT_EQ(j0["messages"][0]["content"][0]["image_url"]["url"],
            "https://example.com/cat.jpg?a=1&b=\"2\"");
  json j1 = MustBuild(*b, batch, 1);
  EXPECT_EQ(DecodeDataUrl(j1["messages"][0]["content"][0]["image_url"]["url"]).second, png);
  std::string body;
  RowError err = b->Build(batch, 2, &body);
  EXPECT_EQ(err.kind, ErrorKind::kImageError);
  EXPECT_NE(err.message.find("image column 'image'"), std::string::npos) << err.message;
  EXPECT_NE(err.message.find(dir + "/imgs/missing.png"), std::string::npos) << err.message;
  std::filesystem::remove_all(dir);
}

TEST(RequestBuilder, ImageRootAndSizeCapHoldForCachedAndUncachedImages) {
  char tmpl[] = "/tmp/structflow-prompt-XXXXXX";
  std::string dir = mkdtemp(tmpl);
  std::string png = Save(Solid(20, 10, {0, 255, 0}), ".png");
  std::filesystem::create_directories(dir + "/root");
  std::ofstream(dir + "/root/g.png", std::ios::binary) << png;
  std::ofstream(dir + "/outside.png", std::ios::binary) << png;
  Schema schema{{{"image", DataType::String()}}};
  RecordBatch batch = RecordBatch::Empty(schema);
  batch.columns[0].AppendBytes("g.png");
  batch.columns[0].AppendBytes("../outside.png");
  batch.columns[0].AppendBytes("/dev/zero");
  for (bool cached : {false, true}) {
    RequestOptions o = Options();
    o.image_root = dir + "/root/.";
    if (cached) o.image_cache = std::make_shared<image::PreparedCache>(1 << 20, Policy768());
    auto b = RequestBuilder::Make("Describe.", {"image"}, schema, o, Policy768(), dir + "/root");
    ASSERT_TRUE(b.ok()) << b.status().ToString();
    json j0 = MustBuild(*b, batch, 0);
    EXPECT_EQ(DecodeDataUrl(j0["messages"][0]["content"][0]["image_url"]["url"]).second, png);
    for (int64_t row : {1, 2}) {
      std::string body;
      RowError err = b->Build(batch, row, &body);
      EXPECT_EQ(err.kind, ErrorKind::kImageError);
      EXPECT_NE(err.message.find("lies outside --image-root"), std::string::npos) << err.message;
    }
    o.image_root.clear();
    o.image_max_bytes = png.size() - 1;
    // A fresh cache: the one above holds g.png, prepared under no cap (a job has one cap).
    if (cached) o.image_cache = std::make_shared<image::PreparedCache>(1 << 20, Policy768());
    auto capped =
        RequestBuilder::Make("Describe.", {"image"}, schema, o, Policy768(), dir + "/root");
    ASSERT_TRUE(capped.ok());
    std::string body;
    RowError err = capped->Build(batch, 0, &body);
    EXPECT_NE(err.message.find("--image-max-bytes"), std::string::npos) << err.message;
    err = capped->Build(batch, 2, &body);
    EXPECT_NE(err.message.find("character device"), std::string::npos) << err.message;
  }
  RequestOptions o = Options();
  o.image_root = dir + "/no-such-folder";
  auto bad = RequestBuilder::Make("Describe.", {"image"}, schema, o, Policy768(), dir);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("--image-root"), std::string::npos);
  std::filesystem::remove_all(dir);
}

// A file that decodes to too many pixels (the image fuzz target's GIF bomb) fails its row with
// the file's name and the reason, cached or not.
TEST(RequestBuilder, ADecodeErrorNamesTheImageFile) {
  char tmpl[] = "/tmp/structflow-prompt-XXXXXX";
  std::string dir = mkdtemp(tmpl);
  std::filesystem::copy_file(
      std::filesystem::path(STRUCTFLOW_SOURCE_DIR) / "tools/fuzz/regress/image/gif-canvas-bomb",
      dir + "/bomb.gif");
  Schema schema{{{"image", DataType::String()}}};
  RecordBatch batch = RecordBatch::Empty(schema);
  batch.columns[0].AppendBytes("bomb.gif");
  for (bool cached : {false, true}) {
    SCOPED_TRACE(cached);
    RequestOptions o = Options();
    if (cached) o.image_cache = std::make_shared<image::PreparedCache>(1 << 20, Policy768());
    auto b = RequestBuilder::Make("Describe.", {"image"}, schema, o, Policy768(), dir);
    ASSERT_TRUE(b.ok()) << b.status().ToString();
    std::string body;
    RowError err = b->Build(batch, 0, &body);
    EXPECT_EQ(err.kind, ErrorKind::kImageError);
    EXPECT_NE(err.message.find("image column 'image': 'bomb.gif': gif image of 51220x7710"),
              std::string::npos)
        << err.message;
    EXPECT_NE(err.message.find("too large to decode"), std::string::npos) << err.message;
  }
  std::filesystem::remove_all(dir);
}

TEST(RequestBuilder, FetchImagesDownloadsUrlsInTheWorkerAndSendsDataUrls) {
  std::string big = Save(PhotoLike(1000, 500), ".png");
  image::testing::OneShotHttpServer server(image::testing::HttpResponse(200, big));
  Schema schema{{{"image", DataType::String()}}};
  RecordBatch batch = RecordBatch::Empty(schema);
  batch.columns[0].AppendBytes(server.url("/photo.png"));
  RequestOptions o = Options();
  o.fetch_images = true;
  auto b = RequestBuilder::Make("Describe.", {"image"}, schema, o, Policy768(), "");
  ASSERT_TRUE(b.ok()) << b.status().ToString();
  json j = MustBuild(*b, batch, 0);
  auto [mime, bytes] = DecodeDataUrl(j["messages"][0]["content"][0]["image_url"]["url"]);
  EXPECT_EQ(mime, "image/jpeg");
  EXPECT_EQ(Load(bytes).width(), 768) << "fetched images follow the resize policy";
}

TEST(RequestBuilder, KeptImagesFromSeveralPathColumnsDoNotShareBuffers) {
  char tmpl[] = "/tmp/structflow-prompt-XXXXXX";
  std::string dir = mkdtemp(tmpl);
  std::string red = Save(Solid(20, 10, {255, 0, 0}), ".png");
  std::string blue = Save(Solid(30, 10, {0, 0, 255}), ".png");
  std::ofstream(dir + "/red.png", std::ios::binary) << red;
  std::ofstream(dir + "/blue.png", std::ios::binary) << blue;
  Schema schema{{{"a", DataType::String()}, {"b", DataType::String()}}};
  RecordBatch batch = RecordBatch::Empty(schema);
  batch.columns[0].AppendBytes("red.png");
  batch.columns[1].AppendBytes("blue.png");
  auto b = RequestBuilder::Make("Compare.", {"a", "b"}, schema, Options(), Policy768(), dir);
  ASSERT_TRUE(b.ok()) << b.status().ToString();
  json j = MustBuild(*b, batch, 0);
  const json& content = j["messages"][0]["content"];
  ASSERT_EQ(content.size(), 3u);
  EXPECT_EQ(DecodeDataUrl(content[0]["image_url"]["url"]).second, red);
  EXPECT_EQ(DecodeDataUrl(content[1]["image_url"]["url"]).second, blue);
  std::filesystem::remove_all(dir);
}

TEST(RequestBuilder, BrokenImagesFailTheRowWithTheReason) {
  std::string jpeg = Save(PhotoLike(300, 200), ".jpg");
  struct Case {
    std::string bytes;
    std::string reason;
  };
  const Case cases[] = {{jpeg.substr(0, jpeg.size() / 2), "jpeg"},
                        {"", "empty image (0 bytes)"},
                        {"not an image at all", "not an image"}};
  for (const Case& c : cases) {
    SCOPED_TRACE(c.reason);
    RecordBatch batch = HubBatch({{jpeg, c.bytes}});
    // The hub struct with empty bytes falls back to the path, which does not exist here.
    auto b = RequestBuilder::Make("{question}", {"images"}, batch.schema, Options(), Policy768(),
                                  "/nonexistent-dir");
    ASSERT_TRUE(b.ok());
    std::string body;
    RowError err = b->Build(batch, 0, &body);
    ASSERT_EQ(err.kind, ErrorKind::kImageError);
    EXPECT_NE(err.message.find("image column 'images'"), std::string::npos) << err.message;
    EXPECT_NE(err.message.find("image 2 of 2"), std::string::npos) << err.message;
    if (!c.bytes.empty()) {
      EXPECT_NE(err.message.find(c.reason), std::string::npos) << err.message;
    } else {
      EXPECT_NE(err.message.find("cannot read image file"), std::string::npos) << err.message;
    }
  }
}

TEST(RequestBuilder, ZeroByteBinaryImageIsAnImageError) {
  Schema schema{{{"image", DataType::Binary()}}};
  RecordBatch batch = RecordBatch::Empty(schema);
  batch.columns[0].AppendBytes("");
  batch.columns[0].AppendNull();
  auto b = RequestBuilder::Make("Describe.", {"image"}, schema, Options(), Policy768(), "");
  ASSERT_TRUE(b.ok());
  std::string body;
  RowError err = b->Build(batch, 0, &body);
  EXPECT_EQ(err.kind, ErrorKind::kImageError);
  EXPECT_NE(err.message.find("empty image (0 bytes)"), std::string::npos) << err.message;
  err = b->Build(batch, 1, &body);
  EXPECT_EQ(err.kind, ErrorKind::kImageError);
  EXPECT_NE(err.message.find("null"), std::string::npos) << err.message;
}

TEST(RequestBuilder, MakeFailsEarlyOnMissingColumnsAndWrongImageTypes) {
  Schema schema{{{"question", DataType::String()}, {"label", DataType::Int64()}}};
  auto missing =
      RequestBuilder::Make("{question} {answer}", {}, schema, Options(), Policy768(), "");
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.status().message().find("'answer'"), std::string::npos);
  EXPECT_NE(missing.status().message().find("question, label"), std::string::npos);

  auto no_image = RequestBuilder::Make("{question}", {"image"}, schema, Options(), Policy768(), "");
  ASSERT_FALSE(no_image.ok());
  EXPECT_NE(no_image.status().message().find("image column 'image'"), std::string::npos)
      << no_image.status().message();
  EXPECT_NE(no_image.status().message().find("question, label"), std::string::npos);

  auto wrong = RequestBuilder::Make("{question}", {"label"}, schema, Options(), Policy768(), "");
  ASSERT_FALSE(wrong.ok());
  EXPECT_NE(wrong.status().message().find("int64"), std::string::npos);

  image::ImagePolicy bad = Policy768();
  bad.quality = 0;
  EXPECT_FALSE(RequestBuilder::Make("{question}", {}, schema, Options(), bad, "").ok());
}

TEST(RequestBuilder, BuildsTheSameBodiesFromManyThreads) {
  std::vector<std::vector<std::string>> rows;
  for (int i = 0; i < 4; ++i) rows.push_back({Save(PhotoLike(900, 700, i + 1), ".jpg")});
  RecordBatch batch = HubBatch(rows);
  auto b =
      RequestBuilder::Make("{question}", {"images[0]"}, batch.schema, Options(), Policy768(), "");
  ASSERT_TRUE(b.ok());
  std::vector<std::string> expected(4);
  for (int r = 0; r < 4; ++r) ASSERT_TRUE(b->Build(batch, r, &expected[r]).ok());
  std::vector<int> mismatches(3, 0);
  std::vector<std::thread> threads;
  for (int t = 0; t < 3; ++t) {
    threads.emplace_back([&, t] {
      std::string body;
      for (int k = 0; k < 8; ++k) {
        int r = (t + k) % 4;
        if (!b->Build(batch, r, &body).ok() || body != expected[r]) ++mismatches[t];
      }
    });
  }
  for (auto& th : threads) th.join();
  for (int t = 0; t < 3; ++t) EXPECT_EQ(mismatches[t], 0);
}

TEST(AbbreviateBody, ShortensBase64PayloadsAndShowsTheirSize) {
  std::string payload(123456, 'A');
  std::string payload_b64 = Base64Encode(payload);
  std::string body = R"({"url":"data:image/jpeg;base64,)" + payload_b64 +
                     R"("},{"url":"data:image/png;base64,AAAA"},{"text":"keep me"})";
  std::string shown = AbbreviateBody(body);
  EXPECT_NE(
      shown.find("data:image/jpeg;base64," + payload_b64.substr(0, 12) + "...(123,456 bytes)\""),
      std::string::npos)
      << shown;
  EXPECT_NE(shown.find(R"("data:image/png;base64,AAAA")"), std::string::npos) << "short kept";
  EXPECT_NE(shown.find("keep me"), std::string::npos);
  EXPECT_LT(shown.size(), 200u);
  // Padding is counted: 100 bytes encode to 136 characters ending in "==".
  std::string hundred = "x:;base64," + Base64Encode(std::string(100, 'z'));
  EXPECT_NE(AbbreviateBody(hundred).find("(100 bytes)"), std::string::npos);
}

}  // namespace
}  // namespace structflow::prompt

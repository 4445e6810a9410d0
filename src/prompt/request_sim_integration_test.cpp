// Bodies built by RequestBuilder, sent to the in-process simulator, which decodes every image
// the way vLLM does and answers 400 when one is broken. Every kind of image structflow prepares
// must come back 200.
#include <curl/curl.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "common/base64.h"
#include "image/test_util.h"
#include "prompt/request_builder.h"
#include "sim/server.h"

namespace structflow::prompt {
namespace {

using image::testing::PhotoLike;
using image::testing::Save;
using image::testing::Solid;
using table::DataType;
using table::RecordBatch;
using table::Schema;
using vips::VImage;

size_t Collect(char* data, size_t size, size_t n, void* user) {
  static_cast<std::string*>(user)->append(data, size * n);
  return size * n;
}

// POSTs `body` to base_url/chat/completions; returns the HTTP status and fills *response.
long Post(const std::string& base_url, const std::string& body, std::string* response) {
  std::unique_ptr<CURL, void (*)(CURL*)> curl(curl_easy_init(), curl_easy_cleanup);
  std::string url = base_url + "/chat/completions";
  curl_slist* headers = curl_slist_append(nullptr, "Content-Type: application/json");
  curl_easy_setopt(curl.get(), CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl.get(), CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(curl.get(), CURLOPT_POSTFIELDS, body.data());
  curl_easy_setopt(curl.get(), CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
  curl_easy_setopt(curl.get(), CURLOPT_WRITEFUNCTION, Collect);
  curl_easy_setopt(curl.get(), CURLOPT_WRITEDATA, response);
  curl_easy_setopt(curl.get(), CURLOPT_TIMEOUT, 30L);
  CURLcode rc = curl_easy_perform(curl.get());
  curl_slist_free_all(headers);
  EXPECT_EQ(rc, CURLE_OK) << curl_easy_strerror(rc);
  long status = 0;
  curl_easy_getinfo(curl.get(), CURLINFO_RESPONSE_CODE, &status);
  return status;
}

class RequestSimTest : public ::testing::Test {
 protected:
  void SetUp() override {
    sim::SimOptions o;
    o.latency_ms = 0;
    o.limit_mm_per_prompt = 4;
    o.max_model_len = 65536;
    auto server = sim::Server::Start(o);
    ASSERT_TRUE(server.ok()) << server.status().ToString();
    server_ = std::move(server).value();
  }
  std::unique_ptr<sim::Server> server_;
};

// Every input kind the unit tests cover, one row each, as binary image cells.
std::vector<std::pair<std::string, std::string>> AllKindsOfImages() {
  std::vector<std::pair<std::string, std::string>> out;
  VImage photo = PhotoLike(600, 400);
  for (const char* suffix : {".jpg", ".png", ".webp", ".gif", ".bmp", ".tif"}) {
    out.emplace_back(suffix, Save(photo, suffix));
  }
  for (int orientation = 2; orientation <= 8; orientation += 3) {
    VImage tagged = PhotoLike(300, 200).copy();
    tagged.set(VIPS_META_ORIENTATION, orientation);
    out.emplace_back("orientation " + std::to_string(orientation), Save(tagged, ".jpg"));
  }
  out.emplace_back(
      "cmyk jpeg",
      Save(Solid(64, 48, {0, 255, 255, 0})
               .copy(VImage::option()->set("interpretation", VIPS_INTERPRETATION_CMYK)),
           ".jpg"));
  out.emplace_back("grey jpeg", Save(Solid(900, 40, {128}), ".jpg"));
  out.emplace_back(
      "16-bit png",
      Save(VImage::black(50, 40, VImage::option()->set("bands", 3))
               .linear({1, 1, 1}, {40000, 20000, 0})
               .cast(VIPS_FORMAT_USHORT)
               .copy(VImage::option()->set("interpretation", VIPS_INTERPRETATION_RGB16)),
           ".png"));
  out.emplace_back("palette png with alpha",
                   Save(Solid(60, 40, {255, 0, 0, 0}).insert(Solid(30, 40, {255, 0, 0, 255}), 0, 0),
                        ".png[palette]"));
  out.emplace_back("1x1 png", Save(Solid(1, 1, {9, 9, 9}), ".png"));
  return out;
}

TEST_F(RequestSimTest, SimulatorAcceptsEveryImageStructflowSends) {
  auto images = AllKindsOfImages();
  Schema schema{{{"name", DataType::String()}, {"image", DataType::Binary()}}};
  RecordBatch batch = RecordBatch::Empty(schema);
  for (const auto& [name, bytes] : images) {
    batch.columns[0].AppendBytes(name);
    batch.columns[1].AppendBytes(bytes);
  }
  for (image::OutputFormat format : {image::OutputFormat::kJpeg, image::OutputFormat::kPng,
                                     image::OutputFormat::kWebp, image::OutputFormat::kKeep}) {
    RequestOptions o;
    o.model = "sim-vlm";
    o.system_prompt = "Describe images \"briefly\".";
    o.max_tokens = 16;
    o.seed = 1;
    image::ImagePolicy policy;
    policy.max_side = 256;
    policy.format = format;
    auto b = RequestBuilder::Make("What is {name}? \xE6\x97\xA5\xE6\x9C\xAC\n", {"image"}, schema,
                                  o, policy, "");
    ASSERT_TRUE(b.ok()) << b.status().ToString();
    for (int64_t r = 0; r < batch.num_rows(); ++r) {
      SCOPED_TRACE(images[r].first + " as " + std::string(image::OutputFormatName(format)));
      std::string body;
      RowError err = b->Build(batch, r, &body);
      ASSERT_TRUE(err.ok()) << err.message;
      // What the server decodes respects the policy.
      auto sent = nlohmann::json::parse(body);
      const std::string url = sent["messages"][1]["content"][0]["image_url"]["url"];
      std::string bytes;
      ASSERT_TRUE(Base64Decode(std::string_view(url).substr(url.find(',') + 1), &bytes));
      VImage decoded = image::testing::Load(bytes);
      EXPECT_LE(std::max(decoded.width(), decoded.height()), 256);
      EXPECT_LE(decoded.bands(), 4);
      std::string response;
      EXPECT_EQ(Post(server_->base_url(), body, &response), 200) << response.substr(0, 500);
      auto j = nlohmann::json::parse(response, nullptr, false);
      ASSERT_FALSE(j.is_discarded()) << response.substr(0, 300);
      EXPECT_TRUE(j.contains("choices")) << response.substr(0, 300);
    }
  }
}

TEST_F(RequestSimTest, SeveralImagesInOneMessageAreAccepted) {
  auto hub = DataType::Struct({{"bytes", DataType::Binary()}, {"path", DataType::String()}});
  Schema schema{{{"images", DataType::List(hub)}}};
  RecordBatch batch = RecordBatch::Empty(schema);
  for (const char* suffix : {".jpg", ".png", ".webp"}) {
    batch.columns[0].child(0).child(0).AppendBytes(Save(PhotoLike(640, 480), suffix));
    batch.columns[0].child(0).child(1).AppendNull();
    batch.columns[0].child(0).CloseStruct();
  }
  batch.columns[0].CloseList();
  RequestOptions o;
  o.model = "sim-vlm";
  image::ImagePolicy policy;
  policy.max_pixels = 100000;
  auto b = RequestBuilder::Make("Compare the images.", {"images"}, schema, o, policy, "");
  ASSERT_TRUE(b.ok()) << b.status().ToString();
  std::string body;
  ASSERT_TRUE(b->Build(batch, 0, &body).ok());
  std::string response;
  EXPECT_EQ(Post(server_->base_url(), body, &response), 200) << response.substr(0, 500);
}

// The check above means something only if the simulator rejects what it cannot decode.
TEST_F(RequestSimTest, SimulatorRejectsABrokenImage) {
  std::string jpeg = Save(PhotoLike(200, 100), ".jpg");
  std::string body = R"({"model":"sim-vlm","messages":[{"role":"user","content":[)"
                     R"({"type":"text","text":"x"},{"type":"image_url","image_url":{"url":")"
                     "data:image/jpeg;base64," +
                     Base64Encode("garbage, not a jpeg at all") + R"("}}]}],"max_tokens":8})";
  std::string response;
  EXPECT_EQ(Post(server_->base_url(), body, &response), 400) << response.substr(0, 500);
}

}  // namespace
}  // namespace structflow::prompt

#include "image/image_value.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "common/base64.h"
#include "image/test_http_server.h"
#include "table/record_batch.h"

namespace structflow::image {
namespace {

using table::Column;
using table::DataType;
using testing::HttpResponse;
using testing::OneShotHttpServer;

TEST(CheckImageType, AcceptsBytesPathsHubStructsAndListsOfThem) {
  auto hub = DataType::Struct({{"bytes", DataType::Binary()}, {"path", DataType::String()}});
  EXPECT_TRUE(CheckImageType(*DataType::Binary(), "image").ok());
  EXPECT_TRUE(CheckImageType(*DataType::String(), "image").ok());
  EXPECT_TRUE(CheckImageType(*hub, "image").ok());
  EXPECT_TRUE(CheckImageType(*DataType::List(hub), "images").ok());
  EXPECT_TRUE(CheckImageType(*DataType::List(DataType::String()), "images").ok());
  EXPECT_TRUE(CheckImageType(*DataType::Struct({{"path", DataType::String()}}), "image").ok());
}

TEST(CheckImageType, RejectsOtherTypesNamingTheColumnAndWhatIsAccepted) {
  Status st = CheckImageType(*DataType::Int64(), "label");
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("'label'"), std::string::npos) << st.message();
  EXPECT_NE(st.message().find("int64"), std::string::npos);
  EXPECT_NE(st.message().find("struct{bytes: binary, path: string}"), std::string::npos);
  EXPECT_FALSE(CheckImageType(*DataType::Struct({{"bytes", DataType::Int64()}}), "x").ok());
}

TEST(RefFromString, TellsUrlsFromPaths) {
  EXPECT_EQ(RefFromString("https://example.com/a.jpg").kind, ImageRef::Kind::kUrl);
  EXPECT_EQ(RefFromString("HTTP://example.com/a.jpg").kind, ImageRef::Kind::kUrl);
  EXPECT_EQ(RefFromString("data:image/png;base64,AAAA").kind, ImageRef::Kind::kUrl);
  EXPECT_EQ(RefFromString("images/a.jpg").kind, ImageRef::Kind::kPath);
  EXPECT_EQ(RefFromString("/abs/a.jpg").kind, ImageRef::Kind::kPath);
  EXPECT_EQ(RefFromString("file:///abs/a.jpg").kind, ImageRef::Kind::kPath);
}

TEST(CollectImages, PrefersHubBytesAndFallsBackToPath) {
  auto hub = DataType::Struct({{"bytes", DataType::Binary()}, {"path", DataType::String()}});
  Column col(hub);
  col.child(0).AppendBytes("JPEGBYTES");
  col.child(1).AppendBytes("a.jpg");
  col.CloseStruct();
  col.child(0).AppendNull();
  col.child(1).AppendBytes("b.jpg");
  col.CloseStruct();
  col.child(0).AppendNull();
  col.child(1).AppendNull();
  col.CloseStruct();
  std::vector<ImageRef> refs;
  ASSERT_TRUE(CollectImages(col, 0, &refs).ok());
  ASSERT_TRUE(CollectImages(col, 1, &refs).ok());
  ASSERT_EQ(refs.size(), 2u);
  EXPECT_EQ(refs[0].kind, ImageRef::Kind::kBytes);
  EXPECT_EQ(refs[0].value, "JPEGBYTES");
  EXPECT_EQ(refs[1].kind, ImageRef::Kind::kPath);
  EXPECT_EQ(refs[1].value, "b.jpg");
  Status st = CollectImages(col, 2, &refs);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("neither bytes nor a path"), std::string::npos);
}

TEST(CollectImages, BytesWrittenAsBase64TextAreDecodedNotReplacedByThePath) {
  // What a Parquet dataset dumped to JSON gives: {"bytes": "<base64>", "path": "a.jpg"}.
  auto hub = DataType::Struct({{"bytes", DataType::String()}, {"path", DataType::String()}});
  ASSERT_TRUE(CheckImageType(*hub, "image").ok());
  std::string b64 = Base64Encode("\x89PNG raw bytes");
  Column col(hub);
  col.child(0).AppendBytes(b64);
  col.child(1).AppendBytes("missing.png");
  col.CloseStruct();
  col.child(0).AppendBytes("data:image/png;base64," + b64);
  col.child(1).AppendNull();
  col.CloseStruct();
  col.child(0).AppendBytes("not base64 at all!");
  col.child(1).AppendNull();
  col.CloseStruct();
  std::vector<ImageRef> refs;
  for (int64_t row = 0; row < 3; ++row) ASSERT_TRUE(CollectImages(col, row, &refs).ok());
  ASSERT_EQ(refs.size(), 3u);
  EXPECT_EQ(refs[0].kind, ImageRef::Kind::kBase64);
  EXPECT_EQ(refs[1].kind, ImageRef::Kind::kUrl);
  std::string storage;
  auto bytes = LoadImageBytes(refs[0], {}, &storage);
  ASSERT_TRUE(bytes.ok()) << bytes.status().ToString();
  EXPECT_EQ(*bytes, "\x89PNG raw bytes");
  bytes = LoadImageBytes(refs[1], {}, &storage);
  ASSERT_TRUE(bytes.ok()) << bytes.status().ToString();
  EXPECT_EQ(*bytes, "\x89PNG raw bytes");
  bytes = LoadImageBytes(refs[2], {}, &storage);
  ASSERT_FALSE(bytes.ok());
  EXPECT_NE(bytes.status().message().find("not base64"), std::string::npos);
}

TEST(CollectImages, ListsGiveOneImagePerElementInOrder) {
  Column col(DataType::List(DataType::String()));
  col.child(0).AppendBytes("one.png");
  col.child(0).AppendBytes("https://example.com/two.png");
  col.CloseList();
  col.CloseList();  // empty list: no images
  col.child(0).AppendBytes("x.png");
  col.child(0).AppendNull();
  col.CloseList();
  std::vector<ImageRef> refs;
  ASSERT_TRUE(CollectImages(col, 0, &refs).ok());
  ASSERT_EQ(refs.size(), 2u);
  EXPECT_EQ(refs[0].value, "one.png");
  EXPECT_EQ(refs[1].kind, ImageRef::Kind::kUrl);
  refs.clear();
  ASSERT_TRUE(CollectImages(col, 1, &refs).ok());
  EXPECT_TRUE(refs.empty());
  Status st = CollectImages(col, 2, &refs);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("element 1"), std::string::npos) << st.message();
  EXPECT_NE(st.message().find("null"), std::string::npos) << st.message();
}

class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/structflow-image-XXXXXX";
    path_ = mkdtemp(tmpl);
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

TEST(LoadImageBytes, ResolvesRelativePathsAgainstTheBaseDir) {
  TempDir dir;
  std::filesystem::create_directories(dir.path() + "/imgs");
  std::ofstream(dir.path() + "/imgs/a.bin") << "content-a";
  LoadOptions options;
  options.base_dir = dir.path();
  std::string storage;
  auto r = LoadImageBytes(RefFromString("imgs/a.bin"), options, &storage);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(*r, "content-a");
  std::string abs = dir.path() + "/imgs/a.bin";
  auto r2 = LoadImageBytes(RefFromString("file://" + abs), LoadOptions{}, &storage);
  ASSERT_TRUE(r2.ok()) << r2.status().ToString();
  EXPECT_EQ(*r2, "content-a");
}

TEST(LoadImageBytes, UnreadablePathNamesTheFileAndTheReason) {
  TempDir dir;
  LoadOptions options;
  options.base_dir = dir.path();
  std::string storage;
  auto r = LoadImageBytes(RefFromString("missing.jpg"), options, &storage);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find(dir.path() + "/missing.jpg"), std::string::npos)
      << r.status().message();
  EXPECT_NE(r.status().message().find("No such file"), std::string::npos);
  auto d = LoadImageBytes(RefFromString(dir.path()), LoadOptions{}, &storage);
  ASSERT_FALSE(d.ok());
  EXPECT_NE(d.status().message().find("directory"), std::string::npos) << d.status().message();
}

TEST(LoadImageBytes, DecodesBase64DataUrls) {
  std::string storage;
  std::string url = "data:image/png;base64," + Base64Encode("pixels");
  auto r = LoadImageBytes(RefFromString(url), LoadOptions{}, &storage);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(*r, "pixels");
  EXPECT_FALSE(LoadImageBytes(RefFromString("data:image/png,raw"), LoadOptions{}, &storage).ok());
}

TEST(FetchUrl, FetchesTheBodyFromALocalServer) {
  std::string body(100000, 'q');
  OneShotHttpServer server(HttpResponse(200, body));
  std::string out;
  LoadOptions options;
  options.fetch_urls = true;
  std::string url = server.url("/img.jpg");
  auto r = LoadImageBytes(RefFromString(url), options, &out);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(*r, body);
  EXPECT_EQ(server.request().rfind("GET /img.jpg HTTP/1.1", 0), 0u) << server.request();
}

TEST(FetchUrl, HttpErrorsNameTheUrlAndStatus) {
  OneShotHttpServer server(HttpResponse(404, "nope"));
  std::string out;
  std::string url = server.url("/missing.jpg");
  Status st = FetchUrl(url, FetchOptions{}, &out);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find(url), std::string::npos) << st.message();
  EXPECT_NE(st.message().find("HTTP 404"), std::string::npos) << st.message();
}

TEST(FetchUrl, RefusesBodiesOverTheSizeLimit) {
  OneShotHttpServer server(HttpResponse(200, std::string(5000, 'x')));
  std::string out;
  FetchOptions options;
  options.max_bytes = 1000;
  Status st = FetchUrl(server.url("/big.jpg"), options, &out);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("larger than 1000 bytes"), std::string::npos) << st.message();
}

TEST(FetchUrl, RefusesNonHttpSchemes) {
  std::string out;
  Status st = FetchUrl("file:///etc/passwd", FetchOptions{}, &out);
  EXPECT_FALSE(st.ok());
  EXPECT_TRUE(out.empty());
}

}  // namespace
}  // namespace structflow::image

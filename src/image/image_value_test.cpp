#include "image/image_value.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
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

TEST(LoadImageBytes, RefusesDevicesWithoutReadingThem) {
  // /dev/zero once grew a job to 16.8 GB: it must be refused from its kind, not read.
  std::string storage;
  auto r = LoadImageBytes(RefFromString("/dev/zero"), LoadOptions{}, &storage);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("'/dev/zero' is a character device"), std::string::npos)
      << r.status().message();
  EXPECT_EQ(storage.capacity() > 4096, false);
  auto u = LoadImageBytes(RefFromString("file:///dev/urandom"), LoadOptions{}, &storage);
  ASSERT_FALSE(u.ok());
  EXPECT_NE(u.status().message().find("character device"), std::string::npos);
}

TEST(LoadImageBytes, RefusesAFifoWithoutBlocking) {
  // A FIFO with no writer once blocked a worker in open() forever. Nobody writes to this one: the
  // test hangs (and times out) if the open or a read waits.
  TempDir dir;
  std::string fifo = dir.path() + "/pipe.jpg";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  std::string storage;
  auto r = LoadImageBytes(RefFromString("pipe.jpg"), LoadOptions{dir.path()}, &storage);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("is a FIFO (named pipe), not a regular file"),
            std::string::npos)
      << r.status().message();
  // ReadFileBytes itself (the open happens after the check) refuses it the same way.
  Status st = ReadFileBytes(fifo, 1 << 20, &storage);
  EXPECT_NE(st.message().find("FIFO"), std::string::npos) << st.message();
}

TEST(LoadImageBytes, RefusesFilesOverTheCapBeforeReadingThem) {
  TempDir dir;
  std::string big = dir.path() + "/big.jpg";
  {
    std::ofstream out(big, std::ios::binary);
    out << std::string(5000, 'x');
  }
  LoadOptions options;
  options.max_bytes = 4096;
  std::string storage;
  auto r = LoadImageBytes(RefFromString(big), options, &storage);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("is 5000 bytes, more than the 4096 allowed"),
            std::string::npos)
      << r.status().message();
  EXPECT_NE(r.status().message().find("--image-max-bytes"), std::string::npos);
  EXPECT_TRUE(storage.empty());
  options.max_bytes = 5000;
  auto ok = LoadImageBytes(RefFromString(big), options, &storage);
  ASSERT_TRUE(ok.ok()) << ok.status().ToString();
  EXPECT_EQ(ok->size(), 5000u);
  // A data: URL is held to the same cap before it is decoded.
  options.max_bytes = 10;
  auto d =
      LoadImageBytes(RefFromString("data:image/png;base64," + Base64Encode(std::string(64, 'p'))),
                     options, &storage);
  ASSERT_FALSE(d.ok());
  EXPECT_NE(d.status().message().find("more than 10 bytes"), std::string::npos);
}

TEST(LoadImageBytes, ImageRootConfinesPathsAndFileUrls) {
  TempDir dir;
  std::filesystem::create_directories(dir.path() + "/root/sub");
  std::ofstream(dir.path() + "/root/sub/in.jpg") << "inside";
  std::ofstream(dir.path() + "/secret.txt") << "root:x:0:0";
  std::filesystem::create_symlink(dir.path() + "/secret.txt", dir.path() + "/root/link.jpg");
  auto root = CanonicalImageRoot(dir.path() + "/root/sub/..");
  ASSERT_TRUE(root.ok()) << root.status().ToString();
  LoadOptions options;
  options.base_dir = dir.path() + "/root";
  options.root = *root;
  std::string storage;
  auto in = LoadImageBytes(RefFromString("sub/in.jpg"), options, &storage);
  ASSERT_TRUE(in.ok()) << in.status().ToString();
  EXPECT_EQ(*in, "inside");
  for (std::string outside : {std::string("../secret.txt"), std::string("sub/../../secret.txt"),
                              "file://" + dir.path() + "/secret.txt", std::string("/etc/passwd"),
                              std::string("link.jpg"), std::string("/dev/zero")}) {
    auto r = LoadImageBytes(RefFromString(outside), options, &storage);
    ASSERT_FALSE(r.ok()) << outside;
    EXPECT_NE(r.status().message().find("lies outside --image-root '" + *root + "'"),
              std::string::npos)
        << r.status().message();
    EXPECT_EQ(r.status().message().find("root:x"), std::string::npos);
  }
  // A folder whose name only starts like the root's is not inside it.
  std::filesystem::create_directories(dir.path() + "/rootless");
  std::ofstream(dir.path() + "/rootless/a.jpg") << "x";
  EXPECT_FALSE(
      LoadImageBytes(RefFromString(dir.path() + "/rootless/a.jpg"), options, &storage).ok());
  auto missing = CanonicalImageRoot(dir.path() + "/nope");
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.status().message().find("--image-root"), std::string::npos);
}

// The race --image-root must survive: a path checked inside the root (ResolveImagePath), then a
// folder on it swapped for a symbolic link to a folder outside before the file is opened. The
// read opens beneath the root's directory following no link (openat2, or the component walk
// kernels without it get), so it refuses instead of reading the file outside.
TEST(ReadFileBytesBeneath, ASymlinkSwappedInAfterTheCheckDoesNotLeadOutOfTheRoot) {
  for (bool openat2 : {true, false}) {
    SCOPED_TRACE(openat2 ? "openat2" : "openat component walk");
    TempDir dir;
    std::filesystem::create_directories(dir.path() + "/root/sub");
    std::filesystem::create_directories(dir.path() + "/outside");
    std::ofstream(dir.path() + "/root/sub/a.jpg") << "inside";
    std::ofstream(dir.path() + "/outside/a.jpg") << "root:x:0:0";
    auto root = CanonicalImageRoot(dir.path() + "/root");
    ASSERT_TRUE(root.ok()) << root.status().ToString();
    LoadOptions options;
    options.base_dir = *root;
    options.root = *root;
    auto file = ResolveImagePath("sub/a.jpg", options);
    ASSERT_TRUE(file.ok()) << file.status().ToString();
    std::string storage;
    ASSERT_TRUE(ReadFileBytesBeneath(*root, *file, 1 << 20, &storage, openat2).ok());
    EXPECT_EQ(storage, "inside");

    // The swap: sub becomes a link to the folder outside (what ReadFileBytes would now follow).
    std::filesystem::rename(dir.path() + "/root/sub", dir.path() + "/root/old");
    std::filesystem::create_symlink(dir.path() + "/outside", dir.path() + "/root/sub");
    ASSERT_TRUE(ReadFileBytes(*file, 1 << 20, &storage).ok());
    ASSERT_EQ(storage, "root:x:0:0");  // the escape, by name
    Status st = ReadFileBytesBeneath(*root, *file, 1 << 20, &storage, openat2);
    ASSERT_FALSE(st.ok());
    EXPECT_TRUE(storage.empty());
    EXPECT_NE(st.message().find("image path '" + *file + "' changed while it was being read"),
              std::string::npos)
        << st.message();
    EXPECT_NE(st.message().find("--image-root '" + *root + "'"), std::string::npos);
    EXPECT_EQ(st.message().find("root:x"), std::string::npos);

    // A relative link out, and a link as the file itself, are refused the same way.
    std::filesystem::remove(dir.path() + "/root/sub");
    std::filesystem::create_symlink("../outside", dir.path() + "/root/sub");
    EXPECT_FALSE(ReadFileBytesBeneath(*root, *file, 1 << 20, &storage, openat2).ok());
    std::filesystem::remove(dir.path() + "/root/sub");
    std::filesystem::rename(dir.path() + "/root/old", dir.path() + "/root/sub");
    std::filesystem::remove(dir.path() + "/root/sub/a.jpg");
    std::filesystem::create_symlink(dir.path() + "/outside/a.jpg", dir.path() + "/root/sub/a.jpg");
    st = ReadFileBytesBeneath(*root, *file, 1 << 20, &storage, openat2);
    EXPECT_NE(st.message().find("changed while it was being read"), std::string::npos)
        << st.message();

    // Paths that are not under the root, or climb out of it, never reach an open.
    for (const std::string& bad : {dir.path() + "/outside/a.jpg", *root + "/../outside/a.jpg"}) {
      st = ReadFileBytesBeneath(*root, bad, 1 << 20, &storage, openat2);
      ASSERT_FALSE(st.ok()) << bad;
      EXPECT_TRUE(storage.empty());
    }
    // Devices and FIFOs inside the root are refused by kind, as ReadFileBytes does.
    ASSERT_EQ(::mkfifo((*root + "/pipe.jpg").c_str(), 0600), 0);
    st = ReadFileBytesBeneath(*root, *root + "/pipe.jpg", 1 << 20, &storage, openat2);
    EXPECT_NE(st.message().find("FIFO"), std::string::npos) << st.message();
  }
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

// A server that accepts connections (the kernel completes them from the backlog) and never
// answers: what an overloaded or black-holed image host looks like.
class SilentServer {
 public:
  SilentServer() {
    fd_ = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
    EXPECT_EQ(listen(fd_, 8), 0);
    socklen_t len = sizeof(addr);
    getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
  }
  ~SilentServer() { close(fd_); }
  std::string url(const std::string& path) const {
    return "http://127.0.0.1:" + std::to_string(port_) + path;
  }

 private:
  int fd_ = -1;
  int port_ = 0;
};

TEST(FetchUrl, GivesUpAtTheTimeoutAndSaysSo) {
  SilentServer server;
  FetchOptions options;
  options.timeout_ms = 300;
  std::string out;
  Status st = FetchUrl(server.url("/slow.jpg"), options, &out);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("within 300 ms (--fetch-timeout)"), std::string::npos)
      << st.message();
}

TEST(FetchUrl, StopsWhenCancelled) {
  // The job's stop is set: a fetch that would wait on a silent host for its whole (long)
  // timeout ends at curl's first progress call instead.
  SilentServer server;
  std::atomic<bool> cancel{true};
  FetchOptions options;
  options.timeout_ms = 600000;
  options.cancel = &cancel;
  std::string out;
  Status st = FetchUrl(server.url("/slow.jpg"), options, &out);
  EXPECT_EQ(st.code(), StatusCode::kCancelled) << st.ToString();
}

TEST(FetchUrl, RefusesNonHttpSchemes) {
  std::string out;
  Status st = FetchUrl("file:///etc/passwd", FetchOptions{}, &out);
  EXPECT_FALSE(st.ok());
  EXPECT_TRUE(out.empty());
}

}  // namespace
}  // namespace structflow::image

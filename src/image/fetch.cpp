#include "image/fetch.h"

#include <curl/curl.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <memory>

namespace structflow::image {
namespace {

struct CurlHandle {
  CURL* curl = nullptr;
  CurlHandle() { curl = curl_easy_init(); }
  ~CurlHandle() {
    if (curl) curl_easy_cleanup(curl);
  }
};

struct Sink {
  std::string* out;
  size_t max_bytes;
  bool too_big = false;
};

size_t OnData(char* data, size_t size, size_t n, void* user) {
  auto* sink = static_cast<Sink*>(user);
  size_t len = size * n;
  if (sink->out->size() + len > sink->max_bytes) {
    sink->too_big = true;
    return 0;  // makes curl stop with CURLE_WRITE_ERROR
  }
  sink->out->append(data, len);
  return len;
}

}  // namespace

Status FetchUrl(std::string_view url, const FetchOptions& options, std::string* out) {
  out->clear();
  thread_local CurlHandle handle;
  CURL* curl = handle.curl;
  if (!curl) return Status::Internal("curl_easy_init failed (out of memory?)");
  curl_easy_reset(curl);
  std::string u(url);
  Sink sink{out, options.max_bytes};
  char errbuf[CURL_ERROR_SIZE] = {0};
  curl_easy_setopt(curl, CURLOPT_URL, u.c_str());
  curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(curl, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 1L);
  curl_easy_setopt(curl, CURLOPT_MAXREDIRS, 5L);
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, options.connect_timeout_ms);
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, options.timeout_ms);
  curl_easy_setopt(curl, CURLOPT_ACCEPT_ENCODING, "");
  curl_easy_setopt(curl, CURLOPT_USERAGENT, "structflow");
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, OnData);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &sink);
  curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, errbuf);
  CURLcode rc = curl_easy_perform(curl);
  curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, nullptr);
  if (sink.too_big) {
    return Status::IOError(
        fmt::format("image URL '{}' is larger than {} bytes; not fetched", url, options.max_bytes));
  }
  if (rc != CURLE_OK) {
    return Status::IOError(fmt::format("cannot fetch image URL '{}': {}", url,
                                       errbuf[0] ? errbuf : curl_easy_strerror(rc)));
  }
  long status = 0;
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
  if (status < 200 || status >= 300) {
    return Status::IOError(fmt::format("cannot fetch image URL '{}': HTTP {}", url, status));
  }
  return Status::OK();
}

Status ReadFileBytes(const std::string& path, std::string* out) {
  out->clear();
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    return Status::IOError(
        fmt::format("cannot read image file '{}': {}", path, std::strerror(errno)));
  }
  std::unique_ptr<int, void (*)(int*)> closer(&fd, [](int* f) { ::close(*f); });
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    return Status::IOError(
        fmt::format("cannot read image file '{}': {}", path, std::strerror(errno)));
  }
  if (S_ISDIR(st.st_mode)) {
    return Status::IOError(fmt::format("cannot read image file '{}': it is a directory", path));
  }
  auto read_some = [&](char* dst, size_t len) -> ssize_t {
    for (;;) {
      ssize_t n = ::read(fd, dst, len);
      if (n >= 0 || errno != EINTR) return n;
    }
  };
  auto read_error = [&] {
    return Status::IOError(
        fmt::format("cannot read image file '{}': {}", path, std::strerror(errno)));
  };
  // Read straight into the string (image files are large); past the size fstat gave (a pipe, a
  // growing file), continue in chunks.
  size_t got = 0;
  out->resize(static_cast<size_t>(std::max<off_t>(st.st_size, 0)));
  for (;;) {
    ssize_t n = 0;
    if (got < out->size()) {
      n = read_some(out->data() + got, out->size() - got);
      if (n < 0) return read_error();
      if (n == 0) break;
    } else {
      char chunk[1 << 16];
      n = read_some(chunk, sizeof(chunk));
      if (n < 0) return read_error();
      if (n == 0) break;
      out->append(chunk, static_cast<size_t>(n));
    }
    got += static_cast<size_t>(n);
  }
  out->resize(got);
  return Status::OK();
}

}  // namespace structflow::image

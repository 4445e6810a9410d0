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

// Called by curl at least once a second while a transfer waits: non-zero aborts it.
int OnProgress(void* user, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
  const auto* cancel = static_cast<const std::atomic<bool>*>(user);
  return cancel->load(std::memory_order_relaxed) ? 1 : 0;
}

// What a non-regular file is, for the message.
std::string_view FileKind(mode_t mode) {
  if (S_ISDIR(mode)) return "a directory";
  if (S_ISFIFO(mode)) return "a FIFO (named pipe)";
  if (S_ISCHR(mode)) return "a character device";
  if (S_ISBLK(mode)) return "a block device";
  if (S_ISSOCK(mode)) return "a socket";
  return "not a regular file";
}

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
  if (options.cancel) {
    curl_easy_setopt(curl, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(curl, CURLOPT_XFERINFOFUNCTION, OnProgress);
    curl_easy_setopt(curl, CURLOPT_XFERINFODATA, const_cast<std::atomic<bool>*>(options.cancel));
  }
  CURLcode rc = curl_easy_perform(curl);
  curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, nullptr);
  if (sink.too_big) {
    return Status::IOError(fmt::format(
        "image URL '{}' is larger than {} bytes; not fetched (raise --image-max-bytes to allow it)",
        url, options.max_bytes));
  }
  if (rc == CURLE_ABORTED_BY_CALLBACK) {
    return Status::Cancelled(fmt::format("fetching image URL '{}' stopped: the job stops", url));
  }
  if (rc == CURLE_OPERATION_TIMEDOUT) {
    return Status::IOError(fmt::format(
        "cannot fetch image URL '{}': no complete answer within {} ms (--fetch-timeout); {}", url,
        options.timeout_ms, errbuf[0] ? errbuf : curl_easy_strerror(rc)));
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

Status ReadFileBytes(const std::string& path, size_t max_bytes, std::string* out) {
  out->clear();
  auto os_error = [&] {
    return Status::IOError(
        fmt::format("cannot read image file '{}': {}", path, std::strerror(errno)));
  };
  auto not_regular = [&](mode_t mode) {
    return Status::InvalidArgument(
        fmt::format("image file '{}' is {}, not a regular file; only image files are read", path,
                    FileKind(mode)));
  };
  // stat first, so that a device is never even opened (opening some has side effects); the
  // open is non-blocking and fstat checks again, so a FIFO swapped in between cannot block it.
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return os_error();
  if (!S_ISREG(st.st_mode)) return not_regular(st.st_mode);
  int fd = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
  if (fd < 0) return os_error();
  std::unique_ptr<int, void (*)(int*)> closer(&fd, [](int* f) { ::close(*f); });
  if (::fstat(fd, &st) != 0) return os_error();
  if (!S_ISREG(st.st_mode)) return not_regular(st.st_mode);
  const auto size = static_cast<size_t>(std::max<off_t>(st.st_size, 0));
  if (size > max_bytes) {
    return Status::InvalidArgument(
        fmt::format("image file '{}' is {} bytes, more than the {} allowed; not read (raise "
                    "--image-max-bytes if it really is an image)",
                    path, size, max_bytes));
  }
  // Exactly the size fstat gave: a file that grows while read is cut there, never read past the
  // cap.
  out->resize(size);
  size_t got = 0;
  while (got < size) {
    ssize_t n = ::read(fd, out->data() + got, size - got);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return os_error();
    if (n == 0) break;
    got += static_cast<size_t>(n);
  }
  out->resize(got);
  return Status::OK();
}

}  // namespace structflow::image

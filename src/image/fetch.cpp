#include "image/fetch.h"

#include <curl/curl.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
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

Status OsError(const std::string& path) {
  return Status::IOError(
      fmt::format("cannot read image file '{}': {}", path, std::strerror(errno)));
}

Status NotRegular(const std::string& path, mode_t mode) {
  return Status::InvalidArgument(
      fmt::format("image file '{}' is {}, not a regular file; only image files are read", path,
                  FileKind(mode)));
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

namespace {

// The checks and the read shared by ReadFileBytes and ReadFileBytesBeneath, on an open `fd`.
Status ReadOpenFile(int fd, const std::string& path, size_t max_bytes, std::string* out) {
  struct stat st {};
  if (::fstat(fd, &st) != 0) return OsError(path);
  if (!S_ISREG(st.st_mode)) return NotRegular(path, st.st_mode);
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
    if (n < 0) return OsError(path);
    if (n == 0) break;
    got += static_cast<size_t>(n);
  }
  out->resize(got);
  return Status::OK();
}

// Closes the descriptor it holds (if any) when it goes out of scope.
struct Fd {
  int fd = -1;
  Fd() = default;
  explicit Fd(int f) : fd(f) {}
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
  void Reset(int f) {
    if (fd >= 0) ::close(fd);
    fd = f;
  }
};

std::atomic<bool> g_no_openat2{false};

// Opens `rel` (no `..`, no leading '/') beneath the directory `root_fd` with `flags`, following
// no symbolic link on the way: -1 with errno set otherwise (ELOOP for a link, EXDEV for a way
// out). openat2 does it in one call where the kernel has it (Linux 5.6; RESOLVE_BENEATH also
// refuses `..` and absolute paths); elsewhere (ENOSYS, or a seccomp filter's EPERM) openat walks
// one component at a time, each opened with O_PATH | O_NOFOLLOW and checked to be a directory.
int OpenBeneath(int root_fd, const std::string& rel, int flags, bool allow_openat2) {
  flags |= O_CLOEXEC | O_NOFOLLOW;
  if (allow_openat2 && !g_no_openat2.load(std::memory_order_relaxed)) {
    struct open_how how {};
    how.flags = static_cast<uint64_t>(flags);
    how.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS;
    long fd = ::syscall(SYS_openat2, root_fd, rel.c_str(), &how, sizeof(how));
    if (fd >= 0 || (errno != ENOSYS && errno != EPERM)) return static_cast<int>(fd);
    g_no_openat2.store(true, std::memory_order_relaxed);
  }
  Fd dir;
  int at = root_fd;
  size_t begin = 0;
  while (true) {
    size_t slash = rel.find('/', begin);
    const std::string part =
        rel.substr(begin, slash == std::string::npos ? std::string::npos : slash - begin);
    if (part == "..") {
      errno = EXDEV;
      return -1;
    }
    if (slash == std::string::npos) return ::openat(at, part.c_str(), flags);
    begin = slash + 1;
    if (part.empty() || part == ".") continue;
    int next = ::openat(at, part.c_str(), O_PATH | O_NOFOLLOW | O_CLOEXEC);
    if (next < 0) return -1;
    dir.Reset(next);
    at = next;
    struct stat st {};
    if (::fstat(at, &st) != 0) return -1;
    if (S_ISLNK(st.st_mode) || !S_ISDIR(st.st_mode)) {
      errno = S_ISLNK(st.st_mode) ? ELOOP : ENOTDIR;
      return -1;
    }
  }
}

}  // namespace

Status ReadFileBytes(const std::string& path, size_t max_bytes, std::string* out) {
  out->clear();
  // stat first, so that a device is never even opened (opening some has side effects); the
  // open is non-blocking and fstat checks again, so a FIFO swapped in between cannot block it.
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return OsError(path);
  if (!S_ISREG(st.st_mode)) return NotRegular(path, st.st_mode);
  Fd fd(::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC));
  if (fd.fd < 0) return OsError(path);
  return ReadOpenFile(fd.fd, path, max_bytes, out);
}

Status ReadFileBytesBeneath(const std::string& root, const std::string& path, size_t max_bytes,
                            std::string* out, bool allow_openat2) {
  out->clear();
  if (path == root) return NotRegular(path, S_IFDIR);
  const bool under = root == "/"
                         ? !path.empty() && path[0] == '/'
                         : path.size() > root.size() && path.compare(0, root.size(), root) == 0 &&
                               path[root.size()] == '/';
  if (!under) {
    return Status::InvalidArgument(
        fmt::format("image path '{}' lies outside --image-root '{}'; only files inside it are read",
                    path, root));
  }
  const std::string rel = path.substr(root == "/" ? 1 : root.size() + 1);
  Fd root_fd(::open(root.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (root_fd.fd < 0) {
    return Status::IOError(
        fmt::format("cannot open --image-root '{}': {}", root, std::strerror(errno)));
  }
  auto changed = [&](std::string_view what) {
    return Status::InvalidArgument(
        fmt::format("image path '{}' changed while it was being read ({}), which could lead "
                    "outside --image-root '{}'; not read",
                    path, what, root));
  };
  auto open_error = [&] {
    if (errno == ELOOP || errno == EXDEV) return changed("a symbolic link now stands in it");
    return OsError(path);
  };
  // O_PATH first, so that a device is never even opened (opening some has side effects); the
  // read open is non-blocking, and must find the same file.
  Fd probe(OpenBeneath(root_fd.fd, rel, O_PATH, allow_openat2));
  if (probe.fd < 0) return open_error();
  struct stat first {};
  if (::fstat(probe.fd, &first) != 0) return OsError(path);
  // O_PATH | O_NOFOLLOW opens a trailing link itself rather than failing.
  if (S_ISLNK(first.st_mode)) return changed("a symbolic link now stands in it");
  if (!S_ISREG(first.st_mode)) return NotRegular(path, first.st_mode);
  Fd fd(OpenBeneath(root_fd.fd, rel, O_RDONLY | O_NONBLOCK | O_NOCTTY, allow_openat2));
  if (fd.fd < 0) return open_error();
  struct stat second {};
  if (::fstat(fd.fd, &second) != 0) return OsError(path);
  if (second.st_dev != first.st_dev || second.st_ino != first.st_ino) {
    return changed("another file now stands there");
  }
  return ReadOpenFile(fd.fd, path, max_bytes, out);
}

}  // namespace structflow::image

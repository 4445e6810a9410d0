// Reading image bytes from where a table cell points: a local file or an http(s) URL fetched
// with libcurl in the calling (worker) thread. URLs are fetched only with --fetch-images; by
// default they are passed to the server untouched.
//
// Rows come from files nobody vetted, so nothing a row points at may exhaust memory or block the
// job: files are read only when they are regular files no larger than a cap (checked before
// reading; devices, FIFOs, sockets and directories are refused, and the open itself never waits),
// fetches stop at the same cap, at a short timeout, and as soon as the caller's cancel flag is set.
//
// Thread-safety: any thread may call these; each thread keeps its own curl handle so that
// connections to the same host are reused across rows.
#pragma once

#include <atomic>
#include <cstddef>
#include <string>
#include <string_view>

#include "common/status.h"

namespace structflow::image {

// The default cap on one image's bytes (`--image-max-bytes`): far above any photo or scan a
// vision model is sent (a 24-megapixel JPEG is ~10 MB), far below what hurts memory when every
// worker holds one.
inline constexpr size_t kDefaultMaxImageBytes = size_t{64} << 20;

struct FetchOptions {
  long connect_timeout_ms = 5000;
  // The whole fetch (`--fetch-timeout`): a worker waiting on an unreachable host holds its rows.
  long timeout_ms = 15000;
  // A larger answer is cut off with an error.
  size_t max_bytes = kDefaultMaxImageBytes;
  // When set (by another thread), a fetch in progress stops within about a second with a
  // kCancelled status. Null: never cancelled. Not owned; must outlive the fetch.
  const std::atomic<bool>* cancel = nullptr;
};

// Replaces *out with the body of a GET on `url` (http or https only, redirects followed). Errors
// name the URL and the reason: the HTTP status, a curl error, or the size limit.
Status FetchUrl(std::string_view url, const FetchOptions& options, std::string* out);

// Replaces *out with the content of the regular file at `path`, when it is at most `max_bytes`
// long. Errors name the path and the reason: the OS error, the kind of file when it is not a
// regular file ("a FIFO (named pipe)", "a character device", ...), or the size and the cap.
Status ReadFileBytes(const std::string& path, size_t max_bytes, std::string* out);
inline Status ReadFileBytes(const std::string& path, std::string* out) {
  return ReadFileBytes(path, kDefaultMaxImageBytes, out);
}

// ReadFileBytes for `--image-root`: `path` is canonical and inside the canonical `root` (as
// ResolveImagePath gives it), and is opened relative to the root's directory following no
// symbolic link, so that a link swapped into the path between ResolveImagePath's check and the
// open cannot lead out of the root (an InvalidArgument naming the path and the root). Uses
// openat2 with RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS where the kernel has it (Linux 5.6), else
// openat one component at a time with O_NOFOLLOW; `allow_openat2` false forces the latter
// (tests).
Status ReadFileBytesBeneath(const std::string& root, const std::string& path, size_t max_bytes,
                            std::string* out, bool allow_openat2 = true);

}  // namespace structflow::image

// Reading image bytes from where a table cell points: a local file or an http(s) URL fetched
// with libcurl in the calling (worker) thread. Used only with --fetch-images; by default URLs
// are passed to the server untouched.
// Thread-safety: any thread may call these; each thread keeps its own curl handle so that
// connections to the same host are reused across rows.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "common/status.h"

namespace structflow::image {

struct FetchOptions {
  long connect_timeout_ms = 10000;
  long timeout_ms = 60000;
  // A larger answer is cut off with an error: no image worth sending is this big.
  size_t max_bytes = size_t{256} << 20;
};

// Replaces *out with the body of a GET on `url` (http or https only, redirects followed). Errors
// name the URL and the reason: the HTTP status, a curl error, or the size limit.
Status FetchUrl(std::string_view url, const FetchOptions& options, std::string* out);

// Replaces *out with the content of the file at `path`. Errors name the path and the OS reason.
Status ReadFileBytes(const std::string& path, std::string* out);

}  // namespace structflow::image

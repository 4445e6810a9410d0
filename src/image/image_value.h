// Image values as they appear in table cells, and how to get their bytes:
//   - binary: the encoded image itself;
//   - string: a file path (relative paths resolve against the dataset's folder), a
//     `file://` path, an http(s) URL or a `data:` URL;
//   - the struct {bytes: binary, path: string} that dataset hubs use for image columns: bytes
//     when present, else path;
//   - a list of any of these: one image per element, in order.
// Thread-safety: pure functions over immutable batches; call from any thread.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "image/fetch.h"
#include "image/url_cache.h"
#include "table/column.h"
#include "table/types.h"

namespace structflow::image {

// Where one image's bytes come from. `value` points into the batch the cell belongs to.
struct ImageRef {
  // kBase64: image bytes written as base64 text, as a `bytes` field becomes when a Parquet
  // dataset is dumped to JSON; decoded when loaded.
  enum class Kind { kBytes, kPath, kUrl, kBase64 };
  Kind kind = Kind::kBytes;
  std::string_view value;
};

// Checks, before any row is read, that a column of `type` can hold images. `what` names the
// column path in the message, which also lists the accepted types.
Status CheckImageType(const table::DataType& type, std::string_view what);

// The ref for a string value: http://, https:// and data: are URLs, file:// and anything else a
// path.
ImageRef RefFromString(std::string_view s);

// Appends the images of row `row` of `column` (a list: one per element, in order; an empty list
// appends nothing). A null image (the cell, a list element, or a struct with neither bytes nor
// path) is an error that says so.
Status CollectImages(const table::Column& column, int64_t row, std::vector<ImageRef>* out);

struct LoadOptions {
  // Folder that relative paths are resolved against; empty: the working directory.
  std::string base_dir;
  // `--image-root`: when set, only files inside this folder are read (paths and file:// URLs
  // elsewhere, symbolic links and `..` followed, are row errors). Must be canonical: make it
  // with CanonicalImageRoot. Empty: any file the process can read.
  std::string root;
  // `--image-max-bytes`: larger files are refused before they are read.
  size_t max_bytes = kDefaultMaxImageBytes;
  // Fetch http(s) URLs here instead of passing them to the server (fetch.max_bytes applies).
  bool fetch_urls = false;
  FetchOptions fetch;
  // Fetched URLs by URL, so each distinct URL is downloaded once (shared by the builders of a
  // job); null: every load fetches again. Not owned; must outlive the loads.
  UrlCache* url_cache = nullptr;
};

// The path a kPath ref refers to: file:// stripped, relative paths joined to base_dir.
std::string ResolvePath(std::string_view path, const std::string& base_dir);

// `dir` made absolute and canonical (symbolic links resolved), for LoadOptions::root. Errors when
// it is not an existing directory; the message names --image-root.
Result<std::string> CanonicalImageRoot(const std::string& dir);

// The file a kPath ref refers to, as ResolvePath; with options.root set, canonical and checked to
// lie inside the root (an InvalidArgument naming the path and the root when not).
Result<std::string> ResolveImagePath(std::string_view path, const LoadOptions& options);

// The encoded bytes of `ref`: kBytes itself; kPath read from disk into *storage (within
// options.root and options.max_bytes, regular files only: see fetch.h); kUrl fetched into
// *storage (the caller only asks when options.fetch_urls, or for data: URLs, which are decoded
// from base64). The view is valid while the batch and *storage are.
Result<std::string_view> LoadImageBytes(const ImageRef& ref, const LoadOptions& options,
                                        std::string* storage);

}  // namespace structflow::image

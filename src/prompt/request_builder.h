// RequestBuilder: one row of a table -> the whole JSON body of an OpenAI-compatible
// /v1/chat/completions request, written once into one buffer:
//   {"model":..., "messages":[{"role":"system","content":...}?,
//     {"role":"user","content":"text"}                       (no images), or
//     {"role":"user","content":[{"type":"image_url","image_url":{"url":"data:image/jpeg;base64,..."}},
//                               ..., {"type":"text","text":...}]}],   (image_position kLast:
//                               the text part first)
//    "max_tokens":N, "temperature":T, "seed":S?, <extra structured-output members>}
// Images are decoded, oriented and resized by image::Prepare and their base64 is written
// straight into the body buffer (no intermediate string). http(s) URLs are passed through as
// image_url unless fetch_images is set; then each distinct URL is downloaded once per job
// (image::UrlCache) and sent inline like any other image.
//
// Thread-safety: Build is const and may be called from many worker threads at once (each uses
// thread-local scratch buffers). set_extra_members_json is not: call it before sharing the
// builder, or build a new one.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/row_error.h"
#include "common/status.h"
#include "image/image.h"
#include "image/image_value.h"
#include "image/prepared_cache.h"
#include "prompt/template.h"
#include "table/column_path.h"
#include "table/record_batch.h"

namespace structflow::prompt {

enum class ImagePosition { kFirst, kLast };
// "first" or "last" (`--image-position`); anything else is an InvalidArgument naming both.
Result<ImagePosition> ParseImagePosition(std::string_view text);

struct RequestOptions {
  std::string model;
  // Empty: no system message.
  std::string system_prompt;
  int max_tokens = 256;
  double temperature = 0;
  std::optional<int64_t> seed;
  // Structured-output members from the schema module, already rendered as JSON object members
  // without braces, e.g. `"structured_outputs":{"choice":["A","B"]}`; appended as they are.
  std::string extra_members_json;
  // Fetch http(s) image URLs in the worker and send them as data URLs (for servers that cannot
  // reach the images); false: pass the URL to the server.
  bool fetch_images = false;
  image::FetchOptions fetch;
  // With fetch_images: fetched URLs by URL, so each distinct URL is downloaded once; shared by
  // every builder of a job. Null: Make creates one (kDefaultUrlCacheBytes) for this builder and
  // its copies.
  std::shared_ptr<image::UrlCache> url_cache;
  // Local image files (and fetched or data: URL images) larger than this are row errors.
  size_t image_max_bytes = image::kDefaultMaxImageBytes;
  // Only image files inside this folder are read (any form: Make canonicalises it); empty: any.
  std::string image_root;
  // Where the images go in the user message. First (the default): a server's prefix cache
  // (vLLM automatic prefix caching, SGLang's radix cache) can reuse the system prompt and the
  // image's computed tokens for every question about the same image; the question, which
  // differs, comes last. Last: the question before the images, as most hand-written scripts
  // send it (for models whose own examples put the text first, or to match an earlier run).
  ImagePosition image_position = ImagePosition::kFirst;
  // Prepared images by content, shared by every builder of a job (its policy must be the
  // builder's); null: every image is prepared anew.
  std::shared_ptr<image::PreparedCache> image_cache;
};

class RequestBuilder {
 public:
  // Parses and binds the template, resolves the image column paths (`image`, `images[0]`,
  // `images` for every image of a list, `page.image`) and checks their types, and validates the
  // image policy: every error a user can fix is reported here, before any request is sent.
  // `base_dir` is the folder relative image paths resolve against (the dataset's folder).
  static Result<RequestBuilder> Make(const std::string& prompt_template,
                                     const std::vector<std::string>& image_paths,
                                     const table::Schema& schema, RequestOptions options,
                                     image::ImagePolicy policy, std::string base_dir);

  // Replaces *body with the request for row `row` of `batch`. Returns a RowError of kind
  // kImageError (a broken, missing or unreadable image; the message names the column, which
  // image and why) or kNone. The caller adds the row number.
  // With `image_key`, also a hash of the row's first image's content (PreparedCache::
  // ContentHash of its source bytes; of the URL text for a URL passed to the server), never 0,
  // or 0 for a row without images: the key of the engine's endpoint affinity.
  RowError Build(const table::RecordBatch& batch, int64_t row, std::string* body,
                 uint64_t* image_key = nullptr) const;

  // A hash of the row's first image cell as written (a path, a URL or the bytes), never 0, or 0
  // without an image; reads nothing. Rows with equal keys share their first image: the engine's
  // reorder window groups them by it.
  uint64_t ImageCellKey(const table::RecordBatch& batch, int64_t row) const;

  // Not thread-safe: see the header comment.
  void set_extra_members_json(std::string json) { options_.extra_members_json = std::move(json); }

  const RequestOptions& options() const { return options_; }
  const image::ImagePolicy& policy() const { return policy_; }
  const Template& prompt_template() const { return template_; }

 private:
  RequestBuilder(Template t, std::vector<table::ColumnPath> images, RequestOptions options,
                 image::ImagePolicy policy, std::string base_dir);

  Template template_;
  std::vector<table::ColumnPath> image_paths_;
  RequestOptions options_;
  image::ImagePolicy policy_;
  image::LoadOptions load_;
};

// A copy of `body` for display (`--dry-run`, logs): every base64 payload of a data URL is cut to
// its first characters plus its decoded size, e.g. "data:image/jpeg;base64,/9j/4AAQ...(123,456
// bytes)". Everything else is kept as it is.
std::string AbbreviateBody(std::string_view body, size_t keep_chars = 12);

}  // namespace structflow::prompt

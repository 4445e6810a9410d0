#include "prompt/request_builder.h"

#include <fmt/format.h>

#include <deque>
#include <utility>

#include "common/base64.h"
#include "common/json_writer.h"
#include "common/text.h"

namespace structflow::prompt {
namespace {

// One image of the user message: a URL passed through, a data URL from the cache, or prepared
// bytes.
struct Part {
  std::string_view url;  // non-empty: send this URL as it is
  std::shared_ptr<const std::string> data_url;
  image::PreparedImage prepared;
};

// Per-thread buffers reused across rows, so a worker allocates only when an image is bigger
// than any before.
struct Scratch {
  std::string text;
  std::vector<image::ImageRef> refs;
  // File or fetched bytes, one slot per image of the row. A deque, so that growing it never
  // moves a string that a kept PreparedImage points into.
  std::deque<std::string> storage;
  std::vector<Part> parts;
};

std::string WithThousands(uint64_t n) {
  std::string digits = std::to_string(n);
  std::string out;
  int lead = static_cast<int>(digits.size() % 3);
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i != 0 && static_cast<int>(i % 3) == lead) out.push_back(',');
    out.push_back(digits[i]);
  }
  return out;
}

bool IsBase64Char(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' ||
         c == '/' || c == '=';
}

}  // namespace

Result<ImagePosition> ParseImagePosition(std::string_view text) {
  if (text == "first") return ImagePosition::kFirst;
  if (text == "last") return ImagePosition::kLast;
  return Status::InvalidArgument(fmt::format(
      "--image-position '{}' is not a position: use first (the image before the question, so a "
      "server's prefix cache reuses it) or last (the question first)",
      text));
}

RequestBuilder::RequestBuilder(Template t, std::vector<table::ColumnPath> images,
                               RequestOptions options, image::ImagePolicy policy,
                               std::string base_dir)
    : template_(std::move(t)),
      image_paths_(std::move(images)),
      options_(std::move(options)),
      policy_(policy) {
  load_.base_dir = std::move(base_dir);
  load_.fetch_urls = options_.fetch_images;
  load_.fetch = options_.fetch;
  load_.max_bytes = options_.image_max_bytes;
  load_.fetch.max_bytes = options_.image_max_bytes;
  load_.root = options_.image_root;
  load_.url_cache = options_.url_cache.get();
}

Result<RequestBuilder> RequestBuilder::Make(const std::string& prompt_template,
                                            const std::vector<std::string>& image_paths,
                                            const table::Schema& schema, RequestOptions options,
                                            image::ImagePolicy policy, std::string base_dir) {
  SF_ASSIGN_OR_RAISE(Template t, Template::Parse(prompt_template));
  SF_RETURN_NOT_OK(t.Bind(schema));
  std::vector<table::ColumnPath> paths;
  for (const std::string& text : image_paths) {
    auto path = table::ColumnPath::Parse(text);
    if (!path.ok()) return path.status().WithContext("image column");
    auto type = path->Resolve(schema);
    if (!type.ok()) return type.status().WithContext(fmt::format("image column '{}'", text));
    SF_RETURN_NOT_OK(image::CheckImageType(**type, text));
    paths.push_back(std::move(path).value());
  }
  SF_RETURN_NOT_OK(image::ValidatePolicy(policy));
  if (options.image_cache && !(options.image_cache->policy() == policy)) {
    return Status::Internal("the image cache was made for another image policy");
  }
  if (!paths.empty()) SF_RETURN_NOT_OK(image::Init());
  if (!options.image_root.empty()) {
    SF_ASSIGN_OR_RAISE(options.image_root, image::CanonicalImageRoot(options.image_root));
  }
  if (options.image_max_bytes == 0) {
    return Status::InvalidArgument("--image-max-bytes must be positive");
  }
  if (options.fetch_images && !options.url_cache) {
    options.url_cache = std::make_shared<image::UrlCache>();
  }
  if (options.max_tokens <= 0) {
    return Status::InvalidArgument(
        fmt::format("--max-tokens {} must be positive", options.max_tokens));
  }
  return RequestBuilder(std::move(t), std::move(paths), std::move(options), policy,
                        std::move(base_dir));
}

uint64_t RequestBuilder::ImageCellKey(const table::RecordBatch& batch, int64_t row) const {
  if (image_paths_.empty()) return 0;
  thread_local std::vector<image::ImageRef> refs;
  auto cell = image_paths_[0].Locate(batch, row);
  if (!cell) return 0;
  refs.clear();
  if (!image::CollectImages(*cell->column, cell->index, &refs).ok() || refs.empty()) return 0;
  // The kind is hashed in: a path and the same text as bytes are different images.
  const uint64_t h = image::PreparedCache::ContentHash(refs[0].value) ^
                     (static_cast<uint64_t>(refs[0].kind) + 1) * 0x9e3779b97f4a7c15ull;
  return h == 0 ? 1 : h;
}

RowError RequestBuilder::Build(const table::RecordBatch& batch, int64_t row, std::string* body,
                               uint64_t* image_key) const {
  if (image_key != nullptr) *image_key = 0;
  // The first image's content hash (the key of endpoint affinity); URLs passed through by their
  // text, which is what identifies them here.
  auto keep_key = [&](uint64_t h) {
    if (image_key != nullptr && *image_key == 0) *image_key = h == 0 ? 1 : h;
  };
  thread_local Scratch scratch;
  Scratch& s = scratch;
  s.text.clear();
  template_.Render(batch, row, &s.text);

  // Gather and prepare every image first: a broken one fails the row before any JSON is
  // written, and the body is reserved once at its final size.
  s.parts.clear();
  size_t image_bytes = 0;
  for (const table::ColumnPath& path : image_paths_) {
    auto fail = [&](std::string_view what, StatusCode code = StatusCode::kCorrupt) {
      s.parts.clear();
      return RowError{
          code == StatusCode::kCancelled ? ErrorKind::kCancelled : ErrorKind::kImageError,
          fmt::format("image column '{}': {}", path.text(), what)};
    };
    auto cell = path.Locate(batch, row);
    if (!cell) return fail("no image in this row (the value is null or the list is shorter)");
    s.refs.clear();
    Status st = image::CollectImages(*cell->column, cell->index, &s.refs);
    if (!st.ok()) return fail(st.message());
    for (size_t k = 0; k < s.refs.size(); ++k) {
      const image::ImageRef& ref = s.refs[k];
      std::string which =
          s.refs.size() > 1 ? fmt::format("image {} of {}: ", k + 1, s.refs.size()) : std::string();
      if (ref.kind == image::ImageRef::Kind::kUrl && !options_.fetch_images &&
          !(ref.value.size() >= 5 && ref.value.substr(0, 5) == "data:")) {
        s.parts.push_back(Part{ref.value, {}, {}});
        image_bytes += ref.value.size();
        if (image_key != nullptr) keep_key(image::PreparedCache::ContentHash(ref.value));
        continue;
      }
      const size_t slot = s.parts.size();
      if (s.storage.size() <= slot) s.storage.resize(slot + 1);
      image::PreparedCache* cache = options_.image_cache.get();
      // A file the cache has prepared before (same path, size, mtime, inode) is not even read.
      std::optional<image::PreparedCache::FileStamp> stamp;
      std::string file;
      if (cache && ref.kind == image::ImageRef::Kind::kPath) {
        auto resolved = image::ResolveImagePath(ref.value, load_);
        if (!resolved.ok()) return fail(which + resolved.status().message());
        file = std::move(resolved).value();
        stamp = image::PreparedCache::Stamp(file);
        if (stamp) {
          uint64_t h = 0;
          if (auto url = cache->FindFile(file, *stamp, &h)) {
            keep_key(h);
            image_bytes += url->size();
            s.parts.push_back(Part{{}, std::move(url), {}});
            continue;
          }
        }
      }
      auto bytes = image::LoadImageBytes(ref, load_, &s.storage[slot]);
      if (!bytes.ok()) return fail(which + bytes.status().message(), bytes.status().code());
      // A decode error names the file or URL the bytes came from (load errors already do).
      if (ref.kind == image::ImageRef::Kind::kPath ||
          (ref.kind == image::ImageRef::Kind::kUrl && ref.value.substr(0, 5) != "data:")) {
        which += fmt::format("'{}': ", QuoteInput(ref.value, 200));
      }
      if (cache) {
        uint64_t h = 0;
        auto url =
            stamp ? cache->DataUrlFor(*bytes, file, *stamp, &h) : cache->DataUrlFor(*bytes, &h);
        if (!url.ok()) return fail(which + url.status().message());
        keep_key(h);
        image_bytes += (*url)->size();
        s.parts.push_back(Part{{}, std::move(url).value(), {}});
        continue;
      }
      if (image_key != nullptr && *image_key == 0)
        keep_key(image::PreparedCache::ContentHash(*bytes));
      auto prepared = image::Prepare(*bytes, policy_);
      if (!prepared.ok()) return fail(which + prepared.status().message());
      image_bytes += Base64EncodedSize(prepared->bytes().size()) + 32;
      s.parts.push_back(Part{{}, {}, std::move(prepared).value()});
    }
  }

  body->clear();
  body->reserve(256 + options_.model.size() + options_.system_prompt.size() * 6 / 5 +
                s.text.size() * 6 / 5 + image_bytes + s.parts.size() * 48 +
                options_.extra_members_json.size());
  JsonWriter w(body);
  w.BeginObject();
  w.Key("model").String(options_.model);
  w.Key("messages").BeginArray();
  if (!options_.system_prompt.empty()) {
    w.BeginObject().Key("role").String("system").Key("content").String(options_.system_prompt);
    w.EndObject();
  }
  w.BeginObject().Key("role").String("user").Key("content");
  if (s.parts.empty()) {
    w.String(s.text);
  } else {
    w.BeginArray();
    auto text_part = [&] {
      if (s.text.empty()) return;
      w.BeginObject().Key("type").String("text").Key("text").String(s.text).EndObject();
    };
    if (options_.image_position == ImagePosition::kLast) text_part();
    for (const Part& part : s.parts) {
      w.BeginObject().Key("type").String("image_url").Key("image_url").BeginObject().Key("url");
      if (!part.url.empty()) {
        w.String(part.url);
      } else if (part.data_url) {
        w.BeginRawString();  // "data:" + a MIME type + base64: nothing to escape
        body->append(*part.data_url);
        w.EndRawString();
      } else {
        w.BeginRawString();
        body->append("data:");
        body->append(part.prepared.mime());
        body->append(";base64,");
        std::string_view bytes = part.prepared.bytes();
        size_t at = body->size();
        body->resize(at + Base64EncodedSize(bytes.size()));
        Base64EncodeTo(bytes, body->data() + at);
        w.EndRawString();
      }
      w.EndObject().EndObject();
    }
    if (options_.image_position == ImagePosition::kFirst) text_part();
    w.EndArray();
  }
  w.EndObject();  // user message
  w.EndArray();   // messages
  w.Key("max_tokens").Int(options_.max_tokens);
  w.Key("temperature").Double(options_.temperature);
  if (options_.seed) w.Key("seed").Int(*options_.seed);
  if (!options_.extra_members_json.empty()) {
    body->push_back(',');
    body->append(options_.extra_members_json);
  }
  w.EndObject();
  // Release the prepared images now; keep the byte buffers' capacity for the next row.
  s.parts.clear();
  return RowError{};
}

std::string AbbreviateBody(std::string_view body, size_t keep_chars) {
  static constexpr std::string_view kMarker = ";base64,";
  std::string out;
  out.reserve(std::min<size_t>(body.size(), 1 << 16));
  size_t pos = 0;
  for (;;) {
    size_t m = body.find(kMarker, pos);
    if (m == std::string_view::npos) break;
    size_t start = m + kMarker.size();
    size_t end = start;
    while (end < body.size() && IsBase64Char(body[end])) ++end;
    size_t len = end - start;
    if (len <= keep_chars + 16) {
      out.append(body.substr(pos, end - pos));
      pos = end;
      continue;
    }
    size_t padding = 0;
    if (body[end - 1] == '=') ++padding;
    if (len >= 2 && body[end - 2] == '=') ++padding;
    uint64_t decoded = len / 4 * 3 - padding;
    out.append(body.substr(pos, start + keep_chars - pos));
    out.append(fmt::format("...({} bytes)", WithThousands(decoded)));
    pos = end;
  }
  out.append(body.substr(pos));
  return out;
}

}  // namespace structflow::prompt

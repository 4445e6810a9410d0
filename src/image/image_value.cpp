#include "image/image_value.h"

#include <fmt/format.h>

#include <cctype>
#include <filesystem>

#include "common/base64.h"

namespace structflow::image {
namespace {

using table::Column;
using table::DataType;
using table::TypeId;

bool StartsWithNoCase(std::string_view s, std::string_view prefix) {
  if (s.size() < prefix.size()) return false;
  for (size_t i = 0; i < prefix.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(s[i])) != prefix[i]) return false;
  }
  return true;
}

constexpr std::string_view kAccepted =
    "binary (image bytes), string (a path or URL), struct{bytes: binary, path: string} (bytes may "
    "also be base64 text), or a list of those";

// Index of the struct field `name` when it has type `id`, else -1.
int TypedField(const DataType& type, std::string_view name, TypeId id) {
  int k = type.FieldIndex(name);
  if (k < 0 || type.fields()[k].type->id() != id) return -1;
  return k;
}

Status CollectOne(const Column& column, int64_t i, std::vector<ImageRef>* out) {
  if (column.IsNull(i)) return Status::InvalidArgument("the image is null");
  switch (column.type_id()) {
    case TypeId::kBinary:
      out->push_back(ImageRef{ImageRef::Kind::kBytes, column.GetBytes(i)});
      return Status::OK();
    case TypeId::kString: {
      std::string_view s = column.GetBytes(i);
      if (s.empty()) return Status::InvalidArgument("the image path is an empty string");
      out->push_back(RefFromString(s));
      return Status::OK();
    }
    case TypeId::kStruct: {
      const DataType& t = *column.type();
      int b = TypedField(t, "bytes", TypeId::kBinary);
      // A `bytes` field read from JSON is text: base64 or a data: URL (what dumping a Parquet
      // dataset to JSON gives). Falling back to the path would silently lose the image.
      int b_text = TypedField(t, "bytes", TypeId::kString);
      int p = TypedField(t, "path", TypeId::kString);
      if (b >= 0 && column.child(b).IsValid(i) && !column.child(b).GetBytes(i).empty()) {
        out->push_back(ImageRef{ImageRef::Kind::kBytes, column.child(b).GetBytes(i)});
        return Status::OK();
      }
      if (b_text >= 0 && column.child(b_text).IsValid(i) &&
          !column.child(b_text).GetBytes(i).empty()) {
        std::string_view text = column.child(b_text).GetBytes(i);
        out->push_back(StartsWithNoCase(text, "data:") ? ImageRef{ImageRef::Kind::kUrl, text}
                                                       : ImageRef{ImageRef::Kind::kBase64, text});
        return Status::OK();
      }
      if (p >= 0 && column.child(p).IsValid(i) && !column.child(p).GetBytes(i).empty()) {
        out->push_back(RefFromString(column.child(p).GetBytes(i)));
        return Status::OK();
      }
      return Status::InvalidArgument("the image has neither bytes nor a path (both are null)");
    }
    default:
      return Status::InvalidArgument(fmt::format("a {} value is not an image; images are {}",
                                                 column.type()->ToString(), kAccepted));
  }
}

}  // namespace

Status CheckImageType(const DataType& type, std::string_view what) {
  const DataType* t = &type;
  if (t->id() == TypeId::kList) t = t->element().get();
  switch (t->id()) {
    case TypeId::kBinary:
    case TypeId::kString:
      return Status::OK();
    case TypeId::kStruct:
      if (TypedField(*t, "bytes", TypeId::kBinary) >= 0 ||
          TypedField(*t, "bytes", TypeId::kString) >= 0 ||
          TypedField(*t, "path", TypeId::kString) >= 0) {
        return Status::OK();
      }
      break;
    default:
      break;
  }
  return Status::InvalidArgument(fmt::format("image column '{}' has type {}; images must be {}",
                                             what, type.ToString(), kAccepted));
}

ImageRef RefFromString(std::string_view s) {
  if (StartsWithNoCase(s, "http://") || StartsWithNoCase(s, "https://") ||
      StartsWithNoCase(s, "data:")) {
    return ImageRef{ImageRef::Kind::kUrl, s};
  }
  return ImageRef{ImageRef::Kind::kPath, s};
}

Status CollectImages(const Column& column, int64_t row, std::vector<ImageRef>* out) {
  if (column.type_id() != TypeId::kList) return CollectOne(column, row, out);
  if (column.IsNull(row)) return Status::InvalidArgument("the image list is null");
  auto [begin, end] = column.ListRange(row);
  for (int64_t k = begin; k < end; ++k) {
    Status st = CollectOne(column.child(0), k, out);
    if (!st.ok()) return st.WithContext(fmt::format("element {}", k - begin));
  }
  return Status::OK();
}

std::string ResolvePath(std::string_view path, const std::string& base_dir) {
  if (StartsWithNoCase(path, "file://")) path.remove_prefix(7);
  std::filesystem::path p{std::string(path)};
  if (p.is_relative() && !base_dir.empty()) p = std::filesystem::path(base_dir) / p;
  return p.string();
}

Result<std::string> CanonicalImageRoot(const std::string& dir) {
  std::error_code ec;
  auto canon = std::filesystem::canonical(dir, ec);
  if (ec || !std::filesystem::is_directory(canon, ec)) {
    return Status::InvalidArgument(
        fmt::format("--image-root '{}' is not a folder ({}); name the folder the images are in",
                    dir, ec ? ec.message() : "not a directory"));
  }
  return canon.string();
}

Result<std::string> ResolveImagePath(std::string_view path, const LoadOptions& options) {
  std::string resolved = ResolvePath(path, options.base_dir);
  if (options.root.empty()) return resolved;
  // Canonical: `..` and symbolic links resolved, so neither leads out of the root; the file is
  // then opened beneath the root with no link followed (ReadFileBytesBeneath), so a link swapped
  // in after this check cannot lead out either.
  std::error_code ec;
  std::filesystem::path canon =
      std::filesystem::weakly_canonical(std::filesystem::absolute(resolved, ec), ec);
  if (ec) {
    return Status::IOError(
        fmt::format("cannot resolve image path '{}': {}", resolved, ec.message()));
  }
  const std::string& root = options.root;
  std::string c = canon.string();
  const bool inside =
      c == root || (c.size() > root.size() && c.compare(0, root.size(), root) == 0 &&
                    (root.back() == '/' || c[root.size()] == '/'));
  if (!inside) {
    return Status::InvalidArgument(
        fmt::format("image path '{}' lies outside --image-root '{}'; only files inside it are "
                    "read",
                    resolved, root));
  }
  return c;
}

Result<std::string_view> LoadImageBytes(const ImageRef& ref, const LoadOptions& options,
                                        std::string* storage) {
  switch (ref.kind) {
    case ImageRef::Kind::kBytes:
      return ref.value;
    case ImageRef::Kind::kBase64: {
      std::string_view text = ref.value;
      while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) {
        text.remove_suffix(1);
      }
      if (text.size() / 4 * 3 > options.max_bytes) {
        return Status::InvalidArgument(
            fmt::format("the image's base64 `bytes` hold more than {} bytes; not decoded (raise "
                        "--image-max-bytes to allow it)",
                        options.max_bytes));
      }
      if (!Base64Decode(text, storage)) {
        return Status::Corrupt(
            "the image's `bytes` field is text but not base64 (nor a data: URL); write the image "
            "bytes as binary, base64 or a data: URL");
      }
      return std::string_view(*storage);
    }
    case ImageRef::Kind::kPath: {
      SF_ASSIGN_OR_RAISE(std::string file, ResolveImagePath(ref.value, options));
      SF_RETURN_NOT_OK(options.root.empty()
                           ? ReadFileBytes(file, options.max_bytes, storage)
                           : ReadFileBytesBeneath(options.root, file, options.max_bytes, storage));
      return std::string_view(*storage);
    }
    case ImageRef::Kind::kUrl: {
      if (StartsWithNoCase(ref.value, "data:")) {
        size_t comma = ref.value.find(',');
        std::string_view meta = ref.value.substr(0, comma);
        if (comma == std::string_view::npos || meta.size() < 7 ||
            meta.substr(meta.size() - 7) != ";base64") {
          return Status::InvalidArgument(
              "a data: URL image must be base64 (data:image/...;base64,...)");
        }
        if ((ref.value.size() - comma - 1) / 4 * 3 > options.max_bytes) {
          return Status::InvalidArgument(fmt::format(
              "the data: URL image holds more than {} bytes; not decoded (raise --image-max-bytes "
              "to allow it)",
              options.max_bytes));
        }
        if (!Base64Decode(ref.value.substr(comma + 1), storage)) {
          return Status::Corrupt("the data: URL image is not valid base64");
        }
        return std::string_view(*storage);
      }
      if (options.url_cache != nullptr) {
        SF_ASSIGN_OR_RAISE(auto bytes, options.url_cache->Get(ref.value, [&](std::string* out) {
          return FetchUrl(ref.value, options.fetch, out);
        }));
        storage->assign(*bytes);  // the entry may be evicted while the row still uses it
        return std::string_view(*storage);
      }
      SF_RETURN_NOT_OK(FetchUrl(ref.value, options.fetch, storage));
      return std::string_view(*storage);
    }
  }
  return Status::Internal("unknown image ref kind");
}

}  // namespace structflow::image

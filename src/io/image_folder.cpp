// Image-folder source: one row per image file, bytes read batch by batch, plus the fields of a
// sidecar metadata file (the layout dataset hubs use for "imagefolder" datasets).
#include <fmt/format.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <unordered_map>

#include "common/logging.h"
#include "io/files.h"
#include "io/formats.h"

namespace structflow::io {
namespace {
namespace fs = std::filesystem;

using table::DataType;
using table::TypeId;

// Batches stop early once their image bytes pass this, so a batch of large images stays bounded.
constexpr int64_t kMaxBatchImageBytes = 64 << 20;

// The sidecar table, held whole: it has one small row per image.
struct Sidecar {
  std::string file;
  table::Schema schema;  // the sidecar's columns minus the key
  std::vector<table::Column> columns;
  std::unordered_map<std::string, int64_t> row_of;  // relative path -> row
};

std::string NormalizeKey(std::string key) {
  while (key.rfind("./", 0) == 0) key.erase(0, 2);
  return key;
}

Result<std::optional<Sidecar>> LoadSidecar(const std::string& folder) {
  std::string file;
  for (const char* name : {"metadata.jsonl", "metadata.csv"}) {
    fs::path p = fs::path(folder) / name;
    std::error_code ec;
    if (fs::is_regular_file(p, ec)) {
      file = p.string();
      break;
    }
  }
  if (file.empty()) return std::optional<Sidecar>();
  ReadOptions opts;
  opts.batch_rows = 4096;
  opts.infer_rows = 100000;
  auto opened = FormatFromPath(file) == Format::kCsv ? OpenCsvSource({file}, opts)
                                                     : OpenJsonlSource({file}, opts);
  if (!opened.ok()) return opened.status().WithContext("reading the image sidecar");
  auto src = std::move(opened).value();
  const table::Schema& full = src->schema();
  int key = full.FieldIndex("file_name");
  if (key < 0) key = full.FieldIndex("path");
  if (key < 0) {
    return Status::InvalidArgument(fmt::format(
        "sidecar '{}' has no 'file_name' (or 'path') column naming each image; add one with "
        "each image's path relative to the folder",
        file));
  }
  if (full.fields[key].type->id() != TypeId::kString) {
    return Status::InvalidArgument(
        fmt::format("sidecar '{}': column '{}' must hold text paths, but it is {}", file,
                    full.fields[key].name, full.fields[key].type->ToString()));
  }
  Sidecar sc;
  sc.file = file;
  for (size_t i = 0; i < full.fields.size(); ++i) {
    if (static_cast<int>(i) == key) continue;
    const auto& f = full.fields[i];
    if (f.name == "path" || f.name == "image") {
      return Status::InvalidArgument(fmt::format(
          "sidecar '{}' has a column '{}', which the image folder already provides; rename it",
          file, f.name));
    }
    sc.schema.fields.push_back(f);
    sc.columns.emplace_back(f.type);
  }
  int64_t row = 0;
  while (true) {
    SF_ASSIGN_OR_RAISE(auto batch, src->Next());
    if (!batch) break;
    const table::Column& keys = batch->columns[key];
    for (int64_t r = 0; r < batch->num_rows(); ++r, ++row) {
      if (keys.IsNull(r)) {
        return Status::InvalidArgument(
            fmt::format("sidecar '{}': row {} has no {}; every row must name its image", file,
                        row + 1, full.fields[key].name));
      }
      std::string k = NormalizeKey(std::string(keys.GetBytes(r)));
      if (!sc.row_of.emplace(k, row).second) {
        return Status::InvalidArgument(
            fmt::format("sidecar '{}': image '{}' is described twice (row {}); keep one row per "
                        "image",
                        file, k, row + 1));
      }
      int out = 0;
      for (int c = 0; c < batch->num_columns(); ++c) {
        if (c == key) continue;
        sc.columns[out++].AppendFrom(batch->columns[c], r);
      }
    }
  }
  return std::optional<Sidecar>(std::move(sc));
}

class ImageFolderSource : public Source {
 public:
  ImageFolderSource(std::string folder, std::vector<std::string> files,
                    std::optional<Sidecar> sidecar, table::Schema full, table::Schema schema,
                    ReadOptions options)
      : folder_(std::move(folder)),
        files_(std::move(files)),
        sidecar_(std::move(sidecar)),
        full_(std::move(full)),
        schema_(std::move(schema)),
        options_(std::move(options)) {
    for (const auto& f : schema_.fields) source_of_.push_back(full_.FieldIndex(f.name));
  }

  const table::Schema& schema() const override { return schema_; }
  std::optional<int64_t> num_rows() const override { return static_cast<int64_t>(files_.size()); }
  std::string base_dir() const override { return folder_; }

  Result<std::optional<table::RecordBatch>> Next() override {
    if (next_ >= files_.size()) return std::optional<table::RecordBatch>();
    table::RecordBatch batch = table::RecordBatch::Empty(schema_);
    int64_t rows = 0, bytes = 0;
    std::string data;
    while (next_ < files_.size() && rows < options_.batch_rows && bytes < kMaxBatchImageBytes) {
      const std::string& rel = files_[next_++];
      int64_t sidecar_row = -1;
      if (sidecar_) {
        auto it = sidecar_->row_of.find(rel);
        if (it != sidecar_->row_of.end()) sidecar_row = it->second;
      }
      for (size_t c = 0; c < schema_.fields.size(); ++c) {
        int src = source_of_[c];
        table::Column& col = batch.columns[c];
        if (src == 0) {
          col.AppendBytes(rel);
        } else if (src == 1) {
          SF_RETURN_NOT_OK(ReadFile((fs::path(folder_) / rel).string(), &data));
          bytes += static_cast<int64_t>(data.size());
          col.AppendBytes(data);
        } else if (sidecar_row < 0) {
          col.AppendNull();
        } else {
          col.AppendFrom(sidecar_->columns[src - 2], sidecar_row);
        }
      }
      ++rows;
    }
    return std::optional<table::RecordBatch>(std::move(batch));
  }

 private:
  static Status ReadFile(const std::string& path, std::string* out) {
    std::ifstream in(path, std::ios::binary);
    if (!in) {
      return Status::IOError(
          fmt::format("cannot read image '{}': it was listed but cannot be opened now", path));
    }
    in.seekg(0, std::ios::end);
    auto size = in.tellg();
    in.seekg(0);
    out->resize(static_cast<size_t>(size));
    if (size > 0 && !in.read(out->data(), size)) {
      return Status::IOError(fmt::format("cannot read image '{}'", path));
    }
    return Status::OK();
  }

  std::string folder_;
  std::vector<std::string> files_;  // relative paths, sorted
  std::optional<Sidecar> sidecar_;
  table::Schema full_;    // path, image, then the sidecar's columns
  table::Schema schema_;  // after projection
  std::vector<int> source_of_;
  ReadOptions options_;
  size_t next_ = 0;
};

Result<std::unique_ptr<Source>> OpenOneFolder(const std::string& folder,
                                              const ReadOptions& options) {
  std::vector<std::string> files;
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(
           folder, fs::directory_options::follow_directory_symlink, ec);
       !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    if (!it->is_regular_file(ec) || !IsImagePath(it->path().string())) continue;
    files.push_back(fs::relative(it->path(), folder, ec).generic_string());
  }
  if (ec) return Status::IOError(fmt::format("cannot list folder '{}': {}", folder, ec.message()));
  if (files.empty()) {
    return Status::NotFound(fmt::format(
        "folder '{}' holds no images (jpg, jpeg, png, webp, gif, bmp, tif, tiff)", folder));
  }
  std::sort(files.begin(), files.end());
  SF_ASSIGN_OR_RAISE(std::optional<Sidecar> sidecar, LoadSidecar(folder));
  table::Schema full;
  full.fields.push_back({"path", DataType::String(), false});
  full.fields.push_back({"image", DataType::Binary()});
  if (sidecar) {
    for (const auto& f : sidecar->schema.fields) full.fields.push_back(f);
    int64_t unmatched = 0;
    std::unordered_map<std::string, bool> present;
    for (const auto& f : files) present.emplace(f, true);
    for (const auto& [k, row] : sidecar->row_of) unmatched += present.count(k) ? 0 : 1;
    if (unmatched > 0) {
      SF_LOG_WARN("{}: {} rows name images that are not in '{}'; they are ignored", sidecar->file,
                  unmatched, folder);
    }
  }
  SF_ASSIGN_OR_RAISE(table::Schema schema,
                     ProjectSchema(full, options.columns, "image folder '" + folder + "'"));
  return std::unique_ptr<Source>(new ImageFolderSource(
      folder, std::move(files), std::move(sidecar), std::move(full), std::move(schema), options));
}

}  // namespace

Result<std::unique_ptr<Source>> OpenImageFolderSource(const std::vector<std::string>& folders,
                                                      const ReadOptions& options) {
  if (folders.empty()) return Status::InvalidArgument("no image folder given");
  SF_ASSIGN_OR_RAISE(auto first, OpenOneFolder(folders[0], options));
  if (folders.size() == 1) return first;
  table::Schema schema = first->schema();
  int64_t rows = *first->num_rows();
  for (size_t i = 1; i < folders.size(); ++i) {
    SF_ASSIGN_OR_RAISE(auto other, OpenOneFolder(folders[i], options));
    std::string diff = DescribeSchemaDifference(schema, "'" + folders[0] + "'", other->schema(),
                                                "'" + folders[i] + "'");
    if (!diff.empty()) {
      return Status::InvalidArgument(
          fmt::format("image folders '{}' and '{}' have different schemas: {}; give them sidecars "
                      "with the same columns, or read them separately",
                      folders[0], folders[i], diff));
    }
    rows += *other->num_rows();
  }
  // Each folder is opened again when its turn comes; the first one is kept.
  auto pending = std::make_shared<std::unique_ptr<Source>>(std::move(first));
  auto open = [options, pending](const std::string& folder) -> Result<std::unique_ptr<Source>> {
    if (*pending) return std::move(*pending);
    return OpenOneFolder(folder, options);
  };
  return std::unique_ptr<Source>(
      new MultiFileSource(schema, folders, std::move(open), rows, folders[0]));
}

}  // namespace structflow::io

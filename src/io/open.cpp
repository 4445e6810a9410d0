// OpenSource / OpenSink: pick the reader or writer by extension (source.h).
#include <fmt/format.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "io/files.h"
#include "io/formats.h"
#include "io/parquet/parquet.h"
#include "io/source.h"

namespace structflow::io {

std::string ParentDir(const std::string& path) {
  std::string dir = std::filesystem::path(path).parent_path().string();
  return dir.empty() ? "." : dir;
}

MultiFileSource::MultiFileSource(table::Schema schema, std::vector<std::string> paths, Opener open,
                                 std::optional<int64_t> num_rows, std::string base_dir)
    : schema_(std::move(schema)),
      paths_(std::move(paths)),
      open_(std::move(open)),
      num_rows_(num_rows),
      base_dir_(std::move(base_dir)) {}

Result<std::optional<table::RecordBatch>> MultiFileSource::Next() {
  if (failed_) return Status::Internal("Source::Next called after an error");
  while (true) {
    if (!current_) {
      if (next_ >= paths_.size()) return std::optional<table::RecordBatch>();
      const std::string& path = paths_[next_++];
      auto opened = open_(path);
      if (!opened.ok()) {
        failed_ = true;
        return opened.status();
      }
      current_ = std::move(opened).value();
      std::string diff = DescribeSchemaDifference(schema_, "'" + paths_[0] + "'",
                                                  current_->schema(), "'" + path + "'");
      if (!diff.empty()) {
        failed_ = true;
        return Status::InvalidArgument(
            fmt::format("inputs '{}' and '{}' have different schemas: {}; read them as separate "
                        "inputs or convert them to one schema first",
                        paths_[0], path, diff));
      }
    }
    auto batch = current_->Next();
    if (!batch.ok()) {
      failed_ = true;
      return batch.status();
    }
    if (batch->has_value()) return batch;
    skipped_done_ += current_->skipped_rows();
    current_.reset();
  }
}

Result<std::unique_ptr<Source>> OpenSource(const std::vector<std::string>& inputs,
                                           const ReadOptions& options) {
  if (options.batch_rows <= 0) {
    return Status::InvalidArgument(
        fmt::format("batch_rows must be positive, got {}", options.batch_rows));
  }
  SF_ASSIGN_OR_RAISE(ExpandedInputs expanded, ExpandInputs(inputs));
  if (!options.type_overrides.empty() &&
      (expanded.format == Format::kParquet || expanded.format == Format::kImageFolder)) {
    return Status::InvalidArgument(fmt::format(
        "type overrides (--schema-override) apply to JSONL and CSV inputs, but '{}' is {}, whose "
        "types are already fixed; drop the override",
        expanded.paths[0], FormatName(expanded.format)));
  }
  if (!options.bad_lines_path.empty()) {
    if (expanded.format != Format::kJsonl) {
      return Status::InvalidArgument(fmt::format(
          "skipping malformed lines (--bad-lines) applies to JSONL inputs, but '{}' is {}; drop "
          "--bad-lines",
          expanded.paths[0], FormatName(expanded.format)));
    }
    std::error_code ec;
    std::filesystem::path bad = std::filesystem::weakly_canonical(options.bad_lines_path, ec);
    for (const auto& p : expanded.paths) {
      if (!ec && bad == std::filesystem::weakly_canonical(p, ec)) {
        return Status::InvalidArgument(fmt::format(
            "--bad-lines {} is one of the inputs; name another file for the skipped lines",
            options.bad_lines_path));
      }
    }
  }
  switch (expanded.format) {
    case Format::kParquet:
      return parquet::OpenParquetSource(expanded.paths, options);
    case Format::kJsonl:
      return OpenJsonlSource(expanded.paths, options);
    case Format::kCsv:
      return OpenCsvSource(expanded.paths, options);
    case Format::kImageFolder:
      return OpenImageFolderSource(expanded.paths, options);
    case Format::kUnknown:
      break;
  }
  return Status::Internal("ExpandInputs returned an unknown format");
}

Status CheckSinkPath(const std::string& path) {
  namespace fs = std::filesystem;
  const std::string ext = fs::path(path).extension().string();
  if (ext == ".json") {
    return Status::InvalidArgument(fmt::format(
        "--out '{}': the output is JSON Lines (one JSON object per line), not one JSON document; "
        "name it {}l, or .parquet or .csv for another format",
        path, path));
  }
  if (FormatFromPath(path) == Format::kUnknown) {
    return Status::InvalidArgument(
        fmt::format("--out '{}': cannot tell which format to write from its extension; name it "
                    ".parquet, .jsonl (or .ndjson) or .csv",
                    path));
  }
  const std::string dir = ParentDir(path);
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) {
    return Status::NotFound(
        fmt::format("--out '{}': the folder '{}' does not exist; create it first (mkdir -p {})",
                    path, dir, dir));
  }
  if (::access(dir.c_str(), W_OK) != 0) {
    return Status::IOError(fmt::format(
        "--out '{}': cannot write in the folder '{}' ({}); choose a folder you can write to", path,
        dir, std::strerror(errno)));
  }
  return Status::OK();
}

Result<std::unique_ptr<Sink>> OpenSink(const std::string& path, const table::Schema& schema,
                                       const WriteOptions& options) {
  switch (FormatFromPath(path)) {
    case Format::kParquet:
      return parquet::OpenParquetSink(path, schema, options);
    case Format::kJsonl:
      return OpenJsonlSink(path, schema);
    case Format::kCsv:
      return OpenCsvSink(path, schema);
    default:
      break;
  }
  return Status::InvalidArgument(
      fmt::format("cannot tell which format to write '{}' in from its extension; name it "
                  ".parquet, .jsonl (or .ndjson) or .csv",
                  path));
}

}  // namespace structflow::io

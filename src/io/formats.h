// The readers and writers behind OpenSource/OpenSink, one per format, plus MultiFileSource,
// which streams several files of one schema as one. Prefer OpenSource/OpenSink (source.h); these
// are public for tests and for callers that already know the format.
// Thread-safety: as for Source and Sink, one thread drives each instance.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "io/source.h"

namespace structflow::io {

// JSON Lines: one JSON object per line. Column types are inferred from the first
// options.infer_rows lines of each file (objects become structs, arrays lists of the unified
// element type, int and double unify to double, incompatible values become a string column
// holding their JSON text, missing keys nulls, columns that are null throughout become strings);
// the files' types must unify without falling back to text; files with no rows take no part, and
// when no file has a row the open fails saying so. Later values that do not fit fail with the
// file, line, column and the fix.
Result<std::unique_ptr<Source>> OpenJsonlSource(const std::vector<std::string>& files,
                                                const ReadOptions& options);
// The inferred (unprojected) schema of one file; exposed for tests and `inspect`.
Result<table::Schema> InferJsonlSchema(const std::string& file, const ReadOptions& options);
// Writes one JSON object per line (binary as base64, dates and timestamps as ISO 8601 text).
Result<std::unique_ptr<Sink>> OpenJsonlSink(const std::string& path, const table::Schema& schema);

// CSV (RFC 4180): a header row, quoted fields with doubled quotes, embedded newlines, CRLF.
// Types (bool, int64, double, string) are inferred from the first options.infer_rows rows; a
// column holding a number that typing would change (a leading zero as in ZIP code "01234", an
// integer too long for int64) stays a string; an empty field is null (a quoted empty field in a
// string column is the empty string).
Result<std::unique_ptr<Source>> OpenCsvSource(const std::vector<std::string>& files,
                                              const ReadOptions& options);
// Writes a header row and RFC 4180 quoted fields: null as an empty field, the empty string as
// "", nested values as JSON text, binary as base64.
Result<std::unique_ptr<Sink>> OpenCsvSink(const std::string& path, const table::Schema& schema);

// Folders of images: one row per image file (jpg, jpeg, png, webp, gif, bmp, tif, tiff; recursive,
// sorted by relative path) with columns `path` (relative to the folder) and `image` (the file's
// bytes, read batch by batch), plus the columns of a sidecar metadata.jsonl or metadata.csv in
// the folder, matched on its `file_name` (or `path`) column. Several folders must share a schema.
Result<std::unique_ptr<Source>> OpenImageFolderSource(const std::vector<std::string>& folders,
                                                      const ReadOptions& options);

// Streams files one after another as one Source. Opens each file only when the previous one is
// done; a file whose schema differs from `schema` fails, naming both files and the difference.
class MultiFileSource : public Source {
 public:
  using Opener = std::function<Result<std::unique_ptr<Source>>(const std::string& path)>;
  MultiFileSource(table::Schema schema, std::vector<std::string> paths, Opener open,
                  std::optional<int64_t> num_rows, std::string base_dir);

  const table::Schema& schema() const override { return schema_; }
  Result<std::optional<table::RecordBatch>> Next() override;
  std::optional<int64_t> num_rows() const override { return num_rows_; }
  std::string base_dir() const override { return base_dir_; }
  int64_t skipped_rows() const override {
    return skipped_done_ + (current_ ? current_->skipped_rows() : 0);
  }

 private:
  table::Schema schema_;
  std::vector<std::string> paths_;
  Opener open_;
  std::optional<int64_t> num_rows_;
  std::string base_dir_;
  size_t next_ = 0;
  std::unique_ptr<Source> current_;
  int64_t skipped_done_ = 0;  // skipped_rows() of the files already read
  bool failed_ = false;
};

// The folder of `path` ("." for a bare file name), for Source::base_dir.
std::string ParentDir(const std::string& path);

}  // namespace structflow::io

// File plumbing shared by the JSONL, CSV and image-folder readers and writers: telling formats
// apart, expanding globs and folders into files, reading a file as lines in bounded chunks,
// writing a file atomically, and type overrides ("column=type").
// Thread-safety: free functions are reentrant; each reader/writer object is used by one thread.
#pragma once

#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/status.h"
#include "io/source.h"
#include "table/record_batch.h"
#include "table/types.h"

namespace structflow::io {

enum class Format { kUnknown, kParquet, kJsonl, kCsv, kImageFolder };

std::string_view FormatName(Format format);
// By extension (case-insensitive): .parquet; .jsonl, .ndjson, .json; .csv. Else kUnknown.
Format FormatFromPath(std::string_view path);
// True for the image extensions an image folder holds: jpg, jpeg, png, webp, gif, bmp, tif, tiff.
bool IsImagePath(std::string_view path);

struct ExpandedInputs {
  Format format = Format::kUnknown;
  // Data files in the order given (each glob and folder sorted), or image folders.
  std::vector<std::string> paths;
};

// Expands files, globs (glob(3)) and folders into one list of inputs of one format. A folder
// holding images is an image folder; a folder of data files stands for those files (recursive,
// sorted). Errors: a missing file, a glob matching nothing, an empty folder, an unknown
// extension, or inputs of different formats; each message names the input and the fix.
Result<ExpandedInputs> ExpandInputs(const std::vector<std::string>& inputs);

// Reads a file line by line in chunks (1 MiB at first, growing only for longer lines), so memory
// is bounded by the longest line, not the file. Lines exclude the "\n" (and a "\r" before it).
// Every line returned is followed by at least kPadding readable bytes (simdjson's padding).
class LineReader {
 public:
  static constexpr size_t kPadding = 64;
  static Result<std::unique_ptr<LineReader>> Open(const std::string& path,
                                                  size_t chunk_bytes = 1 << 20);
  ~LineReader();
  LineReader(const LineReader&) = delete;
  LineReader& operator=(const LineReader&) = delete;

  // Sets *line to the next line (valid until the next call) and returns true, or false at the
  // end of the file.
  Result<bool> Next(std::string_view* line);
  // 1-based number of the line last returned.
  int64_t line_number() const { return line_number_; }
  const std::string& path() const { return path_; }

 private:
  LineReader(std::string path, std::FILE* file, size_t chunk_bytes);
  Status Fill();

  std::string path_;
  std::FILE* file_;
  std::string buf_;  // data in [pos_, end_), then at least kPadding spare bytes
  size_t pos_ = 0;
  size_t end_ = 0;
  bool eof_ = false;
  int64_t line_number_ = 0;
};

// Reads a file byte by byte through a buffer (the CSV parser's input).
class ByteReader {
 public:
  static Result<std::unique_ptr<ByteReader>> Open(const std::string& path);
  ~ByteReader();
  ByteReader(const ByteReader&) = delete;
  ByteReader& operator=(const ByteReader&) = delete;

  // The next byte (0-255), or -1 at the end. Read errors surface from status().
  int Get() {
    if (pos_ == end_ && !Fill()) return -1;
    return static_cast<unsigned char>(buf_[pos_++]);
  }
  int Peek() {
    if (pos_ == end_ && !Fill()) return -1;
    return static_cast<unsigned char>(buf_[pos_]);
  }
  const Status& status() const { return status_; }

 private:
  ByteReader(std::FILE* file, std::string path) : file_(file), path_(std::move(path)) {}
  bool Fill();

  std::FILE* file_;
  std::string path_;
  std::string buf_ = std::string(1 << 20, '\0');
  size_t pos_ = 0;
  size_t end_ = 0;
  Status status_;
};

// The temporary name a writer in this process uses for `path`: "path.tmp-<pid>".
std::string TempPathFor(const std::string& path);

// Removes the temporary files of `path` ("path.tmp-<pid>", regular files) left by processes
// that no longer run (a kill during the output pass leaves one behind). A file whose process
// still runs, or whose PID now belongs to another process, is kept. Returns how many were
// removed; errors are ignored (this is tidying, never a reason to fail a job).
int RemoveStaleTempFiles(const std::string& path);

// Writes `path` atomically: bytes go to "path.tmp-<pid>"; Commit() flushes, fsyncs and renames
// it over `path`. Destroying an uncommitted AtomicFile removes the temporary file, so the final
// path never holds a partial file.
class AtomicFile {
 public:
  // Fails (naming the folder and the fix) when the parent folder does not exist. Removes the
  // temporary files of `path` left by dead processes first (RemoveStaleTempFiles).
  static Result<std::unique_ptr<AtomicFile>> Create(const std::string& path);
  ~AtomicFile();
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;

  // Buffered; writes through once the buffer passes 1 MiB.
  Status Append(std::string_view data);
  Status Commit();
  const std::string& path() const { return path_; }
  const std::string& temp_path() const { return temp_path_; }

 private:
  AtomicFile(std::string path, std::string temp_path, int fd)
      : path_(std::move(path)), temp_path_(std::move(temp_path)), fd_(fd) {}
  Status FlushBuffer();

  std::string path_;
  std::string temp_path_;
  int fd_;
  bool committed_ = false;
  std::string buffer_;
};

// A sink that writes one line of text per row (JSONL, CSV) through an AtomicFile: it checks
// each batch against the schema, writes `header` before the first row (or at Finish for an
// empty table), and publishes on Finish. Subclasses only render a row.
// Thread-safety: one thread drives it, like every Sink.
class TextRowSink : public Sink {
 public:
  TextRowSink(table::Schema schema, std::unique_ptr<AtomicFile> file, std::string header)
      : schema_(std::move(schema)), file_(std::move(file)), header_(std::move(header)) {}
  Status Write(const table::RecordBatch& batch) final;
  Status Finish() final;

 protected:
  // Appends row `row` of `batch`, with its line ending, to `out`.
  virtual void AppendRow(const table::RecordBatch& batch, int64_t row, std::string* out) = 0;
  const table::Schema& schema() const { return schema_; }

 private:
  Status WriteHeaderOnce();

  table::Schema schema_;
  std::unique_ptr<AtomicFile> file_;
  std::string header_;
  bool header_written_ = false;
  std::string line_;
};

// Parses ReadOptions::type_overrides ("column=type"; types bool, int64, double, string, binary).
Result<std::vector<std::pair<std::string, table::TypePtr>>> ParseTypeOverrides(
    const std::vector<std::string>& overrides);

// The fields of `schema` named in `columns`, in that order (all fields when `columns` is empty);
// an unknown name fails, naming `what` (the file) and the columns that exist.
Result<table::Schema> ProjectSchema(const table::Schema& schema,
                                    const std::vector<std::string>& columns, std::string_view what);

// "" when the schemas are equal, else the first difference in words, e.g.
// "column 'a' is int64 in x.csv but string in y.csv".
std::string DescribeSchemaDifference(const table::Schema& a, std::string_view a_name,
                                     const table::Schema& b, std::string_view b_name);

}  // namespace structflow::io

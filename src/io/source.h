// Sources read a dataset as a stream of record batches; sinks write one. Everything that reads
// or writes rows goes through these two interfaces, so `run`, `inspect` and `convert` handle
// every format the same way.
//
// Thread-safety: one thread drives a Source (or a Sink) at a time; instances share nothing.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"
#include "table/record_batch.h"

namespace structflow::io {

struct ReadOptions {
  // Top-level columns to read; empty: all. Columns not listed are never read (an image column
  // costs nothing unless used).
  std::vector<std::string> columns;
  int64_t batch_rows = 1024;  // a hint; Parquet may also cut at row-group boundaries
  // JSONL and CSV: how many lines (rows) per file to sample when inferring column types.
  int64_t infer_rows = 1000;
  // JSONL and CSV: "column=type" (bool, int64, double, string, binary) fixing a top-level
  // column's type instead of inferring it. `string` keeps any JSON value as its JSON text;
  // `binary` decodes base64 text.
  std::vector<std::string> type_overrides;
  // JSONL: skip lines that are not a JSON object (invalid JSON, a last line cut short, a bare
  // value) instead of stopping at the first, and list each in this file as one JSON line
  // {"file", "line", "error", "text"}. The file is written whole when a read reaches the end of
  // the input (empty when nothing was skipped), or when a read cut short skipped any. Empty: a
  // malformed line stops the read, naming its file and line.
  std::string bad_lines_path;
};

class Source {
 public:
  virtual ~Source() = default;
  // The schema of the batches Next() returns (after projection).
  virtual const table::Schema& schema() const = 0;
  // The next batch, or nullopt at the end. Errors name the file (and row group, column, page
  // or line) and stop the stream.
  virtual Result<std::optional<table::RecordBatch>> Next() = 0;
  // Total rows when known cheaply (Parquet footers; JSONL and CSV files short enough to have
  // been read whole while inferring their types), else nullopt. 0: the input has no rows.
  virtual std::optional<int64_t> num_rows() const = 0;
  // Lines skipped so far as malformed (ReadOptions::bad_lines_path); they are not rows.
  virtual int64_t skipped_rows() const { return 0; }
  // The folder relative image paths resolve against (the first input file's folder).
  virtual std::string base_dir() const = 0;
};

// Opens one or more inputs as one stream: files (.parquet, .jsonl/.ndjson, .csv), globs
// ("data/*.parquet") and folders of images. All inputs must share one schema.
Result<std::unique_ptr<Source>> OpenSource(const std::vector<std::string>& inputs,
                                           const ReadOptions& options = {});

class Sink {
 public:
  virtual ~Sink() = default;
  virtual Status Write(const table::RecordBatch& batch) = 0;
  // Flushes and publishes the file atomically (temporary name, fsync, rename). Until Finish
  // returns OK, the final path does not exist or holds its previous content.
  virtual Status Finish() = 0;
};

struct WriteOptions {
  std::string compression = "zstd";  // parquet: none, snappy, zstd
  int64_t row_group_bytes = 64 << 20;
};

// Chooses the format by the extension of `path` (.parquet, .jsonl/.ndjson, .csv).
// Checks, before any work, that OpenSink could write `path`: an extension it knows (".json" is
// refused: the output is JSON Lines, so it is named .jsonl), an existing folder (the error says
// `mkdir -p`) that this process may write to. The error names the path and the fix.
Status CheckSinkPath(const std::string& path);

Result<std::unique_ptr<Sink>> OpenSink(const std::string& path, const table::Schema& schema,
                                       const WriteOptions& options = {});

}  // namespace structflow::io

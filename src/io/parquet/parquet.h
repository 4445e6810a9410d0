// Parquet source and sink, written from the format specification (no Parquet library is
// packaged for Debian 12).
//
// Reader: all physical types; logical/converted types STRING/UTF8, ENUM, JSON (as string), UUID
// (binary), DATE, TIMESTAMP (ms/us/ns, INT96 as us, as DuckDB), DECIMAL on
// INT32/INT64/FIXED_LEN_BYTE_ARRAY/ BYTE_ARRAY (precision <= 18 as table decimal; wider decimals
// are read as their exact decimal string, since table decimals hold an int64), INT(8/16/32/64,
// signed and unsigned; UINT64 as int64 bits), LIST (3-level and legacy 2-level), MAP, structs, at
// any depth. Encodings PLAIN, RLE/bit-packed levels, (PLAIN|RLE)_DICTIONARY, DELTA_BINARY_PACKED,
// DELTA_LENGTH_BYTE_ARRAY, DELTA_BYTE_ARRAY, BYTE_STREAM_SPLIT, RLE booleans; data pages v1 and v2;
// codecs UNCOMPRESSED, SNAPPY, GZIP, ZSTD, LZ4_RAW, LZ4 (Hadoop framing or raw), BROTLI. TIME
// columns are read as int64 (their raw count of units).
//
// The reader uses pread: only the footer and the pages of projected columns are read, one page
// at a time per column, and batches never span row groups (a batch also ends once it holds 16 MB
// of string/binary values), so memory stays bounded by a batch plus one page per column. A corrupt
// or truncated file fails with a Status naming the file, row group, column and page.
//
// Writer: the table types incl. nested lists, structs and maps; dictionary encoding for strings
// and binaries while the dictionary stays small (PLAIN otherwise), RLE levels, data page v1,
// codecs none/snappy/zstd (and gzip), min/max/null_count statistics for primitive columns, row
// groups cut by WriteOptions.row_group_bytes; writes `path.tmp-<pid>`, fsyncs and renames on
// Finish(); destroying an unfinished sink removes the temporary file.
//
// Thread-safety: one thread drives a source or sink at a time.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "common/status.h"
#include "io/source.h"
#include "table/types.h"

namespace structflow::io::parquet {

// Opens `files` (already expanded from globs) as one stream; all must share a schema.
Result<std::unique_ptr<io::Source>> OpenParquetSource(const std::vector<std::string>& files,
                                                      const io::ReadOptions& options);

Result<std::unique_ptr<io::Sink>> OpenParquetSink(const std::string& path,
                                                  const table::Schema& schema,
                                                  const io::WriteOptions& options);

// Parquet-only writer settings beyond io::WriteOptions.
struct ParquetWriterOptions {
  int data_page_version = 1;    // 1 or 2 (DATA_PAGE_V2: levels uncompressed, values compressed)
  size_t page_bytes = 1 << 20;  // target uncompressed size of a data page
};
Result<std::unique_ptr<io::Sink>> OpenParquetSink(const std::string& path,
                                                  const table::Schema& schema,
                                                  const io::WriteOptions& options,
                                                  const ParquetWriterOptions& parquet_options);

// Reads only the footer of `path` and returns its table schema and row count.
Status ReadParquetSchema(const std::string& path, table::Schema* schema, int64_t* num_rows);

}  // namespace structflow::io::parquet

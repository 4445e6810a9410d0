// Test helper for the Parquet interop suite: dumps Parquet files as JSONL (one object per row,
// via table::AppendRowJson) and copies them through structflow's reader and writer.
//
//   parquet_tool schema FILE
//   parquet_tool dump FILE... [--columns a,b] [--batch-rows N]
//   parquet_tool pages FILE      (one line per page: column, page type, encoding, codec)
//   parquet_tool copy IN OUT [--compression none|snappy|zstd] [--row-group-bytes N] [--page-v2]
//                            [--page-bytes N]
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "io/parquet/metadata.h"
#include "io/parquet/parquet.h"
#include "table/record_batch.h"

using namespace structflow;

namespace {

int Fail(const Status& st) {
  std::fprintf(stderr, "error: %s\n", st.ToString().c_str());
  return 1;
}

std::vector<std::string> Split(const std::string& s) {
  std::vector<std::string> out;
  size_t b = 0;
  while (b <= s.size()) {
    size_t e = s.find(',', b);
    if (e == std::string::npos) e = s.size();
    if (e > b) out.push_back(s.substr(b, e - b));
    b = e + 1;
  }
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: parquet_tool schema|dump|copy FILE...\n");
    return 2;
  }
  std::string cmd = argv[1];
  std::vector<std::string> files;
  io::ReadOptions ro;
  io::WriteOptions wo;
  io::parquet::ParquetWriterOptions po;
  for (int i = 2; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--columns" && i + 1 < argc) {
      ro.columns = Split(argv[++i]);
    } else if (a == "--batch-rows" && i + 1 < argc) {
      ro.batch_rows = std::atoll(argv[++i]);
    } else if (a == "--compression" && i + 1 < argc) {
      wo.compression = argv[++i];
    } else if (a == "--page-v2") {
      po.data_page_version = 2;
    } else if (a == "--page-bytes" && i + 1 < argc) {
      po.page_bytes = static_cast<size_t>(std::atoll(argv[++i]));
    } else if (a == "--row-group-bytes" && i + 1 < argc) {
      wo.row_group_bytes = std::atoll(argv[++i]);
    } else {
      files.push_back(a);
    }
  }
  if (cmd == "schema") {
    table::Schema s;
    int64_t rows = 0;
    Status st = io::parquet::ReadParquetSchema(files.at(0), &s, &rows);
    if (!st.ok()) return Fail(st);
    std::printf("%s%lld rows\n", s.ToString().c_str(), static_cast<long long>(rows));
    return 0;
  }
  if (cmd == "pages") {
    // Reads the whole file: a diagnostic for small test files only.
    FILE* f = std::fopen(files.at(0).c_str(), "rb");
    if (!f) return Fail(Status::IOError("cannot open " + files.at(0)));
    std::string data;
    char buf[1 << 16];
    size_t n;
    while ((n = std::fread(buf, 1, sizeof(buf), f)) > 0) data.append(buf, n);
    std::fclose(f);
    if (data.size() < 12) return Fail(Status::Corrupt("file too small"));
    uint32_t len;
    std::memcpy(&len, data.data() + data.size() - 8, 4);
    if (len > data.size() - 12) return Fail(Status::Corrupt("bad footer length"));
    io::parquet::FileMetaData md;
    Status st = io::parquet::ParseFileMetaData(
        reinterpret_cast<const uint8_t*>(data.data()) + data.size() - 8 - len, len, &md);
    if (!st.ok()) return Fail(st);
    static const char* kTypes[] = {"DATA_PAGE", "INDEX_PAGE", "DICTIONARY_PAGE", "DATA_PAGE_V2"};
    for (const auto& rg : md.row_groups) {
      for (const auto& cc : rg.columns) {
        const auto& m = *cc.meta_data;
        int64_t pos = m.dictionary_page_offset && *m.dictionary_page_offset > 0
                          ? std::min(*m.dictionary_page_offset, m.data_page_offset)
                          : m.data_page_offset;
        int64_t end = pos + m.total_compressed_size;
        std::string col;
        for (const auto& p : m.path_in_schema) col += (col.empty() ? "" : ".") + p;
        while (pos < end) {
          io::parquet::PageHeader ph;
          size_t hs = 0;
          st = io::parquet::ParsePageHeader(reinterpret_cast<const uint8_t*>(data.data()) + pos,
                                            static_cast<size_t>(end - pos), &ph, &hs);
          if (!st.ok()) return Fail(st);
          int enc = ph.data_page         ? static_cast<int>(ph.data_page->encoding)
                    : ph.data_page_v2    ? static_cast<int>(ph.data_page_v2->encoding)
                    : ph.dictionary_page ? static_cast<int>(ph.dictionary_page->encoding)
                                         : -1;
          int t = static_cast<int>(ph.type);
          std::printf("%s %s %d %d\n", col.c_str(), t >= 0 && t < 4 ? kTypes[t] : "?", enc,
                      static_cast<int>(m.codec));
          pos += static_cast<int64_t>(hs) + ph.compressed_page_size;
        }
      }
    }
    return 0;
  }
  if (cmd == "dump") {
    auto src = io::parquet::OpenParquetSource(files, ro);
    if (!src.ok()) return Fail(src.status());
    std::string line;
    while (true) {
      auto b = (*src)->Next();
      if (!b.ok()) return Fail(b.status());
      if (!b->has_value()) break;
      const table::RecordBatch& batch = **b;
      for (int64_t r = 0; r < batch.num_rows(); ++r) {
        line.clear();
        table::AppendRowJson(batch, r, &line);
        line.push_back('\n');
        std::fwrite(line.data(), 1, line.size(), stdout);
      }
    }
    return 0;
  }
  if (cmd == "copy" && files.size() == 2) {
    auto src = io::parquet::OpenParquetSource({files[0]}, ro);
    if (!src.ok()) return Fail(src.status());
    auto sink = io::parquet::OpenParquetSink(files[1], (*src)->schema(), wo, po);
    if (!sink.ok()) return Fail(sink.status());
    while (true) {
      auto b = (*src)->Next();
      if (!b.ok()) return Fail(b.status());
      if (!b->has_value()) break;
      Status st = (*sink)->Write(**b);
      if (!st.ok()) return Fail(st);
    }
    Status st = (*sink)->Finish();
    if (!st.ok()) return Fail(st);
    return 0;
  }
  std::fprintf(stderr, "unknown command '%s'\n", cmd.c_str());
  return 2;
}

// Parquet read benchmark: writes a dataset shaped like a vision dataset (an image column of
// incompressible 100-300 KB blobs and a few text columns) with structflow's writer, then reads it
// back with structflow's reader and reports MB/s and peak RSS. run.sh times DuckDB on the same
// file in the same run.
//
//   parquet_bench write FILE [--mb 1024] [--compression zstd]
//   parquet_bench read FILE [--columns a,b] [--batch-rows N]
// `read` prints one JSON line: rows, sum of image bytes, seconds, MB/s (file bytes / s), peak RSS.
#include <sys/resource.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include "io/parquet/parquet.h"
#include "table/record_batch.h"

using namespace structflow;

namespace {

int Fail(const Status& st) {
  std::fprintf(stderr, "error: %s\n", st.ToString().c_str());
  return 1;
}

uint64_t Next(uint64_t& s) {
  s ^= s << 13;
  s ^= s >> 7;
  s ^= s << 17;
  return s;
}

int Write(const std::string& path, int64_t mb, const std::string& compression) {
  table::Schema schema{{
      table::Field{"id", table::DataType::Int64(), false},
      table::Field{"img", table::DataType::Binary(), true},
      table::Field{"caption", table::DataType::String(), true},
      table::Field{"source", table::DataType::String(), true},
      table::Field{"split", table::DataType::String(), true},
  }};
  io::WriteOptions wo;
  wo.compression = compression;
  auto sink = io::parquet::OpenParquetSink(path, schema, wo);
  if (!sink.ok()) return Fail(sink.status());
  uint64_t seed = 0x9e3779b97f4a7c15ull;
  int64_t target = mb << 20, written = 0, id = 0;
  std::string blob;
  static const char* kSplits[] = {"train", "validation", "test"};
  while (written < target) {
    table::RecordBatch b = table::RecordBatch::Empty(schema);
    for (int r = 0; r < 64 && written < target; ++r, ++id) {
      size_t n = 100 * 1024 + Next(seed) % (200 * 1024);
      blob.resize(n);
      for (size_t i = 0; i + 8 <= n; i += 8) {
        uint64_t v = Next(seed);
        std::memcpy(blob.data() + i, &v, 8);
      }
      b.columns[0].AppendInt(id);
      b.columns[1].AppendBytes(blob);
      b.columns[2].AppendBytes("a photo of object " + std::to_string(Next(seed) % 100000) +
                               " on a table, taken in daylight");
      b.columns[3].AppendBytes("https://example.org/images/" + std::to_string(id) + ".jpg");
      b.columns[4].AppendBytes(kSplits[id % 3]);
      written += static_cast<int64_t>(n);
    }
    Status st = (*sink)->Write(b);
    if (!st.ok()) return Fail(st);
  }
  Status st = (*sink)->Finish();
  if (!st.ok()) return Fail(st);
  std::printf("{\"rows\":%lld,\"image_bytes\":%lld}\n", static_cast<long long>(id),
              static_cast<long long>(written));
  return 0;
}

int Read(const std::string& path, const io::ReadOptions& ro) {
  auto t0 = std::chrono::steady_clock::now();
  auto src = io::parquet::OpenParquetSource({path}, ro);
  if (!src.ok()) return Fail(src.status());
  int64_t rows = 0, img_bytes = 0, text_bytes = 0;
  while (true) {
    auto b = (*src)->Next();
    if (!b.ok()) return Fail(b.status());
    if (!*b) break;
    const table::RecordBatch& batch = **b;
    rows += batch.num_rows();
    // Checks the data, not just the row count: sum the lengths like DuckDB's query does.
    for (int c = 0; c < batch.num_columns(); ++c) {
      const table::Column& col = batch.columns[c];
      if (col.type_id() != table::TypeId::kBinary && col.type_id() != table::TypeId::kString) {
        continue;
      }
      int64_t sum = 0;
      for (int64_t r = 0; r < col.length(); ++r)
        sum += static_cast<int64_t>(col.GetBytes(r).size());
      (batch.schema.fields[c].name == "img" ? img_bytes : text_bytes) += sum;
    }
  }
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  double file_mb = static_cast<double>(std::filesystem::file_size(path)) / (1 << 20);
  std::printf(
      "{\"reader\":\"structflow\",\"rows\":%lld,\"sum_img_bytes\":%lld,\"text_bytes\":%lld,"
      "\"seconds\":%.3f,\"mb_per_s\":%.1f,\"peak_rss_mb\":%.1f}\n",
      static_cast<long long>(rows), static_cast<long long>(img_bytes),
      static_cast<long long>(text_bytes), secs, file_mb / secs, ru.ru_maxrss / 1024.0);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: parquet_bench write|read FILE [options]\n");
    return 2;
  }
  std::string cmd = argv[1], path = argv[2], compression = "zstd";
  int64_t mb = 1024;
  io::ReadOptions ro;
  for (int i = 3; i + 1 < argc; i += 2) {
    std::string a = argv[i];
    if (a == "--mb")
      mb = std::atoll(argv[i + 1]);
    else if (a == "--compression")
      compression = argv[i + 1];
    else if (a == "--batch-rows")
      ro.batch_rows = std::atoll(argv[i + 1]);
    else if (a == "--columns") {
      std::string s = argv[i + 1];
      for (size_t b = 0, e; b <= s.size(); b = e + 1) {
        e = s.find(',', b);
        if (e == std::string::npos) e = s.size();
        if (e > b) ro.columns.push_back(s.substr(b, e - b));
      }
    }
  }
  if (cmd == "write") return Write(path, mb, compression);
  if (cmd == "read") return Read(path, ro);
  return 2;
}

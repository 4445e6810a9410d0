// `structflow convert IN... OUT`: copies a dataset from one format to another, batch by batch
// (memory stays at one batch whatever the size), publishing OUT atomically when complete.
#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "cli/read_flags.h"
#include "common/text.h"
#include "io/files.h"
#include "io/source.h"
#include "table/record_batch.h"

namespace structflow::cli {
namespace {

// A slice [0, n) of `batch`, for --limit.
table::RecordBatch Head(const table::RecordBatch& batch, int64_t n) {
  table::RecordBatch out = table::RecordBatch::Empty(batch.schema);
  for (int c = 0; c < batch.num_columns(); ++c) {
    for (int64_t r = 0; r < n; ++r) out.columns[c].AppendFrom(batch.columns[c], r);
  }
  return out;
}

bool SameFile(const std::string& a, const std::string& b) {
  std::error_code ec1, ec2;
  auto ca = std::filesystem::weakly_canonical(a, ec1);
  auto cb = std::filesystem::weakly_canonical(b, ec2);
  return !ec1 && !ec2 && ca == cb;
}

}  // namespace

void AddConvertCommand(CLI::App& app, int* exit_code) {
  struct Args {
    std::vector<std::string> paths;
    int64_t limit = -1;
    std::vector<std::string> columns;
    io::ReadOptions read;
    std::string compression = "zstd";
    int64_t batch_rows = 1024;
  };
  auto args = std::make_shared<Args>();
  auto* sub = app.add_subcommand(
      "convert", "Convert a dataset between Parquet, JSONL and CSV (by extension): IN... OUT");
  sub->footer(
      "The last path is the output; its extension picks the format: .parquet, .jsonl (.ndjson)\n"
      "or .csv. Inputs are files, quoted globs ('data/*.parquet') or folders (a folder of images\n"
      "becomes rows of path, image bytes and sidecar metadata fields). The output is written to a\n"
      "temporary name and renamed when complete, so it never holds a partial file.\n\n"
      "In JSONL and CSV, binary values (images) are written as base64 text; in CSV, nested values\n"
      "(lists, structs) are written as JSON text. Reading a CSV back, pass\n"
      "--schema-override column=binary to decode base64 columns.\n\n"
      "Examples:\n"
      "  structflow convert train.parquet train.jsonl\n"
      "  structflow convert 'shards/*.jsonl' all.parquet --compression snappy\n"
      "  structflow convert photos/ photos.parquet\n"
      "  structflow convert big.csv sample.jsonl --limit 100 --columns id,text\n");
  sub->add_option("paths", args->paths, "Input files, globs or folders, then the output file")
      ->required();
  sub->add_option("--limit", args->limit, "Write at most N rows");
  sub->add_option("--columns,-c", args->columns, "Only these top-level columns (comma-separated)")
      ->delimiter(',');
  AddReadFlags(sub, &args->read);
  sub->add_option("--compression", args->compression, "Parquet output: none, snappy or zstd")
      ->capture_default_str();
  sub->add_option("--batch-rows", args->batch_rows, "Rows per batch while copying")
      ->capture_default_str();
  sub->callback([args, exit_code] {
    auto fail = [&](const Status& st) {
      std::fprintf(stderr, "structflow convert: %s\n", ForTerminal(st.message()).c_str());
      *exit_code = 1;
    };
    auto usage = [&](const std::string& msg) {
      std::fprintf(stderr, "structflow convert: %s\nRun 'structflow convert --help' for usage.\n",
                   msg.c_str());
      *exit_code = 2;
    };
    if (args->paths.size() < 2) {
      return usage(
          "give at least one input and the output, e.g. structflow convert in.csv "
          "out.jsonl");
    }
    if (args->batch_rows <= 0) return usage("--batch-rows must be positive");
    std::vector<std::string> inputs(args->paths.begin(), args->paths.end() - 1);
    const std::string out_path = args->paths.back();
    if (io::FormatFromPath(out_path) == io::Format::kUnknown) {
      return usage(
          fmt::format("cannot tell the output format of '{}' from its extension; name it "
                      ".parquet, .jsonl or .csv (the output is the last path)",
                      out_path));
    }
    auto expanded = io::ExpandInputs(inputs);
    if (!expanded.ok()) return fail(expanded.status());
    for (const auto& in : expanded->paths) {
      if (SameFile(in, out_path)) {
        return usage(
            fmt::format("the output '{}' is also an input; write to another file", out_path));
      }
    }
    io::ReadOptions ropts = args->read;
    ropts.columns = args->columns;
    ropts.batch_rows = args->batch_rows;
    auto opened = io::OpenSource(inputs, ropts);
    if (!opened.ok()) return fail(opened.status());
    io::Source& src = **opened;
    if (std::string w = NoRowsWarning(src, inputs); !w.empty()) {
      std::fprintf(stderr, "structflow convert: %s\n", ForTerminal(w).c_str());
    }
    io::WriteOptions wopts;
    wopts.compression = args->compression;
    auto sink = io::OpenSink(out_path, src.schema(), wopts);
    if (!sink.ok()) return fail(sink.status());

    int64_t written = 0;
    while (args->limit < 0 || written < args->limit) {
      auto batch = src.Next();
      if (!batch.ok()) return fail(batch.status());
      if (!batch->has_value()) break;
      const table::RecordBatch& b = **batch;
      Status st;
      if (args->limit >= 0 && written + b.num_rows() > args->limit) {
        int64_t n = args->limit - written;
        st = (*sink)->Write(Head(b, n));
        written += n;
      } else {
        st = (*sink)->Write(b);
        written += b.num_rows();
      }
      if (!st.ok()) return fail(st);
    }
    Status st = (*sink)->Finish();
    if (!st.ok()) return fail(st);
    if (std::string note = SkippedLinesNote(src, ropts); !note.empty()) {
      std::fprintf(stderr, "structflow convert: %s\n", ForTerminal(note).c_str());
    }
    std::printf("wrote %lld rows to %s (%s)\n", static_cast<long long>(written), out_path.c_str(),
                std::string(io::FormatName(io::FormatFromPath(out_path))).c_str());
    *exit_code = 0;
  });
}

}  // namespace structflow::cli

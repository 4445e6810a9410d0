// `structflow inspect FILE...`: the schema, the row count and the first rows of any input the
// other commands accept, so a user can check what structflow will see before a long job.
#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cstdio>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "cli/read_flags.h"
#include "common/base64.h"
#include "common/json_writer.h"
#include "common/text.h"
#include "io/files.h"
#include "io/source.h"
#include "table/record_batch.h"

namespace structflow::cli {
namespace {

constexpr size_t kMaxText = 120;        // longer strings are cut, with their length noted
constexpr size_t kMaxInlineBytes = 48;  // shorter binaries print as base64
constexpr int64_t kMaxListItems = 20;

std::string_view SniffImage(std::string_view b) {
  if (b.substr(0, 8) == "\x89PNG\r\n\x1a\n") return "png";
  if (b.substr(0, 3) == "\xFF\xD8\xFF") return "jpeg";
  if (b.substr(0, 4) == "GIF8") return "gif";
  if (b.substr(0, 4) == "RIFF" && b.substr(8, 4) == "WEBP") return "webp";
  if (b.substr(0, 2) == "BM") return "bmp";
  if (b.substr(0, 4) == "II*\0" || b.substr(0, 4) == "MM\0*") return "tiff";
  return "";
}

// Like table::AppendCellJson, but long strings, binaries and lists are abbreviated so a row
// fits on a screen (with `full`, only binaries are: strings such as a failed row's error message
// and lists print whole). The output stays valid JSON.
void AppendShortJson(const table::Column& c, int64_t row, bool full, std::string* out) {
  using table::TypeId;
  if (c.IsNull(row)) {
    out->append("null");
    return;
  }
  switch (c.type_id()) {
    case TypeId::kString: {
      std::string_view s = c.GetBytes(row);
      if (full || s.size() <= kMaxText) {
        AppendJsonString(out, s);
        return;
      }
      size_t cut = kMaxText;
      while (cut > 0 && (static_cast<unsigned char>(s[cut]) & 0xC0) == 0x80) --cut;
      AppendJsonString(out, fmt::format("{}... ({} bytes)", s.substr(0, cut), s.size()));
      return;
    }
    case TypeId::kBinary: {
      std::string_view b = c.GetBytes(row);
      if (b.size() <= kMaxInlineBytes && SniffImage(b).empty()) {
        table::AppendCellJson(c, row, out);
        return;
      }
      std::string_view kind = SniffImage(b);
      AppendJsonString(out, kind.empty() ? fmt::format("<{} bytes>", b.size())
                                         : fmt::format("<{} bytes, {}>", b.size(), kind));
      return;
    }
    case TypeId::kList: {
      auto [b, e] = c.ListRange(row);
      out->push_back('[');
      for (int64_t k = b; k < e && (full || k - b < kMaxListItems); ++k) {
        if (k > b) out->push_back(',');
        AppendShortJson(c.child(0), k, full, out);
      }
      if (!full && e - b > kMaxListItems) {
        out->push_back(',');
        AppendJsonString(out, fmt::format("... ({} more)", e - b - kMaxListItems));
      }
      out->push_back(']');
      return;
    }
    case TypeId::kStruct: {
      out->push_back('{');
      const auto& fields = c.type()->fields();
      for (size_t k = 0; k < fields.size(); ++k) {
        if (k) out->push_back(',');
        AppendJsonString(out, fields[k].name);
        out->push_back(':');
        AppendShortJson(c.child(static_cast<int>(k)), row, full, out);
      }
      out->push_back('}');
      return;
    }
    default:
      table::AppendCellJson(c, row, out);
  }
}

}  // namespace

void AddInspectCommand(CLI::App& app, int* exit_code) {
  struct Args {
    std::vector<std::string> inputs;
    int64_t rows = 5;
    std::vector<std::string> columns;
    io::ReadOptions read;
    bool no_count = false;
    bool full = false;
  };
  auto args = std::make_shared<Args>();
  auto* sub = app.add_subcommand(
      "inspect",
      "Show the schema, row count and first rows of a dataset (Parquet, JSONL, CSV, image folder)");
  sub->footer(
      "Inputs are files (.parquet, .jsonl/.ndjson, .csv), globs ('data/*.parquet', quoted so the\n"
      "shell passes them through) and folders (a folder of images is read as one row per image,\n"
      "with `path`, `image` and the fields of a metadata.jsonl/metadata.csv sidecar). Several\n"
      "inputs with one schema read as one dataset.\n\n"
      "Rows print as JSON lines; long strings, binaries (images) and long lists are abbreviated\n"
      "(--full prints strings, such as a failed row's error message, and lists whole; binaries\n"
      "stay summarised as their size and image type).\n"
      "JSONL and CSV types are inferred from the first --infer-rows rows; if a later row does not\n"
      "fit, raise --infer-rows or fix the type with --schema-override column=type.\n\n"
      "Examples:\n"
      "  structflow inspect train.parquet\n"
      "  structflow inspect 'data/*.jsonl' --rows 3 --columns question,answer\n"
      "  structflow inspect photos/ --rows 2\n"
      "  structflow inspect answers.jsonl --columns error --full\n"
      "  structflow inspect table.csv --schema-override zip=string\n");
  sub->add_option("inputs", args->inputs, "Files, globs or folders to read")->required();
  sub->add_option("--rows,-n", args->rows, "How many rows to print")->capture_default_str();
  sub->add_option("--columns,-c", args->columns, "Only these top-level columns (comma-separated)")
      ->delimiter(',');
  AddReadFlags(sub, &args->read);
  sub->add_flag("--full", args->full,
                "Print long strings (error messages) and lists whole instead of cutting them");
  sub->add_flag("--no-count", args->no_count,
                "Do not read the whole input to count rows (Parquet and image folders count for "
                "free)");
  sub->callback([args, exit_code] {
    auto fail = [&](const Status& st) {
      std::fprintf(stderr, "structflow inspect: %s\n", ForTerminal(st.message()).c_str());
      *exit_code = 1;
    };
    if (args->rows < 0) {
      std::fprintf(stderr, "structflow inspect: --rows must be 0 or more\n");
      *exit_code = 2;
      return;
    }
    auto expanded = io::ExpandInputs(args->inputs);
    if (!expanded.ok()) return fail(expanded.status());
    io::ReadOptions opts = args->read;
    opts.columns = args->columns;
    if (expanded->format == io::Format::kImageFolder || expanded->format == io::Format::kParquet) {
      // Rows are counted from metadata: read no more images or pages than the rows shown.
      opts.batch_rows = std::clamp<int64_t>(args->rows, 1, 1024);
    }
    auto opened = io::OpenSource(args->inputs, opts);
    if (!opened.ok()) return fail(opened.status());
    io::Source& src = **opened;

    std::string out;
    const auto& paths = expanded->paths;
    std::string_view kind = io::FormatName(expanded->format);
    if (paths.size() == 1) {
      out += fmt::format("input: {} ({})\n", paths[0], kind);
    } else {
      out += fmt::format("inputs: {} {} inputs, {} ... {}\n", paths.size(), kind, paths.front(),
                         paths.back());
    }
    out += "schema:\n";
    std::string schema = src.schema().ToString();
    size_t start = 0;
    while (start < schema.size()) {
      size_t nl = schema.find('\n', start);
      out += "  " + schema.substr(start, nl - start) + "\n";
      start = nl + 1;
    }
    std::fputs(out.c_str(), stdout);
    out.clear();

    std::vector<std::string> first;
    int64_t count = 0;
    std::optional<int64_t> known = src.num_rows();
    bool count_all = !known && !args->no_count;
    while (static_cast<int64_t>(first.size()) < args->rows || count_all) {
      auto batch = src.Next();
      if (!batch.ok()) return fail(batch.status());
      if (!batch->has_value()) break;
      const table::RecordBatch& b = **batch;
      for (int64_t r = 0; r < b.num_rows() && static_cast<int64_t>(first.size()) < args->rows;
           ++r) {
        std::string line = "{";
        for (int c = 0; c < b.num_columns(); ++c) {
          if (c) line.push_back(',');
          AppendJsonString(&line, b.schema.fields[c].name);
          line.push_back(':');
          AppendShortJson(b.columns[c], r, args->full, &line);
        }
        line += "}\n";
        first.push_back(std::move(line));
      }
      count += b.num_rows();
    }
    if (known) {
      out += fmt::format("rows: {}\n", *known);
    } else if (count_all) {
      out += fmt::format("rows: {}\n", count);
    } else {
      out += "rows: not counted (--no-count)\n";
    }
    out += fmt::format("first {} row{}:\n", first.size(), first.size() == 1 ? "" : "s");
    for (const auto& line : first) out += line;
    std::fputs(out.c_str(), stdout);
    if (std::string note = SkippedLinesNote(src, opts); !note.empty()) {
      std::fprintf(stderr, "structflow inspect: %s%s\n", ForTerminal(note).c_str(),
                   count_all ? "" : " (of the rows read so far)");
    }
    *exit_code = 0;
  });
}

}  // namespace structflow::cli

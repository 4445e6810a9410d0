#include "cli/read_flags.h"

#include <fmt/format.h>

#include <CLI/CLI.hpp>

namespace structflow::cli {

void AddReadFlags(CLI::App* sub, io::ReadOptions* read) {
  sub->add_option("--infer-rows", read->infer_rows,
                  "JSONL/CSV: rows sampled per file to infer column types")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  sub->add_option("--schema-override", read->type_overrides,
                  "JSONL/CSV: column=type (bool, int64, double, string, binary) instead of the "
                  "inferred type, e.g. zip=string; repeatable");
  sub->add_option("--bad-lines", read->bad_lines_path,
                  "JSONL: skip lines that are not a JSON object (a line cut short, invalid "
                  "JSON) and list them in FILE (file, line, error, text) instead of stopping");
}

std::string NoRowsWarning(const io::Source& source, const std::vector<std::string>& inputs) {
  if (source.num_rows() != 0) return "";
  return fmt::format(
      "warning: the input {} has no rows (a CSV with only its header?); the "
      "output will be empty",
      inputs.size() == 1 ? "'" + inputs[0] + "'" : fmt::format("({} paths)", inputs.size()));
}

std::string SkippedLinesNote(const io::Source& source, const io::ReadOptions& read) {
  int64_t n = source.skipped_rows();
  if (n == 0) return "";
  return fmt::format("skipped {} malformed line{}; each is listed in {}", n, n == 1 ? "" : "s",
                     read.bad_lines_path);
}

}  // namespace structflow::cli

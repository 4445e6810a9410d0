// The input-reading flags `run`, `inspect` and `convert` share, so all three read a JSONL or
// CSV file the same way and say the same things about it.
#pragma once

#include <string>
#include <vector>

#include "io/source.h"

namespace CLI {
class App;
}

namespace structflow::cli {

// Adds --infer-rows, --schema-override and --bad-lines to `sub`, bound to `read`'s fields.
void AddReadFlags(CLI::App* sub, io::ReadOptions* read);

// What a command says on stderr after opening `source` and after reading it: that the input has
// no rows (a header-only CSV, known at open), and how many malformed lines went to --bad-lines.
// Empty when there is nothing to say.
std::string NoRowsWarning(const io::Source& source, const std::vector<std::string>& inputs);
std::string SkippedLinesNote(const io::Source& source, const io::ReadOptions& read);

}  // namespace structflow::cli

// The command line the process was started with, shell-quoted, for the records a command keeps
// (the checkpoint of `run`, shown again by `report`). An --api-key value is replaced by
// "$OPENAI_API_KEY" so no key is written to disk.
// Thread-safety: SetCommandLine is called once by main() before any command runs.
#pragma once

#include <string>

namespace structflow::cli {

void SetCommandLine(int argc, char** argv);
const std::string& CommandLine();

}  // namespace structflow::cli

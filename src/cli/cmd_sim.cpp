// Placeholder until issue 3 lands: the command exists so --help lists it, and says plainly
// that it is not built yet instead of failing silently.
#include <CLI/CLI.hpp>

#include <cstdio>

#include "cli/commands.h"

namespace structflow::cli {

void AddSimCommand(CLI::App& app, int* exit_code) {
  auto* sub = app.add_subcommand("sim", "(not built yet: see issue 3)");
  sub->allow_extras();
  sub->callback([exit_code] {
    std::fprintf(stderr, "structflow sim: not built yet (issue 3). Nothing was done.\n");
    *exit_code = 1;
  });
}

}  // namespace structflow::cli

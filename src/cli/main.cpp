// The structflow command: one binary, one subcommand per task.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <string>
#include <string_view>
#include <vector>

#include "cli/command_line.h"
#include "cli/commands.h"
#include "common/logging.h"
#include "engine/diagnosis.h"

#ifndef STRUCTFLOW_VERSION
#define STRUCTFLOW_VERSION "0.0.0"
#endif

namespace {

// CLI11 says only "The following arguments were not expected" for a mistyped command; name the
// command the user probably meant instead. Returns false (and prints) when argv[1] is unknown.
bool CheckCommandName(const CLI::App& app, int argc, char** argv) {
  if (argc < 2 || argv[1][0] == '-') return true;
  std::string_view given = argv[1];
  std::vector<std::string> names;
  for (const CLI::App* sub : app.get_subcommands([](const CLI::App*) { return true; })) {
    if (sub->get_name() == given) return true;
    names.push_back(sub->get_name());
  }
  std::string best = structflow::engine::ClosestName(given, names);
  if (!best.empty()) {
    std::fprintf(stderr, "structflow: unknown command '%s'; did you mean '%s'?\n", argv[1],
                 best.c_str());
  } else {
    std::fprintf(stderr, "structflow: unknown command '%s'\n", argv[1]);
  }
  std::fprintf(stderr, "The commands are listed by: structflow --help\n");
  return false;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "structflow: structured-output inference of language and vision-language models over whole\n"
      "datasets, against OpenAI-compatible servers (vLLM, SGLang, llama.cpp, Ollama, OpenAI).\n\n"
      "Start here:\n"
      "  structflow demo                      the built-in demo on the simulator, no GPU needed\n"
      "  structflow doctor --endpoint URL     check a server before a long job\n"
      "  structflow run data.parquet --out results.parquet --prompt '{question}' --choice "
      "A,B,C,D\n",
      "structflow"};
  app.set_version_flag("--version", std::string("structflow ") + STRUCTFLOW_VERSION);
  app.require_subcommand(1);
  app.fallthrough(true);  // --log-level works after the subcommand too
  std::string log_level = "info";
  app.add_option("--log-level", log_level, "debug, info, warn, error or off")
      ->capture_default_str();

  structflow::cli::SetCommandLine(argc, argv);
  int exit_code = 0;
  structflow::cli::AddRunCommand(app, &exit_code);
  structflow::cli::AddDoctorCommand(app, &exit_code);
  structflow::cli::AddEvalCommand(app, &exit_code);
  structflow::cli::AddReportCommand(app, &exit_code);
  structflow::cli::AddInspectCommand(app, &exit_code);
  structflow::cli::AddConvertCommand(app, &exit_code);
  structflow::cli::AddSimCommand(app, &exit_code);
  structflow::cli::AddDemoCommand(app, &exit_code);

  app.parse_complete_callback([&] {
    structflow::LogLevel level;
    if (!structflow::ParseLogLevel(log_level, &level)) {
      throw CLI::ValidationError("--log-level", "must be debug, info, warn, error or off");
    }
    structflow::SetLogLevel(level);
  });

  if (!CheckCommandName(app, argc, argv)) return 2;
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int code = app.exit(e);
    return code == 0 ? 0 : 2;
  }
  std::fflush(stdout);
  return exit_code;
}

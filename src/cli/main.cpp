// The structflow command: one binary, one subcommand per task.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <string>

#include "cli/commands.h"
#include "common/logging.h"

#ifndef STRUCTFLOW_VERSION
#define STRUCTFLOW_VERSION "0.0.0"
#endif

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

  int exit_code = 0;
  structflow::cli::AddRunCommand(app, &exit_code);
  structflow::cli::AddDoctorCommand(app, &exit_code);
  structflow::cli::AddEvalCommand(app, &exit_code);
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

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int code = app.exit(e);
    return code == 0 ? 0 : 2;
  }
  std::fflush(stdout);
  return exit_code;
}

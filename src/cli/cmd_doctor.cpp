// `structflow doctor`: checks a server before a long job (see engine/doctor.h).
#include <CLI/CLI.hpp>
#include <cstdio>
#include <memory>

#include "cli/commands.h"
#include "cli/run_job.h"
#include "engine/doctor.h"

namespace structflow::cli {

void AddDoctorCommand(CLI::App& app, int* exit_code) {
  auto o = std::make_shared<engine::DoctorOptions>();
  auto* sub =
      app.add_subcommand("doctor",
                         "Check a server before a long job. In order: the server answers; the "
                         "models it serves; a plain\n"
                         "chat works; an image is accepted (and how many per prompt); which "
                         "structured-output dialects it\n"
                         "really honours; its context length; latency and a suggested concurrency. "
                         "Each line says what to\n"
                         "change when something is wrong. Exits 1 when a job could not run.\n\n"
                         "Example:\n"
                         "  structflow doctor --endpoint http://127.0.0.1:8000/v1\n");
  sub->add_option(
      "--endpoint", o->endpoint,
      "OpenAI-compatible base URL (default: $OPENAI_BASE_URL or http://127.0.0.1:8000/v1)");
  sub->add_option("--model", o->model, "Model to check (default: the server's only model)");
  sub->add_option("--api-key", o->api_key, "API key (default: $OPENAI_API_KEY); never printed");
  sub->add_option("--api-key-file", o->api_key_file, "Read the API key from this file");
  sub->add_flag("!--no-load-test", o->load_test,
                "Skip the short throughput test at 8, 32 and 128 requests (at most the connections "
                "llama-server holds at once)");
  sub->callback([o, exit_code] {
    if (o->endpoint.empty()) o->endpoint = DefaultEndpoint();
    o->api_key_env = ApiKeyFromEnvironment();
    std::printf("structflow doctor\n");
    auto report = engine::RunDoctor(*o, [](const engine::CheckLine& l) {
      std::printf("%s\n", engine::FormatCheckLine(l).c_str());
      std::fflush(stdout);
    });
    if (report.job_can_run()) {
      std::printf("\nThe server is ready for `structflow run`.\n");
      *exit_code = 0;
    } else {
      std::printf(
          "\nA job could not run against this server: fix the FAIL line above, then run doctor "
          "again.\n");
      *exit_code = 1;
    }
  });
}

}  // namespace structflow::cli

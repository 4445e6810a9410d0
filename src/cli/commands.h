// The structflow subcommands. Each Add*Command registers one subcommand on the root app; when
// the user picks it, its callback runs the command and stores the process exit code in
// *exit_code. Exit codes: 0 success, 1 the job could not run, 2 usage error, 3 some rows failed,
// 130 interrupted.
#pragma once

namespace CLI {
class App;
}

namespace structflow::cli {

void AddSimCommand(CLI::App& app, int* exit_code);
void AddRunCommand(CLI::App& app, int* exit_code);
void AddInspectCommand(CLI::App& app, int* exit_code);
void AddConvertCommand(CLI::App& app, int* exit_code);
void AddDoctorCommand(CLI::App& app, int* exit_code);
void AddEvalCommand(CLI::App& app, int* exit_code);
void AddReportCommand(CLI::App& app, int* exit_code);
void AddDemoCommand(CLI::App& app, int* exit_code);

}  // namespace structflow::cli

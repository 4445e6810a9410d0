// `structflow demo`: the built-in demo (see cli/run_demo.h). `make run` runs it.
#include <CLI/CLI.hpp>
#include <memory>

#include "cli/commands.h"
#include "cli/run_demo.h"

namespace structflow::cli {

void AddDemoCommand(CLI::App& app, int* exit_code) {
  auto o = std::make_shared<demo::DemoOptions>();
  auto* sub = app.add_subcommand(
      "demo",
      "The built-in demo, with no GPU and no internet: draws a small diagram question-answering\n"
      "dataset (AI2D layout), starts the simulator, answers every multiple-choice question with "
      "and\n"
      "without the image through `structflow run`'s engine, and scores both with `structflow "
      "eval`.\n"
      "The answers come from the simulator, not a model; the demo prints the command for a real "
      "server.");
  sub->add_option("--out-dir", o->out_dir, "Where the dataset and results go")
      ->capture_default_str();
  sub->add_option("--images", o->images, "How many diagrams to draw")->capture_default_str();
  sub->add_option("--max-num-seqs", o->max_num_seqs, "Batch slots of the simulated server")
      ->capture_default_str();
  sub->add_flag("--dataset-only", o->dataset_only,
                "Only write the dataset (diagrams.parquet), run nothing");
  sub->callback([o, exit_code] { *exit_code = demo::RunDemo(*o); });
}

}  // namespace structflow::cli

// `structflow demo`: the canonical workload in miniature, on a machine with no GPU and no
// internet. It generates the diagram-QA dataset (dataset.h), writes it as Parquet in the hub
// layout, starts the simulator in-process, runs the multiple-choice job twice (with the image
// and without it) through the same engine as `structflow run`, and scores both runs.
// Thread-safety: called once from the main thread.
#pragma once

#include <string>

namespace structflow::demo {

struct DemoOptions {
  std::string out_dir = "out/demo";
  int images = 300;
  int max_num_seqs = 64;
  uint64_t seed = 7;
  bool dataset_only = false;  // write diagrams.parquet and stop (for tests and recipes)
};

// Returns the process exit code.
int RunDemo(const DemoOptions& options);

}  // namespace structflow::demo

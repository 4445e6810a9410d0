// The built-in demo dataset: a small diagram question-answering set in the layout dataset hubs
// use for AI2D (`images` as a list of {bytes, path}, `texts` as a list of {user, assistant,
// source}), drawn by structflow itself so the demo needs no download. Three kinds of diagram:
// counting shapes, reading a bar chart, and finding the number that labels a shape. Each image
// carries one to three multiple-choice questions with four choices and the answer key
// ("Answer: C").
// Thread-safety: plain functions.
#pragma once

#include <cstdint>
#include <string>

#include "common/status.h"
#include "table/record_batch.h"

namespace structflow::demo {

struct DatasetOptions {
  int images = 300;
  uint64_t seed = 7;
  int width = 448;
  int height = 336;
};

// The schema of the generated table.
table::Schema DatasetSchema();
// Draws the images (PNG) and writes the questions; the same options give the same bytes.
Result<table::RecordBatch> GenerateDataset(const DatasetOptions& options);

}  // namespace structflow::demo

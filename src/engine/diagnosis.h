// What went wrong with a server, and what to change: one diagnosis shared by `run` (its fail-fast
// stop after the first rows all fail the same way) and `doctor` (its chat check), so both say the
// same fix for the same failure.
// Thread-safety: pure functions.
#pragma once

#include <string>

#include "common/row_error.h"

namespace structflow::engine {

// What the diagnosis knows about the job beside the error itself.
struct DiagnosisContext {
  std::string model;        // the model asked for
  bool has_images = false;  // the job sends images
};

// The fix for `error`: the flag to pass, the server option to change, or the check to run.
std::string AdviseFix(const RowError& error, const DiagnosisContext& context);

}  // namespace structflow::engine

// What went wrong with a server, and what to change: one diagnosis shared by `run` (its fail-fast
// stop after the first rows all fail the same way, and its preflight) and `doctor` (its chat and
// image checks), so both say the same fix for the same failure. Fixes are per server family:
// llama-server needs --mmproj for images, vLLM a vision model and --limit-mm-per-prompt.
// Thread-safety: pure functions.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "client/error_class.h"
#include "client/server_family.h"
#include "common/row_error.h"

namespace structflow::engine {

// What the diagnosis knows about the job beside the error itself.
struct DiagnosisContext {
  std::string model;        // the model asked for
  bool has_images = false;  // the job sends images
  client::ServerFamily family = client::ServerFamily::kUnknown;
  std::vector<std::string> served_models;  // from /v1/models, when known
  bool fetch_images = false;               // --fetch-images: image URLs are downloaded here
};

// Whether servers of `family` download an http(s) image URL themselves (so structflow can pass
// it through) or take images only inline (so structflow must fetch it: --fetch-images). Read
// from each server's source; see the comment in diagnosis.cpp.
bool FamilyFetchesImageUrls(client::ServerFamily family);

// What an error means: ClassifyHttpError on its status and message for HTTP errors.
client::ErrorClass ClassifyRowError(const RowError& error);

// The fix for `error`: the flag to pass, the server option to change, or the check to run.
std::string AdviseFix(const RowError& error, const DiagnosisContext& context);

// The fix for one meaning (the part of AdviseFix for HTTP errors); `error` supplies n_ctx.
std::string AdviseFix(const client::ErrorClass& error, const DiagnosisContext& context);

// The served name closest to `wanted` (case-insensitive edit distance, a name containing the
// other preferred), or empty when none is close (more than half the characters differ).
std::string ClosestName(std::string_view wanted, const std::vector<std::string>& names);

}  // namespace structflow::engine

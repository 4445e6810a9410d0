// What a server says about itself: the models it serves (GET /models), shared by `run` (to pick
// the model) and `doctor`.
// Thread-safety: plain functions; each call makes its own requests.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "client/client.h"
#include "common/status.h"

namespace structflow::engine {

struct ModelInfo {
  std::string id;
  int64_t max_model_len = 0;  // 0 when the server does not say (vLLM does)
};

// GET /models from the first endpoint that answers. Errors name the endpoint and the fix.
Result<std::vector<ModelInfo>> ListModels(const client::ClientOptions& options);
// "a, b, c"
std::string ModelNames(const std::vector<ModelInfo>& models);

}  // namespace structflow::engine

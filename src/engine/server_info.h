// What a server says about itself: the models it serves (GET /models), shared by `run` (to pick
// the model) and `doctor`.
// Thread-safety: plain functions; each call makes its own requests.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "client/client.h"
#include "client/server_load.h"
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

// A server's queue (client/server_load.h: ParseServerLoad reads it from /metrics).
using client::ServerLoad;

// The queue of every endpoint (GET /metrics at the server's root, beside /v1), summed. An error
// when one does not answer or reports no queue. One attempt each, with `timeout_s`
// (client::FetchServerLoadOnce).
Result<ServerLoad> FetchServerLoad(const client::ClientOptions& options, double timeout_s);

}  // namespace structflow::engine

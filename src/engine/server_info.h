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

// A server's queue from its Prometheus /metrics: requests running (holding batch slots) and
// waiting for a slot. Read from vLLM (vllm:num_requests_running, vllm:num_requests_waiting; also
// `structflow sim`), SGLang (sglang:num_running_reqs, sglang:num_queue_reqs) and llama.cpp's
// server started with --metrics (llamacpp:requests_processing, llamacpp:requests_deferred);
// values of several label sets (models, engines) are summed.
struct ServerLoad {
  int64_t running = 0;
  int64_t waiting = 0;
};

// Nothing when the text holds neither a running nor a waiting metric of these servers.
std::optional<ServerLoad> ParseServerLoad(std::string_view metrics_text);

// The queue of every endpoint (GET /metrics at the server's root, beside /v1), summed. An error
// when one does not answer or reports no queue. One attempt each, with `timeout_s`.
Result<ServerLoad> FetchServerLoad(const client::ClientOptions& options, double timeout_s);

}  // namespace structflow::engine

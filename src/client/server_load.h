// What inference servers say about their load and size, read from their own endpoints: the queue
// (Prometheus /metrics) and the number of requests they run at once (llama.cpp /props, SGLang
// /get_server_info). Pure parsing; ServerLoadPoller (server_load_poller.h) does the requests.
// Thread-safety: plain functions.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace structflow::client {

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

// How many requests a server runs at once, as it publishes it.
struct ServerSlots {
  int slots = 0;  // 0: not published
  // The server's HTTP layer binds a worker thread to each kept-alive connection (llama.cpp's
  // cpp-httplib), so connections beyond its thread pool wait: keep them to slots + 1.
  bool binds_connections = false;
  std::string source;  // "llama.cpp /props total_slots", for the log
};

// llama.cpp's GET /props: `total_slots` (its --parallel), read from ggml-org/llama.cpp
// tools/server/README.md ("GET /props", the `total_slots` member) and server-http.cpp (the
// cpp-httplib thread pool: n_threads_http defaults to max(--parallel + 2, cores - 1) in older
// builds, + 4 in newer ones, which also add threads on demand). Nothing for any other body.
std::optional<ServerSlots> ParseLlamaCppProps(std::string_view body);

// SGLang's GET /get_server_info (python/sglang/srt/entrypoints/http_server.py, get_server_info:
// the server arguments, the scheduler info and `internal_states`, one per data-parallel rank):
// the sum of `internal_states[].max_running_requests` where the ranks report it, else the
// top-level `max_running_requests` argument when it is set (it is null when SGLang sizes the
// batch itself). Nothing for any other body.
std::optional<ServerSlots> ParseSglangServerInfo(std::string_view body);

}  // namespace structflow::client

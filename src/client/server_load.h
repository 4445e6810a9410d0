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
  // True: the server published its size, which adaptive concurrency does not go above. False:
  // the family's documented default (the server does not say), only where to start.
  bool ceiling = true;
};

// What a server publishes about itself at its own endpoint: its size, and its model's context
// and vision where that endpoint says them. The one reading of these bodies, shared by adaptive
// concurrency (ServerLoadPoller) and `run`'s preflight (engine/preflight.h).
struct ServerSelfReport {
  std::optional<ServerSlots> slots;  // nothing: the size is not published here
  int64_t context_length = 0;        // tokens per request; 0: not published here
  std::string context_source;        // "/props n_ctx", for messages
  std::optional<bool> vision;        // nothing: not published here
  std::string vision_source;
};

// llama.cpp's GET /props (ggml-org/llama.cpp tools/server/README.md "GET /props" and
// server-context.cpp): `total_slots` (its --parallel), `default_generation_settings.n_ctx` (the
// context of one slot) and `modalities.vision` (builds with libmtmd, April 2025 on). Its HTTP
// layer (server-http.cpp, cpp-httplib) serves each connection on one thread of a pool for as long
// as the connection is kept alive: n_threads_http defaults to max(--parallel + 2, cores - 1) in
// older builds; newer ones start max(--parallel + 4, cores - 1) and add a thread only when none
// is idle at the moment a connection arrives (vendor/cpp-httplib httplib.cpp ThreadPool::enqueue),
// so a burst of connections can still queue behind kept-alive ones. Nothing for a body that is
// not a JSON object.
std::optional<ServerSelfReport> ReadLlamaCppProps(std::string_view body);

// SGLang's GET /get_server_info (python/sglang/srt/entrypoints/http_server.py, get_server_info:
// the server arguments, the scheduler info and `internal_states`, one per data-parallel rank):
// slots are the sum of `internal_states[].max_running_requests` where the ranks report it, else
// the top-level `max_running_requests` argument when it is set (it is null when SGLang sizes the
// batch itself); `context_length` is the server argument. Nothing for a body that is not a JSON
// object.
std::optional<ServerSelfReport> ReadSglangServerInfo(std::string_view body);

// Ollama's GET /api/version (`{"version":"0.12.6"}`, server/routes.go): Ollama publishes no
// slot count, so this is its documented default. It runs OLLAMA_NUM_PARALLEL requests at once
// per loaded model and queues the rest (up to OLLAMA_MAX_QUEUE, 512, then 503); the default is
// 1 in ollama/ollama envconfig/config.go (`NumParallel = Uint("OLLAMA_NUM_PARALLEL", 1)`; builds
// of 2024 chose 4 or 1 by free memory when unset). A start, not a ceiling: the server may have
// been given more. Nothing for any other body.
std::optional<ServerSlots> ParseOllamaVersion(std::string_view body);

// The slot counts alone (ReadLlamaCppProps / ReadSglangServerInfo): nothing unless published.
std::optional<ServerSlots> ParseLlamaCppProps(std::string_view body);
std::optional<ServerSlots> ParseSglangServerInfo(std::string_view body);

}  // namespace structflow::client

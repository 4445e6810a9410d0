// The OpenAI-compatible server simulator, usable in-process (tests start it on port 0) and as the
// `structflow sim` command. It answers /v1/models, /v1/chat/completions (plain and streamed) and
// the chosen family's own endpoints (vLLM /health and /metrics; llama.cpp /props, /slots,
// /metrics with --metrics; SGLang /get_server_info, /get_model_info; Ollama /api/show, /api/tags,
// /api/version) like a server of that family and version, plus GET /structflow-sim/metrics (the
// simulator's own counters, in every family), with a latency model of continuous
// batching, llama.cpp's HTTP thread pool with keep-alive binding, and faults on request.
//
// Ownership: Server owns its listening socket, its I/O threads and every connection.
// Thread-safety: Start/Stop/Wait from one controlling thread; port(), base_url() and metrics()
// from any thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"

namespace structflow::sim {

struct SimOptions {
  std::string host = "127.0.0.1";
  int port = 0;  // 0: pick a free port
  std::vector<std::string> models = {"sim-vlm"};
  // "vllm-0.12" (structured_outputs + response_format), "vllm-0.10" (guided_* +
  // response_format), "openai" (response_format only), "llama.cpp", "llama.cpp-b4800", "sglang"
  // or "ollama" (see chat.h for what each honours).
  std::string api = "vllm-0.12";
  // Requests decoded at once (vLLM --max-num-seqs, llama.cpp -np, SGLang
  // --max-running-requests, OLLAMA_NUM_PARALLEL); 0: the family's default (chat.h DefaultsFor).
  int max_num_seqs = 0;
  // >= 0: fixed service time per request, no batching model beyond max_num_seqs slots.
  double latency_ms = -1;
  // Batching model (used when latency_ms < 0).
  double prefill_ms_per_1k_tokens = 20;
  double decode_ms_per_token = 10;
  double decode_batch_slowdown = 1.0;  // decode time grows by this factor at a full batch
  int bytes_per_text_token = 4;
  int tokens_per_image = 576;
  int max_model_len = 8192;
  int limit_mm_per_prompt = 1;  // images per prompt; vLLM's --limit-mm-per-prompt
  bool image_support = true;    // false: a text-only model that rejects images
  bool chat_template = true;    // false: a base model without a chat template (chats get a 400)
  // false: /metrics without the queue gauges (vllm:num_requests_running/_waiting), like a server
  // that does not report its queue (llama.cpp without --metrics, a gateway in front)
  bool queue_metrics = true;
  // /metrics served at all (llama.cpp --metrics, SGLang --enable-metrics); unset: the family's
  // default (vLLM yes, llama.cpp and SGLang no, Ollama never).
  std::optional<bool> metrics;
  // Chance of free whitespace at each place a JSON grammar allows it; < 0: the family's default.
  double json_whitespace = -1;
  // HTTP worker threads, each bound to one connection until it has been idle keep_alive_s (as
  // cpp-httplib does in llama-server); connections beyond them wait. -1: the family's default
  // (llama.cpp max(slots + 2, hardware threads - 1), others unbounded); 0: unbounded.
  int http_threads = -1;
  // With a pool: threads in all, the dynamic ones included (started for a connection that
  // arrives when no thread is idle; newer llama.cpp builds allow http_threads + 1024). -1: the
  // family's default (llama.cpp http_threads + 1024, llama.cpp-b4800 http_threads: a fixed pool).
  int http_threads_max = -1;
  // With a pool: how long a woken thread takes to run (the scheduler's wake-up latency): a
  // connection arriving meanwhile counts that thread as idle, so it starts no thread of its own.
  double http_thread_wake_ms = 0.5;
  double keep_alive_s = 5;
  // Prefix caching, on by default as on the servers (vLLM --no-enable-prefix-caching, SGLang
  // --disable-radix-cache turn it off): vLLM's hashed blocks, SGLang's radix tree (see
  // prefix_cache.h); llama.cpp and Ollama get none. Prefill is charged only for the prompt
  // tokens not found cached.
  bool prefix_caching = true;
  // vLLM --block-size / SGLang --page-size; 0: the family's default (16, 1).
  int block_size = 0;
  // KV capacity in tokens (vLLM num_gpu_blocks x block size, SGLang --max-total-tokens).
  int64_t kv_cache_tokens = 262144;
  // usage.prompt_tokens_details.cached_tokens in answers (vLLM --enable-prompt-tokens-details,
  // SGLang --enable-cache-report; both off by default, and then the field is null).
  bool report_cached_tokens = false;
  // "429:0.1,500:0.05,503:0.02,reset:0.02,hang:0.01,garbage:0.01,length:0.02"
  std::string faults;
  uint64_t seed = 0;
  int threads = 2;                   // I/O threads
  int retry_after_s = 1;             // the Retry-After header of a 429 fault, in seconds
  size_t max_body_bytes = 64 << 20;  // larger request bodies get 413
};

struct SimMetrics {
  uint64_t requests_total = 0;   // every HTTP request received
  uint64_t chat_requests = 0;    // POST /v1/chat/completions received
  uint64_t running = 0;          // requests holding a slot now
  uint64_t waiting = 0;          // requests queued for a slot now
  double busy_slot_seconds = 0;  // integral of running slots over time
  // Simulated GPU time: each request's modelled service time (its prefill of the tokens not
  // cached plus its decode) over max_num_seqs, since the batching model's times are those of
  // a request sharing the GPU with a full batch. What a benchmark reads as GPU cost.
  double gpu_busy_seconds = 0;
  uint64_t prefix_cache_queries = 0;  // prompt tokens looked up in the prefix cache
  uint64_t prefix_cache_hits = 0;     // of them, found cached (prefill skipped)
  double kv_cache_usage = 0;          // share of the KV capacity running requests hold
  uint64_t prompt_tokens = 0;
  uint64_t generation_tokens = 0;
  uint64_t connections = 0;    // open client connections now
  uint64_t responses_200 = 0;  // responses by status (faults included)
  uint64_t responses_4xx = 0;
  uint64_t responses_5xx = 0;
  uint64_t faults = 0;             // requests given a fault from --faults
  uint64_t http_busy = 0;          // connections holding an HTTP worker thread (with a pool)
  uint64_t http_waiting = 0;       // connections waiting for one
  uint64_t finished_requests = 0;  // chat requests answered after holding a slot
};

// Raises this process's soft limit on open files to the hard limit, so the server can hold
// thousands of connections. Server::Start calls it; harmless to call again.
void RaiseOpenFileLimit();

class Server {
 public:
  virtual ~Server() = default;
  // Binds, starts the I/O threads and returns once listening.
  static Result<std::unique_ptr<Server>> Start(const SimOptions& options);

  virtual int port() const = 0;
  // "http://HOST:PORT/v1"
  virtual std::string base_url() const = 0;
  virtual SimMetrics metrics() const = 0;
  // Stops accepting, closes connections, joins threads. Idempotent; the destructor calls it.
  virtual void Stop() = 0;
};

}  // namespace structflow::sim

// `structflow sim`: the OpenAI-compatible server simulator as a command (see sim/server.h).
#include <pthread.h>

#include <CLI/CLI.hpp>
#include <csignal>
#include <cstdio>
#include <memory>

#include "cli/commands.h"
#include "common/text.h"
#include "sim/chat.h"
#include "sim/server.h"

namespace structflow::cli {

void AddSimCommand(CLI::App& app, int* exit_code) {
  auto o = std::make_shared<sim::SimOptions>();
  auto models = std::make_shared<std::vector<std::string>>();
  auto no_images = std::make_shared<bool>(false);
  auto* sub = app.add_subcommand(
      "sim",
      "Run an OpenAI-compatible server that behaves like vLLM, llama.cpp's llama-server, SGLang\n"
      "or Ollama (--api), with no GPU and no model: answers are drawn at random (deterministic\n"
      "under --seed) but always fit the constraint that server honours, and parameters it\n"
      "ignores give free text. It validates like that server (unknown model, broken or\n"
      "unsupported image, context length: its statuses, wording and error body), serves its own\n"
      "endpoints and metrics, simulates continuous batching (and llama.cpp's HTTP thread pool),\n"
      "and injects faults on request. Use it to test a pipeline or measure a client before\n"
      "paying for GPU time. Once listening it prints one line `listening on\n"
      "http://HOST:PORT/v1`; Ctrl-C or SIGTERM stops it.\n\n"
      "Endpoints: GET /v1/models, POST /v1/chat/completions (stream too); vllm: /health,\n"
      "/metrics; llama.cpp: /health, /props, /slots, /metrics (--metrics); sglang: /health,\n"
      "/get_server_info, /get_model_info, /metrics (--enable-metrics); ollama: /api/chat, "
      "/api/show,\n"
      "/api/tags, /api/ps, /api/version. Every family: GET /structflow-sim/metrics, the\n"
      "simulator's own counters (requests by status, chat requests), which no real server has.\n\n"
      "Examples:\n"
      "  structflow sim --port 8000\n"
      "  structflow sim --port 0 --latency-ms 50 --max-num-seqs 64\n"
      "  structflow sim --api vllm-0.10 --faults 429:0.05,reset:0.01 --seed 7\n"
      "  structflow sim --api llama.cpp --parallel 4 --metrics --no-image-support\n");
  sub->add_option("--host", o->host, "Address to listen on (0.0.0.0 for every interface)")
      ->capture_default_str();
  sub->add_option("--port", o->port, "TCP port; 0 picks a free one (read it from the first line)")
      ->capture_default_str();
  sub->add_option("--model", *models,
                  "Model name to serve; repeat for several (default: sim-vlm). Requests naming "
                  "another model get vLLM's 404");
  sub->add_option("--api", o->api,
                  "Which server to imitate (its parameters, errors, endpoints, metrics, slots and "
                  "HTTP handling; see src/sim/README.md). vllm-0.12: honours response_format and "
                  "structured_outputs{json,choice,regex}, ignores guided_*. vllm-0.10: honours "
                  "response_format and guided_json/guided_choice/guided_regex. openai: "
                  "response_format only. llama.cpp: response_format json_schema/json_object, "
                  "top-level json_schema and grammar; unanchored schema patterns accept any "
                  "string. llama.cpp-b4800: as llama.cpp but ignores response_format json_schema "
                  "(builds before March 2025). sglang: response_format, regex, ebnf. ollama: "
                  "response_format. Ignored parameters give free-text answers, as on a real server")
      ->capture_default_str()
      ->check(CLI::IsMember(sim::ApiNames()));
  sub->add_option("--max-num-seqs,--parallel", o->max_num_seqs,
                  "Batch slots: at most this many requests run at once; the rest wait in order "
                  "(vLLM --max-num-seqs, llama.cpp -np, SGLang --max-running-requests, "
                  "OLLAMA_NUM_PARALLEL). 0: the family's default (vllm/sglang 256, llama.cpp 4, "
                  "llama.cpp-b4800 1, ollama 1)")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  sub->add_option("--json-whitespace", o->json_whitespace,
                  "Chance of free whitespace at each place the JSON grammar allows it (spaces and "
                  "newlines, one completion token per character, so max_tokens can cut the answer "
                  "with finish_reason length). Negative: the family's default (llama.cpp and "
                  "ollama 0.15, others 0)")
      ->capture_default_str();
  sub->add_option("--http-threads", o->http_threads,
                  "HTTP worker threads always running, each bound to a kept-alive connection "
                  "until it has been idle --keep-alive-s (llama.cpp's cpp-httplib pool); more "
                  "connections wait unless a thread can be added (--http-threads-max). -1: the "
                  "family's default (llama.cpp max(slots + 4, hardware threads - 1), "
                  "llama.cpp-b4800 max(slots + 2, hardware threads - 1), others none); 0: none")
      ->capture_default_str();
  sub->add_option("--http-threads-max", o->http_threads_max,
                  "With --http-threads: threads in all; a connection that arrives when no thread "
                  "is idle starts one, up to this (newer llama.cpp builds). -1: the family's "
                  "default (llama.cpp --http-threads + 1024, llama.cpp-b4800 a fixed pool)")
      ->capture_default_str();
  sub->add_option("--http-thread-wake-ms", o->http_thread_wake_ms,
                  "With --http-threads: how long a woken thread takes to run; connections "
                  "arriving meanwhile count it as idle, start no thread and may wait")
      ->capture_default_str();
  sub->add_option("--keep-alive-s", o->keep_alive_s,
                  "With --http-threads: seconds an idle kept-alive connection holds its thread")
      ->capture_default_str();
  auto metrics_on = std::make_shared<bool>(false);
  sub->add_flag("--metrics,--enable-metrics", *metrics_on,
                "Serve /metrics where the family needs asking (llama.cpp --metrics, SGLang "
                "--enable-metrics; vLLM always serves it, Ollama never)");
  sub->add_option("--latency-ms", o->latency_ms,
                  "Fixed service time per request in ms (for tests and benchmarks). Negative: use "
                  "the batching model below (prefill + decode)")
      ->capture_default_str();
  sub->add_option("--prefill-ms-per-1k", o->prefill_ms_per_1k_tokens,
                  "Batching model: prefill time per 1,000 prompt tokens, in ms")
      ->capture_default_str();
  sub->add_option("--decode-ms-per-token", o->decode_ms_per_token,
                  "Batching model: decode time per output token with one request running, in ms")
      ->capture_default_str();
  sub->add_option("--decode-batch-slowdown", o->decode_batch_slowdown,
                  "Batching model: decode time per token grows linearly with the running batch, "
                  "by this fraction at a full batch (1.0: twice as slow)")
      ->capture_default_str();
  sub->add_option("--bytes-per-token", o->bytes_per_text_token,
                  "Text tokens are estimated as bytes / this")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  sub->add_option("--tokens-per-image", o->tokens_per_image,
                  "Prompt tokens counted for each image (576 is LLaVA-1.5's)")
      ->capture_default_str();
  sub->add_option("--max-model-len", o->max_model_len,
                  "Context length: prompt plus max_tokens over this is vLLM's 400")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  sub->add_option("--limit-mm-per-prompt", o->limit_mm_per_prompt,
                  "Most images allowed in one prompt (vLLM's --limit-mm-per-prompt); more is a 400")
      ->capture_default_str();
  auto no_template = std::make_shared<bool>(false);
  sub->add_flag("--no-chat-template", *no_template,
                "Act as a base model without a chat template: vLLM and SGLang answer every chat "
                "with a 400; llama.cpp (chatml fallback) and Ollama answer anyway");
  auto no_queue = std::make_shared<bool>(false);
  sub->add_flag("--no-queue-metrics", *no_queue,
                "Leave the queue gauges (vllm:num_requests_running/_waiting) out of /metrics, "
                "like a server that does not report its queue");
  sub->add_flag("--no-image-support", *no_images,
                "Act as a text-only model: an image is the family's error (vLLM and SGLang 400, "
                "llama.cpp 500 'provide the mmproj', Ollama 500)");
  auto no_prefix_cache = std::make_shared<bool>(false);
  sub->add_flag("--no-prefix-caching,--no-enable-prefix-caching,--disable-radix-cache",
                *no_prefix_cache,
                "Turn prefix caching off (on by default, as on vLLM and SGLang; llama.cpp and "
                "Ollama families have none here): every prompt token is prefilled");
  sub->add_option("--block-size,--page-size", o->block_size,
                  "Prefix cache granularity in tokens: vLLM's --block-size (16), SGLang's "
                  "--page-size (1); 0: the family's default")
      ->check(CLI::NonNegativeNumber);
  sub->add_option("--kv-cache-tokens,--max-total-tokens", o->kv_cache_tokens,
                  "KV cache capacity in tokens (vLLM: GPU blocks x block size; SGLang "
                  "--max-total-tokens); unused cached prefixes are evicted, least recently used "
                  "first, to make room")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  sub->add_flag("--enable-prompt-tokens-details,--enable-cache-report", o->report_cached_tokens,
                "Report usage.prompt_tokens_details.cached_tokens (vLLM and SGLang flags; off by "
                "default, as there: the field is then null)");
  sub->add_option("--faults", o->faults,
                  "Faults to inject, as NAME:RATE,... with rates adding up to at most 1. Names: "
                  "429 (with Retry-After), 500, 503, reset (connection reset mid-response), hang "
                  "(no answer ever), garbage (200 with a non-JSON body), length (answer cut at "
                  "max_tokens, finish_reason length). Example: 429:0.1,reset:0.02");
  sub->add_option("--retry-after", o->retry_after_s, "Retry-After seconds sent with 429 faults")
      ->capture_default_str();
  sub->add_option("--seed", o->seed,
                  "Seed for answers and faults: the same seed and requests give the same run")
      ->capture_default_str();
  sub->add_option("--threads", o->threads, "I/O threads")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);

  sub->callback([o, models, no_images, no_template, no_queue, metrics_on, no_prefix_cache,
                 exit_code] {
    if (!models->empty()) o->models = *models;
    o->prefix_caching = !*no_prefix_cache;
    if (*metrics_on) o->metrics = true;
    o->image_support = !*no_images;
    o->chat_template = !*no_template;
    o->queue_metrics = !*no_queue;
    // Block the stop signals before any thread starts, so only sigwait below receives them.
    sigset_t signals;
    sigemptyset(&signals);
    sigaddset(&signals, SIGINT);
    sigaddset(&signals, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &signals, nullptr);
    auto server = sim::Server::Start(*o);
    if (!server.ok()) {
      std::fprintf(stderr, "structflow sim: %s\n", ForTerminal(server.status().message()).c_str());
      *exit_code = 1;
      return;
    }
    std::printf("listening on %s\n", (*server)->base_url().c_str());
    std::fflush(stdout);
    int sig = 0;
    sigwait(&signals, &sig);
    (*server)->Stop();
    *exit_code = 0;
  });
}

}  // namespace structflow::cli

// Preflight: what a server says about itself, learnt before a job sends row 1, and the job
// checked against it. A model name the server does not serve, images for a text-only server
// and prompts longer than the context stop the job here, with the fix, instead of failing
// every row. Each request is short (a hung server costs seconds) and stoppable.
//
// Where each family publishes what (read from the servers' source):
//   family      GET /v1/models data[].owned_by: "vllm" (vLLM entrypoints/openai protocol.py
//               ModelCard), "sglang" (SGLang srt/entrypoints/openai/protocol.py ModelCard),
//               "llamacpp" (llama.cpp tools/server server-context.cpp); Ollama answers
//               GET /api/version (server/routes.go) and lists models owned by their namespace.
//   context     vLLM and SGLang: data[].max_model_len; llama.cpp: data[].meta.n_ctx (per slot;
//               newer builds) and GET /props default_generation_settings.n_ctx; Ollama:
//               POST /api/show model_info "<arch>.context_length" (the model's, not num_ctx).
//               SGLang: GET /get_server_info context_length.
//   vision      llama.cpp: GET /props modalities.vision (and "models"[].capabilities
//               "multimodal"); Ollama: POST /api/show capabilities "vision"; SGLang:
//               GET /get_model_info has_image_understanding. vLLM publishes nothing: the dialect
//               probe sends one small image instead.
//   slots       llama.cpp: GET /props total_slots (the -np slot count); SGLang:
//               /get_server_info max_running_requests.
// Thread-safety: plain functions; each call makes its own requests from the calling thread.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "client/client.h"
#include "client/server_family.h"
#include "common/status.h"
#include "engine/diagnosis.h"
#include "engine/quick_call.h"
#include "engine/server_info.h"

namespace structflow::engine {

struct ServerFacts {
  client::ServerFamily family = client::ServerFamily::kUnknown;
  std::vector<ModelInfo> models;  // GET /v1/models
  // The model the facts below are about (the job's, or the only one served).
  std::string model;
  int64_t context_length = 0;  // tokens per request (prompt + answer); 0: not published
  std::string context_source;  // where it was read, e.g. "/props n_ctx"
  std::optional<bool> vision;  // nothing: not published
  std::string vision_source;   // where it was read
  int total_slots = 0;         // llama.cpp's -np; 0: not published
  // Connections the server serves at once without one waiting for an HTTP thread (llama.cpp's
  // cpp-httplib pool binds a thread to each kept-alive connection): its slots + 1, which its
  // smallest default pool (--parallel + 2) holds beside a poller's connection. 0: no such limit.
  int max_connections = 0;
};

// Learns the facts from the first endpoint: GET /v1/models, then the family's own endpoints.
// Only /v1/models must answer; the rest are best effort. `model` may be empty (the only one).
Result<ServerFacts> LearnServer(const client::ClientOptions& options, const std::string& model,
                                double timeout_s, StopSource* stop);

struct JobNeeds {
  std::string model;
  bool has_images = false;
  int max_tokens = 0;
};

// Stops a job the server cannot run: a model it does not list (llama-server ignores the name,
// so this check is ours; the closest served name is suggested), images for a server that says
// it has no vision, --max-tokens at or above the context length. The message names the endpoint
// and the fix for the family.
Status CheckJobAgainstServer(const ServerFacts& facts, const JobNeeds& needs,
                             const std::string& endpoint);

// What the diagnosis needs from the facts (family, served names) for a job.
DiagnosisContext DiagnosisContextFor(const ServerFacts& facts, const std::string& model,
                                     bool has_images);

// `run`'s preflight: LearnServer (5 s per request), then CheckJobAgainstServer when the job
// names its model (or the server serves one). The facts on success; the error names the fix.
// A fixed --concurrency (options.concurrency) above the server's max_connections is logged as a
// warning with the fix: requests on the connections beyond its HTTP threads would wait seconds
// for a thread (the job crawls) unless the client is held to them (FitClientToServer).
Result<ServerFacts> RunPreflight(const client::ClientOptions& options, const JobNeeds& needs,
                                 StopSource* stop);

// Holds `client` to what the server at the first endpoint said about its size (facts from
// LearnServer): with a fixed --concurrency as well as in adaptive mode, requests to it stay
// within facts.max_connections (Client::SetEndpointSlots), so none waits on a connection the
// server's HTTP threads do not serve. Call it after RunPreflight, before the first request.
void FitClientToServer(const ServerFacts& facts, client::Client* client);

}  // namespace structflow::engine

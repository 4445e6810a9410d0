#include "engine/preflight.h"

#include <fmt/format.h>
#include <simdjson.h>

#include "client/server_load.h"
#include "common/json_writer.h"
#include "common/logging.h"
#include "engine/diagnosis.h"

namespace structflow::engine {
namespace {

using client::ServerFamily;

ServerFamily FamilyFromOwner(std::string_view owner) {
  if (owner == "vllm") return ServerFamily::kVllm;
  if (owner == "sglang") return ServerFamily::kSglang;
  if (owner == "llamacpp") return ServerFamily::kLlamaCpp;
  if (owner == "openai" || owner == "system" || owner == "openai-internal")
    return ServerFamily::kOpenAI;
  return ServerFamily::kUnknown;
}

// GET /v1/models: the names, max_model_len (vLLM, SGLang), meta.n_ctx (llama.cpp) and the
// family from owned_by.
Status ReadModels(const std::string& body, const std::string& endpoint, ServerFacts* facts) {
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  simdjson::dom::array data;
  if (parser.parse(body).get(doc) || doc["data"].get_array().get(data)) {
    return Status::Unavailable(
        fmt::format("{}/models did not answer with an OpenAI model list; is the endpoint an "
                    "OpenAI-compatible base URL ending in /v1?",
                    endpoint));
  }
  for (auto m : data) {
    std::string_view id;
    if (m["id"].get_string().get(id)) continue;
    ModelInfo info{std::string(id), 0};
    int64_t n = 0;
    if (!m["max_model_len"].get_int64().get(n)) info.max_model_len = n;
    if (info.max_model_len == 0 && !m["meta"]["n_ctx"].get_int64().get(n)) info.max_model_len = n;
    std::string_view owner;
    if (facts->family == ServerFamily::kUnknown && !m["owned_by"].get_string().get(owner))
      facts->family = FamilyFromOwner(owner);
    facts->models.push_back(std::move(info));
  }
  // llama.cpp also lists "models" (Ollama's shape) with "capabilities": "multimodal" when a
  // projector is loaded.
  simdjson::dom::array models;
  if (!doc["models"].get_array().get(models)) {
    for (auto m : models) {
      simdjson::dom::array caps;
      if (m["capabilities"].get_array().get(caps)) continue;
      bool mm = false;
      for (auto c : caps) {
        std::string_view s;
        if (!c.get_string().get(s) && (s == "multimodal" || s == "vision")) mm = true;
      }
      facts->vision = mm;
      facts->vision_source = "/v1/models capabilities";
    }
  }
  return Status::OK();
}

// What a server's own endpoint said (client/server_load.h: the one reading of /props and
// /get_server_info, shared with adaptive concurrency).
void TakeSelfReport(const client::ServerSelfReport& report, ServerFacts* facts) {
  if (report.slots) {
    facts->total_slots = report.slots->slots;
    facts->max_connections = report.slots->binds_connections ? report.slots->slots + 1 : 0;
  }
  if (report.vision) {
    facts->vision = report.vision;
    facts->vision_source = report.vision_source;
  }
  if (report.context_length > 0) {
    facts->context_length = report.context_length;
    facts->context_source = report.context_source;
  }
}

// Ollama POST /api/show (server/routes.go ShowHandler): capabilities ["completion", "vision",
// ...] and model_info "<architecture>.context_length".
void ReadOllamaShow(const std::string& body, ServerFacts* facts) {
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  if (parser.parse(body).get(doc)) return;
  simdjson::dom::array caps;
  if (!doc["capabilities"].get_array().get(caps)) {
    bool vision = false;
    for (auto c : caps) {
      std::string_view s;
      if (!c.get_string().get(s) && s == "vision") vision = true;
    }
    facts->vision = vision;
    facts->vision_source = "/api/show capabilities";
  }
  simdjson::dom::object info;
  if (!doc["model_info"].get_object().get(info)) {
    for (auto field : info) {
      std::string_view key = field.key;
      int64_t n = 0;
      if (key.size() > 15 && key.substr(key.size() - 15) == ".context_length" &&
          !field.value.get_int64().get(n)) {
        facts->context_length = n;
        facts->context_source = "/api/show model_info";
      }
    }
  }
}

}  // namespace

Result<ServerFacts> LearnServer(const client::ClientOptions& options, const std::string& model,
                                double timeout_s, StopSource* stop) {
  ServerFacts facts;
  if (options.endpoints.empty()) return Status::InvalidArgument("no endpoint");
  const std::string& endpoint = options.endpoints[0];
  auto body = QuickGet(options, "/models", false, timeout_s, stop);
  if (!body.ok()) {
    if (body.status().code() == StatusCode::kCancelled) return body.status();
    return Status::Unavailable(
        fmt::format("{} does not answer ({}): start the server, or point --endpoint at it "
                    "(http://HOST:PORT/v1)",
                    endpoint, body.status().message()));
  }
  SF_RETURN_NOT_OK(ReadModels(*body, endpoint, &facts));
  facts.model = !model.empty() ? model : (facts.models.size() == 1 ? facts.models[0].id : "");
  for (const auto& m : facts.models) {
    if (m.id == facts.model && m.max_model_len > 0) {
      facts.context_length = m.max_model_len;
      facts.context_source = "/v1/models";
    }
  }
  if (facts.family == ServerFamily::kUnknown || facts.family == ServerFamily::kLlamaCpp) {
    auto props = QuickGet(options, "/props", true, timeout_s, stop);
    if (props.ok()) {
      facts.family = ServerFamily::kLlamaCpp;
      if (auto report = client::ReadLlamaCppProps(*props)) TakeSelfReport(*report, &facts);
    }
  }
  if (facts.family == ServerFamily::kUnknown) {
    auto version = QuickGet(options, "/api/version", true, timeout_s, stop);
    if (version.ok() && version->find("\"version\"") != std::string::npos) {
      facts.family = ServerFamily::kOllama;
    }
  }
  if (facts.family == ServerFamily::kSglang) {
    // SGLang http_server.py: GET /get_model_info (has_image_understanding) and
    // GET /get_server_info (the server args: context_length, max_running_requests).
    simdjson::dom::parser parser;
    simdjson::dom::element doc;
    auto info = QuickGet(options, "/get_model_info", true, timeout_s, stop);
    bool vision = false;
    if (info.ok() && !parser.parse(*info).get(doc) &&
        !doc["has_image_understanding"].get_bool().get(vision)) {
      facts.vision = vision;
      facts.vision_source = "/get_model_info has_image_understanding";
    }
    auto server = QuickGet(options, "/get_server_info", true, timeout_s, stop);
    if (server.ok()) {
      if (auto report = client::ReadSglangServerInfo(*server)) {
        // /v1/models max_model_len, when it said so, is the model's own figure: keep it.
        if (facts.context_length > 0) report->context_length = 0;
        TakeSelfReport(*report, &facts);
      }
    }
  }
  if (facts.family == ServerFamily::kOllama && !facts.model.empty()) {
    client::ClientOptions root = options;
    root.endpoints = {ServerRoot(endpoint)};
    std::string request;
    JsonWriter w(&request);
    w.BeginObject().Key("model").String(facts.model).EndObject();
    auto show = QuickCall(root, client::Request{0, "/api/show", request}, timeout_s, stop);
    if (show.ok() && show->ok()) ReadOllamaShow(show->body, &facts);
  }
  if (stop && stop->stopped()) return Status::Cancelled("stopped");
  return facts;
}

DiagnosisContext DiagnosisContextFor(const ServerFacts& facts, const std::string& model,
                                     bool has_images) {
  DiagnosisContext ctx;
  ctx.model = model;
  ctx.has_images = has_images;
  ctx.family = facts.family;
  for (const auto& m : facts.models) ctx.served_models.push_back(m.id);
  return ctx;
}

Status CheckJobAgainstServer(const ServerFacts& facts, const JobNeeds& needs,
                             const std::string& endpoint) {
  DiagnosisContext ctx = DiagnosisContextFor(facts, needs.model, needs.has_images);
  const std::string family(client::ServerFamilyName(facts.family));
  if (!needs.model.empty() && !facts.models.empty()) {
    // Ollama resolves a name without a tag to ":latest" (types/model/name.go ParseName).
    bool served = false;
    for (const auto& m : facts.models) {
      served = served || m.id == needs.model ||
               (facts.family == ServerFamily::kOllama &&
                needs.model.find(':') == std::string::npos && m.id == needs.model + ":latest");
    }
    if (!served) {
      client::ErrorClass e;
      e.meaning = client::ErrorMeaning::kUnknownModel;
      return Status::InvalidArgument(
          fmt::format("{} ({}) does not list model '{}' at /v1/models. Fix: {}", endpoint, family,
                      needs.model, AdviseFix(e, ctx)));
    }
  }
  if (needs.has_images && facts.vision.has_value() && !*facts.vision) {
    client::ErrorClass e;
    e.meaning = client::ErrorMeaning::kImageUnsupported;
    return Status::InvalidArgument(
        fmt::format("{} ({}) says its model takes no images ({}), and the job sends --image. "
                    "Fix: {}",
                    endpoint, family, facts.vision_source, AdviseFix(e, ctx)));
  }
  if (facts.context_length > 0 && needs.max_tokens >= facts.context_length) {
    client::ErrorClass e;
    e.meaning = client::ErrorMeaning::kContextOverflow;
    e.n_ctx = facts.context_length;
    return Status::InvalidArgument(fmt::format(
        "--max-tokens {} leaves no room for the prompt in the model's context of {} tokens "
        "({} {}). Fix: {}",
        needs.max_tokens, facts.context_length, endpoint, facts.context_source, AdviseFix(e, ctx)));
  }
  return Status::OK();
}

Result<ServerFacts> RunPreflight(const client::ClientOptions& options, const JobNeeds& needs,
                                 StopSource* stop) {
  SF_ASSIGN_OR_RAISE(ServerFacts facts, LearnServer(options, needs.model, 5.0, stop));
  JobNeeds resolved = needs;
  if (resolved.model.empty()) resolved.model = facts.model;
  SF_RETURN_NOT_OK(CheckJobAgainstServer(facts, resolved, options.endpoints[0]));
  if (options.concurrency > 0 && facts.max_connections > 0 &&
      options.concurrency > facts.max_connections) {
    // llama-server (tools/server/server-http.cpp) serves each connection on one cpp-httplib
    // thread for as long as it is kept alive; a connection beyond the threads is not read until
    // one of them has been idle 5 s or has served 100 requests.
    SF_LOG_WARN(
        "--concurrency {} is more than {} ({}) serves at once: it runs {} requests at once and "
        "gives each kept-alive connection one of its HTTP threads (--threads-http, by default a "
        "few more than --parallel), so requests on connections beyond them wait seconds for a "
        "thread. Fix: --concurrency {} (or leave --concurrency out: adaptive mode stays within "
        "it), or start llama-server with a larger --parallel",
        options.concurrency, options.endpoints[0], client::ServerFamilyName(facts.family),
        facts.total_slots, facts.max_connections);
  }
  return facts;
}

void FitClientToServer(const ServerFacts& facts, client::Client* client) {
  if (client == nullptr || (facts.total_slots <= 0 && facts.max_connections <= 0)) return;
  client->SetEndpointSlots(0, facts.total_slots, facts.max_connections);
}

}  // namespace structflow::engine

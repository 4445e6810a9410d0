#include "engine/server_info.h"

#include <fmt/format.h>
#include <simdjson.h>

#include "client/server_load_poller.h"

namespace structflow::engine {

Result<std::vector<ModelInfo>> ListModels(const client::ClientOptions& options) {
  SF_ASSIGN_OR_RAISE(std::string body, client::Get(options, "/models"));
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  simdjson::dom::array data;
  if (parser.parse(body).get(doc) || doc["data"].get_array().get(data)) {
    return Status::Unavailable(
        fmt::format("{}/models did not answer with an OpenAI model list; is the endpoint an "
                    "OpenAI-compatible base URL "
                    "ending in /v1?",
                    options.endpoints.empty() ? "" : options.endpoints[0]));
  }
  std::vector<ModelInfo> out;
  for (auto m : data) {
    std::string_view id;
    if (m["id"].get_string().get(id)) continue;
    ModelInfo info{std::string(id), 0};
    if (m["max_model_len"].get_int64().get(info.max_model_len)) info.max_model_len = 0;
    out.push_back(std::move(info));
  }
  return out;
}

std::string ModelNames(const std::vector<ModelInfo>& models) {
  std::string out;
  for (const auto& m : models) out += (out.empty() ? "" : ", ") + m.id;
  return out.empty() ? "(none)" : out;
}

Result<ServerLoad> FetchServerLoad(const client::ClientOptions& options, double timeout_s) {
  client::ServerLoadPollerOptions o;
  o.endpoints = options.endpoints;
  o.api_key = options.api_key;
  o.verify_tls = options.verify_tls;
  o.user_agent = options.user_agent;
  o.timeout_s = timeout_s;
  return client::FetchServerLoadOnce(o);
}

}  // namespace structflow::engine

#include "engine/server_info.h"

#include <fmt/format.h>
#include <simdjson.h>

#include <cstdlib>

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

std::optional<ServerLoad> ParseServerLoad(std::string_view text) {
  static constexpr std::string_view kRunning[] = {
      "vllm:num_requests_running", "sglang:num_running_reqs", "llamacpp:requests_processing"};
  static constexpr std::string_view kWaiting[] = {
      "vllm:num_requests_waiting", "sglang:num_queue_reqs", "llamacpp:requests_deferred"};
  auto is_one_of = [](std::string_view name, const auto& names) {
    for (std::string_view n : names) {
      if (name == n) return true;
    }
    return false;
  };
  ServerLoad load;
  bool seen = false;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t eol = text.find('\n', pos);
    if (eol == std::string_view::npos) eol = text.size();
    std::string_view line = text.substr(pos, eol - pos);
    pos = eol + 1;
    if (line.empty() || line[0] == '#') continue;
    size_t name_end = line.find_first_of("{ \t");
    if (name_end == std::string_view::npos) continue;
    std::string_view name = line.substr(0, name_end);
    bool running = is_one_of(name, kRunning);
    if (!running && !is_one_of(name, kWaiting)) continue;
    size_t at = name_end;
    if (line[at] == '{') {  // labels: skip to the closing brace outside quoted values
      bool quoted = false;
      for (++at; at < line.size(); ++at) {
        char c = line[at];
        if (quoted && c == '\\') {
          ++at;
        } else if (c == '"') {
          quoted = !quoted;
        } else if (c == '}' && !quoted) {
          break;
        }
      }
      ++at;
    }
    while (at < line.size() && (line[at] == ' ' || line[at] == '\t')) ++at;
    size_t end = line.find_first_of(" \t", at);
    std::string value(line.substr(at, end == std::string_view::npos ? end : end - at));
    char* stop = nullptr;
    double v = std::strtod(value.c_str(), &stop);
    if (value.empty() || stop != value.c_str() + value.size() || !(v >= 0)) continue;
    (running ? load.running : load.waiting) += static_cast<int64_t>(v + 0.5);
    seen = true;
  }
  if (!seen) return std::nullopt;
  return load;
}

Result<ServerLoad> FetchServerLoad(const client::ClientOptions& options, double timeout_s) {
  client::ClientOptions one = options;
  one.max_attempts = 1;
  one.connect_timeout_s = timeout_s;
  one.request_timeout_s = timeout_s;
  one.stall_timeout_s = timeout_s;
  ServerLoad total;
  for (const std::string& endpoint : options.endpoints) {
    // The metrics live at the server's root: "http://h:8000/v1" -> "http://h:8000/metrics".
    std::string root = endpoint;
    while (!root.empty() && root.back() == '/') root.pop_back();
    if (root.size() >= 3 && root.compare(root.size() - 3, 3, "/v1") == 0)
      root.resize(root.size() - 3);
    one.endpoints = {root};
    SF_ASSIGN_OR_RAISE(std::string body, client::Get(one, "/metrics"));
    std::optional<ServerLoad> load = ParseServerLoad(body);
    if (!load) {
      return Status::Unavailable(fmt::format("{}/metrics reports no request queue", root));
    }
    total.running += load->running;
    total.waiting += load->waiting;
  }
  return total;
}

}  // namespace structflow::engine

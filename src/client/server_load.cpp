#include "client/server_load.h"

#include <simdjson.h>

#include <cstdlib>
#include <string>

namespace structflow::client {

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

namespace {

// A positive integer member, or 0.
int PositiveInt(simdjson::dom::element e) {
  int64_t v = 0;
  if (e.get_int64().get(v) != simdjson::SUCCESS) {
    double d = 0;
    if (e.get_double().get(d) != simdjson::SUCCESS || !(d >= 1) || d > 1e9) return 0;
    v = static_cast<int64_t>(d);
  }
  return v >= 1 && v <= 1'000'000'000 ? static_cast<int>(v) : 0;
}

}  // namespace

std::optional<ServerSelfReport> ReadLlamaCppProps(std::string_view body) {
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  if (parser.parse(body.data(), body.size()).get(doc) != simdjson::SUCCESS || !doc.is_object()) {
    return std::nullopt;
  }
  ServerSelfReport report;
  simdjson::dom::element e;
  if (doc["total_slots"].get(e) == simdjson::SUCCESS) {
    if (int slots = PositiveInt(e); slots > 0) {
      report.slots = ServerSlots{slots, true, "llama.cpp /props total_slots"};
    }
  }
  if (doc["default_generation_settings"]["n_ctx"].get(e) == simdjson::SUCCESS) {
    if (int n = PositiveInt(e); n > 0) {
      report.context_length = n;
      report.context_source = "/props n_ctx";
    }
  }
  bool vision = false;
  if (doc["modalities"]["vision"].get_bool().get(vision) == simdjson::SUCCESS) {
    report.vision = vision;
    report.vision_source = "/props modalities";
  }
  return report;
}

std::optional<ServerSelfReport> ReadSglangServerInfo(std::string_view body) {
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  if (parser.parse(body.data(), body.size()).get(doc) != simdjson::SUCCESS || !doc.is_object()) {
    return std::nullopt;
  }
  ServerSelfReport report;
  simdjson::dom::array states;
  int sum = 0;
  if (doc["internal_states"].get_array().get(states) == simdjson::SUCCESS) {
    for (simdjson::dom::element s : states) {
      simdjson::dom::element m;
      if (s["max_running_requests"].get(m) == simdjson::SUCCESS) sum += PositiveInt(m);
    }
  }
  simdjson::dom::element e;
  if (sum > 0) {
    report.slots =
        ServerSlots{sum, false, "SGLang /get_server_info internal_states max_running_requests"};
  } else if (doc["max_running_requests"].get(e) == simdjson::SUCCESS) {
    if (int slots = PositiveInt(e); slots > 0) {
      report.slots = ServerSlots{slots, false, "SGLang /get_server_info max_running_requests"};
    }
  }
  if (doc["context_length"].get(e) == simdjson::SUCCESS) {
    if (int n = PositiveInt(e); n > 0) {
      report.context_length = n;
      report.context_source = "/get_server_info context_length";
    }
  }
  return report;
}

std::optional<ServerSlots> ParseOllamaVersion(std::string_view body) {
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  std::string_view version;
  if (parser.parse(body.data(), body.size()).get(doc) != simdjson::SUCCESS ||
      doc["version"].get_string().get(version) != simdjson::SUCCESS || version.empty()) {
    return std::nullopt;
  }
  ServerSlots slots;
  slots.slots = 1;
  slots.source = "Ollama's default OLLAMA_NUM_PARALLEL; it does not publish its own";
  slots.ceiling = false;
  return slots;
}

std::optional<ServerSlots> ParseLlamaCppProps(std::string_view body) {
  auto report = ReadLlamaCppProps(body);
  return report ? report->slots : std::nullopt;
}

std::optional<ServerSlots> ParseSglangServerInfo(std::string_view body) {
  auto report = ReadSglangServerInfo(body);
  return report ? report->slots : std::nullopt;
}

}  // namespace structflow::client

#include "engine/doctor.h"

#include <fmt/format.h>
#include <simdjson.h>
#include <zlib.h>

#include <chrono>
#include <cstdlib>
#include <thread>

#include "client/api_key.h"
#include "client/client.h"
#include "common/base64.h"
#include "common/json_writer.h"
#include "engine/diagnosis.h"
#include "engine/server_info.h"
#include "schema/chat_completion.h"
#include "schema/constraint.h"

namespace structflow::engine {
namespace {

using Clk = std::chrono::steady_clock;

double Since(Clk::time_point t) { return std::chrono::duration<double>(Clk::now() - t).count(); }

// A 64x64 grey square on white as PNG: big enough for every vision processor (some refuse
// images under 28 pixels a side), small enough to cost nothing.
std::string TestPng() {
  const int n = 64;
  std::string raw;
  for (int y = 0; y < n; ++y) {
    raw.push_back(0);  // filter: none
    for (int x = 0; x < n; ++x) {
      bool in = x > 16 && x < 48 && y > 16 && y < 48;
      raw.append(3, static_cast<char>(in ? 96 : 255));
    }
  }
  uLongf zlen = compressBound(raw.size());
  std::string z(zlen, '\0');
  compress(reinterpret_cast<Bytef*>(z.data()), &zlen, reinterpret_cast<const Bytef*>(raw.data()),
           raw.size());
  z.resize(zlen);
  auto be32 = [](uint32_t v) {
    return std::string{static_cast<char>(v >> 24), static_cast<char>(v >> 16),
                       static_cast<char>(v >> 8), static_cast<char>(v)};
  };
  auto chunk = [&](const char* type, const std::string& data) {
    std::string body = std::string(type, 4) + data;
    uint32_t crc = crc32(0, reinterpret_cast<const Bytef*>(body.data()), body.size());
    return be32(data.size()) + body + be32(crc);
  };
  std::string ihdr = be32(n) + be32(n) + std::string{8, 2, 0, 0, 0};
  return std::string("\x89PNG\r\n\x1a\n", 8) + chunk("IHDR", ihdr) + chunk("IDAT", z) +
         chunk("IEND", "");
}

std::string ChatBody(const std::string& model, const std::string& text, int images,
                     const std::string& members, int max_tokens) {
  std::string body;
  JsonWriter w(&body);
  w.BeginObject().Key("model").String(model).Key("messages").BeginArray().BeginObject();
  w.Key("role").String("user").Key("content");
  if (images == 0) {
    w.String(text);
  } else {
    static const std::string url = "data:image/png;base64," + Base64Encode(TestPng());
    w.BeginArray().BeginObject().Key("type").String("text").Key("text").String(text).EndObject();
    for (int i = 0; i < images; ++i) {
      w.BeginObject()
          .Key("type")
          .String("image_url")
          .Key("image_url")
          .BeginObject()
          .Key("url")
          .String(url);
      w.EndObject().EndObject();
    }
    w.EndArray();
  }
  w.EndObject().EndArray().Key("max_tokens").Int(max_tokens).Key("temperature").Double(0);
  if (!members.empty()) body += "," + members;
  body += "}";
  return body;
}

// The server's error message from an OpenAI/vLLM error body, or the body itself.
std::string ErrorMessage(const client::Completion& c) {
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  std::string_view msg;
  if (!parser.parse(c.body).get(doc)) {
    if (!doc["message"].get_string().get(msg)) return std::string(msg);
    if (!doc["error"]["message"].get_string().get(msg)) return std::string(msg);
  }
  if (!c.body.empty() && c.body.size() < 300) return c.body;
  return client::DescribeError(c.error);
}

}  // namespace

bool DoctorReport::job_can_run() const {
  for (const auto& l : lines) {
    if (l.verdict == Verdict::kFail) return false;
  }
  return true;
}

std::string FormatCheckLine(const CheckLine& l) {
  const char* v = l.verdict == Verdict::kOk     ? "ok  "
                  : l.verdict == Verdict::kWarn ? "warn"
                                                : "FAIL";
  return fmt::format("  {}  {:<11} {}", v, l.name, l.text);
}

DoctorReport RunDoctor(const DoctorOptions& options, void (*print)(const CheckLine&)) {
  DoctorReport report;
  auto add = [&](std::string name, Verdict v, std::string text) {
    report.lines.push_back(CheckLine{std::move(name), v, std::move(text)});
    if (print) print(report.lines.back());
  };
  client::ClientOptions copts;
  std::string endpoint = !options.endpoint.empty() ? options.endpoint : "http://127.0.0.1:8000/v1";
  copts.endpoints = {endpoint};
  copts.max_attempts = 2;
  copts.connect_timeout_s = 5;
  copts.request_timeout_s = 120;
  copts.row_deadline_s = 180;
  auto key = client::ResolveApiKey(options.api_key, options.api_key_file, options.api_key_env);
  if (!key.ok()) {
    add("api key", Verdict::kFail, key.status().message());
    return report;
  }
  copts.api_key = *key;

  // 1. The server answers.
  auto t0 = Clk::now();
  auto models_body = client::Get(copts, "/models");
  if (!models_body.ok()) {
    add("server", Verdict::kFail,
        fmt::format("{} does not answer: {}. Start the server (e.g. `vllm serve MODEL`), or pass "
                    "--endpoint "
                    "http://HOST:PORT/v1",
                    endpoint, models_body.status().message()));
    return report;
  }
  add("server", Verdict::kOk,
      fmt::format("{} answers (GET /models in {:.0f} ms)", endpoint, 1000 * Since(t0)));

  // 2. The models it serves.
  auto listed = ListModels(copts);
  if (!listed.ok()) {
    add("models", Verdict::kFail, listed.status().message());
    return report;
  }
  std::string names = ModelNames(*listed);
  std::vector<std::string> models;
  for (const auto& m : *listed) models.push_back(m.id);
  std::string model = options.model;
  if (models.empty()) {
    add("models", Verdict::kFail,
        "the server serves no model: start it with one (vllm serve MODEL)");
    return report;
  }
  if (model.empty() && models.size() > 1) {
    add("models", Verdict::kFail, fmt::format("serves {}; pick one with --model", names));
    return report;
  }
  if (model.empty()) model = models[0];
  size_t idx = std::find(models.begin(), models.end(), model) - models.begin();
  if (idx == models.size()) {
    add("models", Verdict::kFail,
        fmt::format("'{}' is not served; it serves {}: pass --model with one of them", model,
                    names));
    return report;
  }
  add("models", Verdict::kOk, fmt::format("serves {}; using {}", names, model));
  report.max_model_len = (*listed)[idx].max_model_len;

  // 3. A plain chat works.
  t0 = Clk::now();
  auto chat = client::Call(
      copts, client::Request{0, "/chat/completions", ChatBody(model, "Say OK.", 0, "", 8)});
  double latency = Since(t0);
  if (!chat.ok() || !chat->ok()) {
    std::string msg = chat.ok() ? ErrorMessage(*chat) : chat.status().message();
    // The same diagnosis as `run`'s fail-fast stop, so both name the same fix.
    RowError e = chat.ok() ? chat->error : RowError{ErrorKind::kConnect, msg, 0, 0};
    e.message = msg;
    std::string fix = AdviseFix(e, DiagnosisContext{model, false});
    add("chat", Verdict::kFail, fmt::format("a plain chat failed: {}. Fix: {}", msg, fix));
    return report;
  }
  auto answer = schema::ParseChatCompletion(chat->body);
  if (!answer.ok()) {
    add("chat", Verdict::kFail,
        fmt::format("the answer is not a chat completion: {}", answer.status().message()));
    return report;
  }
  add("chat", Verdict::kOk, fmt::format("a plain chat answered in {:.2f} s", latency));

  // 4. Images.
  auto img = client::Call(
      copts, client::Request{0, "/chat/completions", ChatBody(model, "Describe.", 1, "", 8)});
  if (img.ok() && img->ok()) {
    report.images_accepted = true;
    auto two = client::Call(
        copts, client::Request{0, "/chat/completions", ChatBody(model, "Compare.", 2, "", 8)});
    std::string limit_text = "at least 2 images per prompt";
    if (two.ok() && !two->ok()) {
      std::string msg = ErrorMessage(*two);
      size_t at = msg.find("At most ");
      if (at != std::string::npos) report.image_limit = std::atoi(msg.c_str() + at + 8);
      limit_text =
          report.image_limit > 0
              ? fmt::format(
                    "at most {} image(s) per prompt (vLLM: raise with --limit-mm-per-prompt "
                    "'{{\"image\":N}}')",
                    report.image_limit)
              : fmt::format("a second image was refused: {}", msg);
    }
    add("images", Verdict::kOk, "an image is accepted; " + limit_text);
  } else {
    std::string msg = img.ok() ? ErrorMessage(*img) : img.status().message();
    add("images", Verdict::kWarn,
        fmt::format("images are refused ({}): text-only jobs work; for --image serve a vision "
                    "model (vLLM: a VLM, "
                    "with --limit-mm-per-prompt '{{\"image\":1}}')",
                    msg));
  }

  // 5. Structured-output dialects, checked by whether the answer really fits.
  auto constraint = schema::Constraint::FromChoices({"kiwi-7", "plum-3"});
  std::vector<std::string> ignored;
  for (auto d : {schema::Dialect::kVllm, schema::Dialect::kOpenAI, schema::Dialect::kVllmLegacy}) {
    std::string body = ChatBody(model, "Pick a fruit code.", 0, constraint->RequestMembers(d), 24);
    auto c = client::Call(copts, client::Request{0, "/chat/completions", std::move(body)});
    bool fits = false;
    if (c.ok() && c->ok()) {
      auto a = schema::ParseChatCompletion(c->body);
      table::Column col(constraint->OutputType());
      fits = a.ok() && constraint->ParseInto(a->content, d, &col).error.ok();
    }
    (fits ? report.dialects_honoured : ignored).push_back(std::string(schema::DialectName(d)));
  }
  auto join = [](const std::vector<std::string>& v) {
    std::string out;
    for (const auto& s : v) out += (out.empty() ? "" : ", ") + s;
    return out.empty() ? std::string("none") : out;
  };
  if (report.dialects_honoured.empty()) {
    add("structured", Verdict::kFail,
        "no structured-output dialect is honoured (the server ignores every constraint): on vLLM "
        "use a recent "
        "version with structured outputs enabled, or pass --dialect only if you know better");
  } else {
    add("structured", Verdict::kOk,
        fmt::format(
            "honours {}; ignores {}. `structflow run` picks this by itself (--dialect auto)",
            join(report.dialects_honoured), join(ignored)));
  }

  // 6. Context length.
  if (report.max_model_len > 0) {
    add("context", Verdict::kOk,
        fmt::format("{} tokens per request (prompt + --max-tokens; vLLM: --max-model-len)",
                    report.max_model_len));
  } else {
    add("context", Verdict::kWarn,
        "the server does not say its context length; keep prompts and --max-tokens modest");
  }

  // 7. Whether the server reports its queue, which adaptive concurrency follows.
  auto load = FetchServerLoad(copts, 5.0);
  if (load.ok()) {
    add("queue", Verdict::kOk,
        fmt::format("/metrics reports the queue ({} running, {} waiting): with no --concurrency, "
                    "structflow keeps the batch full and a small queue waiting",
                    load->running, load->waiting));
  } else {
    add("queue", Verdict::kWarn,
        fmt::format("{}: with no --concurrency, structflow adapts to latency alone, which fills a "
                    "big batch more slowly; expose the queue (vLLM and SGLang do by default; "
                    "llama-server: --metrics) or pass --concurrency N (the batch size, plus a "
                    "tenth)",
                    load.status().message()));
  }

  // 8. Latency and a suggested concurrency: throughput at a few levels of concurrency.
  std::string lat = fmt::format("one request {:.2f} s", latency);
  if (options.load_test) {
    double best_rate = 0;
    int best = 1;
    for (int n : {8, 32, 128}) {
      client::ClientOptions lo = copts;
      lo.concurrency = n;
      auto cl = client::Client::Make(lo);
      if (!cl.ok()) break;
      t0 = Clk::now();
      std::thread feeder([&] {
        for (int i = 0; i < n; ++i) {
          (*cl)->Submit(client::Request{static_cast<uint64_t>(i), "/chat/completions",
                                        ChatBody(model, "Say OK.", 0, "", 8)});
        }
        (*cl)->Close();
      });
      int ok = 0;
      while (auto c = (*cl)->NextCompletion()) ok += c->ok() ? 1 : 0;
      feeder.join();
      double rate = ok / std::max(Since(t0), 1e-6);
      lat += fmt::format("; {} at once {:.1f} req/s", n, rate);
      if (rate > best_rate * 1.3) {
        best_rate = rate;
        best = n;
      }
    }
    report.suggested_concurrency = best;
    lat += fmt::format(
        ". Suggested --concurrency {} or more; by default structflow adapts by itself", best);
  }
  add("latency", Verdict::kOk, lat);
  return report;
}

}  // namespace structflow::engine

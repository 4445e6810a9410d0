#include "engine/doctor.h"

#include <fmt/format.h>
#include <simdjson.h>

#include <chrono>
#include <cmath>
#include <cstdlib>
#include <optional>
#include <string_view>
#include <thread>
#include <vector>

#include "client/api_key.h"
#include "client/client.h"
#include "common/json_writer.h"
#include "engine/confidence.h"
#include "engine/diagnosis.h"
#include "engine/dialect_probe.h"
#include "engine/preflight.h"
#include "engine/probe_image.h"
#include "engine/quick_call.h"
#include "engine/server_info.h"
#include "schema/chat_completion.h"
#include "schema/constraint.h"
#include "schema/probe.h"

namespace structflow::engine {
namespace {

using Clk = std::chrono::steady_clock;

double Since(Clk::time_point t) { return std::chrono::duration<double>(Clk::now() - t).count(); }

std::string ChatBody(const std::string& model, const std::string& text, int images,
                     const std::string& members, int max_tokens) {
  std::string body;
  JsonWriter w(&body);
  w.BeginObject().Key("model").String(model).Key("messages").BeginArray().BeginObject();
  w.Key("role").String("user").Key("content");
  if (images == 0) {
    w.String(text);
  } else {
    const std::string& url = ProbeImageDataUrl();
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

// Whether prefix caching is on, from what the server publishes: vLLM's /metrics info gauge
// vllm:cache_config_info, whose labels are CacheConfig's fields (vllm/v1/metrics/loggers.py
// log_metrics_info; enable_prefix_caching="True"); SGLang's /get_server_info server args
// (disable_radix_cache). Nothing for other families, or when not published.
std::optional<bool> PrefixCachingOn(const client::ClientOptions& copts, client::ServerFamily f) {
  if (f == client::ServerFamily::kVllm) {
    auto metrics = QuickGet(copts, "/metrics", true, 5.0, nullptr);
    if (!metrics.ok()) return std::nullopt;
    const std::string& text = *metrics;
    for (size_t at = text.find("vllm:cache_config_info{"); at != std::string::npos;
         at = text.find("vllm:cache_config_info{", at + 1)) {
      const size_t end = text.find('}', at);
      const std::string_view labels(text.data() + at,
                                    (end == std::string::npos ? text.size() : end) - at);
      if (labels.find("enable_prefix_caching=\"True\"") != std::string_view::npos) return true;
      if (labels.find("enable_prefix_caching=\"False\"") != std::string_view::npos) return false;
    }
    return std::nullopt;
  }
  if (f == client::ServerFamily::kSglang) {
    auto info = QuickGet(copts, "/get_server_info", true, 5.0, nullptr);
    simdjson::dom::parser parser;
    simdjson::dom::element doc;
    bool disabled = false;
    if (info.ok() && !parser.parse(*info).get(doc) &&
        !doc["disable_radix_cache"].get_bool().get(disabled)) {
      return !disabled;
    }
  }
  return std::nullopt;
}

// The doctor's prefix-cache line: the same prompt twice (long enough to fill a few of vLLM's
// 16-token blocks), then what the second answer's usage.prompt_tokens_details.cached_tokens
// says, beside what the server publishes about its cache.
std::string PrefixCacheLine(const client::ClientOptions& copts, client::ServerFamily family,
                            const std::string& model, Verdict* verdict) {
  *verdict = Verdict::kOk;
  const std::string text =
      "structflow doctor checks the prefix cache: this same prompt is sent twice, and a server "
      "that reuses computed prompt prefixes computes it only once. Answer with OK.";
  std::optional<int64_t> cached;
  for (int i = 0; i < 2; ++i) {
    auto c =
        QuickCall(copts, client::Request{0, "/chat/completions", ChatBody(model, text, 0, "", 4)},
                  30, nullptr);
    if (!c.ok() || !c->ok()) {
      *verdict = Verdict::kWarn;
      return "could not check (the test request failed)";
    }
    auto a = schema::ParseChatCompletion(c->body);
    if (i == 1 && a.ok() && a->cached_tokens >= 0) cached = a->cached_tokens;
  }
  const std::optional<bool> on = PrefixCachingOn(copts, family);
  const char* enable = family == client::ServerFamily::kSglang
                           ? "SGLang: drop --disable-radix-cache"
                           : "vLLM: drop --no-enable-prefix-caching (on by default)";
  const char* report = family == client::ServerFamily::kSglang
                           ? "start SGLang with --enable-cache-report"
                           : "start vLLM with --enable-prompt-tokens-details";
  std::string out;
  if (on == false) {
    *verdict = Verdict::kWarn;
    out = fmt::format(
        "prefix caching is off: the questions on one image each compute it again. Fix: {}", enable);
  } else if (on == true || (cached && *cached > 0)) {
    out = "prefix caching is on: images (sent first) are computed once for the questions on them";
  } else {
    out = "the server does not say whether it caches prompt prefixes";
  }
  if (cached) {
    out += fmt::format(
        "; answers report cached prompt tokens ({} of the repeated prompt), shown in "
        "OUT.stats.json and the progress line",
        *cached);
  } else if (family == client::ServerFamily::kVllm || family == client::ServerFamily::kSglang) {
    out += fmt::format("; answers do not report cached prompt tokens (to see them: {})", report);
  } else {
    out += "; answers do not report cached prompt tokens";
  }
  return out;
}

// The server's error message from an OpenAI/vLLM error body, or the body itself.
std::string ErrorMessage(const client::Completion& c) {
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  std::string_view msg;
  if (!parser.parse(c.body).get(doc)) {
    if (!doc["message"].get_string().get(msg)) return client::ShortenForMessage(msg);
    if (!doc["error"]["message"].get_string().get(msg)) return client::ShortenForMessage(msg);
  }
  if (!c.body.empty()) return client::ShortenForMessage(c.body);
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

  // 1. The server answers, and what it says about itself (5 s per request: a hung server
  // ends doctor in seconds).
  auto t0 = Clk::now();
  auto learnt = LearnServer(copts, options.model, 5.0, nullptr);
  if (!learnt.ok()) {
    add("server", Verdict::kFail,
        fmt::format("{}. Start the server (e.g. `vllm serve MODEL`, `llama-server -m FILE`), or "
                    "pass --endpoint http://HOST:PORT/v1",
                    learnt.status().message()));
    return report;
  }
  const ServerFacts& facts = *learnt;
  add("server", Verdict::kOk,
      fmt::format("{} answers (GET /models in {:.0f} ms); the server is {}", endpoint,
                  1000 * Since(t0),
                  facts.family == client::ServerFamily::kUnknown
                      ? std::string("of a family structflow does not tell apart")
                      : std::string(client::ServerFamilyName(facts.family))));
  copts.family = facts.family;
  // Doctor's own requests: short enough that a server hanging after /models ends it soon.
  copts.max_attempts = 1;
  copts.request_timeout_s = 30;
  copts.stall_timeout_s = 30;
  copts.row_deadline_s = 31;

  // 2. The models it serves.
  std::string names = ModelNames(facts.models);
  std::vector<std::string> models;
  for (const auto& m : facts.models) models.push_back(m.id);
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
  DiagnosisContext ctx = DiagnosisContextFor(facts, model, false);
  size_t idx = std::find(models.begin(), models.end(), model) - models.begin();
  if (idx == models.size()) {
    client::ErrorClass unknown;
    unknown.meaning = client::ErrorMeaning::kUnknownModel;
    add("models", Verdict::kFail,
        fmt::format("'{}' is not served; it serves {}. Fix: {}", model, names,
                    AdviseFix(unknown, ctx)));
    return report;
  }
  add("models", Verdict::kOk, fmt::format("serves {}; using {}", names, model));
  report.max_model_len = facts.context_length;

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
    std::string fix = AdviseFix(e, ctx);
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
    client::ErrorClass refused;
    refused.meaning = client::ErrorMeaning::kImageUnsupported;
    add("images", Verdict::kWarn,
        fmt::format("images are refused ({}): text-only jobs work. For --image: {}", msg,
                    AdviseFix(refused, ctx)));
  }

  // 5. Structured-output dialects, checked by whether the answer really fits.
  // The same probe as `run --dialect auto` (an answer cut at max_tokens while still fitting is
  // asked again with more tokens, not called ignored), over the dialects of the family.
  std::vector<std::string> ignored;
  auto send = [&](const std::string& body) -> Result<std::string> {
    SF_ASSIGN_OR_RAISE(
        auto c, QuickCall(copts, client::Request{0, "/chat/completions", body}, 30, nullptr));
    if (c.ok()) return std::move(c.body);
    return Status::Unavailable(client::DescribeError(c.error));
  };
  for (auto d : DialectsToTry(facts.family)) {
    std::string outcome;
    auto v = schema::ProbeOneDialect(send, model, d, schema::ProbeOptions{}, &outcome);
    bool fits = v.ok() && *v == schema::ProbeVerdict::kHonoured;
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

  // 6. Log-probabilities, for --confidence: a two-choice question under the first honoured
  // dialect with logprobs and top_logprobs, as a job would ask.
  {
    auto choice = schema::Constraint::FromChoices({"yes", "no"});
    std::string members = R"("logprobs":true,"top_logprobs":5)";
    if (choice.ok() && !report.dialects_honoured.empty()) {
      auto d = schema::ParseDialect(report.dialects_honoured[0]);
      if (d.ok()) members = choice->RequestMembers(*d) + "," + members;
    }
    auto c = QuickCall(
        copts,
        client::Request{0, "/chat/completions",
                        ChatBody(model, "Is the sky blue? Answer yes or no.", 0, members, 16)},
        30, nullptr);
    const std::string note = LogprobsNote(facts.family);
    if (!c.ok() || !c->ok()) {
      add("logprobs", Verdict::kWarn,
          fmt::format("a request with logprobs was refused ({}): `run --confidence` cannot work "
                      "here. {}",
                      c.ok() ? ErrorMessage(*c) : c.status().message(), note));
    } else {
      auto answer = schema::ParseChatCompletion(c->body, true);
      bool top = false;
      double allowed = 0;  // the first token's top_logprobs mass on tokens starting yes or no
      if (answer.ok() && answer->has_logprobs && !answer->logprobs.empty()) {
        const auto& first = answer->logprobs[0];
        top = !first.top.empty();
        for (const auto& [t, lp] : first.top) {
          const std::string_view tv(t);
          for (std::string_view v : {"yes", "no", "\"yes", "\"no"}) {
            if (!tv.empty() && (v.substr(0, tv.size()) == tv || tv.substr(0, v.size()) == v)) {
              allowed += std::exp(lp);
              break;
            }
          }
        }
      }
      if (!answer.ok() || !answer->has_logprobs || answer->logprobs.empty()) {
        add("logprobs", Verdict::kWarn,
            "no log-probabilities in the answer (choices[0].logprobs is null): `run "
            "--confidence` would give null confidences. " +
                note);
      } else if (!top) {
        add("logprobs", Verdict::kWarn,
            "log-probabilities come without top_logprobs: `run --confidence` cannot compare the "
            "allowed values. " +
                note);
      } else {
        add("logprobs", Verdict::kOk,
            fmt::format("usable for `run --confidence` ({}; here the first answer token's "
                        "alternatives put {:.0f}% of their mass on allowed values{})",
                        note, 100 * allowed,
                        allowed < 0.995 ? ": reported before the grammar mask, renormalised by "
                                          "--confidence"
                                        : ""));
      }
    }
  }

  // 7. Context length.
  if (report.max_model_len > 0) {
    const char* flag =
        facts.family == client::ServerFamily::kLlamaCpp ? "llama-server: -c/--ctx-size, per slot"
        : facts.family == client::ServerFamily::kSglang ? "SGLang: --context-length"
        : facts.family == client::ServerFamily::kOllama ? "Ollama: the model's, num_ctx may be less"
                                                        : "vLLM: --max-model-len";
    add("context", Verdict::kOk,
        fmt::format("{} tokens per request (prompt + --max-tokens; from {}; {})",
                    report.max_model_len, facts.context_source, flag));
  } else {
    add("context", Verdict::kWarn,
        "the server does not say its context length; keep prompts and --max-tokens modest");
  }

  // 8. Whether the server reports its queue, which adaptive concurrency follows.
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

  // 9. Prefix caching: whether the server reuses a computed prompt prefix (an image asked about
  // several times is then computed once: structflow puts images first and sends the questions
  // on one image together), and whether its answers say how much (OUT.stats.json and the
  // progress line show it then).
  {
    Verdict v = Verdict::kOk;
    std::string text = PrefixCacheLine(copts, facts.family, model, &v);
    add("prefix", v, std::move(text));
  }

  // 10. Latency and a suggested concurrency: throughput at a few levels of concurrency.
  std::string lat = fmt::format("one request {:.2f} s", latency);
  if (options.load_test) {
    double best_rate = 0;
    int best = 1;
    // llama-server serves each kept-alive connection on one of its HTTP threads: more at once
    // than it holds measures requests waiting for a thread (the issue saw "128 at once 24 req/s"
    // on 4 slots), so its levels stop at what it holds, and the client is held to it too.
    std::vector<int> levels;
    for (int n : {8, 32, 128}) {
      const int m = facts.max_connections > 0 ? std::min(n, facts.max_connections) : n;
      if (levels.empty() || levels.back() != m) levels.push_back(m);
    }
    if (facts.max_connections > 0) {
      lat += fmt::format(" ({} holds {} connections at once: {} slots + 1)",
                         client::ServerFamilyName(facts.family), facts.max_connections,
                         facts.total_slots);
    }
    for (int n : levels) {
      client::ClientOptions lo = copts;
      lo.concurrency = n;
      auto cl = client::Client::Make(lo);
      if (!cl.ok()) break;
      FitClientToServer(facts, cl->get());
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
        ". Suggested --concurrency {}{}; by default structflow adapts by itself", best,
        facts.max_connections > 0 ? " (more would wait for its HTTP threads)" : " or more");
  }
  add("latency", Verdict::kOk, lat);
  return report;
}

}  // namespace structflow::engine

#include "schema/probe.h"

#include "common/json_writer.h"
#include "common/logging.h"
#include "schema/answer_prefix.h"
#include "schema/chat_completion.h"

namespace structflow::schema {
namespace {

// Two tokens that an unconstrained model would not answer with.
const std::vector<std::string> kProbeChoices = {"zqxv", "vjkq"};

const Constraint& ProbeConstraint() {
  static const Constraint c = *Constraint::FromChoices(kProbeChoices);
  return c;
}

std::string Body(const std::string& model, int max_tokens, const std::string& members,
                 const std::string& image_data_url) {
  std::string body;
  JsonWriter w(&body);
  w.BeginObject();
  w.Key("model").String(model);
  w.Key("messages").BeginArray();
  w.BeginObject().Key("role").String("user");
  if (image_data_url.empty()) {
    w.Key("content").String("Reply with one word.");
  } else {
    w.Key("content").BeginArray();
    w.BeginObject().Key("type").String("text").Key("text").String("Reply with one word.");
    w.EndObject();
    w.BeginObject().Key("type").String("image_url").Key("image_url").BeginObject();
    w.Key("url").String(image_data_url).EndObject().EndObject();
    w.EndArray();
  }
  w.EndObject();
  w.EndArray();
  w.Key("max_tokens").Int(max_tokens);
  w.Key("temperature").Int(0);
  w.EndObject();
  body.pop_back();  // the closing brace: the members go inside the object
  body += ',';
  body += members;
  body += '}';
  return body;
}

}  // namespace

std::string ProbeRequestBody(const std::string& model, Dialect dialect, int max_tokens,
                             const std::string& image_data_url) {
  return Body(model, max_tokens, ProbeConstraint().RequestMembers(dialect), image_data_url);
}

ProbeVerdict JudgeProbeAnswer(std::string_view content, std::string_view finish_reason,
                              Dialect dialect) {
  table::Column column(table::DataType::String());
  if (ProbeConstraint().ParseInto(content, dialect, &column).error.ok())
    return ProbeVerdict::kHonoured;
  if (finish_reason == "length" && IsViablePrefix(ProbeConstraint(), dialect, content))
    return ProbeVerdict::kInconclusive;
  return ProbeVerdict::kIgnored;
}

Result<ProbeVerdict> ProbeOneDialect(const SendFn& send, const std::string& model, Dialect d,
                                     const ProbeOptions& options, std::string* outcome) {
  for (int max_tokens = options.max_tokens;; max_tokens *= 4) {
    Result<std::string> response =
        send(ProbeRequestBody(model, d, max_tokens, options.image_data_url));
    if (!response.ok()) return response.status();
    Result<ChatAnswer> answer = ParseChatCompletion(*response);
    if (!answer.ok()) {
      *outcome = answer.status().message();
      return ProbeVerdict::kIgnored;
    }
    ProbeVerdict v = JudgeProbeAnswer(answer->content, answer->finish_reason, d);
    if (v == ProbeVerdict::kHonoured) {
      *outcome = "honoured";
      return v;
    }
    if (v == ProbeVerdict::kInconclusive && max_tokens * 4 <= options.max_tokens_cap) {
      SF_LOG_DEBUG(
          "structured outputs: the '{}' probe answer was cut at {} tokens while still fitting; "
          "asking again with {}",
          DialectName(d), max_tokens, max_tokens * 4);
      continue;
    }
    table::Column scratch(table::DataType::String());
    *outcome = v == ProbeVerdict::kInconclusive
                   ? "the answer was still cut at " + std::to_string(max_tokens) +
                         " tokens (the model writes whitespace without end)"
                   : "the answer ignored the constraint: " +
                         ProbeConstraint().ParseInto(answer->content, d, &scratch).error.message;
    return v;
  }
}

Result<Dialect> ProbeDialect(const SendFn& send, const std::string& model, const Constraint& c,
                             const ProbeOptions& options) {
  std::vector<Dialect> order = options.order;
  if (order.empty()) order = {Dialect::kVllm, Dialect::kOpenAI, Dialect::kVllmLegacy};
  auto fatal = [&](const Status& st) {
    return st.code() == StatusCode::kCancelled || (options.fatal && options.fatal(st));
  };
  std::vector<std::pair<std::string, std::string>> outcomes;  // dialect, what happened
  for (Dialect d : order) {
    std::string outcome;
    Result<ProbeVerdict> v = ProbeOneDialect(send, model, d, options, &outcome);
    if (!v.ok()) {
      if (fatal(v.status())) return v.status();
      outcome = "request failed: " + v.status().message();
    } else if (*v == ProbeVerdict::kHonoured) {
      SF_LOG_INFO("structured outputs: the server honours the '{}' dialect", DialectName(d));
      // The job's own constraint, once: a schema the server cannot compile fails here.
      Result<std::string> check = send(Body(model, 1, c.RequestMembers(d), ""));
      if (!check.ok()) {
        if (check.status().code() == StatusCode::kCancelled) return check.status();
        return check.status().WithContext(
            "the server honours the '" + std::string(DialectName(d)) +
            "' structured-output dialect but rejected the job's constraint");
      }
      return d;
    }
    SF_LOG_DEBUG("structured outputs: dialect '{}' does not work: {}", DialectName(d), outcome);
    outcomes.emplace_back(std::string(DialectName(d)), std::move(outcome));
  }
  // Identical outcomes (the same 404 for every dialect) are said once.
  std::string tried;
  bool same = true;
  for (const auto& o : outcomes) same = same && o.second == outcomes[0].second;
  if (same && outcomes.size() > 1) {
    tried = "every dialect: " + outcomes[0].second;
  } else {
    for (const auto& o : outcomes) tried += (tried.empty() ? "" : "; ") + o.first + ": " + o.second;
  }
  return Status::Unavailable(
      "the server honours none of the structured-output dialects (" + tried +
      "); check that it supports structured outputs (vLLM, SGLang, llama.cpp, Ollama, OpenAI), "
      "or pass --dialect to force one");
}

}  // namespace structflow::schema

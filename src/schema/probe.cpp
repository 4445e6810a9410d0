#include "schema/probe.h"

#include "common/json_writer.h"
#include "common/logging.h"
#include "schema/chat_completion.h"

namespace structflow::schema {
namespace {

// Two tokens that an unconstrained model would not answer with.
const std::vector<std::string> kProbeChoices = {"zqxv", "vjkq"};

const Constraint& ProbeConstraint() {
  static const Constraint c = *Constraint::FromChoices(kProbeChoices);
  return c;
}

std::string Body(const std::string& model, int max_tokens, const std::string& members) {
  std::string body;
  JsonWriter w(&body);
  w.BeginObject();
  w.Key("model").String(model);
  w.Key("messages").BeginArray();
  w.BeginObject().Key("role").String("user");
  w.Key("content").String("Reply with one word.");
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

std::string ProbeRequestBody(const std::string& model, Dialect dialect) {
  return Body(model, 16, ProbeConstraint().RequestMembers(dialect));
}

Result<Dialect> ProbeDialect(const SendFn& send, const std::string& model, const Constraint& c) {
  std::string tried;
  for (Dialect d : {Dialect::kVllm, Dialect::kOpenAI, Dialect::kVllmLegacy}) {
    std::string outcome;
    Result<std::string> response = send(ProbeRequestBody(model, d));
    if (!response.ok()) {
      outcome = "request failed: " + response.status().message();
    } else {
      Result<ChatAnswer> answer = ParseChatCompletion(*response);
      if (!answer.ok()) {
        outcome = answer.status().message();
      } else {
        table::Column column(table::DataType::String());
        Constraint::ParseResult r = ProbeConstraint().ParseInto(answer->content, d, &column);
        if (r.error.ok()) {
          SF_LOG_INFO("structured outputs: the server honours the '{}' dialect", DialectName(d));
          // The job's own constraint, once: a schema the server cannot compile fails here.
          Result<std::string> check = send(Body(model, 1, c.RequestMembers(d)));
          if (!check.ok()) {
            return check.status().WithContext(
                "the server honours the '" + std::string(DialectName(d)) +
                "' structured-output dialect but rejected the job's constraint");
          }
          return d;
        }
        outcome = "the answer ignored the constraint: " + r.error.message;
      }
    }
    SF_LOG_DEBUG("structured outputs: dialect '{}' does not work: {}", DialectName(d), outcome);
    if (!tried.empty()) tried += "; ";
    tried += std::string(DialectName(d)) + ": " + outcome;
  }
  return Status::Unavailable(
      "the server honours none of the structured-output dialects (" + tried +
      "); check that it supports structured outputs (vLLM, SGLang, OpenAI), or pass --dialect "
      "to force one");
}

}  // namespace structflow::schema

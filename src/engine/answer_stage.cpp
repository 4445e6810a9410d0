#include "engine/answer_stage.h"

#include <fmt/format.h>

#include "schema/answer_prefix.h"
#include "schema/chat_completion.h"

namespace structflow::engine {

AnswerVerdict Judge(const AnswerPolicy& policy, schema::Dialect dialect,
                    const client::Completion& c, const AnswerAttempt& a, table::Column* scratch) {
  AnswerVerdict v;
  v.http_attempts = a.http_attempts + c.attempts;
  RowRecord& r = v.record;
  r.row_id = a.row_id;
  r.fingerprint = a.fingerprint;
  r.error = c.error;
  if (r.error.kind == ErrorKind::kCancelled) {
    v.action = AnswerVerdict::Action::kDrop;  // not recorded: a resume sends it
    return v;
  }
  if (r.error.ok()) {
    auto answer = schema::ParseChatCompletion(c.body, policy.confidence != nullptr);
    if (!answer.ok()) {
      r.error = RowError{ErrorKind::kInvalidResponse, answer.status().message(), c.http_status, 0};
    } else {
      r.prompt_tokens = answer->prompt_tokens;
      r.completion_tokens = answer->completion_tokens;
      r.cached_tokens = answer->cached_tokens;
      r.raw = std::move(answer->content);
      r.dialect = std::string(schema::DialectName(dialect));
      // Cut at max_tokens: re-asked with more tokens only while it could still become an answer
      // that fits; one that fits no allowed value means the constraint was ignored (judged below
      // as invalid output, whatever finish_reason says).
      if (answer->finish_reason == "length" &&
          (policy.constraint == nullptr ||
           schema::IsViablePrefix(*policy.constraint, dialect, r.raw))) {
        r.error = RowError{ErrorKind::kTruncated,
                           fmt::format("the answer was cut at max_tokens ({}); raise --max-tokens",
                                       a.long_tokens ? policy.max_tokens * 2 : policy.max_tokens),
                           c.http_status, 0};
        if (policy.retry_truncated && !a.long_tokens && !a.stopping) {
          v.action = AnswerVerdict::Action::kReask;
          v.reask_long_tokens = true;
          v.output_retry = true;
        }
      } else if (policy.constraint != nullptr) {
        auto pr = policy.constraint->ParseInto(r.raw, dialect, scratch);
        if (!pr.error.ok()) {
          r.error = pr.error;
          r.error.http_status = c.http_status;
          v.looks_unconstrained = pr.looks_unconstrained;
          if (a.output_attempts < policy.max_output_retries && !a.stopping) {
            v.action = AnswerVerdict::Action::kReask;
            v.reask_long_tokens = a.long_tokens;
            v.output_retry = true;
          }
        }
      }
      if (policy.confidence != nullptr && r.error.ok()) {
        r.confidence =
            policy.confidence->Score(r.raw, answer->has_logprobs ? &answer->logprobs : nullptr,
                                     dialect, &v.confidence_missing);
      }
    }
  }
  r.error.attempts = v.http_attempts;
  if (!r.error.ok() && r.error.message.find("row ") != 0) {
    r.error.message = fmt::format("row {}: {}", r.row_id, r.error.message);
  }
  return v;
}

}  // namespace structflow::engine

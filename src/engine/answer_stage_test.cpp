#include "engine/answer_stage.h"

#include <gtest/gtest.h>

namespace structflow::engine {
namespace {

std::string Body(const std::string& content, const std::string& finish = "stop") {
  return R"({"id":"c","object":"chat.completion","choices":[{"index":0,"message":{"role":"assistant","content":")" +
         content + R"("},"finish_reason":")" + finish +
         R"("}],"usage":{"prompt_tokens":7,"completion_tokens":3,"total_tokens":10}})";
}

client::Completion Ok(const std::string& body) {
  client::Completion c;
  c.id = 5;
  c.http_status = 200;
  c.attempts = 1;
  c.body = body;
  return c;
}

client::Completion Err(ErrorKind kind, int status, int attempts) {
  client::Completion c;
  c.id = 5;
  c.error = RowError{kind, "boom", status, attempts};
  c.http_status = status;
  c.attempts = attempts;
  return c;
}

using Action = AnswerVerdict::Action;

struct Case {
  const char* name;
  client::Completion completion;
  bool constrained;
  int output_attempts;
  bool long_tokens;
  bool stopping;
  Action action;
  ErrorKind kind;     // of the record
  bool reask_long;    // for kReask
  int http_attempts;  // the verdict's, with 2 earlier attempts
};

TEST(AnswerStage, JudgesEveryKindOfCompletion) {
  auto choice = schema::Constraint::FromChoices({"yes", "no"});
  ASSERT_TRUE(choice.ok());
  const std::vector<Case> cases = {
      {"free text is kept", Ok(Body("hello")), false, 0, false, false, Action::kRecord,
       ErrorKind::kNone, false, 3},
      {"a fitting choice is kept", Ok(Body("yes")), true, 0, false, false, Action::kRecord,
       ErrorKind::kNone, false, 3},
      {"cancelled is dropped for a resume", Err(ErrorKind::kCancelled, 0, 1), false, 0, false,
       false, Action::kDrop, ErrorKind::kCancelled, false, 3},
      {"an HTTP failure is recorded", Err(ErrorKind::kHttpStatus, 400, 1), false, 0, false, false,
       Action::kRecord, ErrorKind::kHttpStatus, false, 3},
      {"a body that is no completion", Ok("not json"), false, 0, false, false, Action::kRecord,
       ErrorKind::kInvalidResponse, false, 3},
      {"truncation re-asks with twice the tokens", Ok(Body("ye", "length")), true, 0, false, false,
       Action::kReask, ErrorKind::kTruncated, true, 3},
      {"truncation again is recorded", Ok(Body("ye", "length")), true, 1, true, false,
       Action::kRecord, ErrorKind::kTruncated, false, 3},
      {"truncation while abandoning is recorded", Ok(Body("ye", "length")), true, 0, false, true,
       Action::kRecord, ErrorKind::kTruncated, false, 3},
      {"a cut answer that fits no choice is invalid output (the constraint was ignored)",
       Ok(Body("maybe", "length")), true, 0, false, false, Action::kReask,
       ErrorKind::kInvalidOutput, false, 3},
      {"unconstrained truncation re-asks with twice the tokens", Ok(Body("hel", "length")), false,
       0, false, false, Action::kReask, ErrorKind::kTruncated, true, 3},
      {"an answer off the choices re-asks", Ok(Body("maybe")), true, 0, false, false,
       Action::kReask, ErrorKind::kInvalidOutput, false, 3},
      {"a re-ask after truncation keeps the long tokens", Ok(Body("maybe")), true, 1, true, false,
       Action::kReask, ErrorKind::kInvalidOutput, true, 3},
      {"no re-ask left", Ok(Body("maybe")), true, 2, false, false, Action::kRecord,
       ErrorKind::kInvalidOutput, false, 3},
      {"no re-ask while abandoning", Ok(Body("maybe")), true, 0, false, true, Action::kRecord,
       ErrorKind::kInvalidOutput, false, 3},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    AnswerPolicy policy;
    policy.constraint = c.constrained ? &*choice : nullptr;
    policy.max_tokens = 16;
    policy.max_output_retries = 2;
    AnswerAttempt a;
    a.row_id = 41;
    a.fingerprint = 99;
    a.output_attempts = c.output_attempts;
    a.http_attempts = 2;
    a.long_tokens = c.long_tokens;
    a.stopping = c.stopping;
    table::Column scratch(choice->OutputType());
    AnswerVerdict v = Judge(policy, schema::Dialect::kVllm, c.completion, a, &scratch);
    EXPECT_EQ(v.action, c.action);
    EXPECT_EQ(v.record.error.kind, c.kind);
    EXPECT_EQ(v.record.row_id, 41);
    EXPECT_EQ(v.record.fingerprint, 99u);
    EXPECT_EQ(v.http_attempts, c.http_attempts);
    if (v.action == Action::kReask) {
      EXPECT_EQ(v.reask_long_tokens, c.reask_long);
    }
    if (c.kind != ErrorKind::kNone && c.kind != ErrorKind::kCancelled) {
      // Messages name the row; the attempts count every ask of it.
      EXPECT_EQ(v.record.error.message.rfind("row 41: ", 0), 0u) << v.record.error.message;
      EXPECT_EQ(v.record.error.attempts, c.http_attempts);
    }
    if (c.kind == ErrorKind::kTruncated) {
      EXPECT_NE(v.record.error.message.find(c.long_tokens ? "(32)" : "(16)"), std::string::npos)
          << v.record.error.message;
    }
    if (c.kind == ErrorKind::kNone) {
      EXPECT_EQ(v.record.dialect, "vllm");
      EXPECT_EQ(v.record.prompt_tokens, 7);
      EXPECT_EQ(v.record.completion_tokens, 3);
    }
  }
}

}  // namespace
}  // namespace structflow::engine

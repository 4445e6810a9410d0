// `--dialect auto` for a job: which structured-output dialect the server honours, probed in the
// order that suits its family (llama.cpp: response_format, then its top-level json_schema;
// SGLang: its regex/json_schema members, then response_format; vLLM: structured_outputs, then
// response_format, then guided_*), with one small image when the job sends images.
//
// The whole probe is bounded (15 s by default; each request gets what is left), logs what it
// waits for, and stops at once when the StopSource is stopped (Ctrl-C).
// Thread-safety: called from one thread; the StopSource may be stopped from any.
#pragma once

#include <string>
#include <vector>

#include "client/client.h"
#include "client/server_family.h"
#include "common/status.h"
#include "engine/quick_call.h"
#include "schema/constraint.h"
#include "schema/dialect.h"

namespace structflow::engine {

// The dialects to try on `family`, most likely first (every dialect for an unknown family).
std::vector<schema::Dialect> DialectsToTry(client::ServerFamily family);

struct DialectProbeOptions {
  client::ServerFamily family = client::ServerFamily::kUnknown;
  bool with_image = false;
  double budget_s = 15;
};

// True for a probe error that no other dialect or fallback can help: a job-level refusal (its
// message carries the fix), a stop, a server that does not answer. `run` stops on these.
bool ProbeErrorEndsJob(const Status& status);

// The dialect the server honours for `constraint`. Errors: a job-level refusal seen on the way
// (images unsupported, unknown model, context overflow: the message carries the family's fix),
// Cancelled when stopped, Unavailable when no dialect works or the budget ran out.
Result<schema::Dialect> ProbeServerDialect(const client::ClientOptions& options,
                                           const std::string& model,
                                           const schema::Constraint& constraint,
                                           const DialectProbeOptions& probe, StopSource* stop);

}  // namespace structflow::engine

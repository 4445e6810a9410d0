// Dialect detection for `--dialect auto`: servers silently ignore request members they do not
// know, so the only reliable test is to ask for something a model would never write unprompted
// and see whether the answer fits.
// Thread-safety: ProbeDialect is a plain function; it calls `send` from the calling thread only.
#pragma once

#include <functional>
#include <string>

#include "common/status.h"
#include "schema/constraint.h"
#include "schema/dialect.h"

namespace structflow::schema {

// Sends one chat completion request body (JSON) and returns the response body, or an error
// (connection failure, non-2xx status with the server's message).
using SendFn = std::function<Result<std::string>(const std::string& body)>;

// The probe's request body for `dialect`: a one-line user message, max_tokens 16,
// temperature 0 and the members of a choice between two tokens no model picks by chance.
std::string ProbeRequestBody(const std::string& model, Dialect dialect);

// Tries vllm, openai and vllm-legacy in that order and returns the first whose probe answer fits
// its choice constraint. Then sends `c`'s own members under that dialect once (max_tokens 1,
// the answer is not checked) so a server that rejects the job's schema fails the job at start,
// not on every row. Errors name every dialect tried and what happened, and suggest --dialect.
Result<Dialect> ProbeDialect(const SendFn& send, const std::string& model, const Constraint& c);

}  // namespace structflow::schema

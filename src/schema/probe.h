// Dialect detection for `--dialect auto`: servers silently ignore request members they do not
// know, so the only reliable test is to ask for something a model would never write unprompted
// and see whether the answer fits.
//
// An answer cut at max_tokens (finish_reason "length") proves nothing: JSON grammars let the
// model write whitespace before and between tokens (llama.cpp's json-schema-to-grammar "space"
// rule, xgrammar's default any_whitespace), and a small model may spend a dozen tokens on it.
// Such an answer is asked again with more tokens while it is still a prefix of an allowed
// value; only an answer that is not (a prefix of) one means the dialect is ignored.
// Thread-safety: ProbeDialect is a plain function; it calls `send` from the calling thread only.
#pragma once

#include <atomic>
#include <functional>
#include <string>
#include <vector>

#include "common/status.h"
#include "schema/constraint.h"
#include "schema/dialect.h"

namespace structflow::schema {

// Sends one chat completion request body (JSON) and returns the response body, or an error
// (connection failure, non-2xx status with the server's message).
using SendFn = std::function<Result<std::string>(const std::string& body)>;

struct ProbeOptions {
  // The dialects to try, in order (empty: vllm, openai, vllm-legacy).
  std::vector<Dialect> order;
  // A data URL of a small image: every probe request carries it (for jobs with images), so a
  // server that takes no images is found before row 1.
  std::string image_data_url;
  // The max_tokens of the first probe request of a dialect; an inconclusive (cut) answer is
  // asked again with 4x as many, up to `max_tokens_cap`.
  int max_tokens = 16;
  int max_tokens_cap = 256;
  // An error from `send` for which probing stops at once (images refused, unknown model): the
  // error is returned as is. Cancelled errors always stop.
  std::function<bool(const Status&)> fatal;
};

// The probe's request body for `dialect`: a one-line user message, temperature 0 and the
// members of a choice between two tokens no model picks by chance.
std::string ProbeRequestBody(const std::string& model, Dialect dialect, int max_tokens = 16,
                             const std::string& image_data_url = "");

// What one probe answer says about a dialect.
enum class ProbeVerdict {
  kHonoured,      // the answer is one of the allowed values
  kInconclusive,  // cut at max_tokens while still a prefix of an allowed value
  kIgnored,       // anything else: the constraint was not applied
};
ProbeVerdict JudgeProbeAnswer(std::string_view content, std::string_view finish_reason,
                              Dialect dialect);

// Probes one dialect: the verdict of the last answer, asking again with 4x the tokens while
// it is inconclusive (up to options.max_tokens_cap). `outcome` says what happened in words. An
// error only when `send` fails (the caller decides whether that is fatal).
Result<ProbeVerdict> ProbeOneDialect(const SendFn& send, const std::string& model, Dialect dialect,
                                     const ProbeOptions& options, std::string* outcome);

// Tries the dialects in order and returns the first whose probe answer fits its choice
// constraint. Then sends `c`'s own members under that dialect once (max_tokens 1, the answer is
// not checked) so a server that rejects the job's schema fails the job at start, not on every
// row. Errors name every dialect tried and what happened (identical outcomes said once), and
// suggest --dialect.
Result<Dialect> ProbeDialect(const SendFn& send, const std::string& model, const Constraint& c,
                             const ProbeOptions& options = {});

}  // namespace structflow::schema

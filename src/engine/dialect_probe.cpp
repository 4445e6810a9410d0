#include "engine/dialect_probe.h"

#include <fmt/format.h>

#include <chrono>

#include "client/error_class.h"
#include "common/logging.h"
#include "engine/diagnosis.h"
#include "engine/probe_image.h"
#include "schema/probe.h"

namespace structflow::engine {

using client::ServerFamily;
using schema::Dialect;

namespace {
// Marks the probe errors of a server that does not answer (no other dialect will either).
constexpr std::string_view kHung = " (no answer)";
}  // namespace

bool ProbeErrorEndsJob(const Status& status) {
  return status.code() == StatusCode::kNotFound || status.code() == StatusCode::kCancelled ||
         status.message().find(kHung) != std::string::npos;
}

std::vector<Dialect> DialectsToTry(ServerFamily family) {
  switch (family) {
    case ServerFamily::kLlamaCpp:
      return {Dialect::kOpenAI, Dialect::kLlamaCpp};
    case ServerFamily::kSglang:
      return {Dialect::kSglang, Dialect::kOpenAI};
    case ServerFamily::kOllama:
    case ServerFamily::kOpenAI:
      return {Dialect::kOpenAI};
    case ServerFamily::kVllm:
      return {Dialect::kVllm, Dialect::kOpenAI, Dialect::kVllmLegacy};
    case ServerFamily::kUnknown:
      break;
  }
  return {Dialect::kVllm, Dialect::kOpenAI, Dialect::kSglang, Dialect::kLlamaCpp,
          Dialect::kVllmLegacy};
}

Result<Dialect> ProbeServerDialect(const client::ClientOptions& options, const std::string& model,
                                   const schema::Constraint& constraint,
                                   const DialectProbeOptions& probe, StopSource* stop) {
  using Clock = std::chrono::steady_clock;
  const auto deadline = Clock::now() + std::chrono::duration_cast<Clock::duration>(
                                           std::chrono::duration<double>(probe.budget_s));
  const std::string endpoint = options.endpoints.empty() ? "" : options.endpoints[0];
  SF_LOG_INFO(
      "asking {} which structured-output dialect it honours ({}{}; up to {:.0f} s, Ctrl-C stops)",
      endpoint, client::ServerFamilyName(probe.family),
      probe.with_image ? ", with one small image" : "", probe.budget_s);
  DiagnosisContext ctx{model, probe.with_image, probe.family, {}};
  // A refusal that no dialect changes stops the probe with the diagnosis; others move on.
  auto send = [&](const std::string& body) -> Result<std::string> {
    double left = std::chrono::duration<double>(deadline - Clock::now()).count();
    if (left <= 0.05) {
      return Status::Unavailable(fmt::format(
          "{} gave no conclusive answer to the structured-output probe within {:.0f} s{}: check "
          "the server is healthy (its log), or pass --dialect to skip the probe",
          endpoint, probe.budget_s, kHung));
    }
    SF_ASSIGN_OR_RAISE(
        auto c, QuickCall(options, client::Request{0, "/chat/completions", body}, left, stop));
    if (c.ok()) return std::move(c.body);
    if (c.error.kind == ErrorKind::kHttpStatus) {
      client::ErrorClass cls = ClassifyRowError(c.error);
      switch (cls.meaning) {
        case client::ErrorMeaning::kImageUnsupported:
        case client::ErrorMeaning::kUnknownModel:
        case client::ErrorMeaning::kContextOverflow:
        case client::ErrorMeaning::kNoChatTemplate:
        case client::ErrorMeaning::kAuth:
        case client::ErrorMeaning::kNotFound:
          return Status::NotFound(fmt::format("{} refused the probe: {}. Fix: {}", endpoint,
                                              cls.server_message, AdviseFix(cls, ctx)));
        default:
          break;
      }
    }
    if (c.error.kind == ErrorKind::kTimeout) {
      return Status::Unavailable(
          fmt::format("{} did not answer a chat request within the probe's {:.0f} s{}: the server "
                      "is hung or overloaded; check its log or restart it",
                      endpoint, probe.budget_s, kHung));
    }
    return Status::Unavailable(client::DescribeError(c.error));
  };
  schema::ProbeOptions po;
  po.order = DialectsToTry(probe.family);
  if (probe.with_image) po.image_data_url = ProbeImageDataUrl();
  po.fatal = ProbeErrorEndsJob;
  return schema::ProbeDialect(send, model, constraint, po);
}

}  // namespace structflow::engine

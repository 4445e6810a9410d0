#include "common/row_error.h"

#include <array>
#include <utility>

namespace structflow {
namespace {
constexpr std::array<std::pair<ErrorKind, std::string_view>, kNumErrorKinds> kNames{{
    {ErrorKind::kNone, "none"},
    {ErrorKind::kConnect, "connect"},
    {ErrorKind::kTimeout, "timeout"},
    {ErrorKind::kHttpStatus, "http_status"},
    {ErrorKind::kReset, "reset"},
    {ErrorKind::kInvalidResponse, "invalid_response"},
    {ErrorKind::kCancelled, "cancelled"},
    {ErrorKind::kImageError, "image_error"},
    {ErrorKind::kTemplateError, "template_error"},
    {ErrorKind::kInvalidOutput, "invalid_output"},
    {ErrorKind::kTruncated, "truncated"},
}};
}  // namespace

std::string_view ErrorKindName(ErrorKind kind) {
  for (const auto& [k, n] : kNames) {
    if (k == kind) return n;
  }
  return "unknown";
}

ErrorKind ParseErrorKind(std::string_view name) {
  for (const auto& [k, n] : kNames) {
    if (n == name) return k;
  }
  return ErrorKind::kNone;
}

}  // namespace structflow

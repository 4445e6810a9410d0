// Status and Result<T>: expected failures as values (network, server answers, bad rows, bad
// files). Exceptions from third-party libraries are caught in the adapter that wraps them and
// come out as a Status. Thread-safety: plain values; copy freely between threads.
#pragma once

#include <cassert>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace structflow {

enum class StatusCode {
  kOk = 0,
  kInvalidArgument,  // the user's input (flag, schema, template, file) is wrong
  kNotFound,         // a file, column, model or endpoint does not exist
  kIOError,          // reading or writing a file failed
  kCorrupt,          // a file or message is malformed
  kUnavailable,      // a server cannot be reached or keeps failing
  kCancelled,        // a stop was requested
  kUnimplemented,    // valid input that structflow does not handle yet
  kInternal,         // a bug in structflow
};

std::string_view StatusCodeName(StatusCode code);

// Typed facts a caller may act on, carried by a Status beside its message (like Arrow's
// StatusDetail): callers test for their type with dynamic_cast.
class StatusDetail {
 public:
  virtual ~StatusDetail() = default;
};

class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(StatusCode code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status OK() { return Status(); }
  static Status InvalidArgument(std::string m) {
    return {StatusCode::kInvalidArgument, std::move(m)};
  }
  static Status NotFound(std::string m) { return {StatusCode::kNotFound, std::move(m)}; }
  static Status IOError(std::string m) { return {StatusCode::kIOError, std::move(m)}; }
  static Status Corrupt(std::string m) { return {StatusCode::kCorrupt, std::move(m)}; }
  static Status Unavailable(std::string m) { return {StatusCode::kUnavailable, std::move(m)}; }
  static Status Cancelled(std::string m) { return {StatusCode::kCancelled, std::move(m)}; }
  static Status Unimplemented(std::string m) { return {StatusCode::kUnimplemented, std::move(m)}; }
  static Status Internal(std::string m) { return {StatusCode::kInternal, std::move(m)}; }

  bool ok() const { return code_ == StatusCode::kOk; }
  StatusCode code() const { return code_; }
  const std::string& message() const { return message_; }
  // "invalid_argument: message", or "ok".
  std::string ToString() const;

  // Returns a copy whose message is prefixed with `context: `, keeping the code. Use it to name
  // the thing (file, row, column) at the layer that knows it.
  Status WithContext(std::string_view context) const;
  // A copy carrying `detail` (the detail survives WithContext).
  Status WithDetail(std::shared_ptr<const StatusDetail> detail) const {
    Status s = *this;
    s.detail_ = std::move(detail);
    return s;
  }
  const std::shared_ptr<const StatusDetail>& detail() const { return detail_; }

 private:
  StatusCode code_ = StatusCode::kOk;
  std::string message_;
  std::shared_ptr<const StatusDetail> detail_;
};

template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}        // NOLINT: implicit on purpose, like Arrow's
  Result(Status status) : v_(std::move(status)) {  // NOLINT
    assert(!std::get<Status>(v_).ok() && "Result built from an OK status");
  }

  bool ok() const { return std::holds_alternative<T>(v_); }
  const Status& status() const {
    static const Status kOk;
    return ok() ? kOk : std::get<Status>(v_);
  }
  T& value() & { return std::get<T>(v_); }
  const T& value() const& { return std::get<T>(v_); }
  T&& value() && { return std::get<T>(std::move(v_)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T ValueOr(T fallback) const& { return ok() ? value() : std::move(fallback); }

 private:
  std::variant<T, Status> v_;
};

}  // namespace structflow

#define SF_CONCAT_INNER(a, b) a##b
#define SF_CONCAT(a, b) SF_CONCAT_INNER(a, b)

// Returns the Status from the enclosing function when `expr` is not OK.
#define SF_RETURN_NOT_OK(expr)         \
  do {                                 \
    ::structflow::Status _st = (expr); \
    if (!_st.ok()) return _st;         \
  } while (0)

#define SF_ASSIGN_OR_RAISE_IMPL(tmp, lhs, rexpr) \
  auto tmp = (rexpr);                            \
  if (!tmp.ok()) return tmp.status();            \
  lhs = std::move(tmp).value()

// `SF_ASSIGN_OR_RAISE(auto x, MakeX());` declares x from the Result, or returns its Status.
#define SF_ASSIGN_OR_RAISE(lhs, rexpr) \
  SF_ASSIGN_OR_RAISE_IMPL(SF_CONCAT(_result_, __LINE__), lhs, rexpr)

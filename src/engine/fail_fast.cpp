#include "engine/fail_fast.h"

namespace structflow::engine {

std::optional<RowError> FailFastWindow::Observe(const RowError& e) {
  if (closed_.load(std::memory_order_acquire)) return std::nullopt;
  std::lock_guard lock(mu_);
  if (closed_.load(std::memory_order_relaxed)) return std::nullopt;
  if (e.ok() || e.kind == ErrorKind::kCancelled ||
      (first_ && (e.kind != first_->kind || e.http_status != first_->http_status))) {
    closed_.store(true, std::memory_order_release);
    return std::nullopt;
  }
  if (!first_) first_ = e;
  if (++count_ < rows_) return std::nullopt;
  closed_.store(true, std::memory_order_release);  // trips once
  return first_;
}

}  // namespace structflow::engine

// The fail-fast window: when the first rows of a job all fail the same way (same error kind and
// HTTP status), the job is misconfigured (wrong model, endpoint, key, dialect) and stops early
// with advice instead of failing every row. Any success, cancellation or different failure
// closes the window for good. The advice comes from engine/diagnosis.h.
//
// Thread-safety: Observe may be called from any thread (it takes a lock while the window is
// open, and only an atomic load after).
#pragma once

#include <atomic>
#include <cstddef>
#include <mutex>
#include <optional>

#include "common/row_error.h"

namespace structflow::engine {

class FailFastWindow {
 public:
  explicit FailFastWindow(size_t rows = 16) : rows_(rows) {}
  // Returns the shared failure once, when the `rows`-th row in a row fails like the first.
  std::optional<RowError> Observe(const RowError& error);
  size_t rows() const { return rows_; }

 private:
  const size_t rows_;
  std::atomic<bool> closed_{false};
  std::mutex mu_;
  std::optional<RowError> first_;
  size_t count_ = 0;
};

}  // namespace structflow::engine

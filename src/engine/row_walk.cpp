#include "engine/row_walk.h"

#include <algorithm>

#include "engine/checkpoint.h"

namespace structflow::engine {
namespace {

using table::Column;
using table::TypeId;

uint64_t HashCell(const Column& c, int64_t row, uint64_t h) {
  if (c.IsNull(row)) return Fingerprint("\x00null", h);
  switch (c.type_id()) {
    case TypeId::kString:
    case TypeId::kBinary:
      return Fingerprint(c.GetBytes(row), Fingerprint("\x01", h));
    case TypeId::kFloat:
    case TypeId::kDouble: {
      double v = c.GetDouble(row);
      return Fingerprint(std::string_view(reinterpret_cast<const char*>(&v), sizeof v), h);
    }
    case TypeId::kList:
    case TypeId::kMap: {
      auto [b, e] = c.ListRange(row);
      h = Fingerprint("[", h);
      for (int64_t k = b; k < e; ++k) h = HashCell(c.child(0), k, h);
      return Fingerprint("]", h);
    }
    case TypeId::kStruct: {
      h = Fingerprint("{", h);
      for (int k = 0; k < c.num_children(); ++k) h = HashCell(c.child(k), row, h);
      return Fingerprint("}", h);
    }
    case TypeId::kNull:
      return h;
    default: {
      int64_t v = c.GetInt(row);
      return Fingerprint(std::string_view(reinterpret_cast<const char*>(&v), sizeof v), h);
    }
  }
}

}  // namespace

uint64_t RowFingerprint(const table::RecordBatch& b, int64_t row, uint64_t seed) {
  uint64_t h = seed;
  for (const auto& c : b.columns) h = HashCell(c, row, h);
  return h;
}

Result<RowWalk> RowWalk::Open(const Input& input, const Transformer& transformer,
                              WalkOptions options, RowStore* store) {
  RowWalk w;
  w.transformer_ = &transformer;
  w.options_ = std::move(options);
  SF_ASSIGN_OR_RAISE(w.scan_, input.Scan(w.options_.columns, w.options_.batch_rows));
  if (store != nullptr) {
    // Start at this shard's first row: the store may hold other rows of the same job.
    SF_ASSIGN_OR_RAISE(w.cursor_, store->Scan(w.options_.shard_index, w.options_.reusable_only));
    w.store_done_ = false;
  }
  return w;
}

std::optional<int64_t> RowWalk::ExpectedRows(bool transforms_keep_count) const {
  if (!transforms_keep_count) return std::nullopt;
  std::optional<int64_t> n = scan_->num_rows();
  if (!n) return std::nullopt;
  int64_t rows = options_.limit >= 0 ? std::min(*n, options_.limit) : *n;
  const int64_t k = options_.shard_index, m = options_.shard_count;
  return std::max<int64_t>(0, (rows + m - 1 - k) / m);
}

// Moves the store's cursor to the first record with a row id >= `row_id` (the merge-join's
// step: both sides ascend).
Status RowWalk::AdvanceStore(int64_t row_id) {
  while (!store_done_ && (!record_ || record_->row_id < row_id)) {
    SF_ASSIGN_OR_RAISE(record_, cursor_->Next());
    if (!record_) store_done_ = true;
  }
  return Status::OK();
}

Result<bool> RowWalk::Next(WalkRow* out) {
  bool first = false;
  while (!ended_) {
    if (!batch_ || next_row_ >= batch_->num_rows()) {
      SF_ASSIGN_OR_RAISE(auto batch, scan_->Next());
      if (!batch) {
        ended_ = true;
        break;
      }
      batch_ = std::make_shared<const table::RecordBatch>(transformer_->Apply(std::move(*batch)));
      next_row_ = 0;
      first = true;
      continue;
    }
    const int64_t row_id = next_row_id_;
    if (options_.limit >= 0 && row_id >= options_.limit) {
      ended_ = true;
      break;
    }
    const int64_t r = next_row_++;
    ++next_row_id_;
    if (row_id % options_.shard_count != options_.shard_index) continue;
    out->batch = batch_;
    out->row = r;
    out->row_id = row_id;
    out->fingerprint = RowFingerprint(*batch_, r, options_.job_fingerprint);
    out->first_of_batch = first;
    out->stored = nullptr;
    SF_RETURN_NOT_OK(AdvanceStore(row_id));
    if (record_ && record_->row_id == row_id && !Resend(*record_) &&
        (record_->fingerprint == out->fingerprint ||
         (options_.legacy_job_fingerprint != 0 &&
          record_->fingerprint == RowFingerprint(*batch_, r, options_.legacy_job_fingerprint)))) {
      out->stored = &*record_;
    }
    return true;
  }
  return false;
}

bool RowWalk::Resend(const RowRecord& r) const {
  if (!options_.reusable_only) return false;
  // An answer stored without --confidence has no log-probabilities to score: asked again.
  if (options_.need_confidence && r.error.ok() && r.confidence.empty()) return true;
  if (!options_.retry_failed || r.error.ok()) return false;
  if (options_.retry_kinds.empty()) return true;
  return std::find(options_.retry_kinds.begin(), options_.retry_kinds.end(), r.error.kind) !=
         options_.retry_kinds.end();
}

}  // namespace structflow::engine

#include "engine/checkpoint_writer.h"

#include <vector>

namespace structflow::engine {

void CheckpointWriter::Note(Status st) {
  if (st.ok() || !status_.ok()) return;
  status_ = std::move(st);
  if (on_failure_) on_failure_(status_);
}

void CheckpointWriter::Commit() {
  if (status_.ok()) Note(store_->Commit());
  last_commit_ = clock_->Now();
}

void CheckpointWriter::Run() {
  last_commit_ = clock_->Now();
  std::vector<RowRecord> records;
  while (true) {
    records.clear();
    if (queue_->TryPopBatch(&records, policy_.take) == 0) {
      // Nothing waiting: make what we have durable, then block for more; but first give the
      // next burst a moment to join this transaction.
      auto since = clock_->Now() - last_commit_;
      bool more = status_.ok() && store_->pending() > 0 && since < policy_.commit_gap &&
                  queue_->PopBatchFor(&records, policy_.take, policy_.commit_gap - since) > 0;
      if (!more) {
        if (status_.ok() && store_->pending() > 0) Commit();
        if (queue_->PopBatch(&records, policy_.take) == 0) break;
      }
    }
    for (const RowRecord& r : records) {
      if (!status_.ok()) break;
      Note(store_->Put(r));
      if (status_.ok() && store_->pending() >= policy_.max_pending) Commit();
    }
    if (on_written_) on_written_(static_cast<int64_t>(records.size()));
    if (clock_->Now() - last_commit_ > policy_.max_interval) Commit();
  }
  Commit();
}

}  // namespace structflow::engine

// CheckpointWriter: the job's only writer of its RowStore. It takes finished rows from a queue
// and makes them durable in small transactions. Commit policy, on the injected clock: when the
// queue runs dry, wait up to `commit_gap` after the last commit for the next burst to join the
// open transaction (a commit is an fsync: one per parser burst was most of the writer's time);
// commit at once at `max_pending` records, and at least every `max_interval` while rows keep
// coming. The first failure of Put or Commit is kept and reported through `on_failure`
// (called once); rows taken after it are counted but not stored.
//
// Thread-safety: Run is the body of one thread; status() after Run returns.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>

#include "common/bounded_queue.h"
#include "common/clock.h"
#include "common/status.h"
#include "structflow/data.h"

namespace structflow::engine {

struct CommitPolicy {
  std::chrono::milliseconds commit_gap{20};
  std::chrono::milliseconds max_interval{100};
  int64_t max_pending = 1024;
  size_t take = 256;  // records taken from the queue at once
};

class CheckpointWriter {
 public:
  CheckpointWriter(RowStore* store, BoundedQueue<RowRecord>* queue, Clock* clock,
                   CommitPolicy policy, std::function<void(const Status&)> on_failure,
                   std::function<void(int64_t)> on_written)
      : store_(store),
        queue_(queue),
        clock_(clock),
        policy_(policy),
        on_failure_(std::move(on_failure)),
        on_written_(std::move(on_written)) {}

  // Runs until the queue is closed and drained, then commits what is left.
  void Run();
  const Status& status() const { return status_; }

 private:
  void Note(Status st);
  void Commit();

  RowStore* store_;
  BoundedQueue<RowRecord>* queue_;
  Clock* clock_;
  CommitPolicy policy_;
  std::function<void(const Status&)> on_failure_;
  std::function<void(int64_t)> on_written_;
  Status status_;
  Clock::TimePoint last_commit_;
};

}  // namespace structflow::engine

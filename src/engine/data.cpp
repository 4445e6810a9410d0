// The Input, RowStore and Sink implementations behind include/structflow/data.h.
#include "structflow/data.h"

#include <fmt/format.h>

#include <map>
#include <mutex>

#include "engine/checkpoint.h"
#include "io/source.h"

namespace structflow {

bool ReusableOnResume(const RowError& e) {
  switch (e.kind) {
    case ErrorKind::kConnect:
    case ErrorKind::kTimeout:
    case ErrorKind::kReset:
    case ErrorKind::kCancelled:
    case ErrorKind::kInvalidResponse:  // a 2xx whose body is not a completion: a passing fault
      return false;
    case ErrorKind::kHttpStatus:
      return !(e.http_status == 408 || e.http_status == 409 || e.http_status == 429 ||
               e.http_status >= 500);
    default:
      return true;
  }
}

namespace {

// ---------------------------------------------------------------------------------------------
// Inputs

class SourceScan : public InputScan {
 public:
  explicit SourceScan(std::unique_ptr<io::Source> s) : source_(std::move(s)) {}
  Result<std::optional<table::RecordBatch>> Next() override { return source_->Next(); }
  std::optional<int64_t> num_rows() const override { return source_->num_rows(); }

 private:
  std::unique_ptr<io::Source> source_;
};

class FileInput : public Input {
 public:
  FileInput(std::vector<std::string> paths, io::ReadOptions read, table::Schema schema,
            std::string base_dir)
      : paths_(std::move(paths)),
        read_(std::move(read)),
        schema_(std::move(schema)),
        base_dir_(std::move(base_dir)) {}
  const table::Schema& schema() const override { return schema_; }
  std::string base_dir() const override { return base_dir_; }
  Result<std::unique_ptr<InputScan>> Scan(const std::vector<std::string>& columns,
                                          int64_t batch_rows) const override {
    io::ReadOptions ro = read_;
    ro.columns = columns;
    ro.batch_rows = batch_rows;
    SF_ASSIGN_OR_RAISE(auto source, io::OpenSource(paths_, ro));
    return std::unique_ptr<InputScan>(std::make_unique<SourceScan>(std::move(source)));
  }

 private:
  std::vector<std::string> paths_;
  io::ReadOptions read_;  // every pass reads the files the same way (same inferred types)
  table::Schema schema_;
  std::string base_dir_;
};

// Batches in memory, projected by name on each pass (a pass copies only the columns it reads).
class BatchScan : public InputScan {
 public:
  BatchScan(const std::vector<table::RecordBatch>* batches, std::vector<int> columns,
            table::Schema schema, int64_t rows)
      : batches_(batches), columns_(std::move(columns)), schema_(std::move(schema)), rows_(rows) {}
  Result<std::optional<table::RecordBatch>> Next() override {
    if (next_ >= batches_->size()) return std::optional<table::RecordBatch>();
    const table::RecordBatch& b = (*batches_)[next_++];
    table::RecordBatch out;
    out.schema = schema_;
    for (int c : columns_) out.columns.push_back(b.columns[c]);
    return std::optional<table::RecordBatch>(std::move(out));
  }
  std::optional<int64_t> num_rows() const override { return rows_; }

 private:
  const std::vector<table::RecordBatch>* batches_;
  std::vector<int> columns_;
  table::Schema schema_;
  int64_t rows_;
  size_t next_ = 0;
};

class BatchInput : public Input {
 public:
  BatchInput(std::vector<table::RecordBatch> batches, std::string base_dir)
      : batches_(std::move(batches)), base_dir_(std::move(base_dir)) {
    schema_ = batches_.front().schema;
    for (const auto& b : batches_) rows_ += b.num_rows();
  }
  const table::Schema& schema() const override { return schema_; }
  std::string base_dir() const override { return base_dir_; }
  Result<std::unique_ptr<InputScan>> Scan(const std::vector<std::string>& columns,
                                          int64_t) const override {
    std::vector<int> idx;
    table::Schema projected;
    if (columns.empty()) {
      for (int i = 0; i < static_cast<int>(schema_.fields.size()); ++i) idx.push_back(i);
      projected = schema_;
    } else {
      for (const auto& name : columns) {
        int i = schema_.FieldIndex(name);
        if (i < 0) {
          return Status::NotFound(fmt::format("the in-memory input has no column '{}'; it has: {}",
                                              name, schema_.ToString()));
        }
        idx.push_back(i);
        projected.fields.push_back(schema_.fields[i]);
      }
    }
    return std::unique_ptr<InputScan>(
        std::make_unique<BatchScan>(&batches_, std::move(idx), std::move(projected), rows_));
  }

 private:
  std::vector<table::RecordBatch> batches_;
  table::Schema schema_;
  std::string base_dir_;
  int64_t rows_ = 0;
};

// ---------------------------------------------------------------------------------------------
// Row stores

class SqliteRowStore : public RowStore {
 public:
  explicit SqliteRowStore(std::unique_ptr<engine::Checkpoint> cp) : cp_(std::move(cp)) {}
  Status Put(const RowRecord& r) override { return cp_->Put(r); }
  Status Commit() override { return cp_->Commit(); }
  int64_t pending() const override { return cp_->pending(); }
  Result<std::unique_ptr<RowCursor>> Scan(int64_t first, bool reusable_only) override {
    return cp_->ScanPages(first, reusable_only);
  }
  Status SetMeta(const std::string& k, const std::string& v) override { return cp_->SetMeta(k, v); }
  Result<std::optional<std::string>> GetMeta(const std::string& k) override {
    return cp_->GetMeta(k);
  }
  std::string location() const override { return cp_->path(); }

 private:
  std::unique_ptr<engine::Checkpoint> cp_;
};

class MemoryRowStore : public RowStore {
 public:
  Status Put(const RowRecord& r) override {
    std::lock_guard lock(mu_);
    uncommitted_.push_back(r);
    return Status::OK();
  }
  Status Commit() override {
    std::lock_guard lock(mu_);
    for (auto& r : uncommitted_) rows_[r.row_id] = std::move(r);
    uncommitted_.clear();
    return Status::OK();
  }
  int64_t pending() const override {
    std::lock_guard lock(mu_);
    return static_cast<int64_t>(uncommitted_.size());
  }
  Result<std::unique_ptr<RowCursor>> Scan(int64_t first, bool reusable_only) override {
    return std::unique_ptr<RowCursor>(std::make_unique<Cursor>(this, first, reusable_only));
  }
  Status SetMeta(const std::string& k, const std::string& v) override {
    std::lock_guard lock(mu_);
    meta_[k] = v;
    return Status::OK();
  }
  Result<std::optional<std::string>> GetMeta(const std::string& k) override {
    std::lock_guard lock(mu_);
    auto it = meta_.find(k);
    if (it == meta_.end()) return std::optional<std::string>();
    return std::optional<std::string>(it->second);
  }
  std::string location() const override { return "memory"; }

 private:
  // Reads one row at a time under the lock, by key: safe while the writer commits.
  class Cursor : public RowCursor {
   public:
    Cursor(MemoryRowStore* s, int64_t next, bool reusable_only)
        : store_(s), next_(next), reusable_only_(reusable_only) {}
    Result<std::optional<RowRecord>> Next() override {
      std::lock_guard lock(store_->mu_);
      for (auto it = store_->rows_.lower_bound(next_); it != store_->rows_.end(); ++it) {
        next_ = it->first + 1;
        if (reusable_only_ && !ReusableOnResume(it->second.error)) continue;
        return std::optional<RowRecord>(it->second);
      }
      return std::optional<RowRecord>();
    }

   private:
    MemoryRowStore* store_;
    int64_t next_;
    bool reusable_only_;
  };

  mutable std::mutex mu_;
  std::map<int64_t, RowRecord> rows_;
  std::vector<RowRecord> uncommitted_;
  std::map<std::string, std::string> meta_;
};

// ---------------------------------------------------------------------------------------------
// Sinks

class FileSink : public Sink {
 public:
  FileSink(std::string path, SinkOptions o) : path_(std::move(path)), options_(o) {}
  const SinkOptions& options() const override { return options_; }
  Status Open(const table::Schema& schema) override {
    SF_ASSIGN_OR_RAISE(sink_, io::OpenSink(path_, schema));
    return Status::OK();
  }
  Status Write(const table::RecordBatch& b) override { return sink_->Write(b); }
  Status Finish() override {
    Status st = sink_->Finish();
    sink_.reset();
    return st;
  }
  void Abort() override { sink_.reset(); }  // removes the temporary file
  std::string location() const override { return path_; }

 private:
  std::string path_;
  SinkOptions options_;
  std::unique_ptr<io::Sink> sink_;
};

class MemorySink : public Sink {
 public:
  explicit MemorySink(SinkOptions o) : options_(o) {}
  const SinkOptions& options() const override { return options_; }
  Status Open(const table::Schema&) override {
    std::lock_guard lock(mu_);
    pending_.clear();
    return Status::OK();
  }
  Status Write(const table::RecordBatch& b) override {
    std::lock_guard lock(mu_);
    pending_.push_back(b);
    return Status::OK();
  }
  // Like a file, the batches appear only once the output is complete.
  Status Finish() override {
    std::lock_guard lock(mu_);
    batches_ = std::move(pending_);
    pending_.clear();
    return Status::OK();
  }
  void Abort() override {
    std::lock_guard lock(mu_);
    pending_.clear();
  }
  std::string location() const override { return "memory"; }
  std::vector<table::RecordBatch> batches() const override {
    std::lock_guard lock(mu_);
    return batches_;
  }

 private:
  SinkOptions options_;
  mutable std::mutex mu_;
  std::vector<table::RecordBatch> pending_;
  std::vector<table::RecordBatch> batches_;
};

}  // namespace

Result<std::shared_ptr<Input>> Input::Files(std::vector<std::string> paths, FileOptions options) {
  if (paths.empty())
    return Status::InvalidArgument("no input: give one or more files, globs or folders");
  io::ReadOptions read;
  read.infer_rows = options.infer_rows;
  read.type_overrides = std::move(options.type_overrides);
  read.bad_lines_path = std::move(options.bad_lines_path);
  SF_ASSIGN_OR_RAISE(auto probe, io::OpenSource(paths, read));
  return std::shared_ptr<Input>(std::make_shared<FileInput>(std::move(paths), std::move(read),
                                                            probe->schema(), probe->base_dir()));
}

Result<std::shared_ptr<Input>> Input::Batches(std::vector<table::RecordBatch> batches,
                                              std::string base_dir) {
  if (batches.empty()) {
    return Status::InvalidArgument(
        "the in-memory input holds no batch: give at least one (it may have zero rows)");
  }
  for (size_t i = 1; i < batches.size(); ++i) {
    const auto& a = batches[i].schema.fields;
    const auto& b = batches[0].schema.fields;
    bool same = a.size() == b.size();
    for (size_t f = 0; same && f < a.size(); ++f)
      same = a[f].name == b[f].name && a[f].type->Equals(*b[f].type);
    if (!same) {
      return Status::InvalidArgument(fmt::format(
          "in-memory input: batch {} has another schema than batch 0; give batches of one schema",
          i));
    }
  }
  return std::shared_ptr<Input>(std::make_shared<BatchInput>(std::move(batches), base_dir));
}

Result<std::shared_ptr<RowStore>> RowStore::Sqlite(const std::string& path,
                                                   const std::string& job_key) {
  SF_ASSIGN_OR_RAISE(auto cp, engine::Checkpoint::Open(path, job_key));
  return std::shared_ptr<RowStore>(std::make_shared<SqliteRowStore>(std::move(cp)));
}

std::shared_ptr<RowStore> RowStore::Memory() { return std::make_shared<MemoryRowStore>(); }

std::shared_ptr<Sink> Sink::File(std::string path, SinkOptions options) {
  return std::make_shared<FileSink>(std::move(path), options);
}

std::shared_ptr<Sink> Sink::Memory(SinkOptions options) {
  return std::make_shared<MemorySink>(options);
}

}  // namespace structflow

#include "engine/checkpoint.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <sqlite3.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <vector>

namespace structflow::engine {
namespace {

constexpr const char* kSelectColumns =
    "SELECT row_id, fingerprint, raw, dialect, error_kind, error_message, http_status,"
    " attempts, prompt_tokens, completion_tokens, finished_at, latency_s, confidence FROM rows ";

Status SqliteError(sqlite3* db, std::string_view what, const std::string& path) {
  return Status::IOError(fmt::format("checkpoint {}: {} failed: {}", path, what,
                                     db ? sqlite3_errmsg(db) : "out of memory"));
}

}  // namespace

uint64_t Fingerprint(std::string_view data, uint64_t seed) {
  uint64_t h = seed;
  for (unsigned char c : data) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return h;
}

Checkpoint::~Checkpoint() {
  if (in_txn_) sqlite3_exec(db_, "COMMIT", nullptr, nullptr, nullptr);
  sqlite3_finalize(put_);
  sqlite3_close(db_);
  if (lock_fd_ >= 0) ::close(lock_fd_);  // releases the flock
}

Checkpoint::Cursor::~Cursor() { sqlite3_finalize(stmt_); }

Status Checkpoint::Exec(const char* sql) {
  char* err = nullptr;
  if (sqlite3_exec(db_, sql, nullptr, nullptr, &err) != SQLITE_OK) {
    std::string msg = err ? err : "unknown error";
    sqlite3_free(err);
    return Status::IOError(fmt::format("checkpoint {}: {} (while running: {})", path_, msg, sql));
  }
  return Status::OK();
}

Result<std::unique_ptr<Checkpoint>> Checkpoint::Open(const std::string& path,
                                                     const std::string& job_key) {
  std::unique_ptr<Checkpoint> cp(new Checkpoint());
  cp->path_ = path;
  namespace fs = std::filesystem;
  fs::path parent = fs::path(path).parent_path();
  std::error_code ec;
  if (!parent.empty() && !fs::is_directory(parent, ec)) {
    return Status::NotFound(fmt::format(
        "cannot create checkpoint {}: folder '{}' does not exist; create it first (mkdir -p {})",
        path, parent.string(), parent.string()));
  }
  // One job per checkpoint at a time: two runs with the same --out would both send every row.
  // flock on our own descriptor is independent of SQLite's POSIX locks and is released by the
  // kernel when the process dies, so a kill -9 never leaves a stale lock behind.
  cp->lock_fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (cp->lock_fd_ < 0) {
    return Status::IOError(fmt::format(
        "cannot open checkpoint {}: {}; check the folder is writable, or pass --checkpoint PATH",
        path, std::strerror(errno)));
  }
  if (::flock(cp->lock_fd_, LOCK_EX | LOCK_NB) != 0) {
    if (errno == EWOULDBLOCK) {
      return Status::Unavailable(fmt::format(
          "checkpoint {} is in use by another structflow run with the same output; wait for it "
          "to finish (it keeps what it sends), or give this run another --out or --checkpoint",
          path));
    }
    return Status::IOError(
        fmt::format("cannot lock checkpoint {}: {}", path, std::strerror(errno)));
  }
  if (sqlite3_open_v2(path.c_str(), &cp->db_,
                      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                      nullptr) != SQLITE_OK) {
    return Status::IOError(
        fmt::format("cannot open checkpoint {}: {}; check the folder exists and is writable, "
                    "or pass --checkpoint PATH",
                    path, sqlite3_errmsg(cp->db_)));
  }
  sqlite3_busy_timeout(cp->db_, 5000);
  SF_RETURN_NOT_OK(cp->Exec("PRAGMA journal_mode=WAL"));
  // FULL: a committed transaction survives a power cut, not only a process crash.
  SF_RETURN_NOT_OK(cp->Exec("PRAGMA synchronous=FULL"));
  SF_RETURN_NOT_OK(cp->Exec(
      "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);"
      "CREATE TABLE IF NOT EXISTS rows (row_id INTEGER PRIMARY KEY, fingerprint INTEGER NOT NULL,"
      " raw BLOB, dialect TEXT, error_kind TEXT, error_message TEXT, http_status INTEGER,"
      " attempts INTEGER, prompt_tokens INTEGER, completion_tokens INTEGER, finished_at REAL,"
      " latency_s REAL, confidence TEXT)"));
  // Checkpoints from before the timing and confidence columns: add them (old rows keep NULL
  // there; a NULL confidence reads as "not asked", so --confidence sends those rows again).
  for (const char* column : {"finished_at", "latency_s", "confidence"}) {
    sqlite3_stmt* st = nullptr;
    std::string sql = fmt::format("SELECT {} FROM rows LIMIT 0", column);
    bool has = sqlite3_prepare_v2(cp->db_, sql.c_str(), -1, &st, nullptr) == SQLITE_OK;
    sqlite3_finalize(st);
    if (!has) {
      SF_RETURN_NOT_OK(
          cp->Exec(fmt::format("ALTER TABLE rows ADD COLUMN {} {}", column,
                               std::string_view(column) == "confidence" ? "TEXT" : "REAL")
                       .c_str()));
    }
  }
  SF_ASSIGN_OR_RAISE(auto existing, cp->GetMeta("job_key"));
  // The same job in a moved or copied folder: the output's file name matches; the key follows
  // the new place.
  const bool moved = existing && *existing != job_key &&
                     fs::path(*existing).filename() == fs::path(job_key).filename() &&
                     fs::path(job_key).has_parent_path();
  if (moved) SF_RETURN_NOT_OK(cp->SetMeta("job_key", job_key));
  if (existing && *existing != job_key && !moved) {
    return Status::InvalidArgument(fmt::format(
        "checkpoint {} belongs to another job ({}); delete it to start over, or pass a different "
        "--checkpoint PATH",
        path, *existing));
  }
  if (!existing) SF_RETURN_NOT_OK(cp->SetMeta("job_key", job_key));
  if (sqlite3_prepare_v2(
          cp->db_,
          "INSERT OR REPLACE INTO rows (row_id, fingerprint, raw, dialect, error_kind,"
          " error_message, http_status, attempts, prompt_tokens, completion_tokens, finished_at,"
          " latency_s, confidence) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
          -1, &cp->put_, nullptr) != SQLITE_OK) {
    return SqliteError(cp->db_, "prepare", path);
  }
  return cp;
}

Status Checkpoint::Begin() {
  if (in_txn_) return Status::OK();
  SF_RETURN_NOT_OK(Exec("BEGIN"));
  in_txn_ = true;
  return Status::OK();
}

Status Checkpoint::Put(const RowRecord& r) {
  SF_RETURN_NOT_OK(Begin());
  sqlite3_reset(put_);
  sqlite3_bind_int64(put_, 1, r.row_id);
  sqlite3_bind_int64(put_, 2, static_cast<int64_t>(r.fingerprint));
  sqlite3_bind_blob(put_, 3, r.raw.data(), static_cast<int>(r.raw.size()), SQLITE_STATIC);
  sqlite3_bind_text(put_, 4, r.dialect.data(), static_cast<int>(r.dialect.size()), SQLITE_STATIC);
  if (r.error.ok()) {
    sqlite3_bind_null(put_, 5);
    sqlite3_bind_null(put_, 6);
  } else {
    std::string_view kind = ErrorKindName(r.error.kind);
    sqlite3_bind_text(put_, 5, kind.data(), static_cast<int>(kind.size()), SQLITE_STATIC);
    sqlite3_bind_text(put_, 6, r.error.message.data(), static_cast<int>(r.error.message.size()),
                      SQLITE_STATIC);
  }
  sqlite3_bind_int(put_, 7, r.error.http_status);
  sqlite3_bind_int(put_, 8, r.error.attempts);
  sqlite3_bind_int64(put_, 9, r.prompt_tokens);
  sqlite3_bind_int64(put_, 10, r.completion_tokens);
  if (r.finished_at_s > 0) {
    sqlite3_bind_double(put_, 11, r.finished_at_s);
    sqlite3_bind_double(put_, 12, r.latency_s);
  } else {
    sqlite3_bind_null(put_, 11);
    sqlite3_bind_null(put_, 12);
  }
  if (r.confidence.empty()) {
    sqlite3_bind_null(put_, 13);
  } else {
    sqlite3_bind_text(put_, 13, r.confidence.data(), static_cast<int>(r.confidence.size()),
                      SQLITE_STATIC);
  }
  if (sqlite3_step(put_) != SQLITE_DONE) return SqliteError(db_, "write", path_);
  ++pending_;
  return Status::OK();
}

Status Checkpoint::Commit() {
  if (!in_txn_) return Status::OK();
  SF_RETURN_NOT_OK(Exec("COMMIT"));
  in_txn_ = false;
  pending_ = 0;
  return Status::OK();
}

Result<std::unique_ptr<Checkpoint::Cursor>> Checkpoint::Scan(int64_t first_row_id) {
  SF_RETURN_NOT_OK(Commit());
  std::unique_ptr<Cursor> c(new Cursor());
  std::string sql = std::string(kSelectColumns) + "WHERE row_id >= ?1 ORDER BY row_id";
  if (sqlite3_prepare_v2(db_, sql.c_str(), -1, &c->stmt_, nullptr) != SQLITE_OK) {
    return SqliteError(db_, "scan", path_);
  }
  sqlite3_bind_int64(c->stmt_, 1, first_row_id);
  return c;
}

namespace {

RowRecord ReadRecord(sqlite3_stmt* stmt_) {
  RowRecord r;
  auto text = [&](int col) {
    const void* p = sqlite3_column_blob(stmt_, col);
    int n = sqlite3_column_bytes(stmt_, col);
    return p ? std::string(static_cast<const char*>(p), n) : std::string();
  };
  r.row_id = sqlite3_column_int64(stmt_, 0);
  r.fingerprint = static_cast<uint64_t>(sqlite3_column_int64(stmt_, 1));
  r.raw = text(2);
  r.dialect = text(3);
  if (sqlite3_column_type(stmt_, 4) != SQLITE_NULL) {
    r.error.kind = ParseErrorKind(text(4));
    if (r.error.kind == ErrorKind::kNone) r.error.kind = ErrorKind::kInvalidResponse;
    r.error.message = text(5);
  }
  r.error.http_status = sqlite3_column_int(stmt_, 6);
  r.error.attempts = sqlite3_column_int(stmt_, 7);
  r.prompt_tokens = sqlite3_column_int64(stmt_, 8);
  r.completion_tokens = sqlite3_column_int64(stmt_, 9);
  r.finished_at_s = sqlite3_column_double(stmt_, 10);
  r.latency_s = sqlite3_column_double(stmt_, 11);
  r.confidence = text(12);
  return r;
}

// Pages of rows in row-id order on a read-only connection of its own. Each page is one short
// statement: between pages no read transaction is held.
class PagedCursor : public RowCursor {
 public:
  PagedCursor(std::string path, int64_t next_row_id, bool reusable_only)
      : path_(std::move(path)), next_row_id_(next_row_id), reusable_only_(reusable_only) {}
  ~PagedCursor() override {
    sqlite3_finalize(stmt_);
    sqlite3_close(db_);
  }

  Status Open() {
    if (sqlite3_open_v2(path_.c_str(), &db_, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, nullptr) !=
        SQLITE_OK) {
      return SqliteError(db_, "open for reading", path_);
    }
    sqlite3_busy_timeout(db_, 5000);
    std::string sql = std::string(kSelectColumns) + "WHERE row_id >= ?1 ORDER BY row_id LIMIT ?2";
    if (sqlite3_prepare_v2(db_, sql.c_str(), -1, &stmt_, nullptr) != SQLITE_OK) {
      return SqliteError(db_, "scan", path_);
    }
    return Status::OK();
  }

  Result<std::optional<RowRecord>> Next() override {
    while (true) {
      while (next_ < page_.size()) {
        RowRecord& r = page_[next_++];
        if (reusable_only_ && !ReusableOnResume(r.error)) continue;
        return std::optional<RowRecord>(std::move(r));
      }
      if (at_end_) return std::optional<RowRecord>();
      SF_RETURN_NOT_OK(ReadPage());
    }
  }

 private:
  static constexpr int kPageRows = 512;

  Status ReadPage() {
    page_.clear();
    next_ = 0;
    sqlite3_reset(stmt_);
    sqlite3_bind_int64(stmt_, 1, next_row_id_);
    sqlite3_bind_int(stmt_, 2, kPageRows);
    int rc;
    while ((rc = sqlite3_step(stmt_)) == SQLITE_ROW) page_.push_back(ReadRecord(stmt_));
    sqlite3_reset(stmt_);  // ends the read transaction
    if (rc != SQLITE_DONE) return SqliteError(db_, "scan", path_);
    if (page_.size() < static_cast<size_t>(kPageRows)) at_end_ = true;
    if (!page_.empty()) next_row_id_ = page_.back().row_id + 1;
    return Status::OK();
  }

  std::string path_;
  sqlite3* db_ = nullptr;
  sqlite3_stmt* stmt_ = nullptr;
  int64_t next_row_id_;
  bool reusable_only_;
  std::vector<RowRecord> page_;
  size_t next_ = 0;
  bool at_end_ = false;
};

}  // namespace

Result<std::optional<RowRecord>> Checkpoint::Cursor::Next() {
  int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_DONE) return std::optional<RowRecord>();
  if (rc != SQLITE_ROW)
    return Status::IOError(fmt::format("checkpoint scan failed: {}", sqlite3_errstr(rc)));
  return std::optional<RowRecord>(ReadRecord(stmt_));
}

Result<std::unique_ptr<RowCursor>> Checkpoint::ScanPages(int64_t first_row_id, bool reusable_only) {
  auto c = std::make_unique<PagedCursor>(path_, first_row_id, reusable_only);
  SF_RETURN_NOT_OK(c->Open());
  return std::unique_ptr<RowCursor>(std::move(c));
}

Status Checkpoint::SetMeta(const std::string& key, const std::string& value) {
  sqlite3_stmt* st = nullptr;
  if (sqlite3_prepare_v2(db_, "INSERT OR REPLACE INTO meta VALUES (?1, ?2)", -1, &st, nullptr) !=
      SQLITE_OK) {
    return SqliteError(db_, "write meta", path_);
  }
  sqlite3_bind_text(st, 1, key.c_str(), -1, SQLITE_TRANSIENT);
  sqlite3_bind_text(st, 2, value.c_str(), -1, SQLITE_TRANSIENT);
  int rc = sqlite3_step(st);
  sqlite3_finalize(st);
  if (rc != SQLITE_DONE) return SqliteError(db_, "write meta", path_);
  return Status::OK();
}

Result<std::optional<std::string>> Checkpoint::GetMeta(const std::string& key) {
  sqlite3_stmt* st = nullptr;
  if (sqlite3_prepare_v2(db_, "SELECT value FROM meta WHERE key = ?1", -1, &st, nullptr) !=
      SQLITE_OK) {
    return SqliteError(db_, "read meta", path_);
  }
  sqlite3_bind_text(st, 1, key.c_str(), -1, SQLITE_TRANSIENT);
  std::optional<std::string> out;
  if (sqlite3_step(st) == SQLITE_ROW) {
    out = reinterpret_cast<const char*>(sqlite3_column_text(st, 0));
  }
  sqlite3_finalize(st);
  return out;
}

namespace {

// The report reads a checkpoint without taking the job's lock: a finished job's file, or a
// running job's committed rows (WAL readers never block the writer).
Result<sqlite3*> OpenReadOnly(const std::string& path) {
  sqlite3* db = nullptr;
  if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK) {
    Status st = Status::IOError(fmt::format("cannot open checkpoint {}: {}", path,
                                            db ? sqlite3_errmsg(db) : "out of memory"));
    sqlite3_close(db);
    return st;
  }
  sqlite3_busy_timeout(db, 5000);
  return db;
}

}  // namespace

Result<std::optional<std::string>> Checkpoint::ReadMeta(const std::string& path,
                                                        const std::string& key) {
  SF_ASSIGN_OR_RAISE(sqlite3 * db, OpenReadOnly(path));
  sqlite3_stmt* st = nullptr;
  std::optional<std::string> out;
  if (sqlite3_prepare_v2(db, "SELECT value FROM meta WHERE key = ?1", -1, &st, nullptr) ==
      SQLITE_OK) {
    sqlite3_bind_text(st, 1, key.c_str(), -1, SQLITE_TRANSIENT);
    if (sqlite3_step(st) == SQLITE_ROW) {
      out = reinterpret_cast<const char*>(sqlite3_column_text(st, 0));
    }
  }
  sqlite3_finalize(st);
  sqlite3_close(db);
  return out;
}

Result<std::vector<RowTiming>> Checkpoint::ReadTimings(const std::string& path) {
  SF_ASSIGN_OR_RAISE(sqlite3 * db, OpenReadOnly(path));
  std::vector<RowTiming> out;
  sqlite3_stmt* st = nullptr;
  if (sqlite3_prepare_v2(db,
                         "SELECT row_id, finished_at, latency_s FROM rows WHERE finished_at IS NOT"
                         " NULL ORDER BY row_id",
                         -1, &st, nullptr) != SQLITE_OK) {
    // No such column: a checkpoint from before timings were recorded. No such table: not ours.
    std::string msg = sqlite3_errmsg(db);
    sqlite3_close(db);
    if (msg.find("no such column") != std::string::npos) return out;
    return Status::InvalidArgument(
        fmt::format("{} is not a structflow checkpoint ({})", path, msg));
  }
  int rc;
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    out.push_back(
        {sqlite3_column_int64(st, 0), sqlite3_column_double(st, 1), sqlite3_column_double(st, 2)});
  }
  sqlite3_finalize(st);
  Status status = rc == SQLITE_DONE ? Status::OK() : SqliteError(db, "read", path);
  sqlite3_close(db);
  if (!status.ok()) return status;
  return out;
}

}  // namespace structflow::engine

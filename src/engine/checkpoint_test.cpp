#include "engine/checkpoint.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sqlite3.h>
#include <sys/resource.h>

#include <filesystem>
#include <map>

namespace structflow::engine {
namespace {

std::string TempPath(const std::string& name) {
  auto dir =
      std::filesystem::temp_directory_path() / ("structflow_cp_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  auto p = dir / name;
  std::filesystem::remove(p);
  std::filesystem::remove(p.string() + "-wal");
  std::filesystem::remove(p.string() + "-shm");
  return p.string();
}

// The rows a resume may reuse (row id -> fingerprint), as the paged scan gives them.
Result<std::map<int64_t, uint64_t>> ReusableRows(Checkpoint& cp) {
  SF_RETURN_NOT_OK(cp.Commit());
  SF_ASSIGN_OR_RAISE(auto cursor, cp.ScanPages(0, /*reusable_only=*/true));
  std::map<int64_t, uint64_t> out;
  while (true) {
    SF_ASSIGN_OR_RAISE(auto r, cursor->Next());
    if (!r) return out;
    out[r->row_id] = r->fingerprint;
  }
}

TEST(Checkpoint, CommittedRowsSurviveReopenAndScanInRowOrder) {
  std::string path = TempPath("a.db");
  {
    auto cp = Checkpoint::Open(path, "job-1");
    ASSERT_TRUE(cp.ok()) << cp.status().ToString();
    for (int64_t id : {5, 1, 3, 7}) {
      RowRecord r;
      r.row_id = id;
      r.fingerprint = 100 + id;
      r.raw = "answer " + std::to_string(id);
      if (id == 3) r.error = RowError{ErrorKind::kHttpStatus, "HTTP 400: bad image", 400, 1};
      if (id == 7) r.error = RowError{ErrorKind::kHttpStatus, "HTTP 503", 503, 5};
      ASSERT_TRUE((*cp)->Put(r).ok());
    }
    ASSERT_TRUE((*cp)->Commit().ok());
    RowRecord uncommitted;
    uncommitted.row_id = 9;
    ASSERT_TRUE((*cp)->Put(uncommitted).ok());
    // Destroyed without Commit: the destructor commits, as a clean shutdown would.
  }
  auto cp = Checkpoint::Open(path, "job-1");
  ASSERT_TRUE(cp.ok());
  auto reusable = (*cp)->ScanPages(0, /*reusable_only=*/true);
  ASSERT_TRUE(reusable.ok());
  std::vector<std::pair<int64_t, uint64_t>> fps;
  while (true) {
    auto r = (*reusable)->Next();
    ASSERT_TRUE(r.ok());
    if (!r->has_value()) break;
    fps.emplace_back((*r)->row_id, (*r)->fingerprint);
  }
  // 1, 3, 5, 9; not 7, whose 503 may pass on a re-run.
  ASSERT_EQ(fps.size(), 4u);
  EXPECT_EQ(fps[0].first, 1);
  EXPECT_EQ(fps[2], (std::pair<int64_t, uint64_t>{5, 105u}));
  EXPECT_EQ(fps[3].first, 9);
  auto cursor = (*cp)->Scan(2);
  ASSERT_TRUE(cursor.ok());
  std::vector<int64_t> ids;
  while (true) {
    auto r = (*cursor)->Next();
    ASSERT_TRUE(r.ok());
    if (!r->has_value()) break;
    ids.push_back((*r)->row_id);
    if ((*r)->row_id == 3) {
      EXPECT_EQ((*r)->error.kind, ErrorKind::kHttpStatus);
      EXPECT_EQ((*r)->error.http_status, 400);
      EXPECT_EQ((*r)->error.message, "HTTP 400: bad image");
    }
  }
  EXPECT_EQ(ids, (std::vector<int64_t>{3, 5, 7, 9}));
}

TEST(Checkpoint, A2xxWithABrokenBodyIsSentAgainOnResume) {
  // A server that answered 200 with garbage may answer properly next time: like a reset, the
  // row is not reused, so a re-run sends it again.
  std::string path = TempPath("invalid.db");
  {
    auto cp = Checkpoint::Open(path, "job-1");
    ASSERT_TRUE(cp.ok());
    RowRecord r;
    r.row_id = 1;
    r.error = RowError{ErrorKind::kInvalidResponse, "HTTP 200 is not a completion", 200, 5};
    ASSERT_TRUE((*cp)->Put(r).ok());
    r.row_id = 2;
    r.error = RowError{ErrorKind::kInvalidOutput, "does not fit the schema", 200, 1};
    ASSERT_TRUE((*cp)->Put(r).ok());
    ASSERT_TRUE((*cp)->Commit().ok());
  }
  auto cp = Checkpoint::Open(path, "job-1");
  ASSERT_TRUE(cp.ok());
  auto fps = ReusableRows(**cp);
  ASSERT_TRUE(fps.ok());
  EXPECT_EQ(fps->count(1), 0u);
  EXPECT_EQ(fps->count(2), 1u);
}

// Disk full, injected: a file size limit (RLIMIT_FSIZE) makes writes past it fail with EFBIG
// (SIGXFSZ ignored), which SQLite reports as it would a full disk.
class FileSizeLimit {
 public:
  explicit FileSizeLimit(rlim_t bytes) {
    old_handler_ = ::signal(SIGXFSZ, SIG_IGN);
    ::getrlimit(RLIMIT_FSIZE, &old_);
    rlimit lim = old_;
    lim.rlim_cur = bytes;
    ::setrlimit(RLIMIT_FSIZE, &lim);
  }
  ~FileSizeLimit() {
    ::setrlimit(RLIMIT_FSIZE, &old_);
    ::signal(SIGXFSZ, old_handler_);
  }

 private:
  rlimit old_{};
  sighandler_t old_handler_;
};

TEST(Checkpoint, ADiskFullCommitFailsWithAMessageAndKeepsWhatWasCommitted) {
  std::string path = TempPath("full.db");
  {
    auto cp = Checkpoint::Open(path, "job-1");
    ASSERT_TRUE(cp.ok()) << cp.status().ToString();
    RowRecord r;
    r.row_id = 0;
    r.raw = "kept";
    ASSERT_TRUE((*cp)->Put(r).ok());
    ASSERT_TRUE((*cp)->Commit().ok());
    Status failed;
    {
      FileSizeLimit limit(256 << 10);
      for (int64_t id = 1; id < 20000 && failed.ok(); ++id) {
        r.row_id = id;
        r.raw = std::string(200, 'x');
        failed = (*cp)->Put(r);
        if (failed.ok() && id % 100 == 0) failed = (*cp)->Commit();
      }
    }
    ASSERT_FALSE(failed.ok()) << "a 256 KB file limit never stopped the checkpoint";
    EXPECT_NE(failed.message().find(path), std::string::npos) << failed.message();
  }
  auto cp = Checkpoint::Open(path, "job-1");
  ASSERT_TRUE(cp.ok()) << cp.status().ToString();
  auto fps = ReusableRows(**cp);
  ASSERT_TRUE(fps.ok());
  EXPECT_EQ(fps->count(0), 1u);
}

TEST(Checkpoint, RefusesACheckpointOfAnotherJob) {
  std::string path = TempPath("b.db");
  ASSERT_TRUE(Checkpoint::Open(path, "in.jsonl -> out.parquet").ok());
  auto other = Checkpoint::Open(path, "in.jsonl -> other.parquet");
  ASSERT_FALSE(other.ok());
  EXPECT_NE(other.status().message().find("belongs to another job"), std::string::npos);
}

TEST(Checkpoint, AMovedJobFolderResumesButAnotherOutputIsRefused) {
  std::string path = TempPath("moved.db");
  ASSERT_TRUE(Checkpoint::Open(path, "/data/run1/out.parquet").ok());
  auto moved = Checkpoint::Open(path, "/archive/run1/out.parquet");
  ASSERT_TRUE(moved.ok()) << moved.status().ToString();
  moved->reset();
  auto other = Checkpoint::Open(path, "/archive/run1/other.parquet");
  ASSERT_FALSE(other.ok());
  EXPECT_NE(other.status().message().find("belongs to another job"), std::string::npos);
  // The key followed the move: the old place is now the other one.
  EXPECT_TRUE(Checkpoint::Open(path, "/archive/run1/out.parquet").ok());
}

TEST(Checkpoint, ASecondJobOnTheSameCheckpointIsRefusedWhileTheFirstHoldsIt) {
  std::string path = TempPath("locked.db");
  {
    auto first = Checkpoint::Open(path, "job");
    ASSERT_TRUE(first.ok()) << first.status().ToString();
    auto second = Checkpoint::Open(path, "job");
    ASSERT_FALSE(second.ok());
    EXPECT_EQ(second.status().code(), StatusCode::kUnavailable);
    EXPECT_NE(second.status().message().find("in use by another structflow run"), std::string::npos)
        << second.status().message();
  }
  // Released when the first closes: the same job resumes.
  auto again = Checkpoint::Open(path, "job");
  EXPECT_TRUE(again.ok()) << again.status().ToString();
}

TEST(Checkpoint, AMissingFolderSaysToCreateIt) {
  std::string path = TempPath("x.db");
  std::string missing = std::filesystem::path(path).parent_path().string() + "/no/such/dir/x.db";
  auto cp = Checkpoint::Open(missing, "job");
  ASSERT_FALSE(cp.ok());
  EXPECT_NE(cp.status().message().find("mkdir -p"), std::string::npos) << cp.status().message();
}

TEST(Checkpoint, FingerprintChangesWithAnyByte) {
  EXPECT_NE(Fingerprint("prompt A"), Fingerprint("prompt B"));
  EXPECT_EQ(Fingerprint("same"), Fingerprint("same"));
}

TEST(Checkpoint, KeepsEachRowsFinishTimeAndLatencyForTheReport) {
  std::string path = TempPath("timings.db");
  {
    auto cp = Checkpoint::Open(path, "job-t");
    ASSERT_TRUE(cp.ok());
    RowRecord a;
    a.row_id = 2;
    a.finished_at_s = 1700000001.25;
    a.latency_s = 0.5;
    RowRecord b;  // failed before any request: no timing
    b.row_id = 1;
    b.error = RowError{ErrorKind::kImageError, "row 1: not an image", 0, 0};
    ASSERT_TRUE((*cp)->Put(a).ok());
    ASSERT_TRUE((*cp)->Put(b).ok());
    ASSERT_TRUE((*cp)->Commit().ok());
    auto cursor = (*cp)->Scan(2);
    ASSERT_TRUE(cursor.ok());
    auto r = (*cursor)->Next();
    ASSERT_TRUE(r.ok() && r->has_value());
    EXPECT_DOUBLE_EQ((*r)->latency_s, 0.5);
  }
  auto t = Checkpoint::ReadTimings(path);
  ASSERT_TRUE(t.ok()) << t.status().ToString();
  ASSERT_EQ(t->size(), 1u);
  EXPECT_EQ((*t)[0].row_id, 2);
  EXPECT_DOUBLE_EQ((*t)[0].finished_at_s, 1700000001.25);
  EXPECT_DOUBLE_EQ((*t)[0].latency_s, 0.5);
}

TEST(Checkpoint, OpensACheckpointFromBeforeTimingsAndAddsTheColumns) {
  std::string path = TempPath("old.db");
  {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
    ASSERT_EQ(sqlite3_exec(db,
                           "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);"
                           "INSERT INTO meta VALUES ('job_key', 'job-old');"
                           "CREATE TABLE rows (row_id INTEGER PRIMARY KEY, fingerprint INTEGER NOT "
                           "NULL, raw BLOB, dialect TEXT, error_kind TEXT, error_message TEXT,"
                           " http_status INTEGER, attempts INTEGER, prompt_tokens INTEGER,"
                           " completion_tokens INTEGER);"
                           "INSERT INTO rows VALUES (0, 7, 'A', 'vllm', NULL, NULL, 200, 1, 3, 1);",
                           nullptr, nullptr, nullptr),
              SQLITE_OK);
    sqlite3_close(db);
  }
  auto before = Checkpoint::ReadTimings(path);
  ASSERT_TRUE(before.ok()) << before.status().ToString();
  EXPECT_TRUE(before->empty());
  auto cp = Checkpoint::Open(path, "job-old");
  ASSERT_TRUE(cp.ok()) << cp.status().ToString();
  RowRecord r;
  r.row_id = 1;
  r.finished_at_s = 10;
  r.latency_s = 2;
  ASSERT_TRUE((*cp)->Put(r).ok());
  ASSERT_TRUE((*cp)->Commit().ok());
  auto fps = ReusableRows(**cp);
  ASSERT_TRUE(fps.ok());
  EXPECT_EQ(fps->size(), 2u);  // the old row is still reusable
  auto t = Checkpoint::ReadTimings(path);
  ASSERT_TRUE(t.ok());
  ASSERT_EQ(t->size(), 1u);
  EXPECT_EQ((*t)[0].row_id, 1);
}

}  // namespace
TEST(Checkpoint, PagedScanCrossesPagesWhileTheWriterCommits) {
  std::string path = ::testing::TempDir() + "/paged.checkpoint";
  std::remove(path.c_str());
  auto cp = Checkpoint::Open(path, "job-p");
  ASSERT_TRUE(cp.ok());
  for (int64_t i = 0; i < 1300; i += 2) {
    RowRecord r;
    r.row_id = i;
    r.fingerprint = static_cast<uint64_t>(i) + 1;
    ASSERT_TRUE((*cp)->Put(r).ok());
  }
  ASSERT_TRUE((*cp)->Commit().ok());
  auto cursor = (*cp)->ScanPages(100, false);
  ASSERT_TRUE(cursor.ok());
  int64_t expect = 100;
  int64_t seen = 0;
  while (true) {
    auto r = (*cursor)->Next();
    ASSERT_TRUE(r.ok()) << r.status().message();
    if (!r->has_value()) break;
    EXPECT_EQ((*r)->row_id, expect);
    expect += 2;
    ++seen;
    if (seen == 10) {
      // The writer goes on between pages: rows beyond the cursor's position show up.
      RowRecord late;
      late.row_id = 5001;
      ASSERT_TRUE((*cp)->Put(late).ok());
      ASSERT_TRUE((*cp)->Commit().ok());
    }
    if ((*r)->row_id == 1298) expect = 5001;
  }
  EXPECT_EQ(seen, 601);  // 100..1298 step 2 (600 rows) and 5001
}

}  // namespace structflow::engine

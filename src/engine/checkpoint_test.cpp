#include "engine/checkpoint.h"

#include <gtest/gtest.h>

#include <filesystem>

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

TEST(Checkpoint, RefusesACheckpointOfAnotherJob) {
  std::string path = TempPath("b.db");
  ASSERT_TRUE(Checkpoint::Open(path, "in.jsonl -> out.parquet").ok());
  auto other = Checkpoint::Open(path, "in.jsonl -> other.parquet");
  ASSERT_FALSE(other.ok());
  EXPECT_NE(other.status().message().find("belongs to another job"), std::string::npos);
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

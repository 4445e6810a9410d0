#include "io/files.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include "io/io_test_util.h"
#include "io/source.h"

namespace structflow::io {
namespace {

using ::testing::HasSubstr;
using testing::ReadFile;
using testing::ScratchDir;
using testing::WriteFile;

TEST(ExpandInputs, MissingFileNamesThePathAndTheFix) {
  ScratchDir dir;
  auto r = OpenSource({dir / "nope.jsonl"});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kNotFound);
  EXPECT_THAT(r.status().message(), HasSubstr("nope.jsonl' does not exist"));
  EXPECT_THAT(r.status().message(), HasSubstr("check the path"));
}

TEST(ExpandInputs, EmptyGlobNamesThePattern) {
  ScratchDir dir;
  WriteFile(dir / "a.csv", "x\n1\n");
  auto r = OpenSource({dir / "*.parquet"});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kNotFound);
  EXPECT_THAT(r.status().message(), HasSubstr("no file matches '" + (dir / "*.parquet") + "'"));
  EXPECT_THAT(r.status().message(), HasSubstr("quote it"));
}

TEST(ExpandInputs, GlobsAndFoldersExpandSortedAndFormatsMustAgree) {
  ScratchDir dir;
  WriteFile(dir / "d/b.jsonl", "{}\n");
  WriteFile(dir / "d/a.jsonl", "{}\n");
  WriteFile(dir / "d/sub/c.jsonl", "{}\n");
  WriteFile(dir / "d/notes.txt", "ignored\n");
  auto r = ExpandInputs({dir / "d"});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->format, Format::kJsonl);
  EXPECT_EQ(r->paths, (std::vector<std::string>{dir / "d/a.jsonl", dir / "d/b.jsonl",
                                                dir / "d/sub/c.jsonl"}));
  r = ExpandInputs({dir / "d/?.jsonl"});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->paths, (std::vector<std::string>{dir / "d/a.jsonl", dir / "d/b.jsonl"}));

  WriteFile(dir / "x.csv", "a\n");
  r = ExpandInputs({dir / "d/a.jsonl", dir / "x.csv"});
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.status().message(), HasSubstr("inputs mix formats"));
  r = ExpandInputs({dir / "d/notes.txt"});
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.status().message(), HasSubstr("cannot tell the format"));
  std::filesystem::create_directories(dir / "empty");
  r = ExpandInputs({dir / "empty"});
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.status().message(), HasSubstr("holds no .parquet, .jsonl, .csv or image"));
}

TEST(LineReader, ReadsLinesAcrossChunkBoundariesAndGrowsForLongLines) {
  ScratchDir dir;
  std::string long_line(100, 'x');
  WriteFile(dir / "a.txt",
            "\xEF\xBB\xBF"
            "ab\r\ncdefghij\n\n" +
                long_line + "\nlast");
  auto r = LineReader::Open(dir / "a.txt", 4);
  ASSERT_TRUE(r.ok());
  std::vector<std::string> lines;
  std::string_view line;
  while (true) {
    auto more = (*r)->Next(&line);
    ASSERT_TRUE(more.ok());
    if (!*more) break;
    lines.emplace_back(line);
  }
  EXPECT_EQ(lines, (std::vector<std::string>{"ab", "cdefghij", "", long_line, "last"}));
  EXPECT_EQ((*r)->line_number(), 5);
}

TEST(AtomicFile, NothingAtTheFinalPathUntilCommitAndNoLeftoversWithout) {
  ScratchDir dir;
  WriteFile(dir / "out.jsonl", "old\n");
  {
    auto f = AtomicFile::Create(dir / "out.jsonl");
    ASSERT_TRUE(f.ok());
    ASSERT_TRUE((*f)->Append("new\n").ok());
    EXPECT_TRUE(std::filesystem::exists((*f)->temp_path()));
    EXPECT_EQ(ReadFile(dir / "out.jsonl"), "old\n");
  }  // dropped without Commit
  EXPECT_EQ(ReadFile(dir / "out.jsonl"), "old\n");
  EXPECT_EQ(std::distance(std::filesystem::directory_iterator(dir.str()), {}), 1);

  auto f = AtomicFile::Create(dir / "out.jsonl");
  ASSERT_TRUE(f.ok());
  ASSERT_TRUE((*f)->Append("new\n").ok());
  ASSERT_TRUE((*f)->Commit().ok());
  EXPECT_EQ(ReadFile(dir / "out.jsonl"), "new\n");
  EXPECT_FALSE(std::filesystem::exists((*f)->temp_path()));
}

TEST(AtomicFile, RemovesTempFilesLeftByDeadProcessesOnly) {
  // A kill during the output pass leaves OUT.tmp-PID behind; a later run removes it, but never
  // the temporary file of a writer that still runs.
  ScratchDir dir;
  pid_t child = ::fork();
  if (child == 0) ::_exit(0);
  ASSERT_GT(child, 0);
  ASSERT_EQ(::waitpid(child, nullptr, 0), child);  // reaped: its PID names no process now
  const std::string dead = dir / ("out.jsonl.tmp-" + std::to_string(child));
  const std::string alive = dir / ("out.jsonl.tmp-" + std::to_string(::getppid()));
  const std::string other = dir / "out.jsonl.tmp-notapid";
  const std::string other_file = dir / ("other.jsonl.tmp-" + std::to_string(child));
  for (const auto& p : {dead, alive, other, other_file}) WriteFile(p, "partial");
  auto f = AtomicFile::Create(dir / "out.jsonl");
  ASSERT_TRUE(f.ok());
  EXPECT_FALSE(std::filesystem::exists(dead));
  EXPECT_TRUE(std::filesystem::exists(alive));
  EXPECT_TRUE(std::filesystem::exists(other));
  EXPECT_TRUE(std::filesystem::exists(other_file));
  EXPECT_TRUE(std::filesystem::exists((*f)->temp_path()));
  WriteFile(dead, "partial");
  EXPECT_EQ(RemoveStaleTempFiles(dir / "out.jsonl"), 1);
}

TEST(AtomicFile, MissingFolderNamesItAndTheFix) {
  ScratchDir dir;
  auto f = AtomicFile::Create(dir / "no/such/out.csv");
  ASSERT_FALSE(f.ok());
  EXPECT_THAT(f.status().message(), HasSubstr("mkdir -p"));
}

TEST(OpenSink, SinkDroppedWithoutFinishLeavesNoFile) {
  ScratchDir dir;
  table::Schema schema;
  schema.fields.push_back({"a", table::DataType::Int64()});
  auto batch = table::RecordBatch::Empty(schema);
  batch.columns[0].AppendInt(1);
  for (const char* name : {"o.jsonl", "o.csv"}) {
    {
      auto sink = OpenSink(dir / name, schema);
      ASSERT_TRUE(sink.ok());
      ASSERT_TRUE((*sink)->Write(batch).ok());
      EXPECT_FALSE(std::filesystem::exists(dir / name));
    }
    EXPECT_FALSE(std::filesystem::exists(dir / name));
  }
  EXPECT_EQ(std::distance(std::filesystem::directory_iterator(dir.str()), {}), 0);
  auto bad = OpenSink(dir / "o.txt", schema);
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(bad.status().message(), HasSubstr(".parquet, .jsonl"));
}

}  // namespace
}  // namespace structflow::io

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "io/io_test_util.h"
#include "io/source.h"

namespace structflow::io {
namespace {

using ::testing::HasSubstr;
using testing::ReadAllJson;
using testing::ScratchDir;
using testing::WriteFile;

TEST(ImageFolder, OneRowPerImageSortedWithSidecarFields) {
  ScratchDir dir;
  WriteFile(dir / "imgs/b.png", "PNG-b");
  WriteFile(dir / "imgs/a.JPG", "JPG-a");
  WriteFile(dir / "imgs/sub/c.webp", "WEBP-c");
  WriteFile(dir / "imgs/readme.txt", "not an image");
  WriteFile(dir / "imgs/metadata.jsonl",
            "{\"file_name\":\"a.JPG\",\"label\":\"cat\",\"score\":1}\n"
            "{\"file_name\":\"./sub/c.webp\",\"label\":\"dog\",\"score\":2.5}\n"
            "{\"file_name\":\"gone.png\",\"label\":\"x\",\"score\":0}\n");
  ReadOptions opts;
  opts.batch_rows = 2;
  auto src = OpenSource({dir / "imgs"}, opts);
  ASSERT_TRUE(src.ok()) << src.status().ToString();
  EXPECT_EQ((*src)->schema().ToString(),
            "path: string not null\nimage: binary\nlabel: string\nscore: double\n");
  EXPECT_EQ((*src)->num_rows(), 3);
  EXPECT_EQ((*src)->base_dir(), dir / "imgs");
  int64_t batches = 0;
  Status st;
  EXPECT_EQ(ReadAllJson(src->get(), &st, &batches),
            "{\"path\":\"a.JPG\",\"image\":\"SlBHLWE=\",\"label\":\"cat\",\"score\":1.0}\n"
            "{\"path\":\"b.png\",\"image\":\"UE5HLWI=\",\"label\":null,\"score\":null}\n"
            "{\"path\":\"sub/c.webp\",\"image\":\"V0VCUC1j\",\"label\":\"dog\",\"score\":2.5}\n");
  EXPECT_TRUE(st.ok()) << st.ToString();
  EXPECT_EQ(batches, 2);
}

TEST(ImageFolder, CsvSidecarKeyedByPath) {
  ScratchDir dir;
  WriteFile(dir / "imgs/x.gif", "G");
  WriteFile(dir / "imgs/metadata.csv", "path,caption\nx.gif,\"a, b\"\n");
  ReadOptions opts;
  opts.columns = {"caption", "path"};
  auto src = OpenSource({dir / "imgs"}, opts);
  ASSERT_TRUE(src.ok()) << src.status().ToString();
  EXPECT_EQ(ReadAllJson(src->get()), "{\"caption\":\"a, b\",\"path\":\"x.gif\"}\n");
}

TEST(ImageFolder, ReadsImageBytesOnlyWhenTheBatchIsBuilt) {
  ScratchDir dir;
  WriteFile(dir / "imgs/a.png", "before");
  WriteFile(dir / "imgs/b.png", "b");
  auto src = OpenSource({dir / "imgs"});
  ASSERT_TRUE(src.ok());
  // Bytes are read at Next(), not at open: a change in between shows.
  WriteFile(dir / "imgs/a.png", "after");
  auto batch = (*src)->Next();
  ASSERT_TRUE(batch.ok() && batch->has_value());
  EXPECT_EQ((*batch)->columns[1].GetBytes(0), "after");

  // Without the image column the files are never opened.
  ReadOptions opts;
  opts.columns = {"path"};
  auto paths = OpenSource({dir / "imgs"}, opts);
  ASSERT_TRUE(paths.ok());
  std::filesystem::remove(dir / "imgs/a.png");
  EXPECT_EQ(ReadAllJson(paths->get()), "{\"path\":\"a.png\"}\n{\"path\":\"b.png\"}\n");
}

TEST(ImageFolder, SidecarWithoutAKeyColumnSaysWhatToAdd) {
  ScratchDir dir;
  WriteFile(dir / "imgs/a.png", "a");
  WriteFile(dir / "imgs/metadata.csv", "name,label\na.png,cat\n");
  auto src = OpenSource({dir / "imgs"});
  ASSERT_FALSE(src.ok());
  EXPECT_THAT(src.status().message(), HasSubstr("no 'file_name' (or 'path') column"));
}

}  // namespace
}  // namespace structflow::io

namespace structflow::io {
namespace {

TEST(ImageFolder, SeveralFoldersWithOneSchemaStreamAsOne) {
  testing::ScratchDir dir;
  testing::WriteFile(dir / "f1/a.png", "1");
  testing::WriteFile(dir / "f2/b.png", "2");
  testing::WriteFile(dir / "f2/c.png", "3");
  ReadOptions opts;
  opts.columns = {"path"};
  auto src = OpenSource({dir / "f1", dir / "f2"}, opts);
  ASSERT_TRUE(src.ok()) << src.status().ToString();
  EXPECT_EQ((*src)->num_rows(), 3);
  EXPECT_EQ(testing::ReadAllJson(src->get()),
            "{\"path\":\"a.png\"}\n{\"path\":\"b.png\"}\n{\"path\":\"c.png\"}\n");

  testing::WriteFile(dir / "f2/metadata.jsonl", "{\"file_name\":\"b.png\",\"label\":\"x\"}\n");
  auto mixed = OpenSource({dir / "f1", dir / "f2"});
  ASSERT_FALSE(mixed.ok());
  EXPECT_THAT(mixed.status().message(), ::testing::HasSubstr("column 'label' is in"));
}

}  // namespace
}  // namespace structflow::io

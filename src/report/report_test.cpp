#include "report/report.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "image/test_util.h"

namespace structflow::report {
namespace {

namespace fs = std::filesystem;

std::string Dir() {
  auto d = fs::path(::testing::TempDir()) / ("structflow_report_" + std::to_string(::getpid()));
  fs::create_directories(d);
  return d.string();
}

// Two results of the same 6 rows; rows 1 and 2 flip, row 5 fails in the second run.
void WriteResults(const std::string& dir) {
  std::string png = image::testing::Save(image::testing::PhotoLike(320, 200), ".png");
  std::ofstream(dir + "/pic.png", std::ios::binary) << png;
  std::ofstream a(dir + "/a.jsonl"), b(dir + "/b.jsonl");
  const char* keys[] = {"Answer: A", "Answer: B", "Answer: C",
                        "Answer: D", "Answer: A", "Answer: B"};
  const char* pa[] = {"A", "b", "D", "D", "C", "B"};
  const char* pb[] = {"A", "C", "C", "D", "C", "B"};
  for (int i = 0; i < 6; ++i) {
    std::string common = std::string(R"("image": "pic.png", "question": "What is <shown> #)") +
                         std::to_string(i) + R"(?", "key": ")" + keys[i] + R"(", "src": ")" +
                         (i % 2 ? "odd" : "even") + "\"";
    a << "{" << common << R"(, "output": ")" << pa[i] << R"(", "error": null})"
      << "\n";
    if (i == 5) {
      b << "{" << common
        << R"(, "output": null, "error": {"kind": "timeout", "message": "row 5: no answer in 300 s", "http_status": 0, "attempts": 5}})"
        << "\n";
    } else {
      b << "{" << common << R"(, "output": ")" << pb[i] << R"(", "error": null})"
        << "\n";
    }
  }
}

TEST(Report, TwoRunsShowEvalsFiguresFlippedRowsWithThumbnailsAndErrors) {
  const std::string dir = Dir();
  WriteResults(dir);
  ReportOptions o;
  o.results = {dir + "/a.jsonl", dir + "/b.jsonl"};
  o.labels = {"with", "without"};
  o.eval.key = "key";
  o.eval.by = "src";
  ReportSummary s;
  auto html = BuildReport(o, &s);
  ASSERT_TRUE(html.ok()) << html.status().message();
  // Rows 1 (right only with) and 2 (right only without) flipped; both have a thumbnail.
  EXPECT_EQ(s.gallery_candidates, 2);
  EXPECT_EQ(s.gallery_shown, 2);
  EXPECT_EQ(s.thumbnails, 2);
  EXPECT_EQ(s.image_column, "image");
  EXPECT_EQ(s.question_column, "question");
  EXPECT_NE(html->find("src=\"data:image/jpeg;base64,"), std::string::npos);
  // The first run: 4 of 6 right after normalisation (b matches Answer: B).
  EXPECT_NE(
      html->find(
          R"(data-figure="[&quot;first&quot;,&quot;accuracy&quot;]" data-format="pct">66.7%<)"),
      std::string::npos);
  // McNemar over 2 discordant rows split 1-1: p = 1.
  EXPECT_NE(html->find(R"(data-format="p">1.000<)"), std::string::npos);
  // Questions are escaped, errors are shown with their full message.
  EXPECT_NE(html->find("What is &lt;shown&gt; #1?"), std::string::npos);
  EXPECT_EQ(html->find("<shown>"), std::string::npos);
  EXPECT_NE(html->find("row 5: no answer in 300 s"), std::string::npos);
  // Without a stats file or checkpoint the page says what is missing.
  EXPECT_NE(html->find("no a.jsonl.stats.json beside a.jsonl"), std::string::npos);
  // Nothing is fetched from the network.
  EXPECT_EQ(html->find("http://"), std::string::npos);
  EXPECT_EQ(html->find("https://"), std::string::npos);
}

TEST(Report, ALargeGalleryIsSampledAndSaysSo) {
  const std::string dir = Dir();
  WriteResults(dir);
  ReportOptions o;
  o.results = {dir + "/a.jsonl"};
  o.eval.key = "key";
  o.gallery_max = 1;
  ReportSummary s;
  auto html = BuildReport(o, &s);
  ASSERT_TRUE(html.ok()) << html.status().message();
  EXPECT_EQ(s.gallery_candidates, 2);  // one run: the rows answered wrong (2 and 4)
  EXPECT_EQ(s.gallery_shown, 1);
  EXPECT_NE(html->find("Showing a sample of 1 of them"), std::string::npos);
}

TEST(Report, ErrorsNameTheMissingColumn) {
  const std::string dir = Dir();
  WriteResults(dir);
  ReportOptions o;
  o.results = {dir + "/a.jsonl"};
  o.eval.key = "answer";
  auto html = BuildReport(o, nullptr);
  ASSERT_FALSE(html.ok());
  EXPECT_NE(html.status().message().find("--key"), std::string::npos);
  o.eval.key = "key";
  o.image = "picture";
  html = BuildReport(o, nullptr);
  ASSERT_FALSE(html.ok());
  EXPECT_NE(html.status().message().find("--keep-binary"), std::string::npos);
}

}  // namespace
}  // namespace structflow::report

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

// Eight rows with a confidence (by hand, 10 bins): 0.95 R, 0.95 R, 0.85 W, 0.85 R -> bins
// [0.9,1.0]: 2 rows, conf 0.95, acc 1 (gap 0.05); [0.8,0.9): 2 rows, conf 0.85, acc 0.5 (gap
// 0.35); 0.65 W, 0.55 R -> [0.6,0.7): 1 row, acc 0 (gap 0.65); [0.5,0.6): 1 row, acc 1 (gap
// 0.45); 0.25 W, 0.15 W -> [0.2,0.3) and [0.1,0.2): acc 0 (gaps 0.25, 0.15).
// ECE = (2*0.05 + 2*0.35 + 0.65 + 0.45 + 0.25 + 0.15) / 8 = 2.3 / 8 = 0.2875 -> "28.8%".
// Coverage 50%: the four most confident rows, 3 right -> 75.0%. A ninth row has a null
// confidence; --min-confidence 0.5 answers 6 rows (4 right: 66.7%) and abstains on 2.
TEST(Report, ConfidenceGivesACalibrationSectionWithEvalsFigures) {
  const std::string dir = Dir();
  const double conf[] = {0.95, 0.95, 0.85, 0.85, 0.65, 0.55, 0.25, 0.15};
  const bool right[] = {true, true, false, true, false, true, false, false};
  {
    std::ofstream f(dir + "/c.jsonl");
    for (int i = 0; i < 8; ++i) {
      f << R"({"key": "A", "output": ")" << (right[i] ? "A" : "B") << R"(", "confidence": )"
        << conf[i] << "}\n";
    }
    f << R"({"key": "A", "output": "A", "confidence": null})"
      << "\n";
  }
  ReportOptions o;
  o.results = {dir + "/c.jsonl"};
  o.eval.key = "key";
  o.eval.min_confidence = 0.5;
  auto html = BuildReport(o, nullptr);
  ASSERT_TRUE(html.ok()) << html.status().message();
  EXPECT_NE(html->find("<section id=\"calibration\">"), std::string::npos);
  EXPECT_NE(html->find("href=\"#calibration\""), std::string::npos);
  EXPECT_NE(html->find("aria-label=\"reliability diagram of confidence\""), std::string::npos);
  auto figure = [&](const std::string& keys, const std::string& format, const std::string& text) {
    return html->find("data-figure=\"[" + keys + "]\" data-format=\"" + format + "\">" + text +
                      "<") != std::string::npos;
  };
  const std::string cal = "&quot;calibration&quot;,";
  EXPECT_TRUE(figure(cal + "&quot;ece&quot;", "pct", "28.8%"));
  EXPECT_TRUE(figure(cal + "&quot;rows&quot;", "int", "8"));
  EXPECT_TRUE(figure(cal + "&quot;no_confidence&quot;", "int", "1"));
  EXPECT_TRUE(
      figure(cal + "&quot;coverage&quot;,&quot;0&quot;,&quot;accuracy&quot;", "pct", "75.0%"));
  EXPECT_TRUE(figure(cal + "&quot;bins&quot;,&quot;8&quot;,&quot;accuracy&quot;", "pct", "50.0%"));
  EXPECT_TRUE(figure(cal + "&quot;min_confidence&quot;,&quot;answered&quot;", "int", "6"));
  EXPECT_TRUE(figure(cal + "&quot;min_confidence&quot;,&quot;abstained&quot;", "int", "2"));
  EXPECT_TRUE(figure(cal + "&quot;min_confidence&quot;,&quot;accuracy&quot;", "pct", "66.7%"));
  // The gallery of wrong rows shows each answer's confidence (row 2: B at 85%).
  EXPECT_NE(html->find("<span class=\"no\">B</span> <span class=\"muted\">(confidence 85%)</span>"),
            std::string::npos);

  // Without a confidence column there is no calibration section.
  WriteResults(dir);
  o.results = {dir + "/a.jsonl"};
  o.eval.min_confidence = -1;
  html = BuildReport(o, nullptr);
  ASSERT_TRUE(html.ok()) << html.status().message();
  EXPECT_EQ(html->find("id=\"calibration\""), std::string::npos);
}

}  // namespace
}  // namespace structflow::report

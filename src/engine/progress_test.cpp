#include "engine/progress.h"

#include <gtest/gtest.h>

namespace structflow::engine {
namespace {

TEST(RenderProgress, ShowsThePercentageTheEtaAndWhatTheCheckpointHeld) {
  JobProgress p;
  p.total = 1000;
  p.done = 250;
  p.resumed = 4000;
  p.elapsed_s = 10;
  std::string line = RenderProgress(p);
  EXPECT_NE(line.find("250/1,000 rows (25.0%)"), std::string::npos) << line;
  EXPECT_NE(line.find("+4,000 from the checkpoint"), std::string::npos) << line;
  EXPECT_NE(line.find("ETA 0:00:30"), std::string::npos) << line;
}

TEST(RenderProgress, ShowsTheCachedShareOnlyWhenTheServerReportsIt) {
  JobProgress p;
  p.done = 10;
  p.elapsed_s = 1;
  p.prompt_tokens = 4000;
  EXPECT_EQ(RenderProgress(p).find("cached"), std::string::npos);
  p.cached_prompt_tokens = 2500;
  p.cached_answers = 6;
  std::string line = RenderProgress(p);
  EXPECT_NE(line.find("prompt cached 62%"), std::string::npos) << line;
}

TEST(RenderProgress, NoTotalYetShowsTheCountOnly) {
  JobProgress p;
  p.done = 7;
  std::string line = RenderProgress(p);
  EXPECT_EQ(line.rfind("7 rows  ", 0), 0u) << line;
  EXPECT_EQ(line.find('%'), std::string::npos) << line;
  EXPECT_EQ(line.find("checkpoint"), std::string::npos) << line;
}

}  // namespace
}  // namespace structflow::engine

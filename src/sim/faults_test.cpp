#include "sim/faults.h"

#include <gtest/gtest.h>

namespace structflow::sim {
namespace {

TEST(FaultPlan, ParsesTheIssueSpec) {
  auto p =
      FaultPlan::Parse("429:0.1,500:0.05,503:0.02,reset:0.02,hang:0.01,garbage:0.01,length:0.02");
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  EXPECT_DOUBLE_EQ(p->rate(Fault::k429), 0.1);
  EXPECT_DOUBLE_EQ(p->rate(Fault::kLength), 0.02);
  EXPECT_FALSE(p->empty());
  EXPECT_TRUE(FaultPlan::Parse("").value().empty());
}

TEST(FaultPlan, ErrorsNameTheBadItem) {
  auto unknown = FaultPlan::Parse("429:0.1,teapot:0.2");
  ASSERT_FALSE(unknown.ok());
  EXPECT_NE(unknown.status().message().find("teapot"), std::string::npos);
  EXPECT_NE(unknown.status().message().find("garbage"), std::string::npos);  // lists the names
  auto no_rate = FaultPlan::Parse("reset");
  ASSERT_FALSE(no_rate.ok());
  EXPECT_NE(no_rate.status().message().find("NAME:RATE"), std::string::npos);
  EXPECT_FALSE(FaultPlan::Parse("500:1.5").ok());
  EXPECT_FALSE(FaultPlan::Parse("500:abc").ok());
  auto over = FaultPlan::Parse("500:0.6,503:0.6");
  ASSERT_FALSE(over.ok());
  EXPECT_NE(over.status().message().find("at most 1"), std::string::npos);
}

TEST(FaultPlan, DecidesDeterministicallyAtTheGivenRates) {
  auto p = FaultPlan::Parse("429:0.2,reset:0.1").value();
  int n429 = 0, nreset = 0;
  const int kN = 20000;
  for (int i = 0; i < kN; ++i) {
    Fault f = p.Decide(42, i);
    EXPECT_EQ(f, p.Decide(42, i));
    n429 += f == Fault::k429;
    nreset += f == Fault::kReset;
  }
  EXPECT_NEAR(n429 / double(kN), 0.2, 0.02);
  EXPECT_NEAR(nreset / double(kN), 0.1, 0.015);
  int differ = 0;
  for (int i = 0; i < 200; ++i) differ += p.Decide(1, i) != p.Decide(2, i);
  EXPECT_GT(differ, 10);  // another seed, another run
}

}  // namespace
}  // namespace structflow::sim

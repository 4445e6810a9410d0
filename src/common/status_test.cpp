#include "common/status.h"

#include <gtest/gtest.h>

namespace structflow {
namespace {

Result<int> Half(int x) {
  if (x % 2 != 0) return Status::InvalidArgument("odd");
  return x / 2;
}

Result<int> Quarter(int x) {
  SF_ASSIGN_OR_RAISE(int h, Half(x));
  SF_ASSIGN_OR_RAISE(int q, Half(h));
  return q;
}

Status CheckEven(int x) {
  SF_RETURN_NOT_OK(Half(x).status());
  return Status::OK();
}

TEST(Status, OkAndErrorsCarryCodeAndMessage) {
  EXPECT_TRUE(Status::OK().ok());
  Status s = Status::NotFound("column 'x'");
  EXPECT_FALSE(s.ok());
  EXPECT_EQ(s.code(), StatusCode::kNotFound);
  EXPECT_EQ(s.ToString(), "not_found: column 'x'");
  EXPECT_EQ(s.WithContext("data.jsonl").message(), "data.jsonl: column 'x'");
}

TEST(Result, MacrosPropagateTheFirstError) {
  EXPECT_EQ(*Quarter(8), 2);
  EXPECT_FALSE(Quarter(6).ok());
  EXPECT_EQ(Quarter(6).status().message(), "odd");
  EXPECT_TRUE(CheckEven(4).ok());
  EXPECT_EQ(CheckEven(3).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(Half(3).ValueOr(-1), -1);
}

}  // namespace
}  // namespace structflow

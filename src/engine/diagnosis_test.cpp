#include "engine/diagnosis.h"

#include <gtest/gtest.h>

namespace structflow::engine {
namespace {

TEST(Diagnosis, UnknownModelNamesTheModelAndTheFlag) {
  std::string fix =
      AdviseFix(RowError{ErrorKind::kHttpStatus, "model not found", 404, 1}, {"nope", false});
  EXPECT_NE(fix.find("'nope'"), std::string::npos) << fix;
  EXPECT_NE(fix.find("--model"), std::string::npos) << fix;
}

TEST(Diagnosis, ImagesRefusedOnlyWhenTheJobHasImages) {
  RowError e{ErrorKind::kHttpStatus, "image input is not supported", 400, 1};
  EXPECT_NE(AdviseFix(e, {"m", true}).find("vision model"), std::string::npos);
  EXPECT_EQ(AdviseFix(e, {"m", false}).find("vision model"), std::string::npos);
}

TEST(Diagnosis, MissingChatTemplateSaysHowToGiveOne) {
  RowError e{ErrorKind::kHttpStatus, "this model has no chat template", 400, 1};
  EXPECT_NE(AdviseFix(e, {"m", false}).find("--chat-template"), std::string::npos);
}

TEST(Diagnosis, IgnoredConstraintPointsToDoctorAndDialect) {
  std::string fix = AdviseFix(RowError{ErrorKind::kInvalidOutput, "not a choice", 200, 1}, {});
  EXPECT_NE(fix.find("--dialect"), std::string::npos) << fix;
}

}  // namespace
}  // namespace structflow::engine

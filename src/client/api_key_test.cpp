#include "client/api_key.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>

namespace structflow::client {
namespace {

class ApiKeyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("structflow_api_key_test_" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string WriteFile(const std::string& name, const std::string& text) {
    auto p = dir_ / name;
    std::ofstream(p) << text;
    return p.string();
  }
  std::filesystem::path dir_;
};

TEST_F(ApiKeyTest, FlagWinsOverEnvironmentAndFile) {
  std::string file = WriteFile("k", "from-file\n");
  auto key = ResolveApiKey("from-flag", file, "from-env");
  ASSERT_TRUE(key.ok());
  EXPECT_EQ(*key, "from-flag");
}

TEST_F(ApiKeyTest, EnvironmentWinsOverFile) {
  auto key = ResolveApiKey("", WriteFile("k", "from-file\n"), " from-env ");
  ASSERT_TRUE(key.ok());
  EXPECT_EQ(*key, "from-env");
}

TEST_F(ApiKeyTest, ReadsTheFirstLineOfTheFile) {
  auto key = ResolveApiKey("", WriteFile("k", "  sk-file-123 \nsecond line\n"));
  ASSERT_TRUE(key.ok());
  EXPECT_EQ(*key, "sk-file-123");
}

TEST_F(ApiKeyTest, NoKeyAnywhereIsEmpty) {
  auto key = ResolveApiKey("", "");
  ASSERT_TRUE(key.ok());
  EXPECT_EQ(*key, "");
}

TEST_F(ApiKeyTest, MissingFileNamesThePathAndTheFix) {
  auto key = ResolveApiKey("", (dir_ / "nope").string());
  ASSERT_FALSE(key.ok());
  EXPECT_NE(key.status().message().find("nope"), std::string::npos);
  EXPECT_NE(key.status().message().find("OPENAI_API_KEY"), std::string::npos);
}

TEST_F(ApiKeyTest, ControlCharactersAreRejectedWithoutQuotingTheKey) {
  auto key = ResolveApiKey("sk-secret\x01value", "");
  ASSERT_FALSE(key.ok());
  EXPECT_EQ(key.status().message().find("sk-secret"), std::string::npos);
}

TEST(RedactUrl, HidesUserInfo) {
  EXPECT_EQ(RedactUrl("http://user:pw@host:8000/v1"), "http://***@host:8000/v1");
  EXPECT_EQ(RedactUrl("http://host:8000/v1"), "http://host:8000/v1");
  EXPECT_EQ(RedactUrl("https://host/v1/x@y"), "https://host/v1/x@y");
}

TEST(RedactSecret, ReplacesEveryOccurrence) {
  EXPECT_EQ(RedactSecret("key sk-1 and sk-1", "sk-1"), "key *** and ***");
  EXPECT_EQ(RedactSecret("nothing", ""), "nothing");
}

}  // namespace
}  // namespace structflow::client

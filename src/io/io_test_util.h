// Helpers for the io tests: a scratch folder per test, writing and reading whole files, and
// reading a Source into JSON lines. Test-only; not part of the library.
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "io/source.h"
#include "table/record_batch.h"

namespace structflow::io::testing {

// A fresh folder under the system temp dir, removed when the test ends.
class ScratchDir {
 public:
  ScratchDir() {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    path_ = std::filesystem::temp_directory_path() /
            ("sf-io-" + std::string(info->test_suite_name()) + "-" + info->name() + "-" +
             std::to_string(::getpid()));
    std::filesystem::remove_all(path_);
    std::filesystem::create_directories(path_);
  }
  ~ScratchDir() { std::filesystem::remove_all(path_); }
  std::string operator/(const std::string& name) const { return (path_ / name).string(); }
  std::string str() const { return path_.string(); }

 private:
  std::filesystem::path path_;
};

inline void WriteFile(const std::string& path, const std::string& text) {
  std::filesystem::create_directories(std::filesystem::path(path).parent_path());
  std::ofstream out(path, std::ios::binary);
  out << text;
}

inline std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Reads every batch of `source` as JSON lines; stops at the first error, returned in *status.
inline std::string ReadAllJson(Source* source, Status* status = nullptr,
                               int64_t* batches = nullptr) {
  std::string out;
  int64_t n = 0;
  while (true) {
    auto batch = source->Next();
    if (!batch.ok()) {
      if (status) *status = batch.status();
      return out;
    }
    if (!batch->has_value()) break;
    ++n;
    EXPECT_TRUE((*batch)->Validate().ok());
    for (int64_t r = 0; r < (*batch)->num_rows(); ++r) {
      table::AppendRowJson(**batch, r, &out);
      out.push_back('\n');
    }
  }
  if (status) *status = Status::OK();
  if (batches) *batches = n;
  return out;
}

// Opens `inputs` and reads them whole, failing the test on any error.
inline std::string OpenAndReadJson(const std::vector<std::string>& inputs,
                                   const ReadOptions& options = {}) {
  auto src = OpenSource(inputs, options);
  EXPECT_TRUE(src.ok()) << src.status().ToString();
  if (!src.ok()) return "";
  Status st;
  std::string out = ReadAllJson(src->get(), &st);
  EXPECT_TRUE(st.ok()) << st.ToString();
  return out;
}

// Copies every batch of `inputs` to `out` through OpenSink.
inline Status Convert(const std::vector<std::string>& inputs, const std::string& out,
                      const ReadOptions& options = {}) {
  SF_ASSIGN_OR_RAISE(auto src, OpenSource(inputs, options));
  SF_ASSIGN_OR_RAISE(auto sink, OpenSink(out, src->schema()));
  while (true) {
    SF_ASSIGN_OR_RAISE(auto batch, src->Next());
    if (!batch) break;
    SF_RETURN_NOT_OK(sink->Write(*batch));
  }
  return sink->Finish();
}

}  // namespace structflow::io::testing

// `structflow doctor`: checks a server before a long job and says what to change. Each check
// prints one line with a verdict (ok, warn, fail) and, when something is wrong, the fix: the
// flag, the vLLM option or the model to pick.
// Thread-safety: RunDoctor is called once from the main thread.
#pragma once

#include <string>
#include <vector>

namespace structflow::engine {

struct DoctorOptions {
  std::string endpoint;  // empty: http://127.0.0.1:8000/v1 (the CLI puts OPENAI_BASE_URL here)
  std::string model;     // empty: the server's only model
  std::string api_key;
  std::string api_key_file;
  std::string api_key_env;  // OPENAI_API_KEY's value, read by the caller
  bool load_test = true;    // measure throughput at a few concurrency levels
};

enum class Verdict { kOk, kWarn, kFail };

struct CheckLine {
  std::string name;
  Verdict verdict;
  std::string text;
};

struct DoctorReport {
  std::vector<CheckLine> lines;
  std::vector<std::string> dialects_honoured;  // "vllm", "openai", "vllm-legacy"
  bool images_accepted = false;
  int image_limit = 0;  // 0: unknown
  int64_t max_model_len = 0;
  int suggested_concurrency = 0;
  bool job_can_run() const;
};

// Runs every check in order; `print` is called with each line as soon as it is known.
DoctorReport RunDoctor(const DoctorOptions& options, void (*print)(const CheckLine&));
// "  ok    name      text"
std::string FormatCheckLine(const CheckLine& line);

}  // namespace structflow::engine

// The `structflow run` job as the command line sees it: the flags (RunFlags, one field per
// flag), and RunJob, which owns the process around one library job: it reads the environment
// (OPENAI_BASE_URL, OPENAI_API_KEY, CI), takes SIGINT/SIGTERM on a sigwait thread (first: drain,
// second: abandon), draws the progress line, prints the summary and returns the exit code. The
// work itself goes through the library API (include/structflow/engine.h).
// Thread-safety: RunJob is called from the main thread, one job at a time.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "io/source.h"

namespace structflow::cli {

struct RunFlags {
  std::vector<std::string> inputs;
  // How JSONL/CSV inputs are read: --infer-rows, --schema-override, --bad-lines (cli/read_flags.h).
  io::ReadOptions read;
  std::string out;
  // Server.
  std::vector<std::string> endpoints;  // empty: OPENAI_BASE_URL or http://127.0.0.1:8000/v1
  std::string model;                   // empty: the server's only model
  std::string api_key;
  std::string api_key_file;
  // Prompt.
  std::string prompt;
  std::string prompt_file;
  std::string system;
  std::vector<std::string> images;
  std::string image_position = "first";  // "first" or "last": the images before the question?
  // Constraint (at most one).
  std::string schema_file;
  std::vector<std::string> choices;
  std::string regex;
  // Refuse schemas with keywords no server can enforce instead of checking them here only.
  bool schema_strict = false;
  std::string dialect = "auto";
  std::string as = "output";
  std::string row_id;  // --row-id NAME: a first column with each row's id
  int max_output_retries = 2;
  bool retry_truncated = true;
  bool keep_raw = false;
  std::string confidence = "off";  // --confidence[=answer|full]
  bool keep_binary = false;
  // Rows.
  std::vector<std::string> explode;
  std::vector<std::string> extract;
  int64_t limit = -1;
  std::string shard;  // "K/N"
  // Generation.
  int max_tokens = 256;
  bool max_tokens_given = false;  // false: a choice job sizes max_tokens from its choices
  double temperature = 0;
  std::optional<int64_t> seed;
  // Images.
  int image_max_side = 0;
  int64_t image_max_pixels = 0;
  std::string image_format = "jpeg";
  int image_quality = 85;
  bool fetch_images = false;
  double fetch_timeout_s = 15;
  int64_t image_max_bytes = int64_t{64} << 20;  // image::kDefaultMaxImageBytes
  std::string image_root;                       // empty: any readable file
  // Prepared images kept by content, so rows that share an image prepare it once; 0: off.
  int64_t image_cache_mb = 64;
  // Client.
  int concurrency = 0;  // 0: adaptive
  int max_attempts = 5;
  double request_timeout_s = 300;
  double stall_timeout_s = 60;
  double connect_timeout_s = 10;
  // Job.
  std::string checkpoint;  // empty: OUT.checkpoint
  bool dry_run = false;
  // Send again the rows the checkpoint holds as failed: all of them, or only those of the kinds
  // in `retry_kinds` ("truncated,invalid_output").
  bool retry_failed = false;
  std::string retry_kinds;
  // The command line that started the job (recorded in the checkpoint for `structflow report`).
  std::string command;
  int workers = 0;  // 0: one per core
  bool fail_fast = true;
  int reorder_window = 1024;       // rows held to send those sharing an image together (0: off)
  bool image_affinity = true;      // several endpoints: rows sharing an image go to the same one
  std::string progress = "auto";   // auto, tty, log, off
  double progress_interval_s = 0;  // 0: 0.5 s on a terminal, 5 s otherwise
};

// Exit codes.
constexpr int kExitOk = 0;
constexpr int kExitFailed = 1;      // the job could not run
constexpr int kExitRowsFailed = 3;  // the output is complete; some rows carry errors
constexpr int kExitInterrupted = 130;

// Runs the job and returns the exit code. Prints progress and the summary to stderr and the
// final "wrote ..." line to stdout.
int RunJob(const RunFlags& flags);

// The endpoint when none is given: $OPENAI_BASE_URL or http://127.0.0.1:8000/v1.
std::string DefaultEndpoint();
// $OPENAI_API_KEY, or "".
std::string ApiKeyFromEnvironment();

}  // namespace structflow::cli

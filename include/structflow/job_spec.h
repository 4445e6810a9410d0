// JobSpec: what one job does, as plain data (enums, not strings), so that a driver can build it
// in code, read it from a file or ship it to a worker as JSON (ToJson/FromJson round-trip).
// Where the job runs (endpoints, concurrency, threads) is the engine's business (EngineOptions);
// what it reads and writes is given to Engine::Start (Input, RowStore, Sink).
// Thread-safety: a plain value; copy it freely between threads.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/row_error.h"
#include "common/status.h"

namespace structflow {

// How the answer is constrained.
enum class ConstraintKind { kNone, kJsonSchema, kChoice, kRegex };

// How structured output is asked for. kAuto probes the server at the job's start (or reuses
// the dialect the row store remembers from an earlier run).
enum class DialectChoice { kAuto, kVllm, kVllmLegacy, kOpenAI, kSglang, kLlamaCpp };

enum class ImageFormat { kJpeg, kPng, kWebp, kKeep };
// Confidence from the server's log-probabilities (`--confidence`): off; the chosen value's
// probability renormalised over the allowed values (a `confidence` column); or that and the whole
// distribution over the allowed values (`confidence_distribution`). For a choice, and for the
// enum and boolean fields of a schema. See engine/confidence.h.
enum class ConfidenceMode { kOff, kAnswer, kFull };
// Where a row's images go in the user message: before the question (a server's prefix cache then
// reuses them across the questions about one image) or after it.
enum class ImagePosition { kFirst, kLast };

struct JobSpec {
  // Model and prompt. An empty model means the server's only model (resolved by Plan).
  std::string model;
  std::string prompt;  // template: {column}, {column.field}, {column[0]}
  std::string system;
  std::vector<std::string> images;  // column paths of images
  ImagePosition image_position = ImagePosition::kFirst;

  // Structured output.
  ConstraintKind constraint = ConstraintKind::kNone;
  std::string json_schema;                   // kJsonSchema: the schema's JSON text
  std::string schema_origin = "the schema";  // named in messages (the file it came from)
  std::vector<std::string> choices;          // kChoice
  std::string regex;                         // kRegex
  // Refuse a schema with keywords no server can enforce, instead of leaving them out of the
  // request and checking them on each answer.
  bool schema_strict = false;
  DialectChoice dialect = DialectChoice::kAuto;
  std::string output_column = "output";
  // Non-empty: the output gains a first column of this name with each row's id (the number
  // error messages cite: the row's position after explode).
  std::string row_id_column;
  int max_output_retries = 2;
  bool retry_truncated = true;
  ConfidenceMode confidence = ConfidenceMode::kOff;
  bool keep_raw = false;
  bool keep_binary = false;

  // Rows.
  std::vector<std::string> explode;
  std::vector<std::string> extract;  // "NAME=COLUMN_PATH:REGEX"
  int64_t limit = -1;                // -1: every row
  int64_t shard_index = 0;           // rows whose id % shard_count == shard_index
  int64_t shard_count = 1;

  // Generation.
  // 0: chosen by Plan: for a choice, max(64, twice the longest choice's bytes + 16), since the
  // server reserves what max_tokens asks for; otherwise 256.
  int max_tokens = 0;
  double temperature = 0;
  std::optional<int64_t> seed;

  // Images.
  int image_max_side = 0;
  int64_t image_max_pixels = 0;
  ImageFormat image_format = ImageFormat::kJpeg;
  int image_quality = 85;
  bool fetch_images = false;
  double fetch_timeout_s = 15;                  // one image URL download, at most
  int64_t image_max_bytes = int64_t{64} << 20;  // a larger image file or download fails its row
  std::string image_root;                       // non-empty: image paths must resolve under it
  // Resume: send again the rows the row store holds as failed (not only those that failed for a
  // passing reason): every failed row, or with `retry_kinds` only those of these kinds.
  bool retry_failed = false;
  std::vector<ErrorKind> retry_kinds;

  // Stop early when the first rows all fail the same way (a misconfigured job).
  bool fail_fast = true;

  // Scheduling (image jobs; nothing here changes an answer, so none of it is fingerprinted).
  // Rows whose first image is the same are sent back to back: the request pass holds up to
  // this many rows and sends the oldest row's image group together (0: input order). Output
  // order is the input's whatever the order of sending.
  int reorder_window = 1024;
  // With several endpoints, rows that share an image go to the same one (its prefix cache holds
  // the image), unless it is saturated or down.
  bool image_affinity = true;
};

// Compact JSON holding every field; FromJson accepts exactly what ToJson writes (unknown keys
// are refused with their name, missing keys keep their defaults).
std::string ToJson(const JobSpec& spec);
Result<JobSpec> JobSpecFromJson(std::string_view json);

// Names as used on the command line: "auto", "vllm", "vllm-legacy", "openai", "sglang",
// "llama.cpp"; "jpeg", ...
Result<DialectChoice> ParseDialectChoice(std::string_view text);
std::string_view DialectChoiceName(DialectChoice d);
Result<ImageFormat> ParseImageFormat(std::string_view text);
// An error kind a retry may name ("truncated", "invalid_output", "http_status", ...).
Result<ErrorKind> ParseRetryKind(std::string_view text);
std::string_view ImageFormatName(ImageFormat f);
// "off", "answer", "full" ("on" and "true" read as answer).
Result<ConfidenceMode> ParseConfidenceMode(std::string_view text);
std::string_view ConfidenceModeName(ConfidenceMode m);

}  // namespace structflow

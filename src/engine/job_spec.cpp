// JobSpec as JSON (nlohmann::json stays in this file).
#include "structflow/job_spec.h"

#include <fmt/format.h>

#include <nlohmann/json.hpp>

namespace structflow {
namespace {

using nlohmann::json;

constexpr std::string_view kConstraintNames[] = {"none", "json_schema", "choice", "regex"};

}  // namespace

Result<DialectChoice> ParseDialectChoice(std::string_view t) {
  if (t == "auto") return DialectChoice::kAuto;
  if (t == "vllm") return DialectChoice::kVllm;
  if (t == "vllm-legacy") return DialectChoice::kVllmLegacy;
  if (t == "openai") return DialectChoice::kOpenAI;
  if (t == "sglang") return DialectChoice::kSglang;
  if (t == "llama.cpp" || t == "llamacpp") return DialectChoice::kLlamaCpp;
  return Status::InvalidArgument(fmt::format(
      "unknown dialect '{}': use auto, vllm, vllm-legacy, openai, sglang or llama.cpp", t));
}

std::string_view DialectChoiceName(DialectChoice d) {
  switch (d) {
    case DialectChoice::kAuto:
      return "auto";
    case DialectChoice::kVllm:
      return "vllm";
    case DialectChoice::kVllmLegacy:
      return "vllm-legacy";
    case DialectChoice::kOpenAI:
      return "openai";
    case DialectChoice::kSglang:
      return "sglang";
    case DialectChoice::kLlamaCpp:
      return "llama.cpp";
  }
  return "auto";
}

Result<ImageFormat> ParseImageFormat(std::string_view t) {
  if (t == "jpeg" || t == "jpg") return ImageFormat::kJpeg;
  if (t == "png") return ImageFormat::kPng;
  if (t == "webp") return ImageFormat::kWebp;
  if (t == "keep") return ImageFormat::kKeep;
  return Status::InvalidArgument(
      fmt::format("unknown image format '{}': use jpeg, png, webp or keep", t));
}

std::string_view ImageFormatName(ImageFormat f) {
  switch (f) {
    case ImageFormat::kJpeg:
      return "jpeg";
    case ImageFormat::kPng:
      return "png";
    case ImageFormat::kWebp:
      return "webp";
    case ImageFormat::kKeep:
      return "keep";
  }
  return "jpeg";
}

Result<ErrorKind> ParseRetryKind(std::string_view t) {
  ErrorKind k = ParseErrorKind(t);
  if (k != ErrorKind::kNone) return k;
  std::string names;
  for (int i = 1; i < kNumErrorKinds; ++i) {
    names += (names.empty() ? "" : ", ") + std::string(ErrorKindName(static_cast<ErrorKind>(i)));
  }
  return Status::InvalidArgument(fmt::format("unknown error kind '{}': use one of {}", t, names));
}

std::string ToJson(const JobSpec& s) {
  json j;
  j["model"] = s.model;
  j["prompt"] = s.prompt;
  j["system"] = s.system;
  j["images"] = s.images;
  j["image_position"] = s.image_position == ImagePosition::kFirst ? "first" : "last";
  j["constraint"] = std::string(kConstraintNames[static_cast<int>(s.constraint)]);
  j["json_schema"] = s.json_schema;
  j["schema_origin"] = s.schema_origin;
  j["choices"] = s.choices;
  j["regex"] = s.regex;
  j["schema_strict"] = s.schema_strict;
  j["dialect"] = std::string(DialectChoiceName(s.dialect));
  j["output_column"] = s.output_column;
  j["row_id_column"] = s.row_id_column;
  j["max_output_retries"] = s.max_output_retries;
  j["retry_truncated"] = s.retry_truncated;
  j["keep_raw"] = s.keep_raw;
  j["keep_binary"] = s.keep_binary;
  j["explode"] = s.explode;
  j["extract"] = s.extract;
  j["limit"] = s.limit;
  j["shard_index"] = s.shard_index;
  j["shard_count"] = s.shard_count;
  j["max_tokens"] = s.max_tokens;
  j["temperature"] = s.temperature;
  j["seed"] = s.seed ? json(*s.seed) : json(nullptr);
  j["image_max_side"] = s.image_max_side;
  j["image_max_pixels"] = s.image_max_pixels;
  j["image_format"] = std::string(ImageFormatName(s.image_format));
  j["image_quality"] = s.image_quality;
  j["fetch_images"] = s.fetch_images;
  j["fetch_timeout_s"] = s.fetch_timeout_s;
  j["image_max_bytes"] = s.image_max_bytes;
  j["image_root"] = s.image_root;
  j["retry_failed"] = s.retry_failed;
  json kinds = json::array();
  for (ErrorKind k : s.retry_kinds) kinds.push_back(std::string(ErrorKindName(k)));
  j["retry_kinds"] = std::move(kinds);
  j["fail_fast"] = s.fail_fast;
  j["reorder_window"] = s.reorder_window;
  j["image_affinity"] = s.image_affinity;
  j["confidence"] = std::string(ConfidenceModeName(s.confidence));
  return j.dump();
}

Result<ConfidenceMode> ParseConfidenceMode(std::string_view text) {
  if (text == "off" || text == "false") return ConfidenceMode::kOff;
  if (text == "answer" || text == "on" || text == "true") return ConfidenceMode::kAnswer;
  if (text == "full") return ConfidenceMode::kFull;
  return Status::InvalidArgument(fmt::format(
      "confidence '{}': use off, answer (the chosen value's probability) or full (also the "
      "whole distribution over the allowed values)",
      text));
}

std::string_view ConfidenceModeName(ConfidenceMode m) {
  switch (m) {
    case ConfidenceMode::kOff:
      return "off";
    case ConfidenceMode::kAnswer:
      return "answer";
    case ConfidenceMode::kFull:
      return "full";
  }
  return "off";
}

Result<JobSpec> JobSpecFromJson(std::string_view text) {
  json j = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object())
    return Status::InvalidArgument("job spec: not a JSON object");
  JobSpec s;
  try {
    for (auto it = j.begin(); it != j.end(); ++it) {
      const std::string& k = it.key();
      const json& v = it.value();
      if (k == "model")
        s.model = v.get<std::string>();
      else if (k == "prompt")
        s.prompt = v.get<std::string>();
      else if (k == "system")
        s.system = v.get<std::string>();
      else if (k == "images")
        s.images = v.get<std::vector<std::string>>();
      else if (k == "image_position") {
        const std::string p = v.get<std::string>();
        if (p != "first" && p != "last") {
          return Status::InvalidArgument(
              fmt::format("job spec: image_position '{}': use first or last", p));
        }
        s.image_position = p == "first" ? ImagePosition::kFirst : ImagePosition::kLast;
      } else if (k == "constraint") {
        std::string c = v.get<std::string>();
        bool found = false;
        for (int i = 0; i < 4; ++i) {
          if (kConstraintNames[i] == c) {
            s.constraint = static_cast<ConstraintKind>(i);
            found = true;
          }
        }
        if (!found) {
          return Status::InvalidArgument(
              fmt::format("job spec: constraint '{}': use none, json_schema, choice or regex", c));
        }
      } else if (k == "json_schema")
        s.json_schema = v.get<std::string>();
      else if (k == "schema_origin")
        s.schema_origin = v.get<std::string>();
      else if (k == "choices")
        s.choices = v.get<std::vector<std::string>>();
      else if (k == "regex")
        s.regex = v.get<std::string>();
      else if (k == "schema_strict")
        s.schema_strict = v.get<bool>();
      else if (k == "dialect") {
        SF_ASSIGN_OR_RAISE(s.dialect, ParseDialectChoice(v.get<std::string>()));
      } else if (k == "output_column")
        s.output_column = v.get<std::string>();
      else if (k == "row_id_column")
        s.row_id_column = v.get<std::string>();
      else if (k == "max_output_retries")
        s.max_output_retries = v.get<int>();
      else if (k == "retry_truncated")
        s.retry_truncated = v.get<bool>();
      else if (k == "keep_raw")
        s.keep_raw = v.get<bool>();
      else if (k == "keep_binary")
        s.keep_binary = v.get<bool>();
      else if (k == "explode")
        s.explode = v.get<std::vector<std::string>>();
      else if (k == "extract")
        s.extract = v.get<std::vector<std::string>>();
      else if (k == "limit")
        s.limit = v.get<int64_t>();
      else if (k == "shard_index")
        s.shard_index = v.get<int64_t>();
      else if (k == "shard_count")
        s.shard_count = v.get<int64_t>();
      else if (k == "max_tokens")
        s.max_tokens = v.get<int>();
      else if (k == "temperature")
        s.temperature = v.get<double>();
      else if (k == "seed") {
        if (v.is_null())
          s.seed.reset();
        else
          s.seed = v.get<int64_t>();
      } else if (k == "image_max_side")
        s.image_max_side = v.get<int>();
      else if (k == "image_max_pixels")
        s.image_max_pixels = v.get<int64_t>();
      else if (k == "image_format") {
        SF_ASSIGN_OR_RAISE(s.image_format, ParseImageFormat(v.get<std::string>()));
      } else if (k == "image_quality")
        s.image_quality = v.get<int>();
      else if (k == "fetch_images")
        s.fetch_images = v.get<bool>();
      else if (k == "fetch_timeout_s")
        s.fetch_timeout_s = v.get<double>();
      else if (k == "image_max_bytes")
        s.image_max_bytes = v.get<int64_t>();
      else if (k == "image_root")
        s.image_root = v.get<std::string>();
      else if (k == "retry_failed")
        s.retry_failed = v.get<bool>();
      else if (k == "retry_kinds") {
        s.retry_kinds.clear();
        for (const auto& name : v.get<std::vector<std::string>>()) {
          SF_ASSIGN_OR_RAISE(ErrorKind kind, ParseRetryKind(name));
          s.retry_kinds.push_back(kind);
        }
      } else if (k == "fail_fast")
        s.fail_fast = v.get<bool>();
      else if (k == "reorder_window") {
        s.reorder_window = v.get<int>();
        if (s.reorder_window < 0) {
          return Status::InvalidArgument(
              fmt::format("job spec: reorder_window {}: use 0 (input order) or a number of rows",
                          s.reorder_window));
        }
      } else if (k == "image_affinity")
        s.image_affinity = v.get<bool>();
      else if (k == "confidence") {
        SF_ASSIGN_OR_RAISE(s.confidence, ParseConfidenceMode(v.get<std::string>()));
      } else
        return Status::InvalidArgument(fmt::format("job spec: unknown key '{}'", k));
    }
  } catch (const json::exception& e) {
    return Status::InvalidArgument(fmt::format("job spec: {}", e.what()));
  }
  return s;
}

}  // namespace structflow

// JobPlan: a JobSpec checked against its input's schema and the server (engine.h's Plan). Made
// once, read by any number of jobs and threads; immutable.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "engine/confidence.h"
#include "engine/preflight.h"
#include "engine/transform.h"
#include "image/image.h"
#include "schema/constraint.h"
#include "schema/dialect.h"
#include "structflow/job_spec.h"

namespace structflow {

class JobPlan {
 public:
  JobSpec spec;
  std::string model;  // resolved
  std::optional<schema::Constraint> constraint;
  // Set with --confidence: what is scored, and the logprobs members each request gains.
  std::optional<engine::Confidence> confidence;
  schema::Dialect dialect = schema::Dialect::kVllm;  // kAuto: learnt when the job starts
  std::vector<std::string> read_columns;             // input columns the job reads
  std::shared_ptr<const engine::Transformer> transformer;
  image::ImagePolicy image_policy;
  uint64_t fingerprint = 0;  // the job's: what changes the meaning of a row's answer
  // The same job's fingerprint as versions before 2026-11-27 computed it (max_tokens in it): a
  // checkpoint they wrote still resumes (see Engine::Start). 0 when this job's requests differ
  // from theirs anyway (image first, images fetched here).
  uint64_t legacy_fingerprint = 0;
  // What the server said about itself before row 1 (empty for an offline plan).
  engine::ServerFacts facts;
  // Image URLs downloaded here: asked for (spec.fetch_images), or the server takes images only
  // inline (Ollama) or is of no known family (inline works everywhere).
  bool fetch_images = false;
  bool auto_dialect() const { return dialect == schema::Dialect::kAuto; }
};

}  // namespace structflow

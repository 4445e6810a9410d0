// Confidence: how likely the model found each allowed value where its answer chose one, from the
// token log-probabilities the server returns (`--confidence`).
//
// What is scored (the "sites"): the answer of a --choice job; for a JSON Schema, every enum and
// boolean property reachable through object properties (local $ref, single-branch allOf and
// nullable anyOf/oneOf followed; values inside arrays are not scored). A site's allowed values
// are matched as the text the answer holds: the raw choice (vllm, vllm-legacy and sglang
// dialects), or the JSON text of the value ("positive" with its quotes, true, 3) inside the JSON
// answer (schemas, and choices wrapped as {"answer": ...} by the openai and llama.cpp dialects).
//
// How (Score, a pure function): the generated tokens are laid over the answer text; from the
// token where the site's value starts, the walk follows the tokens the answer took. At each step,
// the step's alternatives (top_logprobs and the token taken) that continue some allowed value
// still possible there are the step's allowed mass; each alternative that leaves the answer's
// path gives the values it starts its probability (path so far x its share of the allowed mass,
// split equally among the values it starts: their later tokens are never seen), and the taken
// token's share extends the path. So every step is renormalised over the allowed continuations,
// which is what a grammar mask does: the figure means the same whether the server reports
// log-probabilities before the mask (llama.cpp by default) or after it (vLLM, SGLang). The
// values' scores are then renormalised to sum to 1. A value whose first differing token is not
// among the top_logprobs scores 0 (ask for enough of them: TopLogprobs).
//
// Stored form (RowRecord::confidence): "" not asked; "null" asked, none usable; else a JSON array
// with one element per site in site order: null, or {"i": chosen index, "p": [probabilities in
// allowed-value order]}. Output (AppendColumns): `confidence` (a double for a choice, a struct of
// doubles per site for a schema, nested objects as nested structs) and with kFull
// `confidence_distribution` (list<struct<value: string, p: double>> per site).
//
// Thread-safety: a Confidence is immutable after Make; its const methods may be called from any
// number of threads at once.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "client/server_family.h"
#include "common/status.h"
#include "schema/chat_completion.h"
#include "schema/constraint.h"
#include "schema/dialect.h"
#include "structflow/job_spec.h"
#include "table/column.h"
#include "table/types.h"

namespace structflow::engine {

struct ConfidenceSite {
  std::vector<std::string> path;    // property names from the answer's root; empty: a choice
  std::vector<std::string> labels;  // each allowed value as the output names it
  std::vector<std::string> json;    // each allowed value's compact JSON text
};

// One site's result: the chosen value's index and the distribution over the allowed values.
struct SiteScore {
  bool ok = false;
  int chosen = -1;
  std::vector<double> p;
};

struct ConfidenceNode;  // the schema's sites as a tree of structs (confidence.cpp)

class Confidence {
 public:
  // The sites of `constraint`; InvalidArgument naming the fix when there are none (a regex, free
  // text, a schema without enum or boolean properties).
  static Result<Confidence> Make(const schema::Constraint& constraint, ConfidenceMode mode,
                                 std::string_view origin);

  ConfidenceMode mode() const { return mode_; }
  const std::vector<ConfidenceSite>& sites() const { return sites_; }
  // top_logprobs to ask for: the most allowed values of any site, doubled (servers reporting
  // before the grammar mask put tokens no value starts with among them) plus one, at least 5, at
  // most 20 (vLLM refuses more than its --max-logprobs, 20 by default; OpenAI's range is 0-20).
  int TopLogprobs() const;
  // `"logprobs":true,"top_logprobs":K` for a request body.
  std::string RequestMembers() const;

  // Scores the answer `content` (as produced under `dialect`) from its tokens (null: the
  // response had none): the stored form. With no usable log-probabilities, returns "null" and
  // sets *why (for the job's one warning).
  std::string Score(std::string_view content, const std::vector<schema::TokenLogprob>* tokens,
                    schema::Dialect dialect, std::string* why) const;

  table::TypePtr AnswerType() const;
  table::TypePtr DistributionType() const;  // kFull only
  // Appends one row to `answer` and (kFull) `distribution` from a stored form ("" and "null" and
  // a malformed one: null).
  void AppendColumns(std::string_view stored, table::Column* answer,
                     table::Column* distribution) const;

 private:
  ConfidenceMode mode_ = ConfidenceMode::kOff;
  bool choice_ = false;
  bool wrapped_ = false;  // a choice answered as {"answer": ...} under the JSON dialects
  std::vector<ConfidenceSite> sites_;
  std::shared_ptr<const ConfidenceNode> tree_;  // schema sites as the output's struct tree
};

// What a family's log-probabilities mean for --confidence (for doctor and the job's warning),
// read from each server's source:
// - vLLM (vllm/v1/worker/gpu/model_runner.py sample(), vllm/v1/sample/sampler.py; main, late
//   2025): the grammar bitmask is applied to the logits in place before the sampler, whose
//   default logprobs_mode raw_logprobs takes log_softmax of those logits: after the mask, before
//   temperature, penalties and top-k/top-p (processed_logprobs: after them). Asking for more
//   top_logprobs than --max-logprobs (default 20) is a 400.
// - llama.cpp (tools/server/server-common.cpp oaicompat params: logprobs -> n_probs =
//   top_logprobs, default 20; server-context.cpp populate_token_probs): without
//   post_sampling_probs, the softmax of the raw logits over the whole vocabulary, before the
//   grammar and every sampler.
// - SGLang (python/sglang/srt/layers/sampler.py): from the logits after the grammar's vocab mask
//   (sampling_batch_info apply_logits_bias), after temperature unless
//   SGLANG_RETURN_ORIGINAL_LOGPROB.
// - Ollama: its OpenAI layer gained logprobs/top_logprobs (0-20) in late 2025; older versions
//   return none.
std::string LogprobsNote(client::ServerFamily family);

// The walk of one site (see the header comment), exposed for tests: `text` is the answer, the
// site's value spans [begin, end), `targets` are the allowed values' texts as they would appear
// there. Returns the renormalised distribution; ok false when the tokens do not spell the text or
// the chosen value is not among the targets.
SiteScore ScoreSite(std::string_view text, size_t begin, size_t end,
                    const std::vector<schema::TokenLogprob>& tokens,
                    const std::vector<std::string>& targets);

}  // namespace structflow::engine

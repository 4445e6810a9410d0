// `structflow run`: the streaming job. Flags map one to one onto RunFlags (cli/run_job.h); a TOML
// config file (--config job.toml) holds the same settings under the same names, and flags win.
#include <fmt/format.h>
#include <toml++/toml.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cstdio>
#include <memory>
#include <string_view>

#include "cli/command_line.h"
#include "cli/commands.h"
#include "cli/read_flags.h"
#include "cli/run_job.h"
#include "common/status.h"
#include "common/text.h"

namespace structflow::cli {
namespace {

// Applies the settings of a TOML file to the options the command line did not set.
Status ApplyConfigFile(CLI::App* sub, const std::string& path) {
  toml::table table;
  try {
    table = toml::parse_file(path);
  } catch (const toml::parse_error& e) {
    return Status::InvalidArgument(fmt::format(
        "--config {}: line {}: {}", path, e.source().begin.line, std::string(e.description())));
  }
  for (const auto& [key, value] : table) {
    std::string name(key.str());
    std::replace(name.begin(), name.end(), '_', '-');
    CLI::Option* opt = sub->get_option_no_throw("--" + name);
    if (opt == nullptr || name == "config" || name == "out" || name == "help") {
      return Status::InvalidArgument(
          fmt::format("--config {}: unknown setting '{}'; settings are the flags of `structflow "
                      "run` without the dashes "
                      "(prompt, choice, schema, endpoint, max-tokens, ...); inputs and --out stay "
                      "on the command line",
                      path, std::string(key.str())));
    }
    if (opt->count() > 0) continue;  // the command line wins
    std::vector<std::string> values;
    auto scalar = [&](const toml::node& n) -> bool {
      if (n.is_string())
        values.push_back(*n.value<std::string>());
      else if (n.is_boolean())
        values.push_back(*n.value<bool>() ? "true" : "false");
      else if (n.is_integer())
        values.push_back(std::to_string(*n.value<int64_t>()));
      else if (n.is_floating_point())
        values.push_back(fmt::format("{}", *n.value<double>()));
      else
        return false;
      return true;
    };
    bool ok = true;
    if (const toml::array* arr = value.as_array()) {
      for (const auto& n : *arr) ok = ok && scalar(n);
    } else {
      ok = scalar(value);
    }
    if (!ok) {
      return Status::InvalidArgument(fmt::format(
          "--config {}: setting '{}' must be a string, number, boolean or a list of them", path,
          name));
    }
    for (const auto& v : values) opt->add_result(v);
    try {
      opt->run_callback();
    } catch (const CLI::Error& e) {
      return Status::InvalidArgument(
          fmt::format("--config {}: setting '{}': {}", path, name, e.what()));
    }
  }
  return Status::OK();
}

}  // namespace

void AddRunCommand(CLI::App& app, int* exit_code) {
  auto cfg = std::make_shared<RunFlags>();
  auto seed = std::make_shared<int64_t>(-1);
  auto* sub = app.add_subcommand(
      "run",
      "Run a model over every row of a dataset and write typed results.\n\n"
      "Every input row comes out exactly once, in input order, with the answer in the result "
      "column\n"
      "(a struct typed from --schema, or a string for --choice/--regex) or the reason it failed in "
      "the\n"
      "`error` column. Finished rows are checkpointed: re-run the same command after a crash or "
      "Ctrl-C\n"
      "and only what is missing is sent.\n\n"
      "Example (AI2D-style multiple choice over diagrams):\n"
      "  structflow run ai2d.parquet --out answers.parquet --explode images --explode texts \\\n"
      "    --image images --prompt '{texts.user}' --choice A,B,C,D \\\n"
      "    --extract 'key=texts.assistant:Answer: ([A-D])'\n");
  auto config = std::make_shared<std::string>();
  sub->add_option(
         "--config", *config,
         "TOML file with the same settings as the flags, named as the flags without dashes "
         "(prompt = \"...\", choice = [\"A\", \"B\"], max-tokens = 64); flags win")
      ->check(CLI::ExistingFile);
  sub->add_option("inputs", cfg->inputs,
                  "Input files, globs or image folders (.parquet, .jsonl, .csv)")
      ->required();
  sub->add_option("--out,-o", cfg->out,
                  "Output file; the format follows the extension (.parquet, .jsonl, .csv)")
      ->required();

  auto* server = "Server";
  sub->add_option(
         "--endpoint", cfg->endpoints,
         "OpenAI-compatible base URL, e.g. http://127.0.0.1:8000/v1 (repeat for replicas; default: "
         "$OPENAI_BASE_URL or http://127.0.0.1:8000/v1)")
      ->group(server);
  sub->add_option("--model", cfg->model, "Model name (default: the server's only model)")
      ->group(server);
  sub->add_option("--api-key", cfg->api_key, "API key (default: $OPENAI_API_KEY); never printed")
      ->group(server);
  sub->add_option("--api-key-file", cfg->api_key_file, "Read the API key from this file")
      ->group(server);
  sub->add_option("--concurrency", cfg->concurrency,
                  "Hard cap on requests in flight; 0 (default) adapts to the server by itself")
      ->group(server);
  sub->add_option("--max-attempts", cfg->max_attempts,
                  "HTTP attempts per request (retries on 429, 5xx, timeouts)")
      ->capture_default_str()
      ->group(server);
  sub->add_option("--request-timeout", cfg->request_timeout_s,
                  "Seconds before one request is abandoned")
      ->capture_default_str()
      ->group(server);
  sub->add_option("--stall-timeout", cfg->stall_timeout_s,
                  "Seconds without a byte before a response is cut")
      ->capture_default_str()
      ->group(server);

  auto* prompt = "Prompt";
  auto* p = sub->add_option(
                   "--prompt", cfg->prompt,
                   "Prompt template: {column}, {column.field}, {column[0]}; {{ for a literal brace")
                ->group(prompt);
  sub->add_option("--prompt-file", cfg->prompt_file, "Read the prompt template from a file")
      ->excludes(p)
      ->group(prompt);
  sub->add_option("--system", cfg->system, "System prompt")->group(prompt);
  sub->add_option("--image", cfg->images,
                  "Column path of an image (bytes, path, URL, {bytes, path} struct or a list of "
                  "them); repeatable")
      ->group(prompt);
  sub->add_option("--image-position", cfg->image_position,
                  "first: images before the question, so the server's prefix cache reuses them "
                  "across questions on one image; last: the question first")
      ->check(CLI::IsMember({"first", "last"}))
      ->capture_default_str()
      ->group(prompt);
  sub->add_option("--reorder-window", cfg->reorder_window,
                  "Hold up to N rows to send the questions on one image back to back (a server's "
                  "prefix cache then computes the image once); the output keeps the input's order "
                  "(0: send in input order)")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str()
      ->group(prompt);
  sub->add_flag("!--no-image-affinity", cfg->image_affinity,
                "With several --endpoint: do not keep rows that share an image on one endpoint "
                "(by default they go to the same one, whose prefix cache holds the image, unless "
                "it is saturated or down)")
      ->group(prompt);
  sub->add_option("--image-max-side", cfg->image_max_side,
                  "Shrink images so no side exceeds N pixels (0: keep)")
      ->group(prompt);
  sub->add_option("--image-max-pixels", cfg->image_max_pixels,
                  "Shrink images to at most N pixels (0: keep)")
      ->group(prompt);
  sub->add_option("--image-format", cfg->image_format, "jpeg, png, webp, or keep")
      ->capture_default_str()
      ->group(prompt);
  sub->add_option("--image-quality", cfg->image_quality, "JPEG/WebP quality")
      ->capture_default_str()
      ->group(prompt);
  sub->add_option("--image-cache-mb", cfg->image_cache_mb,
                  "Keep prepared images (by content) up to N MB, so rows sharing an image "
                  "prepare it once; raise it when the same image recurs far apart (0: off)")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str()
      ->group(prompt);
  sub->add_flag("--fetch-images", cfg->fetch_images,
                "Download http(s) image URLs here instead of passing them to the server")
      ->group(prompt);
  sub->add_option("--fetch-timeout", cfg->fetch_timeout_s,
                  "With --fetch-images: give up on an image URL after S seconds (a row error)")
      ->check(CLI::PositiveNumber)
      ->capture_default_str()
      ->group(prompt);
  sub->add_option("--image-max-bytes", cfg->image_max_bytes,
                  "Refuse image files, fetched URLs and data: URLs larger than N bytes (a row "
                  "error), before reading them")
      ->check(CLI::PositiveNumber)
      ->capture_default_str()
      ->group(prompt);
  sub->add_option("--image-root", cfg->image_root,
                  "Read image paths and file:// URLs only inside this folder (others are row "
                  "errors); use it when the dataset is not yours")
      ->group(prompt);

  auto* output = "Structured output";
  auto* schema =
      sub->add_option("--schema", cfg->schema_file, "JSON Schema file the answer must fit")
          ->group(output);
  auto* choice = sub->add_option("--choice", cfg->choices, "Comma-separated choices, e.g. A,B,C,D")
                     ->delimiter(',')
                     ->excludes(schema)
                     ->group(output);
  sub->add_option("--regex", cfg->regex, "Regular expression the answer must match")
      ->excludes(schema)
      ->excludes(choice)
      ->group(output);
  sub->add_option("--dialect", cfg->dialect,
                  "How to ask for structured output: auto (probe the server), vllm (0.12+ "
                  "structured_outputs), "
                  "vllm-legacy (guided_*), openai (response_format)")
      ->capture_default_str()
      ->group(output);
  sub->add_option("--as", cfg->as, "Name of the result column")
      ->capture_default_str()
      ->group(output);
  sub->add_option("--row-id", cfg->row_id,
                  "Add a first column NAME with each row's id: the number error messages cite "
                  "(the row's position in the input, after --explode)")
      ->group(output);
  sub->add_flag(
         "--schema-strict", cfg->schema_strict,
         "Refuse a schema with keywords no server can enforce (uniqueItems, contains, not, "
         "minProperties, ...; Pydantic's set[str] gives uniqueItems) instead of leaving them "
         "out of the request and checking them on each answer")
      ->group(output);
  sub->add_option("--max-output-retries", cfg->max_output_retries,
                  "Re-ask when an answer does not fit the schema, at most N times")
      ->capture_default_str()
      ->group(output);
  sub->add_flag("--keep-raw", cfg->keep_raw, "Also keep the model's raw text in a column <as>_raw")
      ->group(output);
  sub->add_flag(
         "--confidence{answer}", cfg->confidence,
         "How sure the model was, from the server's token log-probabilities: a column "
         "`confidence` with the probability of the value chosen, renormalised over the allowed "
         "values (a number for --choice; for --schema a struct with one per enum and boolean "
         "field). --confidence=full also writes `confidence_distribution`, every allowed value "
         "with its probability. Sort by it to send the least sure rows to a person. Null (with "
         "one warning) where the server returns no log-probabilities (older Ollama). vLLM and "
         "SGLang report them after the grammar mask, llama.cpp before it: renormalising makes "
         "them comparable; they reflect --temperature only on SGLang")
      ->group(output);
  sub->add_option("--max-tokens", cfg->max_tokens,
                  "Maximum tokens per answer (with --choice and no --max-tokens: sized from the "
                  "longest choice, at least 64, so the server reserves less)")
      ->capture_default_str()
      ->group(output);
  sub->add_option("--temperature", cfg->temperature, "Sampling temperature")
      ->capture_default_str()
      ->group(output);
  sub->add_option("--seed", *seed, "Sampling seed sent with every request")->group(output);

  auto* rows = "Rows";
  sub->add_option("--explode", cfg->explode,
                  "Turn a list column into one row per element; repeatable, in order")
      ->group(rows);
  sub->add_option(
         "--extract", cfg->extract,
         "NAME=COLUMN_PATH:REGEX adds a column from the regex's first group (no match: null)")
      ->group(rows);
  sub->add_option("--limit", cfg->limit, "Only the first N rows (after --explode)")->group(rows);
  sub->add_option("--shard", cfg->shard,
                  "K/N: only rows whose id % N == K (run N machines at once)")
      ->group(rows);
  sub->add_flag("--keep-binary", cfg->keep_binary,
                "Keep binary input columns (images) in the output")
      ->group(rows);

  auto* job = "Job";
  sub->add_option("--checkpoint", cfg->checkpoint, "Checkpoint database (default: OUT.checkpoint)")
      ->group(job);
  auto* retry_failed =
      sub->add_flag(
             "--retry-failed{all}", cfg->retry_kinds,
             "Send again the rows the checkpoint holds as failed, whatever the reason: all of "
             "them, or with =KIND,... only those of these kinds (truncated, invalid_output, "
             "http_status, image_error, ...); every other finished row is kept. Rows that failed "
             "for a passing reason (timeouts, 429, 5xx) are re-sent even without it")
          ->group(job);
  sub->add_flag("--dry-run", cfg->dry_run, "Print the first request and the settings; send nothing")
      ->group(job);
  sub->add_option("--workers", cfg->workers, "CPU worker threads (0: one per core)")->group(job);
  sub->add_flag("!--no-fail-fast", cfg->fail_fast,
                "Keep going even when the first rows all fail the same way")
      ->group(job);
  AddReadFlags(sub, &cfg->read);
  sub->add_option("--progress", cfg->progress, "auto, tty, log or off")
      ->capture_default_str()
      ->group(job);

  sub->callback([sub, cfg, config, seed, exit_code, retry_failed] {
    if (!config->empty()) {
      Status st = ApplyConfigFile(sub, *config);
      if (!st.ok()) {
        std::fprintf(stderr, "structflow run: %s\n", ForTerminal(st.message()).c_str());
        *exit_code = 2;
        return;
      }
    }
    if (*seed >= 0) cfg->seed = *seed;
    // Recorded in the checkpoint so `structflow report` can show the command that re-sends the
    // failed rows; --retry-failed is what the report adds.
    cfg->retry_failed = retry_failed->count() > 0;
    cfg->max_tokens_given = sub->get_option("--max-tokens")->count() > 0;
    cfg->command = CommandLine();
    for (size_t at; (at = cfg->command.find(" --retry-failed")) != std::string::npos;) {
      size_t end = cfg->command.find(' ', at + 1);
      cfg->command.erase(at, end == std::string::npos ? std::string::npos : end - at);
    }
    *exit_code = RunJob(*cfg);
  });
}

}  // namespace structflow::cli

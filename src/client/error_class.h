// What a failed answer means, read from its status and its body, not from the status alone: a
// llama-server without a vision projector answers images with HTTP 500, which by its status
// looks transient but will fail the same way every time. Deterministic errors are not retried
// per row, and the job's fail-fast diagnosis names the fix for the family that sent them.
//
// The bodies recognised, per family (read from each server's source):
//   llama.cpp tools/server (server-common.cpp oaicompat_chat_params_parse, server-context.cpp
//     send_error / format_error_response): {"error":{"code":N,"message":M,"type":T}} with T
//     "invalid_request_error" (400), "authentication_error" (401), "not_found_error" (404),
//     "server_error" (500), "unavailable_error" (503), "not_supported_error" (501) and
//     "exceed_context_size_error" (400, beside "n_prompt_tokens" and "n_ctx"); images without a
//     projector: 500 "image input is not supported - hint: ... provide the mmproj" (builds
//     before the mtmd library, e.g. b4800: 500 'Unsupported content part type: "image_url"'); a
//     schema its json-schema-to-grammar cannot convert: 400 (common/json-schema-to-grammar.cpp:
//     "Pattern must start with '^' and end with '$'", "Unrecognized schema", ...).
//   vLLM entrypoints/openai (serving_engine.py, protocol.py ErrorResponse):
//     {"error":{"message","type","param","code"}} (older: {"object":"error","message",...});
//     unknown model 404 "The model `X` does not exist."; context 400 "This model's maximum
//     context length is N tokens. However, you requested M tokens ...".
//   SGLang srt/entrypoints/openai (serving_base.py create_error_response): {"object":"error",
//     "message","type":"BadRequestError","code":400}; context "The input (M tokens) is longer
//     than the model's context length (N tokens)."; grammar errors from its backends.
//   Ollama openai/openai.go NewError: {"error":{"message","type"}} with "invalid_request_error"
//     (400), "not_found_error" (404) and "api_error"; unknown model 404 `model "X" not found, try
//     pulling it first`; a text-only model given images: model/model.go ErrNoVisionModel "this
//     model is missing data required for image input".
// Thread-safety: pure functions; cheap enough for the I/O thread (they run on errors only).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "client/server_family.h"

namespace structflow::client {

enum class ErrorMeaning {
  kTransient,         // overload, restart, a passing fault: worth another attempt
  kImageUnsupported,  // the model takes no images (no vision projector / a text-only model)
  kContextOverflow,   // prompt + max_tokens exceed the context length
  kUnknownModel,      // the server does not serve the model asked for
  kBadSchema,         // the server cannot turn the structured-output constraint into a grammar
  kNoChatTemplate,    // the model has no chat template
  kAuth,              // the API key is missing or refused
  kNotFound,          // the path does not exist (the endpoint URL is wrong)
  kBadRequest,        // any other refusal of this request
};

// "transient", "image_unsupported", "context_overflow", "unknown_model", "bad_schema",
// "no_chat_template", "auth", "not_found", "bad_request".
std::string_view ErrorMeaningName(ErrorMeaning meaning);

struct ErrorClass {
  ErrorMeaning meaning = ErrorMeaning::kTransient;
  // False for every meaning but kTransient: the same request gets the same answer.
  bool retryable = true;
  std::string server_message;   // the server's own message (shortened, data URLs elided)
  int64_t n_ctx = 0;            // the context length, when the body says it
  int64_t n_prompt_tokens = 0;  // the prompt's tokens, when the body says them
};

// Classifies an HTTP error answer (status >= 300). `family` may be kUnknown.
ErrorClass ClassifyHttpError(int status, std::string_view body,
                             ServerFamily family = ServerFamily::kUnknown);

// A body or message fit for one line of a message: base64 runs and data URLs elided
// ("data:image/png;base64,<41,236 bytes>"), line breaks flattened, at most `max_chars` long.
std::string ShortenForMessage(std::string_view text, size_t max_chars = 300);

}  // namespace structflow::client

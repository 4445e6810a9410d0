#include "engine/diagnosis.h"

#include <fmt/format.h>

namespace structflow::engine {

std::string AdviseFix(const RowError& e, const DiagnosisContext& context) {
  switch (e.kind) {
    case ErrorKind::kConnect:
      return "no endpoint answers: start the server, or point --endpoint at it (check the host, "
             "port and /v1)";
    case ErrorKind::kHttpStatus:
      if (e.message.find("chat template") != std::string::npos) {
        return "the model has no chat template: start vLLM with --chat-template FILE (a Jinja "
               "template for the model's prompt format), or serve an instruct/chat variant of the "
               "model";
      }
      if (e.http_status == 404) {
        return fmt::format(
            "the server does not serve model '{}' (or the URL is wrong): pass --model with one of "
            "the models listed by `structflow doctor`, and check --endpoint ends in /v1",
            context.model);
      }
      if (e.http_status == 401 || e.http_status == 403)
        return "the server refused the API key: pass --api-key or set OPENAI_API_KEY";
      if (e.http_status == 400 && context.has_images &&
          (e.message.find("image") != std::string::npos ||
           e.message.find("multimodal") != std::string::npos)) {
        return "the server rejects the images: serve a vision model (vLLM: a VLM with "
               "--limit-mm-per-prompt '{\"image\":N}'), shrink them with --image-max-side, or "
               "drop --image for a text-only job";
      }
      if (e.http_status == 400 && e.message.find("context length") != std::string::npos) {
        return "prompts are too long for the model: lower --max-tokens, shrink images with "
               "--image-max-side, or serve the model with a larger --max-model-len";
      }
      return "every request is refused: run `structflow run ... --dry-run` to see the request and "
             "`structflow doctor` to check the server";
    case ErrorKind::kInvalidOutput:
      return "the server ignores the structured-output constraint: run `structflow doctor` to see "
             "which dialect it honours and pass it with --dialect, or check the schema";
    case ErrorKind::kImageError:
      return "the images cannot be read: check the --image column and that relative paths resolve "
             "against the input's folder";
    case ErrorKind::kTemplateError:
      return "the prompt template cannot be filled: check --prompt against `structflow inspect "
             "INPUT`";
    case ErrorKind::kTimeout:
      return "requests time out: check the server is healthy, or raise --request-timeout / "
             "--stall-timeout";
    default:
      return "see the error message; `structflow doctor --endpoint URL` checks the server";
  }
}

}  // namespace structflow::engine

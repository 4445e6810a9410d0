#include "engine/diagnosis.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>

namespace structflow::engine {
namespace {

using client::ErrorMeaning;
using client::ServerFamily;

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

size_t EditDistance(std::string_view a, std::string_view b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diag = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diag + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diag = up;
    }
  }
  return row[b.size()];
}

std::string ModelFix(const DiagnosisContext& c) {
  std::string fix = fmt::format("the server does not serve model '{}'", c.model);
  std::string closest = ClosestName(c.model, c.served_models);
  if (!closest.empty()) {
    fix += fmt::format(": did you mean --model {}?", closest);
  } else if (!c.served_models.empty()) {
    std::string names;
    for (const auto& n : c.served_models) names += (names.empty() ? "" : ", ") + n;
    fix += fmt::format(": pass --model with one it serves ({})", names);
  } else {
    fix += ": pass --model with one of the models listed by `structflow doctor`";
  }
  if (c.family == ServerFamily::kOllama) fix += fmt::format(" (or `ollama pull {}`)", c.model);
  return fix;
}

// Per family, from each server's own documentation of its flags: llama.cpp tools/server/README.md
// (--mmproj, -c/--ctx-size, -np, --jinja, --chat-template-file), vLLM's engine arguments
// (--max-model-len, --limit-mm-per-prompt, --chat-template), SGLang's server arguments
// (--context-length, --chat-template), Ollama's Modelfile/API options (num_ctx).
std::string ImageFix(ServerFamily family) {
  const char* tail = "; or drop --image for a text-only job";
  switch (family) {
    case ServerFamily::kLlamaCpp:
      return fmt::format(
          "the model takes no images: start llama-server with the model's vision projector "
          "(--mmproj FILE.gguf, or -hf with a vision model that ships one){}",
          tail);
    case ServerFamily::kOllama:
      return fmt::format(
          "the model takes no images: use a vision model (its `ollama show` lists the "
          "'vision' capability, e.g. llava, gemma3, qwen2.5vl){}",
          tail);
    case ServerFamily::kSglang:
      return fmt::format(
          "the model takes no images: serve a vision model with SGLang (a vision-language model "
          "with its chat template){}",
          tail);
    default:
      return fmt::format(
          "the model takes no images: serve a vision model (vLLM: a vision-language model, with "
          "--limit-mm-per-prompt '{{\"image\":N}}' when a row has several){}",
          tail);
  }
}

std::string ContextFix(const client::ErrorClass& e, ServerFamily family) {
  std::string limit = e.n_ctx > 0 ? fmt::format(" ({} tokens)", e.n_ctx) : "";
  std::string server;
  switch (family) {
    case ServerFamily::kLlamaCpp:
      server =
          "raise llama-server's -c/--ctx-size (each of the -np slots gets ctx-size / np tokens)";
      break;
    case ServerFamily::kSglang:
      server = "serve the model with a larger --context-length";
      break;
    case ServerFamily::kOllama:
      server = "raise the model's num_ctx (OLLAMA_CONTEXT_LENGTH)";
      break;
    default:
      server = "serve the model with a larger --max-model-len";
      break;
  }
  return fmt::format(
      "prompts are too long for the model's context{}: shorten the prompt, lower --max-tokens, "
      "shrink images with --image-max-side, or {}",
      limit, server);
}

std::string TemplateFix(ServerFamily family) {
  switch (family) {
    case ServerFamily::kLlamaCpp:
      return "the model has no chat template: start llama-server with --jinja and "
             "--chat-template-file FILE (or a built-in --chat-template NAME), or serve an "
             "instruct/chat variant of the model";
    case ServerFamily::kSglang:
      return "the model has no chat template: start SGLang with --chat-template FILE, or serve an "
             "instruct/chat variant of the model";
    default:
      return "the model has no chat template: start vLLM with --chat-template FILE (a Jinja "
             "template for the model's prompt format), or serve an instruct/chat variant of the "
             "model";
  }
}

}  // namespace

std::string ClosestName(std::string_view wanted, const std::vector<std::string>& names) {
  const std::string w = Lower(wanted);
  std::string best;
  size_t best_d = std::string::npos;
  for (const auto& n : names) {
    const std::string l = Lower(n);
    size_t d = EditDistance(w, l);
    if (!w.empty() && (l.find(w) != std::string::npos || w.find(l) != std::string::npos))
      d = std::min(d, size_t{1});
    if (d < best_d) {
      best_d = d;
      best = n;
    }
  }
  if (best.empty() || best_d * 2 > std::max(w.size(), best.size())) return "";
  return best;
}

client::ErrorClass ClassifyRowError(const RowError& error) {
  if (error.kind != ErrorKind::kHttpStatus) return client::ErrorClass{};
  // The client's message is "HTTP N from URL: <server message>"; its server part is what the
  // classifier reads (a non-JSON body is read as text).
  std::string_view m = error.message;
  size_t colon = m.find(": ");
  if (m.rfind("HTTP ", 0) == 0 && colon != std::string_view::npos) m.remove_prefix(colon + 2);
  return client::ClassifyHttpError(error.http_status, m);
}

std::string AdviseFix(const client::ErrorClass& e, const DiagnosisContext& c) {
  switch (e.meaning) {
    case ErrorMeaning::kImageUnsupported:
      return ImageFix(c.family);
    case ErrorMeaning::kContextOverflow:
      return ContextFix(e, c.family);
    case ErrorMeaning::kUnknownModel:
      return ModelFix(c);
    case ErrorMeaning::kNoChatTemplate:
      return TemplateFix(c.family);
    case ErrorMeaning::kAuth:
      return "the server refused the API key: pass --api-key or set OPENAI_API_KEY";
    case ErrorMeaning::kNotFound:
      return "the URL is wrong: check --endpoint ends in /v1 (e.g. http://127.0.0.1:8000/v1)";
    case ErrorMeaning::kBadSchema:
      return fmt::format(
          "the server cannot turn the constraint into a grammar ({}): simplify the schema (see "
          "the keywords the server supports), or pass another --dialect",
          e.server_message);
    case ErrorMeaning::kBadRequest:
    case ErrorMeaning::kTransient:
      break;
  }
  return "every request is refused: run `structflow run ... --dry-run` to see the request and "
         "`structflow doctor` to check the server";
}

// Who downloads an image given as an http(s) URL, from each server's source:
// - vLLM: vllm/multimodal/utils.py MediaConnector fetches it (VLLM_IMAGE_FETCH_TIMEOUT);
// - SGLang: python/sglang/srt/utils load_image fetches it with requests;
// - llama.cpp: tools/server handle_media (server-common.cpp, 2025 master) downloads it (10 MB,
//   10 s) and fails with "Failed to download image"; builds before its multimodal server (the
//   b4800 family) take no images at all;
// - Ollama: openai/openai.go FromChatRequest (commit 00988753) takes only
//   data:image/{jpeg,jpg,png,webp};base64 URLs and answers "invalid image input" to anything else;
// - OpenAI's own API fetches URLs; an unknown server may not.
bool FamilyFetchesImageUrls(client::ServerFamily family) {
  switch (family) {
    case client::ServerFamily::kVllm:
    case client::ServerFamily::kSglang:
    case client::ServerFamily::kLlamaCpp:
    case client::ServerFamily::kOpenAI:
      return true;
    case client::ServerFamily::kOllama:
    case client::ServerFamily::kUnknown:
      return false;
  }
  return false;
}

namespace {

bool HasNoCase(std::string_view text, std::string_view part) {
  auto it = std::search(text.begin(), text.end(), part.begin(), part.end(), [](char a, char b) {
    return std::tolower(static_cast<unsigned char>(a)) ==
           std::tolower(static_cast<unsigned char>(b));
  });
  return it != text.end();
}

// A server's answer saying it could not get an image it was given by URL: llama.cpp's "Failed to
// download image", the simulator's and similar "failed to fetch image", and the network errors
// Python servers pass on when the host has no route to the image (aiohttp's "Cannot connect to
// host", requests' "Max retries exceeded with url", a failed name lookup).
bool SaysImageFetchFailed(std::string_view m) {
  bool fetch = HasNoCase(m, "download") || HasNoCase(m, "fetch");
  bool what = HasNoCase(m, "image") || HasNoCase(m, "media") || HasNoCase(m, "url");
  return (fetch && what && HasNoCase(m, "fail")) || HasNoCase(m, "cannot connect to host") ||
         HasNoCase(m, "max retries exceeded with url") ||
         HasNoCase(m, "name or service not known") ||
         HasNoCase(m, "temporary failure in name resolution");
}

}  // namespace

std::string AdviseFix(const RowError& e, const DiagnosisContext& context) {
  switch (e.kind) {
    case ErrorKind::kConnect:
      return "no endpoint answers: start the server, or point --endpoint at it (check the host, "
             "port and /v1)";
    case ErrorKind::kHttpStatus: {
      client::ErrorClass cls = ClassifyRowError(e);
      // An image URL the server could not fetch (no network on the GPU box, a host that refuses
      // it), or Ollama, which takes no URLs at all: have structflow download them.
      if (context.has_images && !context.fetch_images &&
          cls.meaning != ErrorMeaning::kImageUnsupported) {
        if (SaysImageFetchFailed(e.message)) {
          return "the server could not download the image URLs itself: pass --fetch-images so "
                 "structflow downloads each distinct URL once and sends the image inline (give "
                 "slow hosts --fetch-timeout)";
        }
        if (context.family == client::ServerFamily::kOllama &&
            HasNoCase(e.message, "invalid image input")) {
          return "Ollama takes images only inline (JPEG, PNG or WebP data URLs), not http(s) "
                 "URLs: pass --fetch-images so structflow downloads them, and keep --image-format "
                 "jpeg, png or webp";
        }
      }
      // A 400 naming images while the job sends them: the images are the trouble even when the
      // wording is one the classifier does not know.
      if (cls.meaning == ErrorMeaning::kBadRequest && context.has_images &&
          (e.message.find("image") != std::string::npos ||
           e.message.find("multimodal") != std::string::npos)) {
        return "the server rejects the images: serve a vision model (vLLM: a VLM with "
               "--limit-mm-per-prompt '{\"image\":N}'), shrink them with --image-max-side, or "
               "drop --image for a text-only job";
      }
      return AdviseFix(cls, context);
    }
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

#include "client/error_class.h"

#include <fmt/format.h>
#include <simdjson.h>

#include <algorithm>
#include <cctype>

namespace structflow::client {
namespace {

bool IsBase64Char(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '+' || c == '/' || c == '=';
}

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

bool Has(const std::string& lower, std::string_view needle) {
  return lower.find(needle) != std::string::npos;
}

// The first integer after `key` in `text` (e.g. "(9412 tokens)"), or 0.
int64_t NumberAfter(const std::string& text, std::string_view key) {
  size_t at = text.find(key);
  if (at == std::string::npos) return 0;
  at += key.size();
  while (at < text.size() && !std::isdigit(static_cast<unsigned char>(text[at]))) {
    if (at > text.find(key) + key.size() + 12) return 0;  // the number must follow closely
    ++at;
  }
  int64_t v = 0;
  while (at < text.size() && std::isdigit(static_cast<unsigned char>(text[at])) && v < (1LL << 40))
    v = v * 10 + (text[at++] - '0');
  return v;
}

}  // namespace

std::string_view ErrorMeaningName(ErrorMeaning meaning) {
  switch (meaning) {
    case ErrorMeaning::kTransient:
      return "transient";
    case ErrorMeaning::kImageUnsupported:
      return "image_unsupported";
    case ErrorMeaning::kContextOverflow:
      return "context_overflow";
    case ErrorMeaning::kUnknownModel:
      return "unknown_model";
    case ErrorMeaning::kBadSchema:
      return "bad_schema";
    case ErrorMeaning::kNoChatTemplate:
      return "no_chat_template";
    case ErrorMeaning::kAuth:
      return "auth";
    case ErrorMeaning::kNotFound:
      return "not_found";
    case ErrorMeaning::kBadRequest:
      return "bad_request";
  }
  return "transient";
}

std::string ShortenForMessage(std::string_view text, size_t max_chars) {
  std::string out;
  out.reserve(std::min(text.size(), max_chars + 64));
  size_t i = 0;
  while (i < text.size() && out.size() < max_chars) {
    // A data URL: keep "data:TYPE;base64," and say how long the payload was.
    if (text.compare(i, 5, "data:") == 0) {
      size_t comma = text.find(',', i);
      size_t semi = text.find(";base64,", i);
      if (comma != std::string_view::npos && semi != std::string_view::npos && semi < comma &&
          comma - i < 80) {
        size_t end = comma + 1;
        while (end < text.size() && IsBase64Char(text[end])) ++end;
        out.append(text.substr(i, comma + 1 - i));
        out += fmt::format("<{} bytes>", end - comma - 1);
        i = end;
        continue;
      }
    }
    // A bare base64 run of 64 characters or more.
    if (IsBase64Char(text[i]) && (i == 0 || !IsBase64Char(text[i - 1]))) {
      size_t end = i;
      while (end < text.size() && IsBase64Char(text[end])) ++end;
      if (end - i >= 64) {
        out += fmt::format("<{} base64 bytes>", end - i);
        i = end;
        continue;
      }
    }
    char c = text[i++];
    out.push_back(c == '\n' || c == '\r' || c == '\t' ? ' ' : c);
  }
  if (i < text.size()) out += "...";
  return out;
}

ErrorClass ClassifyHttpError(int status, std::string_view body, ServerFamily family) {
  ErrorClass out;
  // The message and type from the shapes every family uses: {"error":{"message","type"}},
  // {"object":"error","message","type"} (vLLM before 0.9, SGLang), {"error":"text"} (Ollama's
  // own API), {"detail": ...} (FastAPI validation errors).
  std::string message;
  std::string type;
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  if (!parser.parse(body.data(), body.size()).get(doc)) {
    simdjson::dom::element err = doc;
    simdjson::dom::element inner;
    if (!doc["error"].get(inner)) {
      std::string_view s;
      if (!inner.get_string().get(s)) {
        message = std::string(s);
      } else {
        err = inner;
      }
    }
    std::string_view s;
    if (message.empty() && !err["message"].get_string().get(s)) message = std::string(s);
    if (!err["type"].get_string().get(s)) type = std::string(s);
    int64_t n = 0;
    if (!err["n_ctx"].get_int64().get(n)) out.n_ctx = n;
    if (!err["n_prompt_tokens"].get_int64().get(n)) out.n_prompt_tokens = n;
    simdjson::dom::element detail;
    if (message.empty() && !doc["detail"].get(detail)) {
      message = detail.is_string() ? std::string(detail.get_string().value())
                                   : simdjson::to_string(detail);
    }
  }
  if (message.empty()) message = std::string(body);
  out.server_message = ShortenForMessage(message);
  const std::string m = Lower(message);

  auto set = [&](ErrorMeaning meaning) {
    out.meaning = meaning;
    out.retryable = meaning == ErrorMeaning::kTransient;
    return out;
  };

  // Images to a model that takes none. llama.cpp answers 500, Ollama 500 or 400: by meaning,
  // not status, these never heal.
  if ((Has(m, "image") || Has(m, "multimodal") || Has(m, "vision")) &&
      (Has(m, "not supported") || Has(m, "mmproj") || Has(m, "missing data required") ||
       Has(m, "does not support") || Has(m, "not a multimodal") || Has(m, "text-only") ||
       Has(m, "unsupported content part"))) {
    return set(ErrorMeaning::kImageUnsupported);
  }
  // Context overflow: llama.cpp's type, vLLM's and SGLang's wording, OpenAI's code.
  if (type == "exceed_context_size_error" || Has(m, "context length") || Has(m, "context size") ||
      Has(m, "context window") || Has(m, "context_length_exceeded") || Has(m, "maximum context")) {
    if (out.n_ctx == 0) {
      out.n_ctx = NumberAfter(m, "maximum context length is");
      if (out.n_ctx == 0) out.n_ctx = NumberAfter(m, "context length (");
      if (out.n_ctx == 0) out.n_ctx = NumberAfter(m, "available context size (");
    }
    if (out.n_prompt_tokens == 0) {
      out.n_prompt_tokens = NumberAfter(m, "you requested");
      if (out.n_prompt_tokens == 0) out.n_prompt_tokens = NumberAfter(m, "the input (");
      if (out.n_prompt_tokens == 0) out.n_prompt_tokens = NumberAfter(m, "request (");
    }
    return set(ErrorMeaning::kContextOverflow);
  }
  if (Has(m, "chat template") || Has(m, "chat_template")) return set(ErrorMeaning::kNoChatTemplate);
  if (status == 401 || status == 403) return set(ErrorMeaning::kAuth);
  // The model: vLLM "The model `X` does not exist.", Ollama `model "X" not found`, SGLang and
  // hosted APIs "model_not_found".
  if (Has(m, "model") && (Has(m, "does not exist") || Has(m, "not found") ||
                          Has(m, "model_not_found") || Has(m, "unknown model"))) {
    return set(ErrorMeaning::kUnknownModel);
  }
  if (status == 404) return set(ErrorMeaning::kNotFound);
  // A constraint the server cannot compile: llama.cpp's json-schema-to-grammar and GBNF parser,
  // xgrammar / outlines / llguidance errors in vLLM and SGLang.
  if (status >= 400 && status < 500 &&
      (Has(m, "grammar") || Has(m, "schema") || Has(m, "regex") || Has(m, "pattern") ||
       Has(m, "ebnf") || Has(m, "response_format") || Has(m, "structured output") ||
       Has(m, "guided"))) {
    return set(ErrorMeaning::kBadSchema);
  }
  if (status == 408 || status == 409 || status == 429 || status >= 500) {
    (void)family;  // no family answers a transient fault differently (yet)
    return set(ErrorMeaning::kTransient);
  }
  return set(ErrorMeaning::kBadRequest);
}

}  // namespace structflow::client

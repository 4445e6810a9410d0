#include "client/error_class.h"

#include <gtest/gtest.h>

namespace structflow::client {
namespace {

struct Case {
  const char* what;
  int status;
  const char* body;
  ErrorMeaning meaning;
};

// Bodies as each family writes them (see the sources named in error_class.h).
const Case kCases[] = {
    {"llama.cpp images without --mmproj", 500,
     R"x({"error":{"code":500,"message":"image input is not supported - hint: if this is unexpected, you may need to provide the mmproj","type":"server_error"}})x",
     ErrorMeaning::kImageUnsupported},
    {"llama.cpp b4800 images", 500,
     R"x({"error":{"code":500,"message":"Unsupported content part type: \"image_url\"","type":"server_error"}})x",
     ErrorMeaning::kImageUnsupported},
    {"ollama images to a text model", 500,
     R"x({"error":{"message":"this model is missing data required for image input","type":"api_error","param":null,"code":null}})x",
     ErrorMeaning::kImageUnsupported},
    {"vllm text-only model", 400,
     R"x({"error":{"message":"The model `m` does not support image input (it is a text-only model)","type":"BadRequestError","param":null,"code":400}})x",
     ErrorMeaning::kImageUnsupported},
    {"llama.cpp context overflow", 400,
     R"x({"error":{"code":400,"message":"request (9412 tokens) exceeds the available context size (8192 tokens), try increasing it","type":"exceed_context_size_error","n_prompt_tokens":9412,"n_ctx":8192}})x",
     ErrorMeaning::kContextOverflow},
    {"vllm context overflow", 400,
     R"x({"object":"error","message":"This model's maximum context length is 4096 tokens. However, you requested 5000 tokens (4000 in the messages, 1000 in the completion).","type":"BadRequestError","code":400})x",
     ErrorMeaning::kContextOverflow},
    {"sglang context overflow", 400,
     R"x({"object":"error","message":"The input (5000 tokens) is longer than the model's context length (4096 tokens).","type":"BadRequestError","param":null,"code":400})x",
     ErrorMeaning::kContextOverflow},
    {"vllm unknown model", 404,
     R"x({"error":{"message":"The model `nope` does not exist.","type":"NotFoundError","param":null,"code":404}})x",
     ErrorMeaning::kUnknownModel},
    {"ollama unknown model", 404,
     R"x({"error":{"message":"model \"nope\" not found, try pulling it first","type":"not_found_error","param":null,"code":null}})x",
     ErrorMeaning::kUnknownModel},
    {"wrong path", 404, R"x({"detail":"Not Found"})x", ErrorMeaning::kNotFound},
    {"llama.cpp unanchored pattern", 400,
     R"x({"error":{"code":400,"message":"JSON schema conversion failed:\nPattern must start with '^' and end with '$'","type":"invalid_request_error"}})x",
     ErrorMeaning::kBadSchema},
    {"no chat template", 400,
     R"x({"object":"error","message":"As of transformers v4.44, default chat template is no longer allowed","code":400})x",
     ErrorMeaning::kNoChatTemplate},
    {"bad key", 401, R"x({"error":{"message":"Invalid API Key","type":"authentication_error"}})x",
     ErrorMeaning::kAuth},
    {"overload", 503,
     R"x({"error":{"code":503,"message":"Loading model","type":"unavailable_error"}})x",
     ErrorMeaning::kTransient},
    {"rate limit", 429, "", ErrorMeaning::kTransient},
    {"a plain 500", 500, "Internal Server Error", ErrorMeaning::kTransient},
    {"other 400", 400, R"x({"error":{"message":"temperature must be >= 0"}})x",
     ErrorMeaning::kBadRequest},
};

TEST(ErrorClass, ClassifiesEachFamilysBodiesByMeaning) {
  for (const Case& c : kCases) {
    ErrorClass e = ClassifyHttpError(c.status, c.body);
    EXPECT_EQ(e.meaning, c.meaning) << c.what << ": got " << ErrorMeaningName(e.meaning);
    EXPECT_EQ(e.retryable, c.meaning == ErrorMeaning::kTransient) << c.what;
  }
}

const char* BodyOf(std::string_view what) {
  for (const Case& c : kCases) {
    if (what == c.what) return c.body;
  }
  return "";
}

TEST(ErrorClass, ReadsTheContextLengthFromTheBody) {
  ErrorClass llama = ClassifyHttpError(400, BodyOf("llama.cpp context overflow"));
  EXPECT_EQ(llama.n_ctx, 8192);
  EXPECT_EQ(llama.n_prompt_tokens, 9412);
  ErrorClass vllm = ClassifyHttpError(400, BodyOf("vllm context overflow"));
  EXPECT_EQ(vllm.n_ctx, 4096);
  ErrorClass sglang = ClassifyHttpError(400, BodyOf("sglang context overflow"));
  EXPECT_EQ(sglang.n_ctx, 4096);
  EXPECT_EQ(sglang.n_prompt_tokens, 5000);
}

TEST(ErrorClass, TheMessageIsTheServersOwnWithoutTheEnvelope) {
  ErrorClass e = ClassifyHttpError(500, BodyOf("llama.cpp images without --mmproj"));
  EXPECT_EQ(e.server_message.rfind("image input is not supported", 0), 0u) << e.server_message;
}

TEST(ErrorClass, ShortenElidesDataUrlsAndBase64) {
  std::string b64(5000, 'A');
  std::string text = "bad image data:image/png;base64," + b64 + " in row 3";
  std::string s = ShortenForMessage(text);
  EXPECT_EQ(s, "bad image data:image/png;base64,<5000 bytes> in row 3");
  EXPECT_EQ(ShortenForMessage("x " + b64), "x <5000 base64 bytes>");
  EXPECT_EQ(ShortenForMessage(std::string(400, '-'), 10), "----------...");
  EXPECT_EQ(ShortenForMessage("a\nb"), "a b");
}

}  // namespace
}  // namespace structflow::client

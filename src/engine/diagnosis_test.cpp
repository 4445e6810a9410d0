#include "engine/diagnosis.h"

#include <gtest/gtest.h>

namespace structflow::engine {
namespace {

using client::ServerFamily;

bool Says(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

RowError Http(int status, std::string server_message) {
  return RowError{ErrorKind::kHttpStatus,
                  "HTTP " + std::to_string(status) +
                      " from http://127.0.0.1:1/v1/chat/completions: " + server_message,
                  status, 1};
}

TEST(Diagnosis, UnknownModelSuggestsTheClosestServedName) {
  DiagnosisContext c{"qwen2.5-7b", false, ServerFamily::kVllm, {"Qwen/Qwen2.5-7B-Instruct", "x"}};
  std::string fix = AdviseFix(Http(404, "The model `qwen2.5-7b` does not exist."), c);
  EXPECT_TRUE(Says(fix, "'qwen2.5-7b'")) << fix;
  EXPECT_TRUE(Says(fix, "--model Qwen/Qwen2.5-7B-Instruct")) << fix;
}

TEST(Diagnosis, AnImageUrlTheServerCouldNotFetchSuggestsFetchImages) {
  // llama.cpp's handle_media, the simulator, aiohttp (vLLM) and requests (SGLang) wordings.
  for (const char* said :
       {"Failed to download image",
        "Failed to fetch image from 'http://images.example/1.png': the simulator has no network",
        "Cannot connect to host images.example:443 ssl:default [Name or service not known]",
        "HTTPSConnectionPool(host='images.example', port=443): Max retries exceeded with url: "
        "/1.png"}) {
    std::string fix = AdviseFix(Http(400, said), {"m", true, ServerFamily::kVllm, {}});
    EXPECT_TRUE(Says(fix, "--fetch-images")) << said << " -> " << fix;
    DiagnosisContext fetching{"m", true, ServerFamily::kVllm, {}};
    fetching.fetch_images = true;  // already downloading here: not the fix
    EXPECT_FALSE(Says(AdviseFix(Http(400, said), fetching), "--fetch-images")) << said;
    // A text-only job: not about images at all.
    EXPECT_FALSE(
        Says(AdviseFix(Http(400, said), {"m", false, ServerFamily::kVllm, {}}), "--fetch-images"))
        << said;
  }
  std::string ollama =
      AdviseFix(Http(400, "invalid image input"), {"m", true, ServerFamily::kOllama, {}});
  EXPECT_TRUE(Says(ollama, "--fetch-images")) << ollama;
  // Images to a text-only model stay that diagnosis.
  std::string text_only = AdviseFix(
      Http(500, "image input is not supported - hint: you may need to provide the mmproj"),
      {"m", true, ServerFamily::kLlamaCpp, {}});
  EXPECT_FALSE(Says(text_only, "--fetch-images")) << text_only;
}

TEST(Diagnosis, OnlyOllamaAndUnknownServersAreAssumedNotToFetchImageUrls) {
  EXPECT_TRUE(FamilyFetchesImageUrls(ServerFamily::kVllm));
  EXPECT_TRUE(FamilyFetchesImageUrls(ServerFamily::kSglang));
  EXPECT_TRUE(FamilyFetchesImageUrls(ServerFamily::kLlamaCpp));
  EXPECT_TRUE(FamilyFetchesImageUrls(ServerFamily::kOpenAI));
  EXPECT_FALSE(FamilyFetchesImageUrls(ServerFamily::kOllama));
  EXPECT_FALSE(FamilyFetchesImageUrls(ServerFamily::kUnknown));
}

TEST(Diagnosis, ClosestNameIsEmptyWhenNothingIsClose) {
  EXPECT_EQ(ClosestName("llama", {"mistral-7b", "phi"}), "");
  EXPECT_EQ(ClosestName("gemma3", {"gemma3:4b", "llava"}), "gemma3:4b");
  EXPECT_EQ(ClosestName("lama-3", {"llama-3", "qwen"}), "llama-3");
}

TEST(Diagnosis, ImagesToATextOnlyModelGetTheFamilysFix) {
  RowError llama =
      Http(500, "image input is not supported - hint: you may need to provide the mmproj");
  EXPECT_TRUE(Says(AdviseFix(llama, {"m", true, ServerFamily::kLlamaCpp, {}}), "--mmproj"));
  RowError ollama = Http(500, "this model is missing data required for image input");
  EXPECT_TRUE(Says(AdviseFix(ollama, {"m", true, ServerFamily::kOllama, {}}), "vision model"));
  EXPECT_TRUE(
      Says(AdviseFix(llama, {"m", true, ServerFamily::kVllm, {}}), "--limit-mm-per-prompt"));
}

TEST(Diagnosis, ContextOverflowNamesTheLimitAndTheServerFlag) {
  RowError e = Http(400,
                    "request (9412 tokens) exceeds the available context size (8192 tokens), try "
                    "increasing it");
  std::string fix = AdviseFix(e, {"m", false, ServerFamily::kLlamaCpp, {}});
  EXPECT_TRUE(Says(fix, "8192 tokens")) << fix;
  EXPECT_TRUE(Says(fix, "--ctx-size")) << fix;
  EXPECT_TRUE(Says(AdviseFix(e, {"m", false, ServerFamily::kVllm, {}}), "--max-model-len"));
}

TEST(Diagnosis, MissingChatTemplateSaysHowToGiveOne) {
  RowError e = Http(400, "this model has no chat template");
  EXPECT_TRUE(Says(AdviseFix(e, {"m", false, ServerFamily::kVllm, {}}), "--chat-template"));
  EXPECT_TRUE(Says(AdviseFix(e, {"m", false, ServerFamily::kLlamaCpp, {}}), "--jinja"));
}

TEST(Diagnosis, AWrongPathIsNotAnUnknownModel) {
  std::string fix = AdviseFix(
      Http(404, "{\"detail\":\"Not Found\"} (check the endpoint URL, which should end in /v1)"),
      {"m", false, ServerFamily::kUnknown, {}});
  EXPECT_TRUE(Says(fix, "--endpoint")) << fix;
}

TEST(Diagnosis, IgnoredConstraintPointsToDoctorAndDialect) {
  std::string fix = AdviseFix(RowError{ErrorKind::kInvalidOutput, "not a choice", 200, 1}, {});
  EXPECT_TRUE(Says(fix, "--dialect")) << fix;
}

}  // namespace
}  // namespace structflow::engine

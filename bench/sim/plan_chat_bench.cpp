// PlanChat (parse + validate + answer) per request body: the simulator's CPU cost per request
// besides HTTP. Checks each answer first, then times it.
//   plan_chat_bench [--benchmark_filter=...]
#include <benchmark/benchmark.h>

#include <cstdio>
#include <cstdlib>
#include <string>

#include "sim/chat.h"

namespace {

using structflow::sim::ChatConfig;
using structflow::sim::PlanChat;

ChatConfig Config() {
  ChatConfig c;
  c.models = {"sim-vlm"};
  return c;
}

void Require(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "plan_chat_bench: wrong answer for %s\n", what);
    std::abort();
  }
}

void Run(benchmark::State& state, const std::string& body, const char* what) {
  ChatConfig c = Config();
  auto first = PlanChat(body, c);
  Require(first.ok(), what);
  for (auto _ : state) {
    auto r = PlanChat(body, c);
    benchmark::DoNotOptimize(r.plan.content.data());
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(body.size()));
}

void BM_PlanChatChoice(benchmark::State& state) {
  Run(state,
      R"({"model":"sim-vlm","messages":[{"role":"system","content":"Answer with one letter."},{"role":"user","content":"Which planet is largest? A) Mars B) Jupiter C) Venus D) Earth"}],"max_tokens":8,"structured_outputs":{"choice":["A","B","C","D"]}})",
      "choice");
}
BENCHMARK(BM_PlanChatChoice);

void BM_PlanChatJsonSchema(benchmark::State& state) {
  Run(state,
      R"({"model":"sim-vlm","messages":[{"role":"user","content":"Extract the invoice."}],"response_format":{"type":"json_schema","json_schema":{"name":"invoice","schema":{"type":"object","properties":{"number":{"type":"string","pattern":"INV-\\d{6}"},"date":{"type":"string","format":"date"},"total":{"type":"number","minimum":0},"items":{"type":"array","items":{"type":"object","properties":{"name":{"type":"string"},"qty":{"type":"integer","minimum":1}},"required":["name","qty"]},"minItems":1,"maxItems":5}},"required":["number","date","total","items"]}}}})",
      "json_schema");
}
BENCHMARK(BM_PlanChatJsonSchema);

// A text part of range(0) bytes plus one (tiny, valid) PNG: the cost of parsing a big body.
void BM_PlanChatImage(benchmark::State& state) {
  const std::string png =
      "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJg"
      "gg==";
  std::string filler(static_cast<size_t>(state.range(0)), 'x');
  std::string body =
      R"({"model":"sim-vlm","messages":[{"role":"user","content":[{"type":"text","text":")" +
      filler + R"("},{"type":"image_url","image_url":{"url":"data:image/png;base64,)" + png +
      R"("}}]}],"max_tokens":20})";
  ChatConfig c = Config();
  c.max_model_len = 1 << 30;
  auto first = PlanChat(body, c);
  Require(first.ok(), "image");
  for (auto _ : state) {
    auto r = PlanChat(body, c);
    benchmark::DoNotOptimize(r.plan.content.data());
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(body.size()));
}
BENCHMARK(BM_PlanChatImage)->Arg(1 << 10)->Arg(1 << 20);

}  // namespace

BENCHMARK_MAIN();

#include "cli/run_demo.h"

#include <fmt/format.h>

#include <cstdio>
#include <filesystem>

#include "cli/run_job.h"
#include "demo/dataset.h"
#include "engine/eval.h"
#include "io/source.h"
#include "report/report.h"
#include "sim/server.h"

namespace structflow::demo {
namespace {

namespace fs = std::filesystem;

void RemoveJobFiles(const std::string& out) {
  for (const char* suffix :
       {"", ".checkpoint", ".checkpoint-wal", ".checkpoint-shm", ".stats.json"}) {
    std::error_code ec;
    fs::remove(out + suffix, ec);
  }
}

cli::RunFlags DemoJob(const std::string& input, const std::string& out, const std::string& endpoint,
                      bool with_image) {
  cli::RunFlags job;
  job.inputs = {input};
  job.out = out;
  job.endpoints = {endpoint};
  job.explode = {"images", "texts"};
  if (with_image) {
    job.images = {"images"};
    job.keep_binary = true;  // the report's gallery shows the images
  }
  job.prompt = "{texts.user}";
  job.choices = {"A", "B", "C", "D"};
  job.extract = {"key=texts.assistant:Answer: ([A-D])"};
  job.max_tokens = 8;
  job.progress = "log";
  job.progress_interval_s = 2;
  return job;
}

}  // namespace

int RunDemo(const DemoOptions& options) {
  std::error_code ec;
  fs::create_directories(options.out_dir, ec);
  if (ec) {
    std::fprintf(stderr,
                 "structflow demo: cannot create %s: %s; pass --out-dir to write elsewhere\n",
                 options.out_dir.c_str(), ec.message().c_str());
    return cli::kExitFailed;
  }
  const std::string dir = fs::absolute(options.out_dir).lexically_normal().string();
  const std::string input = dir + "/diagrams.parquet";
  const std::string with = dir + "/with_image.parquet";
  const std::string without = dir + "/without_image.parquet";

  std::printf(
      "structflow demo: multiple-choice questions over diagrams, with and without the image.\n\n");
  std::printf(
      "1. Drawing %d diagrams (shapes, bar charts, labelled shapes) with 1-3 questions each...\n",
      options.images);
  std::fflush(stdout);
  auto batch = GenerateDataset(DatasetOptions{options.images, options.seed});
  if (!batch.ok()) {
    std::fprintf(stderr, "structflow demo: %s\n", batch.status().message().c_str());
    return cli::kExitFailed;
  }
  {
    auto sink = io::OpenSink(input, batch->schema);
    Status st = sink.ok() ? (*sink)->Write(*batch) : sink.status();
    if (st.ok()) st = (*sink)->Finish();
    if (!st.ok()) {
      std::fprintf(stderr, "structflow demo: writing %s: %s\n", input.c_str(),
                   st.message().c_str());
      return cli::kExitFailed;
    }
  }
  std::printf(
      "   wrote %s (AI2D layout: images = list<{bytes, path}>, texts = list<{user, assistant, "
      "source}>)\n\n",
      input.c_str());
  if (options.dataset_only) return cli::kExitOk;

  sim::SimOptions so;
  so.models = {"demo-vlm"};
  so.max_num_seqs = options.max_num_seqs;
  so.tokens_per_image = 576;
  so.prefill_ms_per_1k_tokens = 15;
  so.decode_ms_per_token = 8;
  so.seed = options.seed;
  auto server = sim::Server::Start(so);
  if (!server.ok()) {
    std::fprintf(stderr, "structflow demo: cannot start the simulator: %s\n",
                 server.status().message().c_str());
    return cli::kExitFailed;
  }
  const std::string endpoint = (*server)->base_url();
  std::printf(
      "2. Started the simulator at %s: a vLLM stand-in with %d batch slots and a latency model of\n"
      "   prefill and decode. Its answers are drawn by the simulator, NOT by a model: expect "
      "chance\n"
      "   accuracy (about 25%%) both ways. Point the same job at a real server to measure a "
      "model.\n\n",
      endpoint.c_str(), options.max_num_seqs);

  int codes[2];
  const char* labels[2] = {"with the image", "without the image"};
  const std::string outs[2] = {with, without};
  for (int i = 0; i < 2; ++i) {
    std::printf("%d. Running the job %s -> %s\n", 3 + i, labels[i], outs[i].c_str());
    std::fflush(stdout);
    RemoveJobFiles(outs[i]);
    codes[i] = cli::RunJob(DemoJob(input, outs[i], endpoint, i == 0));
    if (codes[i] != cli::kExitOk && codes[i] != cli::kExitRowsFailed) {
      std::fprintf(stderr, "structflow demo: the job %s failed (exit %d)\n", labels[i], codes[i]);
      return codes[i];
    }
    std::printf("\n");
  }
  (*server)->Stop();

  std::printf("5. Scoring (structflow eval %s %s --key key --by texts.source):\n\n", with.c_str(),
              without.c_str());
  engine::EvalOptions eo;
  eo.pred = "output";
  eo.key = "key";
  eo.by = "texts.source";
  auto a = engine::ReadOutcomes(with, eo);
  auto b = engine::ReadOutcomes(without, eo);
  if (!a.ok() || !b.ok()) {
    std::fprintf(stderr, "structflow demo: %s\n",
                 (!a.ok() ? a.status() : b.status()).message().c_str());
    return cli::kExitFailed;
  }
  auto c = engine::Compare(*a, *b);
  if (!c.ok()) {
    std::fprintf(stderr, "structflow demo: %s\n", c.status().message().c_str());
    return cli::kExitFailed;
  }
  std::string scores = engine::FormatComparison(engine::ScoreOutcomes(with, *a, eo),
                                                engine::ScoreOutcomes(without, *b, eo), *c,
                                                "with image", "without image");
  std::fputs(scores.c_str(), stdout);

  const std::string page = dir + "/report.html";
  std::printf(
      "\n6. Writing the report (structflow report %s %s --key key --by texts.source "
      "--labels 'with image,without image' -o %s)\n",
      with.c_str(), without.c_str(), page.c_str());
  report::ReportOptions ro;
  ro.results = {with, without};
  ro.labels = {"with image", "without image"};
  ro.eval = eo;
  ro.command = fmt::format(
      "structflow report {} {} --key key --by texts.source --labels 'with image,without image' "
      "-o {}",
      with, without, page);
  auto written = report::WriteReport(ro, page, nullptr);
  if (!written.ok()) {
    std::fprintf(stderr, "structflow demo: writing the report %s: %s\n", page.c_str(),
                 written.status().message().c_str());
    return cli::kExitFailed;
  }
  std::printf("   open it in a browser: %s\n", page.c_str());
  std::printf(
      "\n(The four-way table: 'right only with image' is where the image helped, 'right only "
      "without\n"
      "image' where it hurt. With the simulator both are chance; with a real model they are the "
      "point.)\n\n"
      "Outputs: %s\n         %s\n         %s (and .stats.json beside each result)\n"
      "Report:  %s\n\n"
      "The same job against a real vLLM server serving a vision model:\n"
      "  vllm serve Qwen/Qwen2.5-VL-3B-Instruct --limit-mm-per-prompt '{\"image\":1}' "
      "--max-model-len 8192\n"
      "  structflow run %s --out answers.parquet \\\n"
      "    --endpoint http://127.0.0.1:8000/v1 --explode images --explode texts --image images \\\n"
      "    --prompt '{texts.user}' --choice A,B,C,D --extract 'key=texts.assistant:Answer: "
      "([A-D])'\n"
      "  structflow eval answers.parquet --pred output --key key\n",
      input.c_str(), with.c_str(), without.c_str(), page.c_str(), input.c_str());
  return cli::kExitOk;
}

}  // namespace structflow::demo

// Client throughput and CPU cost at zero server latency: how many requests/s one client pushes
// and how much CPU its I/O thread spends per 1,000 requests. The simulator runs in-process on its
// own threads (or pass --url to use a server in another process, e.g. `structflow sim
// --latency-ms 0 --max-num-seqs 1024`). Checks every request completed once and successfully
// before reporting.
//
//   client_bench [--requests N] [--concurrency C] [--url URL] [--sim-threads T] [--body-bytes B]
#include <sys/resource.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "client/client.h"
#include "sim/server.h"

using namespace structflow;

namespace {

double ProcessCpuSeconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) * 1e-6;
}

std::string Body(size_t bytes) {
  std::string prompt(bytes, 'x');
  return R"({"model":"sim-vlm","messages":[{"role":"user","content":")" + prompt +
         R"("}],"max_tokens":8})";
}

struct Run {
  double seconds = 0;
  double io_cpu = 0;
  double process_cpu = 0;
  int limit = 0;
  uint64_t ok = 0;
};

int RunOnce(const std::string& url, int requests, int concurrency, size_t body_bytes, Run* out) {
  client::ClientOptions o;
  o.endpoints = {url};
  o.concurrency = concurrency;
  o.queue_capacity = 4096;
  auto made = client::Client::Make(o);
  if (!made.ok()) {
    std::fprintf(stderr, "%s\n", made.status().ToString().c_str());
    return 1;
  }
  client::Client* c = made->get();
  const std::string body = Body(body_bytes);
  double cpu0 = ProcessCpuSeconds();
  auto t0 = std::chrono::steady_clock::now();
  std::thread producer([&] {
    for (int i = 0; i < requests; ++i) c->Submit(client::Request{.id = uint64_t(i), .body = body});
    c->Close();
  });
  std::vector<char> seen(static_cast<size_t>(requests), 0);
  uint64_t n = 0;
  // Completions in batches, as the pipeline's parsers take them.
  std::vector<client::Completion> batch;
  while (c->NextCompletions(&batch, 64) > 0) {
    for (const client::Completion& comp : batch) {
      ++n;
      if (comp.id >= static_cast<uint64_t>(requests) || seen[comp.id]++ != 0) {
        std::fprintf(stderr, "bad or duplicate id %llu\n",
                     static_cast<unsigned long long>(comp.id));
        producer.join();
        return 1;
      }
      if (!comp.ok()) {
        std::fprintf(stderr, "request %llu failed: %s\n", static_cast<unsigned long long>(comp.id),
                     client::DescribeError(comp.error).c_str());
        producer.join();
        return 1;
      }
      out->ok++;
    }
    batch.clear();
  }
  producer.join();
  out->seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  out->process_cpu = ProcessCpuSeconds() - cpu0;
  auto stats = c->stats();
  out->io_cpu = stats.io_thread_cpu_s;
  out->limit = stats.concurrency_limit;
  if (n != static_cast<uint64_t>(requests)) {
    std::fprintf(stderr, "%llu of %d requests came back\n", static_cast<unsigned long long>(n),
                 requests);
    return 1;
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  int requests = 50000;
  std::vector<int> concurrencies = {64, 0};
  std::string url;
  int sim_threads = 1;
  size_t body_bytes = 256;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string a = argv[i];
    if (a == "--requests")
      requests = std::atoi(argv[i + 1]);
    else if (a == "--concurrency")
      concurrencies = {std::atoi(argv[i + 1])};
    else if (a == "--url")
      url = argv[i + 1];
    else if (a == "--sim-threads")
      sim_threads = std::atoi(argv[i + 1]);
    else if (a == "--body-bytes")
      body_bytes = static_cast<size_t>(std::atol(argv[i + 1]));
    else {
      std::fprintf(stderr, "unknown flag %s\n", a.c_str());
      return 2;
    }
  }
  std::unique_ptr<sim::Server> server;
  if (url.empty()) {
    sim::SimOptions so;
    so.latency_ms = 0;
    so.max_num_seqs = 4096;
    so.threads = sim_threads;
    auto s = sim::Server::Start(so);
    if (!s.ok()) {
      std::fprintf(stderr, "cannot start the simulator: %s\n", s.status().ToString().c_str());
      return 1;
    }
    server = std::move(*s);
    url = server->base_url();
  }
  // Warm up connections and the allocator.
  Run warm;
  if (RunOnce(url, std::min(requests, 2000), 16, body_bytes, &warm) != 0) return 1;
  for (int conc : concurrencies) {
    Run r;
    if (RunOnce(url, requests, conc, body_bytes, &r) != 0) return 1;
    std::printf(
        "client_bench requests=%d concurrency=%s final_limit=%d body_bytes=%zu: %.0f req/s, "
        "I/O thread CPU %.4f s per 1000 requests, process CPU (client+%s) %.4f s per 1000 "
        "requests\n",
        requests, conc == 0 ? "adaptive" : std::to_string(conc).c_str(), r.limit, body_bytes,
        r.ok / r.seconds, r.io_cpu * 1000.0 / requests, server ? "in-process sim" : "nothing",
        r.process_cpu * 1000.0 / requests);
  }
  return 0;
}

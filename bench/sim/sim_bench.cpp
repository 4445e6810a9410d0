// The simulator's throughput: requests/s at --latency-ms 0 with a fixed client (libcurl multi,
// N keep-alive connections, each sending its next request as soon as the last one answered).
// It first checks that every answer is a 200 chat.completion whose content fits the requested
// choice list, then reports the rate. Also measures the server's CPU time per 1,000 requests.
//
//   sim_bench [--connections 64] [--requests 50000] [--threads 2] [--url http://HOST:PORT/v1]
//
// Without --url it starts the simulator in-process (latency 0, max_num_seqs = connections).
#include <curl/curl.h>
#include <sys/resource.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "sim/server.h"

namespace {

struct Conn {
  CURL* easy = nullptr;
  std::string body;
};

size_t Append(char* data, size_t size, size_t n, void* out) {
  static_cast<std::string*>(out)->append(data, size * n);
  return size * n;
}

double CpuSeconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return u.ru_utime.tv_sec + u.ru_stime.tv_sec + (u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

}  // namespace

int main(int argc, char** argv) {
  int connections = 64;
  long requests = 50000;
  int threads = 2;
  std::string url;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string_view flag = argv[i];
    if (flag == "--connections")
      connections = std::atoi(argv[i + 1]);
    else if (flag == "--requests")
      requests = std::atol(argv[i + 1]);
    else if (flag == "--threads")
      threads = std::atoi(argv[i + 1]);
    else if (flag == "--url")
      url = argv[i + 1];
    else {
      std::fprintf(stderr, "unknown flag %s\n", argv[i]);
      return 2;
    }
  }
  std::unique_ptr<structflow::sim::Server> server;
  if (url.empty()) {
    structflow::sim::SimOptions o;
    o.latency_ms = 0;
    o.max_num_seqs = connections;
    o.threads = threads;
    auto s = structflow::sim::Server::Start(o);
    if (!s.ok()) {
      std::fprintf(stderr, "cannot start the simulator: %s\n", s.status().message().c_str());
      return 1;
    }
    server = std::move(s).value();
    url = server->base_url();
  }
  const std::string endpoint = url + "/chat/completions";
  const std::string body =
      R"({"model":"sim-vlm","messages":[{"role":"system","content":"Answer with one letter."},)"
      R"({"role":"user","content":"Which planet is largest? A) Mars B) Jupiter C) Venus D) Earth"}],)"
      R"("max_tokens":8,"temperature":0,"structured_outputs":{"choice":["A","B","C","D"]}})";

  curl_global_init(CURL_GLOBAL_DEFAULT);
  CURLM* multi = curl_multi_init();
  curl_slist* headers = curl_slist_append(nullptr, "Content-Type: application/json");
  std::vector<Conn> conns(connections);
  long started = 0, done = 0, bad = 0;
  auto launch = [&](Conn& c) {
    c.body.clear();
    curl_multi_remove_handle(multi, c.easy);
    curl_multi_add_handle(multi, c.easy);
    ++started;
  };
  for (auto& c : conns) {
    c.easy = curl_easy_init();
    curl_easy_setopt(c.easy, CURLOPT_URL, endpoint.c_str());
    curl_easy_setopt(c.easy, CURLOPT_POSTFIELDS, body.c_str());
    curl_easy_setopt(c.easy, CURLOPT_POSTFIELDSIZE, static_cast<long>(body.size()));
    curl_easy_setopt(c.easy, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(c.easy, CURLOPT_WRITEFUNCTION, &Append);
    curl_easy_setopt(c.easy, CURLOPT_WRITEDATA, &c.body);
    curl_easy_setopt(c.easy, CURLOPT_PRIVATE, &c);
    curl_easy_setopt(c.easy, CURLOPT_NOSIGNAL, 1L);
  }
  double server_cpu0 = CpuSeconds();
  auto t0 = std::chrono::steady_clock::now();
  for (auto& c : conns) {
    if (started < requests) launch(c);
  }
  int running = 0;
  do {
    curl_multi_perform(multi, &running);
    int msgs = 0;
    while (CURLMsg* m = curl_multi_info_read(multi, &msgs)) {
      if (m->msg != CURLMSG_DONE) continue;
      Conn* c = nullptr;
      curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, &c);
      long status = 0;
      curl_easy_getinfo(m->easy_handle, CURLINFO_RESPONSE_CODE, &status);
      ++done;
      // Correctness first: a chat.completion whose content is one of the choices.
      bool ok = m->data.result == CURLE_OK && status == 200 &&
                c->body.find("\"object\":\"chat.completion\"") != std::string::npos &&
                (c->body.find("\"content\":\"A\"") != std::string::npos ||
                 c->body.find("\"content\":\"B\"") != std::string::npos ||
                 c->body.find("\"content\":\"C\"") != std::string::npos ||
                 c->body.find("\"content\":\"D\"") != std::string::npos);
      if (!ok) ++bad;
      if (started < requests) launch(*c);
    }
    if (done < requests) curl_multi_poll(multi, nullptr, 0, 100, nullptr);
  } while (done < requests);
  double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  double cpu = CpuSeconds() - server_cpu0;
  for (auto& c : conns) {
    curl_multi_remove_handle(multi, c.easy);
    curl_easy_cleanup(c.easy);
  }
  curl_slist_free_all(headers);
  curl_multi_cleanup(multi);
  std::printf("sim_bench: %ld requests, %d keep-alive connections, %s\n", done, connections,
              server ? "in-process simulator (latency 0)" : url.c_str());
  std::printf(
      "requests/s: %.0f\nwall: %.2f s\nprocess CPU (client + server): %.2f s = %.1f ms per 1,000 "
      "requests\n",
      done / wall, wall, cpu, cpu / static_cast<double>(done) * 1000 * 1000);
  if (bad > 0) {
    std::printf("FAILED: %ld answers were not a valid chat.completion with a listed choice\n", bad);
    return 1;
  }
  return 0;
}

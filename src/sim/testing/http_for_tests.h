// A tiny libcurl client for the simulator's tests and benchmark: one blocking request (Fetch)
// and many concurrent ones on a curl multi handle (FetchMany). Header-only on purpose: it is not
// part of structflow_sim and links only where libcurl is linked. The product's HTTP client is
// src/client; this exists so the simulator can be tested without depending on it.
// Thread-safety: each call uses its own handles; call from any thread.
#pragma once

#include <curl/curl.h>

#include <chrono>
#include <string>
#include <vector>

namespace structflow::sim::testing {

struct HttpResult {
  int status = 0;  // 0 when the transfer failed (see curl_code)
  int curl_code = 0;
  std::string body;
  std::string headers;
  std::string error;
};

inline size_t AppendToString(char* data, size_t size, size_t n, void* out) {
  static_cast<std::string*>(out)->append(data, size * n);
  return size * n;
}

inline void SetUp(CURL* h, const std::string& url, const std::string* body, HttpResult* r,
                  curl_slist* headers, long timeout_ms) {
  curl_easy_setopt(h, CURLOPT_URL, url.c_str());
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, &AppendToString);
  curl_easy_setopt(h, CURLOPT_WRITEDATA, &r->body);
  curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, &AppendToString);
  curl_easy_setopt(h, CURLOPT_HEADERDATA, &r->headers);
  curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, timeout_ms);
  curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
  if (body != nullptr) {
    curl_easy_setopt(h, CURLOPT_POST, 1L);
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, body->data());
    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body->size()));
  }
}

// GET when `body` is null, else POST with a JSON body.
inline HttpResult Fetch(const std::string& url, const std::string* body = nullptr,
                        long timeout_ms = 10000) {
  HttpResult r;
  CURL* h = curl_easy_init();
  curl_slist* headers = curl_slist_append(nullptr, "Content-Type: application/json");
  SetUp(h, url, body, &r, headers, timeout_ms);
  CURLcode code = curl_easy_perform(h);
  r.curl_code = code;
  if (code == CURLE_OK) {
    long status = 0;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    r.status = static_cast<int>(status);
  } else {
    r.error = curl_easy_strerror(code);
  }
  curl_slist_free_all(headers);
  curl_easy_cleanup(h);
  return r;
}

struct ManyResult {
  std::vector<HttpResult> results;
  double wall_s = 0;
};

// POSTs `body` to `url` `count` times, all at once (one connection each).
inline ManyResult FetchMany(const std::string& url, const std::string& body, int count,
                            long timeout_ms = 30000) {
  ManyResult out;
  out.results.resize(count);
  CURLM* multi = curl_multi_init();
  curl_multi_setopt(multi, CURLMOPT_MAX_TOTAL_CONNECTIONS, 0L);
  curl_slist* headers = curl_slist_append(nullptr, "Content-Type: application/json");
  headers = curl_slist_append(headers, "Expect:");
  std::vector<CURL*> handles(count);
  auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < count; ++i) {
    handles[i] = curl_easy_init();
    SetUp(handles[i], url, &body, &out.results[i], headers, timeout_ms);
    curl_easy_setopt(handles[i], CURLOPT_PRIVATE, &out.results[i]);
    curl_easy_setopt(handles[i], CURLOPT_FRESH_CONNECT, 1L);
    curl_multi_add_handle(multi, handles[i]);
  }
  int running = count;
  while (running > 0) {
    curl_multi_perform(multi, &running);
    int msgs = 0;
    while (CURLMsg* m = curl_multi_info_read(multi, &msgs)) {
      if (m->msg != CURLMSG_DONE) continue;
      HttpResult* r = nullptr;
      curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, &r);
      r->curl_code = m->data.result;
      if (m->data.result == CURLE_OK) {
        long status = 0;
        curl_easy_getinfo(m->easy_handle, CURLINFO_RESPONSE_CODE, &status);
        r->status = static_cast<int>(status);
      } else {
        r->error = curl_easy_strerror(m->data.result);
      }
    }
    if (running > 0) curl_multi_poll(multi, nullptr, 0, 100, nullptr);
  }
  out.wall_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  for (CURL* h : handles) {
    curl_multi_remove_handle(multi, h);
    curl_easy_cleanup(h);
  }
  curl_slist_free_all(headers);
  curl_multi_cleanup(multi);
  return out;
}

}  // namespace structflow::sim::testing

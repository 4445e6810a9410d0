// A tiny scripted HTTP/1.1 server for client tests that need exact control of one answer (the
// headers a request carried, a precise Retry-After, a body that echoes a secret). Bulk behaviour
// is tested against the real simulator (sim::Server); this only complements it.
// Header-only, for tests. Thread-safety: Start/Stop from the test thread; the handler runs on the
// server's connection threads and must be thread-safe.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstring>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace structflow::client::testing {

struct SeenRequest {
  std::string head;  // request line and headers
  std::string body;
  std::chrono::steady_clock::time_point at;  // when it was read whole
  int connection = 0;                        // which accepted connection (0, 1, ...) carried it
};

class ScriptedServer {
 public:
  // Returns the full raw HTTP response to send, or "" to close the connection without answering.
  using Handler = std::function<std::string(const SeenRequest&)>;

  explicit ScriptedServer(Handler handler) : handler_(std::move(handler)) {
    listen_fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    ::setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = 0;
    ::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
    ::listen(listen_fd_, 64);
    socklen_t len = sizeof addr;
    ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    accept_thread_ = std::thread([this] { AcceptLoop(); });
  }
  ~ScriptedServer() { Stop(); }

  int port() const { return port_; }
  std::string base_url() const { return "http://127.0.0.1:" + std::to_string(port_) + "/v1"; }

  int connections() const { return connections_.load(); }
  // The most connections open at once so far.
  int peak_open_connections() const {
    std::lock_guard lock(mu_);
    return peak_open_;
  }

  std::vector<SeenRequest> seen() const {
    std::lock_guard lock(mu_);
    return seen_;
  }

  void Stop() {
    if (stopping_.exchange(true)) return;
    ::shutdown(listen_fd_, SHUT_RDWR);
    if (accept_thread_.joinable()) accept_thread_.join();
    ::close(listen_fd_);
    std::vector<std::thread> threads;
    {
      std::lock_guard lock(mu_);
      for (int fd : conn_fds_) ::shutdown(fd, SHUT_RDWR);
      threads.swap(conn_threads_);
    }
    for (auto& t : threads) t.join();
  }

 private:
  void AcceptLoop() {
    while (!stopping_.load()) {
      pollfd p{listen_fd_, POLLIN, 0};
      if (::poll(&p, 1, 100) <= 0) continue;
      int fd = ::accept(listen_fd_, nullptr, nullptr);
      if (fd < 0) continue;
      std::lock_guard lock(mu_);
      if (stopping_.load()) {
        ::close(fd);
        break;
      }
      const int id = connections_.fetch_add(1);
      peak_open_ = std::max(peak_open_, ++open_);
      conn_fds_.push_back(fd);
      conn_threads_.emplace_back([this, fd, id] { Serve(fd, id); });
    }
  }

  void Serve(int fd, int id) {
    std::string buf;
    char chunk[4096];
    while (true) {
      size_t head_end;
      while ((head_end = buf.find("\r\n\r\n")) == std::string::npos) {
        ssize_t n = ::recv(fd, chunk, sizeof chunk, 0);
        if (n <= 0) return Close(fd);
        buf.append(chunk, static_cast<size_t>(n));
      }
      SeenRequest req;
      req.head = buf.substr(0, head_end);
      size_t content_length = 0;
      std::string lower = req.head;
      for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      if (size_t p = lower.find("content-length:"); p != std::string::npos) {
        content_length = std::strtoul(lower.c_str() + p + 15, nullptr, 10);
      }
      while (buf.size() < head_end + 4 + content_length) {
        ssize_t n = ::recv(fd, chunk, sizeof chunk, 0);
        if (n <= 0) return Close(fd);
        buf.append(chunk, static_cast<size_t>(n));
      }
      req.body = buf.substr(head_end + 4, content_length);
      req.at = std::chrono::steady_clock::now();
      req.connection = id;
      buf.erase(0, head_end + 4 + content_length);
      {
        std::lock_guard lock(mu_);
        seen_.push_back(req);
      }
      std::string answer = handler_(req);
      if (answer.empty()) return Close(fd);
      size_t off = 0;
      while (off < answer.size()) {
        ssize_t n = ::send(fd, answer.data() + off, answer.size() - off, MSG_NOSIGNAL);
        if (n <= 0) return Close(fd);
        off += static_cast<size_t>(n);
      }
    }
  }

  void Close(int fd) {
    std::lock_guard lock(mu_);
    for (int& f : conn_fds_) {
      if (f == fd) f = -1;
    }
    --open_;
    ::close(fd);
  }

  Handler handler_;
  int listen_fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stopping_{false};
  std::atomic<int> connections_{0};
  mutable std::mutex mu_;
  std::vector<SeenRequest> seen_;
  std::vector<int> conn_fds_;
  int open_ = 0;       // connections open now
  int peak_open_ = 0;  // the most open at once
  std::vector<std::thread> conn_threads_;
  std::thread accept_thread_;
};

// A complete HTTP/1.1 response with a JSON body.
inline std::string HttpResponse(int status, const std::string& body,
                                const std::string& extra_headers = "") {
  return "HTTP/1.1 " + std::to_string(status) + " X\r\nContent-Type: application/json\r\n" +
         "Content-Length: " + std::to_string(body.size()) + "\r\n" + extra_headers + "\r\n" + body;
}

inline std::string CompletionBody() {
  return R"({"id":"c","object":"chat.completion","choices":[{"index":0,"message":)"
         R"({"role":"assistant","content":"hi"},"finish_reason":"stop"}],)"
         R"("usage":{"prompt_tokens":3,"completion_tokens":1,"total_tokens":4}})";
}

}  // namespace structflow::client::testing

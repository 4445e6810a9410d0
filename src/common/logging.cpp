#include "common/logging.h"

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <string>

#include "common/text.h"

namespace structflow {
namespace {
std::atomic<int> g_level{static_cast<int>(LogLevel::kInfo)};
std::mutex g_sink_mu;
std::shared_ptr<const LogSink> g_sink;  // null: stderr
}  // namespace

void SetLogSink(LogSink sink) {
  std::lock_guard lock(g_sink_mu);
  g_sink = sink ? std::make_shared<const LogSink>(std::move(sink)) : nullptr;
}

void SetLogLevel(LogLevel level) { g_level.store(static_cast<int>(level)); }
LogLevel GetLogLevel() { return static_cast<LogLevel>(g_level.load(std::memory_order_relaxed)); }

bool ParseLogLevel(std::string_view text, LogLevel* out) {
  if (text == "debug")
    *out = LogLevel::kDebug;
  else if (text == "info")
    *out = LogLevel::kInfo;
  else if (text == "warn" || text == "warning")
    *out = LogLevel::kWarn;
  else if (text == "error")
    *out = LogLevel::kError;
  else if (text == "off")
    *out = LogLevel::kOff;
  else
    return false;
  return true;
}

void LogLine(LogLevel level, std::string_view message) {
  if (level < GetLogLevel()) return;
  std::shared_ptr<const LogSink> sink;
  {
    std::lock_guard lock(g_sink_mu);
    sink = g_sink;
  }
  if (sink) {
    (*sink)(level, message);
    return;
  }
  static const char* kNames[] = {"debug", "info", "warn", "error", "off"};
  // Messages quote input and server answers: no control character reaches the terminal.
  std::string line = fmt::format("[structflow {}] {}\n", kNames[static_cast<int>(level)],
                                 EscapeControl(message, /*keep_newlines=*/true));
  // One write keeps concurrent lines whole.
  ssize_t unused = ::write(STDERR_FILENO, line.data(), line.size());
  (void)unused;
}

}  // namespace structflow

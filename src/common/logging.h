// A small leveled logger to stderr. Lines are written whole (one write per line), so lines
// from different threads never interleave. Thread-safety: every function may be called from any
// thread. Never log secrets (API keys, Authorization headers): callers redact before logging.
#pragma once

#include <fmt/format.h>

#include <functional>
#include <string_view>

namespace structflow {

enum class LogLevel { kDebug = 0, kInfo = 1, kWarn = 2, kError = 3, kOff = 4 };

void SetLogLevel(LogLevel level);
LogLevel GetLogLevel();
// Parses "debug", "info", "warn", "error", "off"; false when unknown.
bool ParseLogLevel(std::string_view text, LogLevel* out);
void LogLine(LogLevel level, std::string_view message);
// Where log lines go (process-wide): `sink` receives every line at or above the level, from
// any thread, possibly at once; an empty function restores the default (one write to stderr).
using LogSink = std::function<void(LogLevel, std::string_view)>;
void SetLogSink(LogSink sink);

template <typename... Args>
void Log(LogLevel level, fmt::format_string<Args...> format, Args&&... args) {
  if (level < GetLogLevel()) return;
  LogLine(level, fmt::format(format, std::forward<Args>(args)...));
}

}  // namespace structflow

#define SF_LOG_DEBUG(...) ::structflow::Log(::structflow::LogLevel::kDebug, __VA_ARGS__)
#define SF_LOG_INFO(...) ::structflow::Log(::structflow::LogLevel::kInfo, __VA_ARGS__)
#define SF_LOG_WARN(...) ::structflow::Log(::structflow::LogLevel::kWarn, __VA_ARGS__)
#define SF_LOG_ERROR(...) ::structflow::Log(::structflow::LogLevel::kError, __VA_ARGS__)

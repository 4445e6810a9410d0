// Making untrusted text safe to show: input files, file names and server answers end up in
// messages printed on a terminal, and their control characters (ANSI escape sequences above all)
// must not reach it as they are.
// Thread-safety: pure functions.
#pragma once

#include <string>
#include <string_view>

namespace structflow {

// `text` with every control character written as an escape: C0 controls and DEL as \n, \r, \t or
// \xNN, C1 controls (U+0080-U+009F) as \u0080..\u009f, and bytes that are not valid UTF-8 as
// \xNN. A backslash stays as it is. keep_newlines: '\n' and '\t' are kept (for messages that are
// laid out on several lines on purpose).
std::string EscapeControl(std::string_view text, bool keep_newlines = false);

// A message as it may be printed: EscapeControl keeping its line breaks and tabs. Every message
// written to a terminal goes through it (the logger does; so does each printed Status).
inline std::string ForTerminal(std::string_view message) { return EscapeControl(message, true); }

// True when EscapeControl(text, keep_newlines) would change nothing (the common case: no copy).
bool IsPrintable(std::string_view text, bool keep_newlines = false);

// EscapeControl of at most the first `max_bytes` of `text` (cut on a UTF-8 boundary), with "..."
// appended when cut: for quoting a piece of input in a message.
std::string QuoteInput(std::string_view text, size_t max_bytes = 80);

}  // namespace structflow

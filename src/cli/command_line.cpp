#include "cli/command_line.h"

#include <string_view>

namespace structflow::cli {
namespace {

std::string& Stored() {
  static std::string line;
  return line;
}

std::string ShellQuote(std::string_view s) {
  if (!s.empty() && s.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                        "0123456789_-./=:,@%+") == std::string_view::npos) {
    return std::string(s);
  }
  std::string out = "'";
  for (char c : s) {
    if (c == '\'') {
      out += "'\\''";
    } else {
      out += c;
    }
  }
  return out + "'";
}

}  // namespace

void SetCommandLine(int argc, char** argv) {
  std::string line = "structflow";
  bool redact_next = false;
  for (int i = 1; i < argc; ++i) {
    std::string_view a = argv[i];
    line += ' ';
    if (redact_next) {
      line += "\"$OPENAI_API_KEY\"";
      redact_next = false;
      continue;
    }
    // A key never lands in a file: the command is stored in the checkpoint and shown in reports.
    if (a == "--api-key") {
      redact_next = true;
    } else if (a.rfind("--api-key=", 0) == 0) {
      line += "--api-key=\"$OPENAI_API_KEY\"";
      continue;
    }
    line += ShellQuote(a);
  }
  Stored() = line;
}

const std::string& CommandLine() { return Stored(); }

}  // namespace structflow::cli

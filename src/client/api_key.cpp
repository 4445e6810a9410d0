#include "client/api_key.h"

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>

namespace structflow::client {
namespace {

std::string Trim(std::string_view s) {
  size_t b = 0;
  size_t e = s.size();
  while (b < e && (s[b] == ' ' || s[b] == '\t' || s[b] == '\r' || s[b] == '\n')) ++b;
  while (e > b && (s[e - 1] == ' ' || s[e - 1] == '\t' || s[e - 1] == '\r' || s[e - 1] == '\n'))
    --e;
  return std::string(s.substr(b, e - b));
}

Status CheckKey(const std::string& key, std::string_view origin) {
  for (unsigned char c : key) {
    if (c < 0x20 || c == 0x7f) {
      return Status::InvalidArgument(
          std::string("the API key from ") + std::string(origin) +
          " holds a control character (a line break or tab inside it?); give the key alone");
    }
  }
  return Status::OK();
}

}  // namespace

Result<std::string> ResolveApiKey(const std::string& flag_value, const std::string& key_file,
                                  std::string_view env_value) {
  std::string key = Trim(flag_value);
  if (!key.empty()) {
    SF_RETURN_NOT_OK(CheckKey(key, "--api-key"));
    return key;
  }
  if (!env_value.empty()) {
    key = Trim(std::string(env_value));
    if (!key.empty()) {
      SF_RETURN_NOT_OK(CheckKey(key, "OPENAI_API_KEY"));
      return key;
    }
  }
  if (!key_file.empty()) {
    std::ifstream in(key_file, std::ios::binary);
    if (!in) {
      return Status::NotFound("cannot read the API key file '" + key_file +
                              "': " + std::strerror(errno) +
                              "; fix the path, or pass --api-key or set OPENAI_API_KEY");
    }
    std::string line;
    std::getline(in, line);
    key = Trim(line);
    if (key.empty()) {
      return Status::InvalidArgument("the API key file '" + key_file +
                                     "' is empty; write the key on its first line");
    }
    SF_RETURN_NOT_OK(CheckKey(key, "the file '" + key_file + "'"));
    return key;
  }
  return std::string();
}

std::string RedactUrl(std::string_view url) {
  size_t scheme = url.find("://");
  size_t start = scheme == std::string_view::npos ? 0 : scheme + 3;
  size_t end = url.find_first_of("/?#", start);
  if (end == std::string_view::npos) end = url.size();
  size_t at = url.rfind('@', end);
  if (at == std::string_view::npos || at < start) return std::string(url);
  std::string out(url.substr(0, start));
  out += "***";
  out += url.substr(at);
  return out;
}

std::string RedactSecret(std::string text, std::string_view secret) {
  if (secret.empty()) return text;
  size_t pos = 0;
  while ((pos = text.find(secret, pos)) != std::string::npos) {
    text.replace(pos, secret.size(), "***");
    pos += 3;
  }
  return text;
}

}  // namespace structflow::client

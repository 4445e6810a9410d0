// Base64 (RFC 4648, standard alphabet, padded): the encoder writes straight into a caller's
// buffer, so image bytes go into a request body without an intermediate string.
// Thread-safety: pure functions.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace structflow {

inline size_t Base64EncodedSize(size_t n) { return (n + 2) / 3 * 4; }
// Writes Base64EncodedSize(in.size()) characters to `out` (no terminator).
void Base64EncodeTo(std::string_view in, char* out);
// Appends the encoding of `in` to `out`.
void Base64Append(std::string* out, std::string_view in);
std::string Base64Encode(std::string_view in);
// Decodes `in` (padding optional, no whitespace) into `out`; false when it is not base64.
bool Base64Decode(std::string_view in, std::string* out);

}  // namespace structflow

// Values that fit a JSON Schema, as a constrained vLLM server would answer: objects with every
// required property and some optional ones, arrays within minItems/maxItems, enum/const, anyOf/
// oneOf (a branch picked at random), allOf (merged), $ref into $defs/definitions (any local JSON
// pointer), nullable via type arrays or a null branch, strings within minLength/maxLength or
// matching `pattern` (see regex_gen.h) or of a `format` (date, date-time, time, email, uri, uuid,
// ipv4, hostname), integers and numbers within minimum/maximum/exclusive bounds and multipleOf,
// booleans and null. Choices come from `rng`, so the same seed gives the same value while
// different requests see realistic variety.
// A schema that admits no value the generator can write (false, an empty enum, impossible bounds,
// a pattern outside regex_gen's subset) is InvalidArgument with the JSON path.
// Thread-safety: pure functions.
#pragma once

#include <string>
#include <string_view>

#include "common/status.h"

namespace structflow::sim {

class Rng;

// Compact JSON text of a value that fits `schema_json`.
Result<std::string> GenerateFromSchema(std::string_view schema_json, Rng& rng);

}  // namespace structflow::sim

// The nlohmann-tree form of schema_gen.h, for the server, which already holds the request as a
// tree. Internal to src/sim: keeps nlohmann out of schema_gen.h.
#pragma once

#include <nlohmann/json.hpp>

#include "common/status.h"

namespace structflow::sim {

class Rng;

Result<nlohmann::json> GenerateValue(const nlohmann::json& schema, Rng& rng);

}  // namespace structflow::sim

#pragma once
// The sweep's JSON form (`rmvk prune --sweep --json F`), through nlohmann-json.
#include <string>

#include "app/engine/prune_sweep.hpp"

namespace rmvk {

std::string prune_sweep_to_json(const PruneSweep& sweep);
PruneSweep prune_sweep_from_json(const std::string& text);  // throws rm::Error

}  // namespace rmvk

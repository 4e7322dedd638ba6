#pragma once
// Reading JSON that users hand to rmvk (bench reports, sweep results): nlohmann-json underneath,
// errors as one line a person can act on, nesting bounded before the parser sees the text.
#include <nlohmann/json.hpp>
#include <string>

namespace rmvk {

using Json = nlohmann::ordered_json;  // keeps members in the order they were written

// Throws std::runtime_error "line L, column C: ..." for malformed text and "nested too deep"
// beyond kMaxJsonDepth levels of arrays and objects.
inline constexpr int kMaxJsonDepth = 64;
Json parse_json(const std::string& text);

// object[key], or std::runtime_error "missing key 'KEY'".
const Json& required(const Json& object, const char* key);

// The message of a nlohmann exception without its "[json.exception.type_error.302] " prefix.
std::string json_error_text(const std::exception& e);

}  // namespace rmvk

#pragma once
// Reading JSON that users hand to rmvk (bench reports, sweep results): nlohmann-json underneath,
// errors as one line a person can act on, nesting bounded before the parser sees the text.
#include <limits>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>

namespace rmvk {

using Json = nlohmann::ordered_json;  // keeps members in the order they were written

// Throws std::runtime_error "line L, column C: ..." for malformed text and "nested too deep"
// beyond kMaxJsonDepth levels of arrays and objects.
inline constexpr int kMaxJsonDepth = 64;
Json parse_json(const std::string& text);

// object[key], or std::runtime_error "missing key 'KEY'".
const Json& required(const Json& object, const char* key);

// v.get_to(out), refusing integers out of out's range: nlohmann casts a float such as 1e300
// straight to the integer type, which is undefined behaviour, and wraps -1 to 4294967295.
template <class T>
void get_checked(const Json& v, const char* key, T& out) {
    if constexpr (std::is_integral_v<T> && !std::is_same_v<T, bool>) {
        bool ok = true;
        if (v.is_number_unsigned()) {
            ok = std::in_range<T>(v.get<uint64_t>());
        } else if (v.is_number_integer()) {
            ok = std::in_range<T>(v.get<int64_t>());
        } else if (v.is_number_float()) {
            // [min, max + 1): both bounds are powers of two, so exact as doubles.
            const double d = v.get<double>();
            const double lo = static_cast<double>(std::numeric_limits<T>::min());
            const double hi = static_cast<double>(std::numeric_limits<T>::max() / 2 + 1) * 2.0;
            ok = d >= lo && d < hi;
        }
        if (!ok)
            throw std::runtime_error(std::string("\"") + key + "\": " + v.dump() +
                                     " is out of range");
    }
    v.get_to(out);
}

template <class T>
void optional_key(const Json& j, const char* key, T& out) {
    auto it = j.find(key);
    if (it != j.end() && !it->is_null()) get_checked(*it, key, out);
}

// required(object, key) read into out with get_checked.
template <class T>
void required_key(const Json& object, const char* key, T& out) {
    get_checked(required(object, key), key, out);
}

// The message of a nlohmann exception without its "[json.exception.type_error.302] " prefix.
std::string json_error_text(const std::exception& e);

}  // namespace rmvk

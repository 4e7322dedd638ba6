#include "app/report/json_text.hpp"

#include <stdexcept>

namespace rmvk {

namespace {

// Depth of the deepest array/object, counted outside strings; stops early past the limit so a
// file of a million '[' costs one scan and never reaches a parser.
int nesting_depth(const std::string& text) {
    int depth = 0, deepest = 0;
    bool in_string = false, escaped = false;
    for (char c : text) {
        if (in_string) {
            if (escaped)
                escaped = false;
            else if (c == '\\')
                escaped = true;
            else if (c == '"')
                in_string = false;
            continue;
        }
        if (c == '"') {
            in_string = true;
        } else if (c == '[' || c == '{') {
            deepest = std::max(deepest, ++depth);
            if (deepest > kMaxJsonDepth) break;
        } else if (c == ']' || c == '}') {
            --depth;
        }
    }
    return deepest;
}

}  // namespace

std::string json_error_text(const std::exception& e) {
    std::string m = e.what();
    if (m.rfind("[json.exception.", 0) == 0) {
        size_t end = m.find("] ");
        if (end != std::string::npos) m.erase(0, end + 2);
    }
    if (m.rfind("parse error at ", 0) == 0) m.erase(0, 15);
    return m;
}

Json parse_json(const std::string& text) {
    if (nesting_depth(text) > kMaxJsonDepth)
        throw std::runtime_error("nested too deep (more than " + std::to_string(kMaxJsonDepth) +
                                 " levels of arrays and objects)");
    try {
        return Json::parse(text);
    } catch (const nlohmann::json::exception& e) {
        throw std::runtime_error(json_error_text(e));
    }
}

const Json& required(const Json& object, const char* key) {
    if (!object.is_object())
        throw std::runtime_error(std::string("expected an object holding '") + key + "'");
    auto it = object.find(key);
    if (it == object.end()) throw std::runtime_error(std::string("missing key '") + key + "'");
    return *it;
}

}  // namespace rmvk

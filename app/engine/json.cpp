#include "app/engine/json.hpp"

#include <charconv>
#include <cmath>
#include <cstdio>
#include <stdexcept>

namespace rmvk {

namespace {

const char* type_name(Json::Type t) {
    switch (t) {
        case Json::Type::Null:
            return "null";
        case Json::Type::Bool:
            return "a boolean";
        case Json::Type::Number:
            return "a number";
        case Json::Type::String:
            return "a string";
        case Json::Type::Array:
            return "an array";
        case Json::Type::Object:
            return "an object";
    }
    return "?";
}

void expect_type(Json::Type have, Json::Type want) {
    if (have != want)
        throw std::runtime_error(std::string("expected ") + type_name(want) + ", found " +
                                 type_name(have));
}

void write_string(std::string& out, const std::string& s) {
    out += '"';
    for (unsigned char c : s) {
        switch (c) {
            case '"':
                out += "\\\"";
                break;
            case '\\':
                out += "\\\\";
                break;
            case '\n':
                out += "\\n";
                break;
            case '\r':
                out += "\\r";
                break;
            case '\t':
                out += "\\t";
                break;
            default:
                if (c < 0x20) {
                    char buf[8];
                    std::snprintf(buf, sizeof buf, "\\u%04x", c);
                    out += buf;
                } else {
                    out += static_cast<char>(c);
                }
        }
    }
    out += '"';
}

void write_number(std::string& out, double v) {
    if (!std::isfinite(v)) {  // JSON has no NaN/inf; a missing measurement reads back as null
        out += "null";
        return;
    }
    char buf[64];
    // Shortest text that reads back to the same double.
    auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
    out.append(buf, ec == std::errc() ? end : buf);
}

class Parser {
  public:
    explicit Parser(const std::string& text) : s_(text) {}

    Json parse_document() {
        Json v = parse_value(0);
        skip_space();
        if (pos_ != s_.size()) fail("unexpected text after the JSON value");
        return v;
    }

  private:
    [[noreturn]] void fail(const std::string& what) const {
        size_t line = 1;
        for (size_t i = 0; i < pos_ && i < s_.size(); ++i) line += s_[i] == '\n';
        throw std::runtime_error("line " + std::to_string(line) + ": " + what);
    }
    void skip_space() {
        while (pos_ < s_.size() &&
               (s_[pos_] == ' ' || s_[pos_] == '\n' || s_[pos_] == '\r' || s_[pos_] == '\t'))
            ++pos_;
    }
    bool consume(char c) {
        skip_space();
        if (pos_ < s_.size() && s_[pos_] == c) {
            ++pos_;
            return true;
        }
        return false;
    }
    void expect(char c) {
        if (!consume(c)) fail(std::string("expected '") + c + "'");
    }
    bool literal(const char* word) {
        size_t n = std::char_traits<char>::length(word);
        if (s_.compare(pos_, n, word) != 0) return false;
        pos_ += n;
        return true;
    }

    Json parse_value(int depth) {
        if (depth > 64) fail("nesting too deep");
        skip_space();
        if (pos_ >= s_.size()) fail("unexpected end of text");
        char c = s_[pos_];
        if (c == '{') return parse_object(depth);
        if (c == '[') return parse_array(depth);
        if (c == '"') return Json(parse_string());
        if (literal("true")) return Json(true);
        if (literal("false")) return Json(false);
        if (literal("null")) return Json();
        return Json(parse_number());
    }

    Json parse_object(int depth) {
        ++pos_;
        Json obj = Json::object();
        if (consume('}')) return obj;
        do {
            skip_space();
            if (pos_ >= s_.size() || s_[pos_] != '"') fail("expected a quoted key");
            std::string key = parse_string();
            expect(':');
            obj[key] = parse_value(depth + 1);
        } while (consume(','));
        expect('}');
        return obj;
    }

    Json parse_array(int depth) {
        ++pos_;
        Json arr = Json::array();
        if (consume(']')) return arr;
        do {
            arr.push_back(parse_value(depth + 1));
        } while (consume(','));
        expect(']');
        return arr;
    }

    std::string parse_string() {
        ++pos_;  // opening quote
        std::string out;
        while (true) {
            if (pos_ >= s_.size()) fail("unterminated string");
            char c = s_[pos_++];
            if (c == '"') return out;
            if (c != '\\') {
                out += c;
                continue;
            }
            if (pos_ >= s_.size()) fail("unterminated string");
            char e = s_[pos_++];
            switch (e) {
                case '"':
                    out += '"';
                    break;
                case '\\':
                    out += '\\';
                    break;
                case '/':
                    out += '/';
                    break;
                case 'b':
                    out += '\b';
                    break;
                case 'f':
                    out += '\f';
                    break;
                case 'n':
                    out += '\n';
                    break;
                case 'r':
                    out += '\r';
                    break;
                case 't':
                    out += '\t';
                    break;
                case 'u': {
                    if (pos_ + 4 > s_.size()) fail("bad \\u escape");
                    unsigned code = 0;
                    auto [p, ec] =
                        std::from_chars(s_.data() + pos_, s_.data() + pos_ + 4, code, 16);
                    if (ec != std::errc() || p != s_.data() + pos_ + 4) fail("bad \\u escape");
                    pos_ += 4;
                    // UTF-8 for the basic plane (surrogate pairs are not needed for reports).
                    if (code < 0x80) {
                        out += static_cast<char>(code);
                    } else if (code < 0x800) {
                        out += static_cast<char>(0xC0 | (code >> 6));
                        out += static_cast<char>(0x80 | (code & 0x3F));
                    } else {
                        out += static_cast<char>(0xE0 | (code >> 12));
                        out += static_cast<char>(0x80 | ((code >> 6) & 0x3F));
                        out += static_cast<char>(0x80 | (code & 0x3F));
                    }
                    break;
                }
                default:
                    fail("bad escape in string");
            }
        }
    }

    double parse_number() {
        double v = 0;
        auto [p, ec] = std::from_chars(s_.data() + pos_, s_.data() + s_.size(), v);
        if (ec != std::errc() || p == s_.data() + pos_) fail("expected a value");
        pos_ = static_cast<size_t>(p - s_.data());
        return v;
    }

    const std::string& s_;
    size_t pos_ = 0;
};

}  // namespace

Json& Json::operator[](const std::string& key) {
    if (type_ == Type::Null) type_ = Type::Object;
    expect_type(type_, Type::Object);
    for (auto& [k, v] : members_)
        if (k == key) return v;
    members_.emplace_back(key, Json());
    return members_.back().second;
}

const Json& Json::at(const std::string& key) const {
    expect_type(type_, Type::Object);
    for (const auto& [k, v] : members_)
        if (k == key) return v;
    throw std::runtime_error("missing key '" + key + "'");
}

bool Json::contains(const std::string& key) const {
    if (type_ != Type::Object) return false;
    for (const auto& [k, v] : members_)
        if (k == key) return true;
    return false;
}

void Json::push_back(Json value) {
    if (type_ == Type::Null) type_ = Type::Array;
    expect_type(type_, Type::Array);
    items_.push_back(std::move(value));
}

const std::vector<Json>& Json::items() const {
    expect_type(type_, Type::Array);
    return items_;
}

double Json::number() const {
    if (type_ == Type::Null) return std::nan("");  // written for a non-finite value
    expect_type(type_, Type::Number);
    return number_;
}

int64_t Json::integer() const {
    expect_type(type_, Type::Number);
    // llround has no meaningful result outside int64's range [-2^63, 2^63).
    if (!(number_ >= -0x1p63 && number_ < 0x1p63))
        throw std::runtime_error("expected an integer, found " + dump());
    return static_cast<int64_t>(std::llround(number_));
}

bool Json::boolean() const {
    expect_type(type_, Type::Bool);
    return bool_;
}

const std::string& Json::str() const {
    expect_type(type_, Type::String);
    return string_;
}

double Json::number_or(const std::string& key, double fallback) const {
    return contains(key) ? at(key).number() : fallback;
}

std::string Json::str_or(const std::string& key, const std::string& fallback) const {
    return contains(key) ? at(key).str() : fallback;
}

void Json::dump_to(std::string& out, int indent, int depth) const {
    auto newline = [&](int d) {
        if (indent <= 0) return;
        out += '\n';
        out.append(static_cast<size_t>(indent * d), ' ');
    };
    switch (type_) {
        case Type::Null:
            out += "null";
            break;
        case Type::Bool:
            out += bool_ ? "true" : "false";
            break;
        case Type::Number:
            write_number(out, number_);
            break;
        case Type::String:
            write_string(out, string_);
            break;
        case Type::Array:
            if (items_.empty()) {
                out += "[]";
                break;
            }
            out += '[';
            for (size_t i = 0; i < items_.size(); ++i) {
                if (i) out += ',';
                newline(depth + 1);
                items_[i].dump_to(out, indent, depth + 1);
            }
            newline(depth);
            out += ']';
            break;
        case Type::Object:
            if (members_.empty()) {
                out += "{}";
                break;
            }
            out += '{';
            for (size_t i = 0; i < members_.size(); ++i) {
                if (i) out += ',';
                newline(depth + 1);
                write_string(out, members_[i].first);
                out += indent > 0 ? ": " : ":";
                members_[i].second.dump_to(out, indent, depth + 1);
            }
            newline(depth);
            out += '}';
            break;
    }
}

std::string Json::dump(int indent) const {
    std::string out;
    dump_to(out, indent, 0);
    return out;
}

Json Json::parse(const std::string& text) {
    return Parser(text).parse_document();
}

}  // namespace rmvk

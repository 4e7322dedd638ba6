#pragma once
// A small JSON value with a writer and a strict reader: enough for bench reports and
// `rmvk devices --json`, without a third-party library.
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace rmvk {

class Json {
  public:
    enum class Type { Null, Bool, Number, String, Array, Object };

    Json() = default;
    Json(std::nullptr_t) {}
    Json(bool b) : type_(Type::Bool), bool_(b) {}
    Json(double v) : type_(Type::Number), number_(v) {}
    Json(int v) : Json(static_cast<double>(v)) {}
    Json(int64_t v) : Json(static_cast<double>(v)) {}
    Json(uint64_t v) : Json(static_cast<double>(v)) {}
    Json(uint32_t v) : Json(static_cast<double>(v)) {}
    Json(std::string s) : type_(Type::String), string_(std::move(s)) {}
    Json(const char* s) : Json(std::string(s)) {}

    static Json array() {
        Json j;
        j.type_ = Type::Array;
        return j;
    }
    static Json object() {
        Json j;
        j.type_ = Type::Object;
        return j;
    }

    Type type() const { return type_; }
    bool is_null() const { return type_ == Type::Null; }

    // Objects keep insertion order so files read the way they were written.
    Json& operator[](const std::string& key);      // inserts (turns null into an object)
    const Json& at(const std::string& key) const;  // throws std::runtime_error naming the key
    bool contains(const std::string& key) const;
    const std::vector<std::pair<std::string, Json>>& members() const { return members_; }

    void push_back(Json value);              // turns null into an array
    const std::vector<Json>& items() const;  // throws unless an array

    // Typed reads; throw std::runtime_error on a type mismatch.
    double number() const;
    int64_t integer() const;
    bool boolean() const;
    const std::string& str() const;

    // Reads with a fallback when the key is absent (older or hand-written reports).
    double number_or(const std::string& key, double fallback) const;
    std::string str_or(const std::string& key, const std::string& fallback) const;

    std::string dump(int indent = 2) const;
    // Throws std::runtime_error "line L: ..." on malformed text.
    static Json parse(const std::string& text);

  private:
    void dump_to(std::string& out, int indent, int depth) const;

    Type type_ = Type::Null;
    bool bool_ = false;
    double number_ = 0;
    std::string string_;
    std::vector<Json> items_;
    std::vector<std::pair<std::string, Json>> members_;
};

}  // namespace rmvk

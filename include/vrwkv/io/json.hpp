#pragma once
// A small, strict JSON reader and writer: enough for safetensors headers and
// the published `config` metadata. Depth- and size-bounded, so a hostile
// header cannot exhaust the stack.
#include <cmath>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "vrwkv/core/error.hpp"

namespace vrwkv::json {

class value {
public:
    enum class kind { null, boolean, number, string, array, object };

    value() = default;
    static value make_bool(bool b) { value v; v.kind_ = kind::boolean; v.bool_ = b; return v; }
    static value make_number(double d) { value v; v.kind_ = kind::number; v.number_ = d; return v; }
    static value make_string(std::string s) { value v; v.kind_ = kind::string; v.string_ = std::move(s); return v; }
    static value make_array() { value v; v.kind_ = kind::array; return v; }
    static value make_object() { value v; v.kind_ = kind::object; return v; }

    kind type() const { return kind_; }
    bool is_null() const { return kind_ == kind::null; }
    bool is_bool() const { return kind_ == kind::boolean; }
    bool is_number() const { return kind_ == kind::number; }
    bool is_string() const { return kind_ == kind::string; }
    bool is_array() const { return kind_ == kind::array; }
    bool is_object() const { return kind_ == kind::object; }

    bool as_bool(const std::string& what = "value") const {
        require(is_bool(), what + " must be a JSON boolean");
        return bool_;
    }
    double as_number(const std::string& what = "value") const {
        require(is_number(), what + " must be a JSON number");
        return number_;
    }
    // An integer-valued number in [lo, hi].
    std::int64_t as_int(const std::string& what = "value", double lo = -9.0e15, double hi = 9.0e15) const {
        double d = as_number(what);
        require(std::floor(d) == d && d >= lo && d <= hi,
                what + " must be an integer in [" + std::to_string(static_cast<std::int64_t>(lo)) + ", " +
                    std::to_string(static_cast<std::int64_t>(hi)) + "], got " + std::to_string(d));
        return static_cast<std::int64_t>(d);
    }
    const std::string& as_string(const std::string& what = "value") const {
        require(is_string(), what + " must be a JSON string");
        return string_;
    }
    const std::vector<value>& items(const std::string& what = "value") const {
        require(is_array(), what + " must be a JSON array");
        return array_;
    }
    const std::map<std::string, value>& members(const std::string& what = "value") const {
        require(is_object(), what + " must be a JSON object");
        return object_;
    }
    std::vector<value>& items_mut() { return array_; }
    std::map<std::string, value>& members_mut() { return object_; }

    bool contains(const std::string& key) const { return is_object() && object_.count(key) != 0; }
    const value& at(const std::string& key) const {
        require(is_object(), "expected a JSON object holding '" + key + "'");
        auto it = object_.find(key);
        require(it != object_.end(), "missing JSON key '" + key + "'");
        return it->second;
    }

private:
    kind kind_ = kind::null;
    bool bool_ = false;
    double number_ = 0;
    std::string string_;
    std::vector<value> array_;
    std::map<std::string, value> object_;
};

namespace detail {

inline constexpr int max_depth = 64;

class parser {
public:
    parser(const char* begin, const char* end) : p_(begin), end_(end) {}

    value parse_document() {
        value v = parse_value(0);
        skip_ws();
        if (p_ != end_) fail("trailing characters after the JSON value");
        return v;
    }

private:
    [[noreturn]] void fail(const std::string& why) const { throw error("malformed JSON: " + why); }
    void skip_ws() {
        while (p_ != end_ && (*p_ == ' ' || *p_ == '\t' || *p_ == '\n' || *p_ == '\r')) ++p_;
    }
    char peek() {
        skip_ws();
        if (p_ == end_) fail("unexpected end of input");
        return *p_;
    }
    void expect(char c) {
        if (peek() != c) fail(std::string("expected '") + c + "'");
        ++p_;
    }
    bool consume_literal(const char* lit) {
        const char* q = p_;
        for (; *lit; ++lit, ++q)
            if (q == end_ || *q != *lit) return false;
        p_ = q;
        return true;
    }

    value parse_value(int depth) {
        if (depth > max_depth) fail("nesting deeper than 64 levels");
        char c = peek();
        if (c == '{') return parse_object(depth);
        if (c == '[') return parse_array(depth);
        if (c == '"') return value::make_string(parse_string());
        if (consume_literal("true")) return value::make_bool(true);
        if (consume_literal("false")) return value::make_bool(false);
        if (consume_literal("null")) return value{};
        if (c == '-' || (c >= '0' && c <= '9')) return parse_number();
        // Python's json writes these for non-finite floats.
        if (consume_literal("NaN")) return value::make_number(NAN);
        if (consume_literal("Infinity")) return value::make_number(INFINITY);
        fail(std::string("unexpected character '") + c + "'");
    }

    value parse_object(int depth) {
        expect('{');
        value v = value::make_object();
        if (peek() == '}') { ++p_; return v; }
        for (;;) {
            if (peek() != '"') fail("expected a string key");
            std::string key = parse_string();
            expect(':');
            v.members_mut()[key] = parse_value(depth + 1);
            char c = peek();
            ++p_;
            if (c == '}') return v;
            if (c != ',') fail("expected ',' or '}' in an object");
        }
    }

    value parse_array(int depth) {
        expect('[');
        value v = value::make_array();
        if (peek() == ']') { ++p_; return v; }
        for (;;) {
            v.items_mut().push_back(parse_value(depth + 1));
            char c = peek();
            ++p_;
            if (c == ']') return v;
            if (c != ',') fail("expected ',' or ']' in an array");
        }
    }

    value parse_number() {
        const char* start = p_;
        if (p_ != end_ && *p_ == '-') {
            ++p_;
            if (consume_literal("Infinity")) return value::make_number(-INFINITY);
        }
        auto digits = [&] {
            const char* s = p_;
            while (p_ != end_ && *p_ >= '0' && *p_ <= '9') ++p_;
            return p_ != s;
        };
        if (!digits()) fail("malformed number");
        if (p_ != end_ && *p_ == '.') { ++p_; if (!digits()) fail("malformed number"); }
        if (p_ != end_ && (*p_ == 'e' || *p_ == 'E')) {
            ++p_;
            if (p_ != end_ && (*p_ == '+' || *p_ == '-')) ++p_;
            if (!digits()) fail("malformed number");
        }
        return value::make_number(std::stod(std::string(start, p_)));
    }

    static void append_utf8(std::string& out, std::uint32_t cp) {
        if (cp < 0x80) out += static_cast<char>(cp);
        else if (cp < 0x800) { out += static_cast<char>(0xc0 | (cp >> 6)); out += static_cast<char>(0x80 | (cp & 0x3f)); }
        else if (cp < 0x10000) {
            out += static_cast<char>(0xe0 | (cp >> 12));
            out += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
            out += static_cast<char>(0x80 | (cp & 0x3f));
        } else {
            out += static_cast<char>(0xf0 | (cp >> 18));
            out += static_cast<char>(0x80 | ((cp >> 12) & 0x3f));
            out += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
            out += static_cast<char>(0x80 | (cp & 0x3f));
        }
    }
    std::uint32_t parse_hex4() {
        if (end_ - p_ < 4) fail("truncated \\u escape");
        std::uint32_t v = 0;
        for (int i = 0; i < 4; ++i, ++p_) {
            char c = *p_;
            v <<= 4;
            if (c >= '0' && c <= '9') v |= static_cast<std::uint32_t>(c - '0');
            else if (c >= 'a' && c <= 'f') v |= static_cast<std::uint32_t>(c - 'a' + 10);
            else if (c >= 'A' && c <= 'F') v |= static_cast<std::uint32_t>(c - 'A' + 10);
            else fail("bad hex digit in \\u escape");
        }
        return v;
    }
    std::string parse_string() {
        expect('"');
        std::string out;
        for (;;) {
            if (p_ == end_) fail("unterminated string");
            char c = *p_++;
            if (c == '"') return out;
            if (static_cast<unsigned char>(c) < 0x20) fail("control character in a string");
            if (c != '\\') { out += c; continue; }
            if (p_ == end_) fail("unterminated escape");
            char e = *p_++;
            switch (e) {
                case '"': out += '"'; break;
                case '\\': out += '\\'; break;
                case '/': out += '/'; break;
                case 'b': out += '\b'; break;
                case 'f': out += '\f'; break;
                case 'n': out += '\n'; break;
                case 'r': out += '\r'; break;
                case 't': out += '\t'; break;
                case 'u': {
                    std::uint32_t cp = parse_hex4();
                    if (cp >= 0xd800 && cp < 0xdc00 && end_ - p_ >= 6 && p_[0] == '\\' && p_[1] == 'u') {
                        p_ += 2;
                        std::uint32_t lo = parse_hex4();
                        if (lo < 0xdc00 || lo >= 0xe000) fail("bad surrogate pair");
                        cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
                    }
                    append_utf8(out, cp);
                    break;
                }
                default: fail("bad escape character");
            }
        }
    }

    const char* p_;
    const char* end_;
};

}  // namespace detail

inline value parse(const std::string& text) {
    return detail::parser(text.data(), text.data() + text.size()).parse_document();
}

inline std::string quote(const std::string& s) {
    std::string out = "\"";
    for (char c : s) {
        switch (c) {
            case '"': out += "\\\""; break;
            case '\\': out += "\\\\"; break;
            case '\n': out += "\\n"; break;
            case '\r': out += "\\r"; break;
            case '\t': out += "\\t"; break;
            default:
                if (static_cast<unsigned char>(c) < 0x20) {
                    static const char* hex = "0123456789abcdef";
                    out += "\\u00";
                    out += hex[(c >> 4) & 0xf];
                    out += hex[c & 0xf];
                } else {
                    out += c;
                }
        }
    }
    return out + "\"";
}

}  // namespace vrwkv::json

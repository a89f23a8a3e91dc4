#include "tokenizer/jinja_value.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstring>

#include "tokenizer/unicode.h"

namespace moe::jinja {

// ---- Dict / CallArgs

const Value* Dict::find(const Value& key) const {
    for (const auto& [k, v] : items)
        if (pyEqual(k, key)) return &v;
    return nullptr;
}

const Value* Dict::find(std::string_view key) const {
    for (const auto& [k, v] : items)
        if (k.isString() && k.asString() == key) return &v;
    return nullptr;
}

void Dict::set(Value key, Value v) {
    for (auto& [k, old] : items)
        if (pyEqual(k, key)) {
            old = std::move(v);
            return;
        }
    items.emplace_back(std::move(key), std::move(v));
}

const Value* CallArgs::get(std::string_view name) const {
    for (const auto& [k, v] : kw)
        if (k == name) return &v;
    return nullptr;
}

// ---- Value constructors

Value Value::undefined(std::string name) {
    Value v;
    if (!name.empty()) v.p_ = std::make_shared<std::string>(std::move(name));
    return v;
}
Value Value::none() {
    Value v;
    v.kind_ = Kind::None;
    return v;
}
Value Value::boolean(bool b) {
    Value v;
    v.kind_ = Kind::Bool;
    v.b_ = b;
    return v;
}
Value Value::integer(int64_t i) {
    Value v;
    v.kind_ = Kind::Int;
    v.i_ = i;
    return v;
}
Value Value::real(double d) {
    Value v;
    v.kind_ = Kind::Float;
    v.d_ = d;
    return v;
}
Value Value::string(std::string s) {
    Value v;
    v.kind_ = Kind::String;
    v.p_ = std::make_shared<std::string>(std::move(s));
    return v;
}
Value Value::list(std::vector<Value> items, bool tuple) {
    Value v;
    v.kind_ = Kind::List;
    auto l = std::make_shared<List>();
    l->items = std::move(items);
    l->tuple = tuple;
    v.p_ = std::move(l);
    return v;
}
Value Value::dict(Dict d) {
    Value v;
    v.kind_ = Kind::Dict;
    v.p_ = std::make_shared<Dict>(std::move(d));
    return v;
}
Value Value::callable(std::string name, std::function<Result<Value>(Interp&, CallArgs&)> fn,
                      std::vector<Value> captures) {
    Value v;
    v.kind_ = Kind::Callable;
    auto c = std::make_shared<Callable>();
    c->name = std::move(name);
    c->fn = std::move(fn);
    c->captures = std::move(captures);
    v.p_ = std::move(c);
    return v;
}

Value Value::fromJson(const nlohmann::ordered_json& j) {
    switch (j.type()) {
        case nlohmann::json::value_t::null: return none();
        case nlohmann::json::value_t::boolean: return boolean(j.get<bool>());
        case nlohmann::json::value_t::number_integer: return integer(j.get<int64_t>());
        case nlohmann::json::value_t::number_unsigned: {
            uint64_t u = j.get<uint64_t>();
            return u <= uint64_t(INT64_MAX) ? integer(int64_t(u)) : real(double(u));
        }
        case nlohmann::json::value_t::number_float: return real(j.get<double>());
        case nlohmann::json::value_t::string: return string(j.get<std::string>());
        case nlohmann::json::value_t::array: {
            std::vector<Value> items;
            items.reserve(j.size());
            for (const auto& e : j) items.push_back(fromJson(e));
            return list(std::move(items));
        }
        case nlohmann::json::value_t::object: {
            Dict d;
            d.items.reserve(j.size());
            for (auto it = j.begin(); it != j.end(); ++it) d.items.emplace_back(string(it.key()), fromJson(it.value()));
            return dict(std::move(d));
        }
        default: return none();
    }
}

const std::string& Value::asString() const {
    static const std::string empty;
    return p_ ? *static_cast<const std::string*>(p_.get()) : empty;
}

bool Value::truthy() const {
    switch (kind_) {
        case Kind::Undefined:
        case Kind::None: return false;
        case Kind::Bool: return b_;
        case Kind::Int: return i_ != 0;
        case Kind::Float: return d_ != 0.0;
        case Kind::String: return !asString().empty();
        case Kind::List: return !asList().items.empty();
        case Kind::Dict: return asDict().namespaceObject || !asDict().items.empty();
        case Kind::Callable: return true;
    }
    return false;
}

std::string Value::typeName() const {
    switch (kind_) {
        case Kind::Undefined: return "Undefined";
        case Kind::None: return "NoneType";
        case Kind::Bool: return "bool";
        case Kind::Int: return "int";
        case Kind::Float: return "float";
        case Kind::String: return "str";
        case Kind::List: return asList().tuple ? "tuple" : "list";
        case Kind::Dict: return asDict().namespaceObject ? "Namespace" : "dict";
        case Kind::Callable: return "function";
    }
    return "object";
}

// ---- comparisons

bool pyEqual(const Value& a, const Value& b) {
    using K = Value::Kind;
    if (a.isNumber() && b.isNumber()) {
        if (a.isFloat() || b.isFloat()) return a.asDouble() == b.asDouble();
        return a.asInt() == b.asInt();
    }
    if (a.kind() != b.kind()) return false;
    switch (a.kind()) {
        case K::Undefined:
        case K::None: return true;
        case K::String: return a.asString() == b.asString();
        case K::List: {
            const auto& x = a.asList();
            const auto& y = b.asList();
            if (x.tuple != y.tuple || x.items.size() != y.items.size()) return false;
            if (&x == &y) return true;
            for (size_t i = 0; i < x.items.size(); ++i)
                if (!pyEqual(x.items[i], y.items[i])) return false;
            return true;
        }
        case K::Dict: {
            const auto& x = a.asDict();
            const auto& y = b.asDict();
            if (&x == &y) return true;
            if (x.namespaceObject || y.namespaceObject) return false;
            if (x.items.size() != y.items.size()) return false;
            for (const auto& [k, v] : x.items) {
                const Value* o = y.find(k);
                if (!o || !pyEqual(v, *o)) return false;
            }
            return true;
        }
        default: return a.identity() == b.identity();
    }
}

Result<bool> pyLess(const Value& a, const Value& b) {
    if (a.isNumber() && b.isNumber()) {
        if (a.isFloat() || b.isFloat()) return a.asDouble() < b.asDouble();
        return a.asInt() < b.asInt();
    }
    if (a.isString() && b.isString()) return a.asString() < b.asString();  // UTF-8 order = code point order
    if (a.isList() && b.isList() && a.isTuple() == b.isTuple()) {
        const auto& x = a.asList().items;
        const auto& y = b.asList().items;
        for (size_t i = 0; i < x.size() && i < y.size(); ++i) {
            if (pyEqual(x[i], y[i])) continue;
            return pyLess(x[i], y[i]);
        }
        return x.size() < y.size();
    }
    return Error{"'<' not supported between instances of '" + a.typeName() + "' and '" + b.typeName() + "'"};
}

// ---- UTF-8

uint32_t utf8Decode(std::string_view s, size_t& i) {
    auto c = uint8_t(s[i]);
    auto cont = [&](size_t k) { return i + k < s.size() && (uint8_t(s[i + k]) & 0xC0) == 0x80; };
    if (c < 0x80) {
        ++i;
        return c;
    }
    if (c >= 0xC2 && c < 0xE0 && cont(1)) {
        uint32_t cp = (uint32_t(c & 0x1F) << 6) | (uint8_t(s[i + 1]) & 0x3F);
        i += 2;
        return cp;
    }
    if (c >= 0xE0 && c < 0xF0 && cont(1) && cont(2)) {
        uint32_t cp = (uint32_t(c & 0x0F) << 12) | (uint32_t(uint8_t(s[i + 1]) & 0x3F) << 6) | (uint8_t(s[i + 2]) & 0x3F);
        if (cp >= 0x800) {
            i += 3;
            return cp;
        }
    }
    if (c >= 0xF0 && c < 0xF5 && cont(1) && cont(2) && cont(3)) {
        uint32_t cp = (uint32_t(c & 0x07) << 18) | (uint32_t(uint8_t(s[i + 1]) & 0x3F) << 12) |
                      (uint32_t(uint8_t(s[i + 2]) & 0x3F) << 6) | (uint8_t(s[i + 3]) & 0x3F);
        if (cp >= 0x10000 && cp <= 0x10FFFF) {
            i += 4;
            return cp;
        }
    }
    ++i;  // invalid byte: one code point of its own
    return 0xDC00 | c;  // lone surrogate range, as Python's surrogateescape would give
}

void utf8Append(std::string& out, uint32_t cp) {
    if (cp >= 0xDC80 && cp <= 0xDCFF) out += char(cp & 0xFF);  // an invalid byte kept as it was
    else unicode::appendUtf8(out, cp);
}

size_t utf8Length(std::string_view s) {
    size_t n = 0;
    for (size_t i = 0; i < s.size();) {
        if (uint8_t(s[i]) < 0x80) {
            ++i;
        } else {
            utf8Decode(s, i);
        }
        ++n;
    }
    return n;
}

std::vector<size_t> utf8Offsets(std::string_view s) {
    std::vector<size_t> off;
    off.reserve(s.size() + 1);
    for (size_t i = 0; i < s.size();) {
        off.push_back(i);
        utf8Decode(s, i);
    }
    off.push_back(s.size());
    return off;
}

bool isPyWhitespace(uint32_t cp) {
    return (cp >= 0x09 && cp <= 0x0D) || (cp >= 0x1C && cp <= 0x20) || cp == 0x85 || cp == 0xA0 || cp == 0x1680 ||
           (cp >= 0x2000 && cp <= 0x200A) || cp == 0x2028 || cp == 0x2029 || cp == 0x202F || cp == 0x205F ||
           cp == 0x3000;
}

// ---- str / repr

std::string pyFloatRepr(double d) {
    if (std::isnan(d)) return "nan";
    if (std::isinf(d)) return d < 0 ? "-inf" : "inf";
    char buf[64];
    auto res = std::to_chars(buf, buf + sizeof buf, d, std::chars_format::scientific);
    std::string sci(buf, res.ptr);
    bool neg = sci[0] == '-';
    if (neg) sci.erase(0, 1);
    size_t e = sci.find('e');
    int exp = std::atoi(sci.c_str() + e + 1);
    std::string digits;
    for (size_t i = 0; i < e; ++i)
        if (sci[i] != '.') digits += sci[i];
    std::string out = neg ? "-" : "";
    if (exp >= -4 && exp < 16) {
        if (exp >= 0) {
            std::string ip = digits.substr(0, std::min<size_t>(digits.size(), size_t(exp) + 1));
            while (ip.size() < size_t(exp) + 1) ip += '0';
            std::string fp = digits.size() > size_t(exp) + 1 ? digits.substr(size_t(exp) + 1) : "0";
            return out + ip + "." + fp;
        }
        return out + "0." + std::string(size_t(-exp - 1), '0') + digits;
    }
    out += digits.substr(0, 1);
    if (digits.size() > 1) out += "." + digits.substr(1);
    char eb[16];
    std::snprintf(eb, sizeof eb, "e%c%02d", exp < 0 ? '-' : '+', exp < 0 ? -exp : exp);
    return out + eb;
}

namespace {

bool pyPrintable(uint32_t cp) {
    if (cp < 0x20 || (cp >= 0x7F && cp <= 0xA0) || cp == 0xAD) return false;
    if (cp >= 0xDC80 && cp <= 0xDCFF) return false;
    if ((cp >= 0x2000 && cp <= 0x200F) || (cp >= 0x2028 && cp <= 0x202F) || (cp >= 0x205F && cp <= 0x2064) ||
        (cp >= 0x2066 && cp <= 0x206F) || cp == 0x1680 || cp == 0x3000 || cp == 0xFEFF || cp == 0x180E ||
        (cp >= 0x600 && cp <= 0x605) || cp == 0x61C || cp == 0x6DD || cp == 0x70F || (cp >= 0xFFF9 && cp <= 0xFFFB))
        return false;
    if ((cp >= 0xE000 && cp <= 0xF8FF) || cp >= 0xF0000 || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
    if (cp >= 0xE0000 && cp <= 0xE007F) return false;
    return true;
}

}  // namespace

std::string pyStringRepr(std::string_view s) {
    bool hasSingle = s.find('\'') != std::string_view::npos;
    bool hasDouble = s.find('"') != std::string_view::npos;
    char q = hasSingle && !hasDouble ? '"' : '\'';
    std::string out(1, q);
    for (size_t i = 0; i < s.size();) {
        uint32_t cp = utf8Decode(s, i);
        if (cp == uint32_t(q) || cp == '\\') {
            out += '\\';
            out += char(cp);
        } else if (cp == '\n') {
            out += "\\n";
        } else if (cp == '\r') {
            out += "\\r";
        } else if (cp == '\t') {
            out += "\\t";
        } else if (pyPrintable(cp)) {
            utf8Append(out, cp);
        } else {
            char b[16];
            if (cp >= 0xDC80 && cp <= 0xDCFF)
                std::snprintf(b, sizeof b, "\\udc%02x", unsigned(cp & 0xFF));
            else if (cp < 0x100)
                std::snprintf(b, sizeof b, "\\x%02x", unsigned(cp));
            else if (cp < 0x10000)
                std::snprintf(b, sizeof b, "\\u%04x", unsigned(cp));
            else
                std::snprintf(b, sizeof b, "\\U%08x", unsigned(cp));
            out += b;
        }
    }
    out += q;
    return out;
}

namespace {

void reprInto(const Value& v, std::string& out, int depth);

void strInto(const Value& v, std::string& out, int depth) {
    using K = Value::Kind;
    switch (v.kind()) {
        case K::Undefined: return;
        case K::None: out += "None"; return;
        case K::Bool: out += v.asBool() ? "True" : "False"; return;
        case K::Int: out += std::to_string(v.asInt()); return;
        case K::Float: out += pyFloatRepr(v.asDouble()); return;
        case K::String: out += v.asString(); return;
        default: reprInto(v, out, depth);
    }
}

void reprInto(const Value& v, std::string& out, int depth) {
    using K = Value::Kind;
    if (depth > 200) {  // cycles cannot be built; this only bounds very deep nesting
        out += "...";
        return;
    }
    switch (v.kind()) {
        case K::Undefined: out += "Undefined"; return;
        case K::String: out += pyStringRepr(v.asString()); return;
        case K::List: {
            const auto& l = v.asList();
            out += l.tuple ? '(' : '[';
            for (size_t i = 0; i < l.items.size(); ++i) {
                if (i) out += ", ";
                reprInto(l.items[i], out, depth + 1);
            }
            if (l.tuple && l.items.size() == 1) out += ',';
            out += l.tuple ? ')' : ']';
            return;
        }
        case K::Dict: {
            const auto& d = v.asDict();
            if (d.namespaceObject) out += "<Namespace ";
            out += '{';
            for (size_t i = 0; i < d.items.size(); ++i) {
                if (i) out += ", ";
                reprInto(d.items[i].first, out, depth + 1);
                out += ": ";
                reprInto(d.items[i].second, out, depth + 1);
            }
            out += '}';
            if (d.namespaceObject) out += '>';
            return;
        }
        case K::Callable: out += "<function " + v.asCallable().name + ">"; return;
        default: strInto(v, out, depth);
    }
}

}  // namespace

std::string pyStr(const Value& v) {
    if (v.isString()) return v.asString();
    std::string out;
    strInto(v, out, 0);
    return out;
}

std::string pyRepr(const Value& v) {
    std::string out;
    reprInto(v, out, 0);
    return out;
}

// ---- json.dumps

namespace {

void jsonString(std::string_view s, bool ensureAscii, std::string& out) {
    out += '"';
    for (size_t i = 0; i < s.size();) {
        auto c = uint8_t(s[i]);
        if (c < 0x80) {
            ++i;
            switch (c) {
                case '"': out += "\\\""; break;
                case '\\': out += "\\\\"; break;
                case '\n': out += "\\n"; break;
                case '\r': out += "\\r"; break;
                case '\t': out += "\\t"; break;
                case '\b': out += "\\b"; break;
                case '\f': out += "\\f"; break;
                default:
                    if (c < 0x20) {
                        char b[8];
                        std::snprintf(b, sizeof b, "\\u%04x", c);
                        out += b;
                    } else {
                        out += char(c);
                    }
            }
            continue;
        }
        size_t start = i;
        uint32_t cp = utf8Decode(s, i);
        if (!ensureAscii) {
            out.append(s.substr(start, i - start));
            continue;
        }
        char b[16];
        if (cp >= 0x10000) {
            uint32_t v = cp - 0x10000;
            std::snprintf(b, sizeof b, "\\u%04x\\u%04x", unsigned(0xD800 | (v >> 10)), unsigned(0xDC00 | (v & 0x3FF)));
        } else {
            std::snprintf(b, sizeof b, "\\u%04x", unsigned(cp));
        }
        out += b;
    }
    out += '"';
}

std::string jsonFloat(double d) {
    if (std::isnan(d)) return "NaN";
    if (std::isinf(d)) return d < 0 ? "-Infinity" : "Infinity";
    return pyFloatRepr(d);
}

Result<std::string> jsonKey(const Value& k) {
    if (k.isString()) return k.asString();
    if (k.isBool()) return std::string(k.asBool() ? "true" : "false");
    if (k.isInt()) return std::to_string(k.asInt());
    if (k.isFloat()) return jsonFloat(k.asDouble());
    if (k.isNone()) return std::string("null");
    return Error{"keys must be str, int, float, bool or None, not " + k.typeName()};
}

Status jsonInto(const Value& v, const JsonOptions& o, int depth, std::string& out) {
    using K = Value::Kind;
    if (depth > 200) return Error{"tojson: nesting too deep"};
    auto newline = [&](int d) {
        out += '\n';
        for (int i = 0; i < d; ++i) out += o.indent;
    };
    switch (v.kind()) {
        case K::None: out += "null"; return {};
        case K::Bool: out += v.asBool() ? "true" : "false"; return {};
        case K::Int: out += std::to_string(v.asInt()); return {};
        case K::Float: out += jsonFloat(v.asDouble()); return {};
        case K::String: jsonString(v.asString(), o.ensureAscii, out); return {};
        case K::List: {
            const auto& items = v.asList().items;
            if (items.empty()) {
                out += "[]";
                return {};
            }
            out += '[';
            for (size_t i = 0; i < items.size(); ++i) {
                if (i) out += o.itemSep;
                if (o.indented) newline(depth + 1);
                MOE_TRY(jsonInto(items[i], o, depth + 1, out));
            }
            if (o.indented) newline(depth);
            out += ']';
            return {};
        }
        case K::Dict: {
            if (v.isNamespace()) break;
            const auto& d = v.asDict();
            if (d.items.empty()) {
                out += "{}";
                return {};
            }
            std::vector<std::pair<std::string, const Value*>> entries;
            for (const auto& [k, val] : d.items) {
                MOE_ASSIGN(std::string key, jsonKey(k));
                entries.emplace_back(std::move(key), &val);
            }
            if (o.sortKeys)
                std::stable_sort(entries.begin(), entries.end(),
                                 [](const auto& a, const auto& b) { return a.first < b.first; });
            out += '{';
            for (size_t i = 0; i < entries.size(); ++i) {
                if (i) out += o.itemSep;
                if (o.indented) newline(depth + 1);
                jsonString(entries[i].first, o.ensureAscii, out);
                out += o.keySep;
                MOE_TRY(jsonInto(*entries[i].second, o, depth + 1, out));
            }
            if (o.indented) newline(depth);
            out += '}';
            return {};
        }
        default: break;
    }
    return Error{"Object of type " + v.typeName() + " is not JSON serializable"};
}

}  // namespace

Result<std::string> pyJsonDumps(const Value& v, const JsonOptions& o) {
    std::string out;
    MOE_TRY(jsonInto(v, o, 0, out));
    return out;
}

}  // namespace moe::jinja

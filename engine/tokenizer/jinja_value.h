// Values of the Jinja2 interpreter (jinja.h): Python's object model as chat templates see it.
// Scalars are held inline; strings, lists, dicts, namespaces and callables are shared (Python
// reference semantics: `ns.items.append(x)` is visible through every name of that list). Cycles
// cannot be built: every mutation that could close one is checked first (jinja_eval.cpp), so
// shared ownership never leaks.
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/result.h"

namespace moe::jinja {

class Interp;
class Value;

struct List {
    std::vector<Value> items;
    bool tuple = false;  // repr "(a, b)" instead of "[a, b]"
};

// Insertion-ordered mapping (Python dict). Keys are compared with Python's ==.
struct Dict {
    std::vector<std::pair<Value, Value>> items;
    const Value* find(const Value& key) const;
    const Value* find(std::string_view key) const;
    void set(Value key, Value v);
    bool namespaceObject = false;  // jinja2's namespace(): attributes assignable with {% set ns.a %}
};

struct CallArgs {
    std::vector<Value> pos;
    std::vector<std::pair<std::string, Value>> kw;
    const Value* get(std::string_view name) const;  // keyword argument or nullptr
};

// A builtin function, a bound method, a macro or `caller`. `captures` lists the values the
// callable keeps alive (a bound method's object) so the cycle check can see them.
struct Callable {
    std::string name;
    std::function<Result<Value>(Interp&, CallArgs&)> fn;
    std::vector<Value> captures;
};

class Value {
public:
    enum class Kind : uint8_t { Undefined, None, Bool, Int, Float, String, List, Dict, Callable };

    Value() = default;  // undefined without a name
    static Value undefined(std::string name = {});
    static Value none();
    static Value boolean(bool b);
    static Value integer(int64_t i);
    static Value real(double d);
    static Value string(std::string s);
    static Value list(std::vector<Value> items = {}, bool tuple = false);
    static Value dict(Dict d = {});
    static Value callable(std::string name, std::function<Result<Value>(Interp&, CallArgs&)> fn,
                          std::vector<Value> captures = {});
    static Value fromJson(const nlohmann::ordered_json& j);

    Kind kind() const { return kind_; }
    bool isUndefined() const { return kind_ == Kind::Undefined; }
    bool isNone() const { return kind_ == Kind::None; }
    bool isBool() const { return kind_ == Kind::Bool; }
    bool isInt() const { return kind_ == Kind::Int; }
    bool isFloat() const { return kind_ == Kind::Float; }
    bool isNumber() const { return kind_ == Kind::Int || kind_ == Kind::Float || kind_ == Kind::Bool; }
    bool isString() const { return kind_ == Kind::String; }
    bool isList() const { return kind_ == Kind::List; }
    bool isTuple() const { return kind_ == Kind::List && asList().tuple; }
    bool isDict() const { return kind_ == Kind::Dict && !asDict().namespaceObject; }
    bool isNamespace() const { return kind_ == Kind::Dict && asDict().namespaceObject; }
    bool isCallable() const { return kind_ == Kind::Callable; }

    bool asBool() const { return b_; }
    int64_t asInt() const { return kind_ == Kind::Bool ? int64_t(b_) : i_; }  // bool is an int in Python
    double asDouble() const { return kind_ == Kind::Float ? d_ : double(asInt()); }
    const std::string& asString() const;  // the string, or an undefined's name
    const List& asList() const { return *static_cast<const List*>(p_.get()); }
    List& mutList() const { return *static_cast<List*>(p_.get()); }
    const Dict& asDict() const { return *static_cast<const Dict*>(p_.get()); }
    Dict& mutDict() const { return *static_cast<Dict*>(p_.get()); }
    const Callable& asCallable() const { return *static_cast<const Callable*>(p_.get()); }
    const void* identity() const { return p_.get(); }

    bool truthy() const;
    std::string typeName() const;  // Python's type name: "str", "int", "dict", "NoneType", ...

private:
    Kind kind_ = Kind::Undefined;
    bool b_ = false;
    int64_t i_ = 0;
    double d_ = 0;
    std::shared_ptr<void> p_;  // std::string, List, Dict or Callable by kind (undefined: its name)
};

// ---- Python semantics
bool pyEqual(const Value& a, const Value& b);
// a < b as Python orders them; an error message (not positioned) when the types do not order.
Result<bool> pyLess(const Value& a, const Value& b);
std::string pyStr(const Value& v);   // str(v): what {{ v }} prints
std::string pyRepr(const Value& v);  // repr(v)
std::string pyFloatRepr(double d);   // repr(float): shortest round trip, "1.0", "1e+16"
std::string pyStringRepr(std::string_view s);

// json.dumps(v, ensure_ascii, indent, separators, sort_keys) as HF transformers' tojson filter
// calls it. indent: nullptr for none; an int or a string. Errors (not positioned) for values
// JSON has no form for (undefined, namespaces, callables).
struct JsonOptions {
    bool ensureAscii = false;
    bool indented = false;
    std::string indent;  // the indent string per level when indented
    std::string itemSep = ", ", keySep = ": ";
    bool sortKeys = false;
};
Result<std::string> pyJsonDumps(const Value& v, const JsonOptions& o);

// ---- UTF-8 as Python's str sees it (code points; an invalid byte counts as one code point)
size_t utf8Length(std::string_view s);
std::vector<size_t> utf8Offsets(std::string_view s);  // start of each code point, then s.size()
bool isPyWhitespace(uint32_t cp);                    // str.isspace()
uint32_t utf8Decode(std::string_view s, size_t& i);   // advances i
void utf8Append(std::string& out, uint32_t cp);

}  // namespace moe::jinja

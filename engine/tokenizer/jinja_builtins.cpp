// Filters, tests and globals of the Jinja2 interpreter, with the semantics of jinja2 3.1 and of
// HF transformers' chat-template environment (tojson, raise_exception, strftime_now).
// Errors returned without a position get the call's position from Interp::call.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <ctime>

#include "tokenizer/jinja_eval.h"
#include "tokenizer/jinja_strings.h"

namespace moe::jinja {

namespace {

Error fail(Pos p, const std::string& msg) { return p.line > 0 ? errorAt(p, msg) : Error{msg}; }

// Argument i by position, else by keyword name, else nullptr.
const Value* arg(const CallArgs& a, size_t i, const char* name) {
    if (i < a.pos.size()) return &a.pos[i];
    return a.get(name);
}

Status noMoreThan(const CallArgs& a, size_t n, const std::string& what, Pos p) {
    if (a.pos.size() > n) return fail(p, what + " takes at most " + std::to_string(n) + " positional argument(s)");
    return {};
}

Result<int64_t> intArg(const Value* v, int64_t def, const char* what, Pos p) {
    if (!v || v->isNone()) return def;
    if (v->isInt() || v->isBool()) return v->asInt();
    return fail(p, std::string(what) + ": expected an integer, got '" + v->typeName() + "'");
}

// make_attrgetter: "a.b.0" looked up with getitem semantics, part by part.
Result<Value> attrPath(Interp& in, const Value& item, const std::string& path, Pos p) {
    Value cur = item;
    size_t start = 0;
    while (true) {
        size_t dot = path.find('.', start);
        std::string part = path.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
        Value key = !part.empty() && std::all_of(part.begin(), part.end(), [](char c) { return c >= '0' && c <= '9'; }) &&
                            part.size() < 18
                        ? Value::integer(std::atoll(part.c_str()))
                        : Value::string(part);
        MOE_ASSIGN(cur, in.getItem(cur, key, p));
        if (dot == std::string::npos) return cur;
        start = dot + 1;
    }
}

// Python's % and // on ints and floats.
Result<Value> pyMod(const Value& a, const Value& b, bool floorDiv, Pos p) {
    if (!a.isFloat() && !b.isFloat()) {
        int64_t x = a.asInt(), y = b.asInt();
        if (y == 0) return fail(p, floorDiv ? "integer division or modulo by zero" : "integer modulo by zero");
        if (x == INT64_MIN && y == -1) return floorDiv ? fail(p, "integer overflow") : Result<Value>(Value::integer(0));
        int64_t q = x / y, r = x % y;
        if (r != 0 && ((r < 0) != (y < 0))) {
            --q;
            r += y;
        }
        return Value::integer(floorDiv ? q : r);
    }
    double x = a.asDouble(), y = b.asDouble();
    if (y == 0) return fail(p, "float division by zero");
    double mod = std::fmod(x, y);
    double div = (x - mod) / y;
    if (mod != 0) {
        if ((y < 0) != (mod < 0)) {
            mod += y;
            div -= 1.0;
        }
    } else {
        mod = std::copysign(0.0, y);
    }
    double fl;
    if (div != 0) {
        fl = std::floor(div);
        if (div - fl > 0.5) fl += 1.0;
    } else {
        fl = std::copysign(0.0, x / y);
    }
    return Value::real(floorDiv ? fl : mod);
}

Result<Value> pyPow(const Value& a, const Value& b, Pos p) {
    if (!a.isFloat() && !b.isFloat() && b.asInt() >= 0) {
        int64_t base = a.asInt(), e = b.asInt(), r = 1;
        while (e > 0) {
            if (e & 1)
                if (__builtin_mul_overflow(r, base, &r)) return fail(p, "integer overflow");
            e >>= 1;
            if (e > 0 && __builtin_mul_overflow(base, base, &base)) return fail(p, "integer overflow");
        }
        return Value::integer(r);
    }
    double x = a.asDouble(), y = b.asDouble();
    if (x == 0 && y < 0) return fail(p, "0.0 cannot be raised to a negative power");
    if (x < 0 && y != std::floor(y)) return fail(p, "complex results are not supported");
    double r = std::pow(x, y);
    if (std::isinf(r) && !std::isinf(x) && !std::isinf(y)) return fail(p, "numerical result out of range");
    return Value::real(r);
}

Error operandError(const std::string& op, const Value& a, const Value& b, Pos p) {
    return fail(p, "unsupported operand type(s) for " + op + ": '" + a.typeName() + "' and '" + b.typeName() + "'");
}

}  // namespace

Result<Value> pyArith(Interp& in, const std::string& op, const Value& a, const Value& b, Pos p) {
    if (op == "~") {
        std::string s = pyStr(a);
        s += pyStr(b);
        MOE_TRY(in.checkSize(s.size(), p));
        MOE_TRY(in.charge(s.size() / 64, p));
        return Value::string(std::move(s));
    }
    if (a.isUndefined()) return in.undefinedError(a, p);
    if (b.isUndefined()) return in.undefinedError(b, p);
    bool nums = a.isNumber() && b.isNumber();
    bool anyFloat = a.isFloat() || b.isFloat();
    if (op == "+") {
        if (nums) {
            if (anyFloat) return Value::real(a.asDouble() + b.asDouble());
            int64_t r;
            if (__builtin_add_overflow(a.asInt(), b.asInt(), &r)) return fail(p, "integer overflow");
            return Value::integer(r);
        }
        if (a.isString() && b.isString()) {
            MOE_TRY(in.checkSize(a.asString().size() + b.asString().size(), p));
            MOE_TRY(in.charge((a.asString().size() + b.asString().size()) / 64, p));
            return Value::string(a.asString() + b.asString());
        }
        if (a.isList() && b.isList() && a.isTuple() == b.isTuple()) {
            size_t n = a.asList().items.size() + b.asList().items.size();
            MOE_TRY(in.checkSize(n, p));
            MOE_TRY(in.charge(n, p));
            std::vector<Value> items = a.asList().items;
            items.insert(items.end(), b.asList().items.begin(), b.asList().items.end());
            return Value::list(std::move(items), a.isTuple());
        }
        return operandError(op, a, b, p);
    }
    if (op == "-") {
        if (!nums) return operandError(op, a, b, p);
        if (anyFloat) return Value::real(a.asDouble() - b.asDouble());
        int64_t r;
        if (__builtin_sub_overflow(a.asInt(), b.asInt(), &r)) return fail(p, "integer overflow");
        return Value::integer(r);
    }
    if (op == "*") {
        if (nums) {
            if (anyFloat) return Value::real(a.asDouble() * b.asDouble());
            int64_t r;
            if (__builtin_mul_overflow(a.asInt(), b.asInt(), &r)) return fail(p, "integer overflow");
            return Value::integer(r);
        }
        const Value& seq = a.isNumber() ? b : a;
        const Value& count = a.isNumber() ? a : b;
        if (!count.isNumber() || count.isFloat() || !(seq.isString() || seq.isList()))
            return operandError(op, a, b, p);
        int64_t n = std::max<int64_t>(0, count.asInt());
        size_t unit = seq.isString() ? seq.asString().size() : seq.asList().items.size();
        if (unit > 0 && uint64_t(n) > in.options().maxOutputBytes / unit)
            return fail(p, "value too large (over the output limit of " + std::to_string(in.options().maxOutputBytes) +
                               " bytes)");
        size_t total = unit * size_t(n);
        MOE_TRY(in.charge(seq.isString() ? total / 64 : total, p));
        if (seq.isString()) {
            std::string s;
            s.reserve(total);
            for (int64_t i = 0; i < n; ++i) s += seq.asString();
            return Value::string(std::move(s));
        }
        std::vector<Value> items;
        items.reserve(total);
        for (int64_t i = 0; i < n; ++i) items.insert(items.end(), seq.asList().items.begin(), seq.asList().items.end());
        return Value::list(std::move(items), seq.isTuple());
    }
    if (op == "/") {
        if (!nums) return operandError(op, a, b, p);
        if (b.asDouble() == 0) return fail(p, "division by zero");
        return Value::real(a.asDouble() / b.asDouble());
    }
    if (op == "//" || op == "%") {
        if (op == "%" && a.isString()) return fail(p, "string formatting with '%' is not supported");
        if (!nums) return operandError(op, a, b, p);
        return pyMod(a, b, op == "//", p);
    }
    if (op == "**") {
        if (!nums) return operandError(op, a, b, p);
        return pyPow(a, b, p);
    }
    return fail(p, "unknown operator '" + op + "'");
}

Result<bool> pyContains(const Value& c, const Value& item, Pos p) {
    if (c.isString()) {
        if (!item.isString())
            return fail(p, "'in <string>' requires string as left operand, not " + item.typeName());
        return c.asString().find(item.asString()) != std::string::npos;
    }
    if (c.isList()) {
        for (const auto& v : c.asList().items)
            if (pyEqual(v, item)) return true;
        return false;
    }
    if (c.isDict()) return c.asDict().find(item) != nullptr;
    if (c.isUndefined()) return false;
    return fail(p, "argument of type '" + c.typeName() + "' is not iterable");
}

Result<std::vector<Value>> iterate(Interp& in, const Value& v, Pos p) {
    if (v.isList()) return v.asList().items;
    if (v.isDict()) {
        std::vector<Value> keys;
        keys.reserve(v.asDict().items.size());
        for (const auto& [k, x] : v.asDict().items) keys.push_back(k);
        return keys;
    }
    if (v.isString()) {
        const std::string& s = v.asString();
        std::vector<Value> chars;
        auto off = utf8Offsets(s);
        MOE_TRY(in.charge(off.size(), p));
        for (size_t i = 0; i + 1 < off.size(); ++i) chars.push_back(Value::string(s.substr(off[i], off[i + 1] - off[i])));
        return chars;
    }
    if (v.isUndefined()) return std::vector<Value>{};
    return fail(p, "'" + v.typeName() + "' object is not iterable");
}

// ---- tests

Result<bool> callTest(Interp& in, const std::string& name, const Value& v, CallArgs& a, Pos p) {
    const Value* x = arg(a, 0, "value");
    auto need = [&]() -> Status {
        if (!x) return fail(p, "test '" + name + "' needs an argument");
        return {};
    };
    if (name == "defined") return !v.isUndefined();
    if (name == "undefined") return v.isUndefined();
    if (name == "none") return v.isNone();
    if (name == "string") return v.isString();
    if (name == "number") return v.isNumber();
    if (name == "integer") return v.isInt();
    if (name == "float") return v.isFloat();
    if (name == "boolean") return v.isBool();
    if (name == "true") return v.isBool() && v.asBool();
    if (name == "false") return v.isBool() && !v.asBool();
    if (name == "mapping") return v.isDict();
    if (name == "iterable") return v.isList() || v.isDict() || v.isString() || v.isUndefined();
    if (name == "sequence") return v.isList() || v.isDict() || v.isString();
    if (name == "callable") return v.isCallable();
    if (name == "lower" || name == "upper") {
        if (!v.isString()) return fail(p, "test '" + name + "' needs a string");
        return name == "lower" ? strIsLower(v.asString()) : strIsUpper(v.asString());
    }
    if (name == "escaped") return false;
    if (name == "odd" || name == "even" || name == "divisibleby") {
        if (v.isUndefined()) return in.undefinedError(v, p);
        Value d = Value::integer(2);
        if (name == "divisibleby") {
            MOE_TRY(need());
            d = *x;
        }
        if (!v.isNumber() || !d.isNumber()) return operandError("%", v, d, p);
        MOE_ASSIGN(Value r, pyMod(v, d, false, p));
        bool zero = r.asDouble() == 0;
        return name == "odd" ? !zero : zero;
    }
    if (name == "equalto" || name == "eq" || name == "==" || name == "sameas") {
        MOE_TRY(need());
        if (name == "sameas") {
            if (v.kind() != x->kind()) return false;
            if (v.isList() || v.kind() == Value::Kind::Dict || v.isCallable()) return v.identity() == x->identity();
        }
        return pyEqual(v, *x);
    }
    if (name == "ne" || name == "!=") {
        MOE_TRY(need());
        return !pyEqual(v, *x);
    }
    if (name == "lt" || name == "<" || name == "lessthan" || name == "gt" || name == ">" || name == "greaterthan" ||
        name == "le" || name == "<=" || name == "ge" || name == ">=") {
        MOE_TRY(need());
        bool less = name == "lt" || name == "<" || name == "lessthan" || name == "le" || name == "<=";
        bool orEq = name == "le" || name == "<=" || name == "ge" || name == ">=";
        const Value& l = less ? v : *x;
        const Value& r = less ? *x : v;
        if (l.isUndefined()) return in.undefinedError(l, p);
        if (r.isUndefined()) return in.undefinedError(r, p);
        auto lt = pyLess(l, r);
        if (!lt.ok()) return fail(p, lt.error().message);
        return *lt || (orEq && pyEqual(l, r));
    }
    if (name == "in") {
        MOE_TRY(need());
        return pyContains(*x, v, p);
    }
    return fail(p, "unknown test '" + name + "'");
}

// ---- filters

namespace {

Result<Value> filterSort(Interp& in, std::vector<Value> items, bool reverse, bool caseSensitive, const Value* attribute,
                         Pos p) {
    std::vector<std::pair<Value, Value>> keyed;
    keyed.reserve(items.size());
    for (auto& it : items) {
        Value key = it;
        if (attribute && !attribute->isNone()) {
            MOE_ASSIGN(key, attrPath(in, it, pyStr(*attribute), p));
        }
        if (!caseSensitive && key.isString()) key = Value::string(strLower(key.asString()));
        keyed.emplace_back(std::move(key), std::move(it));
    }
    MOE_TRY(in.charge(keyed.size() * 8, p));
    std::string err;
    std::stable_sort(keyed.begin(), keyed.end(), [&](const auto& x, const auto& y) {
        if (!err.empty()) return false;
        const Value& l = reverse ? y.first : x.first;
        const Value& r = reverse ? x.first : y.first;
        auto lt = pyLess(l, r);
        if (!lt.ok()) {
            err = lt.error().message;
            return false;
        }
        return *lt;
    });
    if (!err.empty()) return fail(p, err);
    std::vector<Value> out;
    for (auto& [k, v] : keyed) out.push_back(std::move(v));
    return Value::list(std::move(out));
}

Result<Value> selectReject(Interp& in, const Value& v, CallArgs& a, bool select, bool byAttr, Pos p) {
    MOE_ASSIGN(std::vector<Value> items, iterate(in, v, p));
    size_t first = byAttr ? 1 : 0;
    std::string attr;
    if (byAttr) {
        if (a.pos.empty()) return fail(p, "selectattr/rejectattr need an attribute name");
        attr = pyStr(a.pos[0]);
    }
    std::string test;
    CallArgs testArgs;
    if (a.pos.size() > first) {
        test = pyStr(a.pos[first]);
        testArgs.pos.assign(a.pos.begin() + long(first) + 1, a.pos.end());
    }
    std::vector<Value> out;
    for (const auto& item : items) {
        MOE_TRY(in.charge(1, p));
        Value x = item;
        if (byAttr) {
            MOE_ASSIGN(x, attrPath(in, item, attr, p));
        }
        bool r;
        if (test.empty()) {
            r = x.truthy();
        } else {
            MOE_ASSIGN(r, callTest(in, test, x, testArgs, p));
        }
        if (r == select) out.push_back(item);
    }
    return Value::list(std::move(out));
}

Result<Value> filterMap(Interp& in, const Value& v, CallArgs& a, Pos p) {
    MOE_ASSIGN(std::vector<Value> items, iterate(in, v, p));
    std::vector<Value> out;
    if (a.pos.empty()) {
        const Value* attr = a.get("attribute");
        if (!attr) return fail(p, "map: needs a filter name or attribute=");
        const Value* def = a.get("default");
        for (const auto& item : items) {
            MOE_TRY(in.charge(1, p));
            MOE_ASSIGN(Value x, attrPath(in, item, pyStr(*attr), p));
            if (x.isUndefined() && def) x = *def;
            out.push_back(std::move(x));
        }
        return Value::list(std::move(out));
    }
    std::string name = pyStr(a.pos[0]);
    CallArgs rest;
    rest.pos.assign(a.pos.begin() + 1, a.pos.end());
    rest.kw = a.kw;
    for (const auto& item : items) {
        MOE_TRY(in.charge(1, p));
        CallArgs copy = rest;
        MOE_ASSIGN(Value x, callFilter(in, name, item, copy, p));
        out.push_back(std::move(x));
    }
    return Value::list(std::move(out));
}

Result<Value> filterToJson(Interp& in, const Value& v, CallArgs& a, Pos p) {
    // HF: tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False)
    JsonOptions o;
    const Value* ea = arg(a, 0, "ensure_ascii");
    const Value* ind = arg(a, 1, "indent");
    const Value* sep = arg(a, 2, "separators");
    const Value* sk = arg(a, 3, "sort_keys");
    MOE_TRY(noMoreThan(a, 4, "tojson", p));
    o.ensureAscii = ea && ea->truthy();
    o.sortKeys = sk && sk->truthy();
    if (ind && !ind->isNone()) {
        o.indented = true;
        if (ind->isString()) {
            o.indent = ind->asString();
        } else if (ind->isInt() || ind->isBool()) {
            int64_t n = ind->asInt();
            if (n > 256) return fail(p, "tojson: indent too large");
            o.indent = std::string(size_t(std::max<int64_t>(0, n)), ' ');
        } else {
            return fail(p, "tojson: indent must be an integer or a string");
        }
        o.itemSep = ",";
    }
    if (sep && !sep->isNone()) {
        if (!sep->isList() || sep->asList().items.size() != 2 || !sep->asList().items[0].isString() ||
            !sep->asList().items[1].isString())
            return fail(p, "tojson: separators must be a pair of strings");
        o.itemSep = sep->asList().items[0].asString();
        o.keySep = sep->asList().items[1].asString();
    }
    MOE_TRY(in.checkNoCycle(v, nullptr, p));  // charges the traversal
    auto r = pyJsonDumps(v, o);
    if (!r.ok()) return fail(p, "tojson: " + r.error().message);
    MOE_TRY(in.checkSize(r->size(), p));
    return Value::string(std::move(r).value());
}

// jinja2's do_int / do_float
Result<Value> filterInt(const Value& v, CallArgs& a, Pos p) {
    const Value* def = arg(a, 0, "default");
    MOE_ASSIGN(int64_t base, intArg(arg(a, 1, "base"), 10, "int", p));
    Value dflt = def ? *def : Value::integer(0);
    if (v.isInt() || v.isBool()) return Value::integer(v.asInt());
    if (v.isFloat()) {
        double d = v.asDouble();
        if (std::isnan(d)) return dflt;
        if (std::isinf(d) || std::fabs(d) >= 9.2e18) return fail(p, "int: cannot convert float to integer");
        return Value::integer(int64_t(std::trunc(d)));
    }
    if (v.isString()) {
        int64_t r;
        if (pyParseInt(v.asString(), int(base), r)) return Value::integer(r);
        double d;
        if (pyParseFloat(v.asString(), d)) {
            if (std::isnan(d)) return dflt;
            if (std::isinf(d) || std::fabs(d) >= 9.2e18) return fail(p, "int: cannot convert float to integer");
            return Value::integer(int64_t(std::trunc(d)));
        }
    }
    return dflt;
}

Result<Value> filterFloat(const Value& v, CallArgs& a) {
    const Value* def = arg(a, 0, "default");
    Value dflt = def ? *def : Value::real(0.0);
    if (v.isNumber()) return Value::real(v.asDouble());
    double d;
    if (v.isString() && pyParseFloat(v.asString(), d)) return Value::real(d);
    return dflt;
}

Result<Value> filterRound(const Value& v, CallArgs& a, Pos p) {
    MOE_ASSIGN(int64_t prec, intArg(arg(a, 0, "precision"), 0, "round", p));
    const Value* m = arg(a, 1, "method");
    std::string method = m ? pyStr(*m) : "common";
    if (method != "common" && method != "floor" && method != "ceil")
        return fail(p, "round: method must be 'common', 'ceil' or 'floor'");
    if (!v.isNumber()) return fail(p, "round: expected a number, got '" + v.typeName() + "'");
    if (prec < -30 || prec > 30) return fail(p, "round: precision out of range");
    if (method == "common") {
        if (!v.isFloat()) return Value::integer(v.asInt());  // round(int, n) stays an int for n >= 0
        double x = v.asDouble();
        if (!std::isfinite(x)) return Value::real(x);
        if (prec >= 0) {
            char buf[512];
            std::snprintf(buf, sizeof buf, "%.*f", int(prec), x);  // correctly rounded, half to even
            return Value::real(std::strtod(buf, nullptr));
        }
        double s = std::pow(10.0, double(-prec));
        return Value::real(std::nearbyint(x / s) * s);
    }
    double s = std::pow(10.0, double(prec));
    double x = v.asDouble() * s;
    return Value::real((method == "floor" ? std::floor(x) : std::ceil(x)) / s);
}

Result<Value> filterIndent(Interp& in, const Value& v, CallArgs& a, Pos p) {
    const Value* w = arg(a, 0, "width");
    const Value* first = arg(a, 1, "first");
    const Value* blank = arg(a, 2, "blank");
    std::string ind;
    if (w && w->isString()) {
        ind = w->asString();
    } else {
        MOE_ASSIGN(int64_t n, intArg(w, 4, "indent", p));
        if (n > 1024) return fail(p, "indent: width too large");
        ind.assign(size_t(std::max<int64_t>(0, n)), ' ');
    }
    std::vector<std::string> lines = strSplitLines(pyStr(v) + "\n");
    std::string rv;
    if (blank && blank->truthy()) {
        for (size_t i = 0; i < lines.size(); ++i) {
            if (i) rv += "\n" + ind;
            rv += lines[i];
        }
    } else {
        rv = lines.empty() ? std::string() : lines[0];
        for (size_t i = 1; i < lines.size(); ++i) rv += "\n" + (lines[i].empty() ? lines[i] : ind + lines[i]);
    }
    if (first && first->truthy()) rv = ind + rv;
    MOE_TRY(in.checkSize(rv.size(), p));
    return Value::string(std::move(rv));
}

Result<Value> minMax(Interp& in, const Value& v, CallArgs& a, bool wantMax, Pos p) {
    MOE_ASSIGN(std::vector<Value> items, iterate(in, v, p));
    const Value* cs = arg(a, 0, "case_sensitive");
    const Value* attr = arg(a, 1, "attribute");
    if (items.empty()) return Value::undefined(wantMax ? "max" : "min");
    MOE_ASSIGN(Value sorted, filterSort(in, std::move(items), false, cs && cs->truthy(), attr, p));
    const auto& s = sorted.asList().items;
    if (!wantMax) return s.front();
    // max() keeps the first of equal maxima
    MOE_ASSIGN(Value best, filterSort(in, s, true, cs && cs->truthy(), attr, p));
    return best.asList().items.front();
}

}  // namespace

Result<Value> callFilter(Interp& in, const std::string& name, const Value& v, CallArgs& a, Pos p) {
    MOE_TRY(in.charge(1, p));
    auto str = [&]() { return pyStr(v); };
    auto sized = [&](std::string s) -> Result<Value> {
        MOE_TRY(in.checkSize(s.size(), p));
        MOE_TRY(in.charge(s.size() / 64, p));
        return Value::string(std::move(s));
    };
    if (name == "safe") return v;
    if (name == "default" || name == "d") {
        const Value* dv = arg(a, 0, "default_value");
        const Value* b = arg(a, 1, "boolean");
        if (v.isUndefined() || (b && b->truthy() && !v.truthy())) return dv ? *dv : Value::string("");
        return v;
    }
    if (name == "length" || name == "count") {
        if (v.isString()) return Value::integer(int64_t(utf8Length(v.asString())));
        if (v.isList()) return Value::integer(int64_t(v.asList().items.size()));
        if (v.isDict()) return Value::integer(int64_t(v.asDict().items.size()));
        if (v.isUndefined()) return Value::integer(0);
        return fail(p, "object of type '" + v.typeName() + "' has no len()");
    }
    if (name == "string") return sized(str());
    if (name == "tojson") return filterToJson(in, v, a, p);
    if (name == "trim") {
        const Value* chars = arg(a, 0, "chars");
        return sized(strStrip(str(), chars && !chars->isNone() ? &chars->asString() : nullptr, true, true));
    }
    if (name == "upper") return sized(strUpper(str()));
    if (name == "lower") return sized(strLower(str()));
    if (name == "capitalize") return sized(strCapitalize(str()));
    if (name == "title") return sized(jinjaTitle(str()));
    if (name == "replace") {
        const Value* o = arg(a, 0, "old");
        const Value* n = arg(a, 1, "new");
        if (!o || !n) return fail(p, "replace: needs old and new");
        MOE_ASSIGN(int64_t count, intArg(arg(a, 2, "count"), -1, "replace", p));
        MOE_ASSIGN(std::string r, strReplace(str(), pyStr(*o), pyStr(*n), count, in.options().maxOutputBytes));
        return sized(std::move(r));
    }
    if (name == "escape" || name == "e" || name == "forceescape") return sized(htmlEscape(str()));
    if (name == "join") {
        const Value* d = arg(a, 0, "d");
        const Value* attr = arg(a, 1, "attribute");
        MOE_ASSIGN(std::vector<Value> items, iterate(in, v, p));
        std::string sep = d ? pyStr(*d) : "", out;
        for (size_t i = 0; i < items.size(); ++i) {
            Value x = items[i];
            if (attr && !attr->isNone()) {
                MOE_ASSIGN(x, attrPath(in, x, pyStr(*attr), p));
            }
            if (i) out += sep;
            out += pyStr(x);
            MOE_TRY(in.checkSize(out.size(), p));
        }
        return sized(std::move(out));
    }
    if (name == "first" || name == "last") {
        if (v.isUndefined()) return Value::undefined(name);
        MOE_ASSIGN(std::vector<Value> items, iterate(in, v, p));
        if (items.empty()) return Value::undefined(name);
        return name == "first" ? items.front() : items.back();
    }
    if (name == "list") {
        MOE_ASSIGN(std::vector<Value> items, iterate(in, v, p));
        return Value::list(std::move(items));
    }
    if (name == "items") {
        if (v.isUndefined()) return Value::list();
        if (!v.isDict()) return fail(p, "items: can only get item pairs from a mapping");
        std::vector<Value> out;
        for (const auto& [k, x] : v.asDict().items) out.push_back(Value::list({k, x}, true));
        return Value::list(std::move(out));
    }
    if (name == "reverse") {
        if (v.isString()) {
            auto off = utf8Offsets(v.asString());
            std::string r;
            for (size_t i = off.size() - 1; i > 0; --i) r.append(v.asString(), off[i - 1], off[i] - off[i - 1]);
            return sized(std::move(r));
        }
        MOE_ASSIGN(std::vector<Value> items, iterate(in, v, p));
        std::reverse(items.begin(), items.end());
        return Value::list(std::move(items));
    }
    if (name == "int") return filterInt(v, a, p);
    if (name == "float") return filterFloat(v, a);
    if (name == "abs") {
        if (v.isFloat()) return Value::real(std::fabs(v.asDouble()));
        if (v.isNumber()) {
            if (v.asInt() == INT64_MIN) return fail(p, "integer overflow");
            return Value::integer(v.asInt() < 0 ? -v.asInt() : v.asInt());
        }
        return fail(p, "bad operand type for abs(): '" + v.typeName() + "'");
    }
    if (name == "round") return filterRound(v, a, p);
    if (name == "selectattr" || name == "rejectattr") return selectReject(in, v, a, name == "selectattr", true, p);
    if (name == "select" || name == "reject") return selectReject(in, v, a, name == "select", false, p);
    if (name == "map") return filterMap(in, v, a, p);
    if (name == "attr") {
        const Value* n = arg(a, 0, "name");
        if (!n) return fail(p, "attr: needs a name");
        return in.getAttr(v, pyStr(*n), p);
    }
    if (name == "sort") {
        const Value* r = arg(a, 0, "reverse");
        const Value* cs = arg(a, 1, "case_sensitive");
        const Value* attr = arg(a, 2, "attribute");
        MOE_ASSIGN(std::vector<Value> items, iterate(in, v, p));
        return filterSort(in, std::move(items), r && r->truthy(), cs && cs->truthy(), attr, p);
    }
    if (name == "dictsort") {
        if (!v.isDict()) return fail(p, "dictsort: expected a mapping");
        const Value* cs = arg(a, 0, "case_sensitive");
        const Value* by = arg(a, 1, "by");
        const Value* r = arg(a, 2, "reverse");
        std::string byWhat = by ? pyStr(*by) : "key";
        if (byWhat != "key" && byWhat != "value") return fail(p, "dictsort: 'by' must be 'key' or 'value'");
        std::vector<Value> pairs;
        for (const auto& [k, x] : v.asDict().items) pairs.push_back(Value::list({k, x}, true));
        Value path = Value::string(byWhat == "key" ? "0" : "1");
        return filterSort(in, std::move(pairs), r && r->truthy(), cs && cs->truthy(), &path, p);
    }
    if (name == "unique") {
        const Value* cs = arg(a, 0, "case_sensitive");
        const Value* attr = arg(a, 1, "attribute");
        MOE_ASSIGN(std::vector<Value> items, iterate(in, v, p));
        std::vector<Value> seen, out;
        for (const auto& item : items) {
            Value key = item;
            if (attr && !attr->isNone()) {
                MOE_ASSIGN(key, attrPath(in, item, pyStr(*attr), p));
            }
            if (!(cs && cs->truthy()) && key.isString()) key = Value::string(strLower(key.asString()));
            MOE_TRY(in.charge(seen.size() + 1, p));
            if (std::any_of(seen.begin(), seen.end(), [&](const Value& s) { return pyEqual(s, key); })) continue;
            seen.push_back(key);
            out.push_back(item);
        }
        return Value::list(std::move(out));
    }
    if (name == "batch") {
        MOE_ASSIGN(int64_t n, intArg(arg(a, 0, "linecount"), 0, "batch", p));
        const Value* fill = arg(a, 1, "fill_with");
        if (n <= 0) return fail(p, "batch: linecount must be positive");
        MOE_ASSIGN(std::vector<Value> items, iterate(in, v, p));
        std::vector<Value> out, cur;
        for (auto& item : items) {
            cur.push_back(std::move(item));
            if (int64_t(cur.size()) == n) out.push_back(Value::list(std::exchange(cur, {})));
        }
        if (!cur.empty()) {
            if (fill && !fill->isNone())
                while (int64_t(cur.size()) < n) cur.push_back(*fill);
            out.push_back(Value::list(std::move(cur)));
        }
        return Value::list(std::move(out));
    }
    if (name == "sum") {
        const Value* attr = arg(a, 0, "attribute");
        const Value* start = arg(a, 1, "start");
        MOE_ASSIGN(std::vector<Value> items, iterate(in, v, p));
        Value total = start ? *start : Value::integer(0);
        for (const auto& item : items) {
            Value x = item;
            if (attr && !attr->isNone()) {
                MOE_ASSIGN(x, attrPath(in, item, pyStr(*attr), p));
            }
            MOE_ASSIGN(total, pyArith(in, "+", total, x, p));
        }
        return total;
    }
    if (name == "min" || name == "max") return minMax(in, v, a, name == "max", p);
    if (name == "center") {
        MOE_ASSIGN(int64_t w, intArg(arg(a, 0, "width"), 80, "center", p));
        if (w > int64_t(in.options().maxOutputBytes)) return fail(p, "center: width too large");
        return sized(strCenter(str(), w));
    }
    if (name == "indent") return filterIndent(in, v, a, p);
    if (name == "wordcount") return Value::integer(strWordCount(str()));
    return fail(p, "unknown filter '" + name + "'");
}

// ---- globals

namespace {

Result<Value> globalRange(Interp& in, CallArgs& a) {
    if (a.pos.empty() || a.pos.size() > 3 || !a.kw.empty()) return Error{"range expects 1 to 3 integer arguments"};
    int64_t v[3] = {0, 0, 1};
    for (size_t i = 0; i < a.pos.size(); ++i) {
        if (!a.pos[i].isInt() && !a.pos[i].isBool())
            return Error{"'" + a.pos[i].typeName() + "' object cannot be interpreted as an integer"};
        v[i] = a.pos[i].asInt();
    }
    int64_t start = a.pos.size() == 1 ? 0 : v[0], stop = a.pos.size() == 1 ? v[0] : v[1],
            step = a.pos.size() == 3 ? v[2] : 1;
    if (step == 0) return Error{"range() arg 3 must not be zero"};
    long double n = step > 0 ? std::ceil((long double)(stop - (long double)start) / step)
                             : std::ceil(((long double)start - stop) / -(long double)step);
    if (n < 0) n = 0;
    if (n > 100000) return Error{"range too big: the sandbox blocks ranges larger than 100000"};
    MOE_TRY(in.charge(uint64_t(n), Pos{}));
    std::vector<Value> items;
    for (int64_t i = 0, x = start; i < int64_t(n); ++i, x += step) items.push_back(Value::integer(x));
    return Value::list(std::move(items));
}

Result<Dict> dictFrom(Interp& in, CallArgs& a, const char* what) {
    Dict d;
    if (a.pos.size() > 1) return Error{std::string(what) + " expected at most 1 positional argument"};
    if (!a.pos.empty()) {
        const Value& src = a.pos[0];
        if (src.isDict() || src.isNamespace()) {
            d.items = src.asDict().items;
        } else if (src.isList()) {
            for (const auto& e : src.asList().items) {
                if (!e.isList() || e.asList().items.size() != 2)
                    return Error{std::string(what) + ": sequence elements must be pairs"};
                d.set(e.asList().items[0], e.asList().items[1]);
            }
        } else {
            return Error{"'" + src.typeName() + "' object is not iterable"};
        }
    }
    for (auto& [k, v] : a.kw) d.set(Value::string(k), v);
    MOE_TRY(in.charge(d.items.size(), Pos{}));
    return d;
}

// "YYYY-MM-DD[ T]HH:MM[:SS]"
bool parseNow(const std::string& s, std::tm& tm) {
    int y = 0, mo = 0, d = 0, h = 0, mi = 0, sec = 0;
    char sep = 0;
    int n = std::sscanf(s.c_str(), "%d-%d-%d%c%d:%d:%d", &y, &mo, &d, &sep, &h, &mi, &sec);
    if (n != 3 && n < 6) return false;
    if (mo < 1 || mo > 12 || d < 1 || d > 31 || h < 0 || h > 23 || mi < 0 || mi > 59 || sec < 0 || sec > 60) return false;
    std::tm t{};
    t.tm_year = y - 1900;
    t.tm_mon = mo - 1;
    t.tm_mday = d;
    t.tm_hour = h;
    t.tm_min = mi;
    t.tm_sec = sec;
    time_t tt = timegm(&t);
    if (!gmtime_r(&tt, &tm)) return false;
    return true;
}

Result<Value> globalStrftime(Interp& in, CallArgs& a) {
    if (a.pos.size() != 1 || !a.pos[0].isString()) return Error{"strftime_now expects one format string"};
    const std::string& fmt = a.pos[0].asString();
    if (fmt.size() > 256) return Error{"strftime_now: format too long"};
    if (fmt.find('\0') != std::string::npos) return Error{"strftime_now: embedded null character"};
    std::tm tm{};
    if (!in.options().now.empty()) {
        if (!parseNow(in.options().now, tm)) return Error{"strftime_now: bad fixed time '" + in.options().now + "'"};
    } else {
        time_t t = std::time(nullptr);
        localtime_r(&t, &tm);
    }
    // datetime.strftime: %f, %z and %Z (naive time) are Python's own
    std::string f;
    for (size_t i = 0; i < fmt.size(); ++i) {
        if (fmt[i] == '%' && i + 1 < fmt.size()) {
            char c = fmt[i + 1];
            if (c == 'f') {
                f += "000000";
            } else if (c != 'z' && c != 'Z') {
                f += fmt.substr(i, 2);
            }
            ++i;
        } else {
            f += fmt[i];
        }
    }
    if (f.empty()) return Value::string("");
    std::string buf(8192, '\0');
    size_t n = std::strftime(buf.data(), buf.size(), f.c_str(), &tm);
    buf.resize(n);
    return Value::string(std::move(buf));
}

}  // namespace

std::map<std::string, Value> makeGlobals() {
    std::map<std::string, Value> g;
    g["range"] = Value::callable("range", [](Interp& in, CallArgs& a) { return globalRange(in, a); });
    g["namespace"] = Value::callable("namespace", [](Interp& in, CallArgs& a) -> Result<Value> {
        MOE_ASSIGN(Dict d, dictFrom(in, a, "namespace"));
        d.namespaceObject = true;
        return Value::dict(std::move(d));
    });
    g["dict"] = Value::callable("dict", [](Interp& in, CallArgs& a) -> Result<Value> {
        MOE_ASSIGN(Dict d, dictFrom(in, a, "dict"));
        return Value::dict(std::move(d));
    });
    g["raise_exception"] = Value::callable("raise_exception", [](Interp&, CallArgs& a) -> Result<Value> {
        std::string msg = a.pos.empty() ? std::string() : pyStr(a.pos[0]);
        for (char& c : msg)
            if (c == '\n' || c == '\r') c = ' ';
        return Error{"chat template: raise_exception: " + msg};
    });
    g["strftime_now"] = Value::callable("strftime_now", [](Interp& in, CallArgs& a) { return globalStrftime(in, a); });
    return g;
}

}  // namespace moe::jinja

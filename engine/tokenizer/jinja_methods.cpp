// Python methods of str, list and dict as chat templates call them (message.content.strip(),
// messages[0].get('role'), ns.items.append(x)); and the public Template API.
#include <algorithm>

#include "tokenizer/jinja_eval.h"
#include "tokenizer/jinja_strings.h"

namespace moe::jinja {

namespace {

const char* const kStrMethods[] = {"strip",     "lstrip",  "rstrip",     "split",      "rsplit",  "splitlines",
                                   "startswith", "endswith", "upper",     "lower",      "title",   "capitalize",
                                   "swapcase",  "replace", "find",       "rfind",      "index",   "rindex",
                                   "count",     "join",    "format",     "isdigit",    "isalpha", "isalnum",
                                   "isspace",   "isupper", "islower",    "isnumeric",  "isdecimal", "center",
                                   "ljust",     "rjust",   "zfill",      "removeprefix", "removesuffix", "casefold"};
const char* const kListMethods[] = {"append", "index", "count", "copy", "pop",     "extend",
                                    "insert", "remove", "clear", "sort", "reverse"};
const char* const kDictMethods[] = {"items", "keys",       "values", "get",    "copy",
                                    "pop",   "popitem",    "setdefault", "update", "clear"};

template <size_t N>
bool in(const char* const (&names)[N], const std::string& n) {
    return std::any_of(std::begin(names), std::end(names), [&](const char* x) { return n == x; });
}

Error fail(Pos p, const std::string& msg) { return p.line > 0 ? errorAt(p, msg) : Error{msg}; }

const Value* arg(const CallArgs& a, size_t i, const char* name) {
    if (i < a.pos.size()) return &a.pos[i];
    return a.get(name);
}

Result<const std::string*> strArg(const CallArgs& a, size_t i, const char* name, const std::string& method, Pos p) {
    const Value* v = arg(a, i, name);
    if (!v || v->isNone()) return static_cast<const std::string*>(nullptr);
    if (!v->isString()) return fail(p, method + "() argument must be str or None, not " + v->typeName());
    return &v->asString();
}

Result<int64_t> intArg(const CallArgs& a, size_t i, const char* name, int64_t def, Pos p) {
    const Value* v = arg(a, i, name);
    if (!v || v->isNone()) return def;
    if (!v->isInt() && !v->isBool())
        return fail(p, "'" + v->typeName() + "' object cannot be interpreted as an integer");
    return v->asInt();
}

Value strList(std::vector<std::string> parts) {
    std::vector<Value> items;
    items.reserve(parts.size());
    for (auto& s : parts) items.push_back(Value::string(std::move(s)));
    return Value::list(std::move(items));
}

// str.format: {} {0} {name} with !r / !s; format specs are not supported.
Result<Value> strFormat(Interp& in, const std::string& fmt, CallArgs& a, Pos p) {
    std::string out;
    size_t autoIdx = 0;
    for (size_t i = 0; i < fmt.size(); ++i) {
        char c = fmt[i];
        if (c == '}') {
            if (i + 1 < fmt.size() && fmt[i + 1] == '}') {
                out += '}';
                ++i;
                continue;
            }
            return fail(p, "format: single '}' encountered in format string");
        }
        if (c != '{') {
            out += c;
            continue;
        }
        if (i + 1 < fmt.size() && fmt[i + 1] == '{') {
            out += '{';
            ++i;
            continue;
        }
        size_t e = fmt.find('}', i);
        if (e == std::string::npos) return fail(p, "format: single '{' encountered in format string");
        std::string field = fmt.substr(i + 1, e - i - 1);
        i = e;
        char conv = 0;
        size_t bang = field.find('!');
        if (bang != std::string::npos) {
            if (bang + 2 != field.size()) return fail(p, "format: bad conversion");
            conv = field[bang + 1];
            field.resize(bang);
        }
        if (field.find(':') != std::string::npos) return fail(p, "format: format specifications are not supported");
        const Value* v = nullptr;
        if (field.empty()) {
            if (autoIdx >= a.pos.size()) return fail(p, "format: replacement index out of range");
            v = &a.pos[autoIdx++];
        } else if (std::all_of(field.begin(), field.end(), [](char ch) { return ch >= '0' && ch <= '9'; })) {
            size_t k = field.size() < 9 ? size_t(std::stoul(field)) : SIZE_MAX;
            if (k >= a.pos.size()) return fail(p, "format: replacement index out of range");
            v = &a.pos[k];
        } else {
            v = a.get(field);
            if (!v) return fail(p, "format: no argument named '" + field + "'");
        }
        if (conv == 'r') out += pyRepr(*v);
        else if (conv == 's' || conv == 0) out += pyStr(*v);
        else return fail(p, "format: unknown conversion");
        MOE_TRY(in.checkSize(out.size(), p));
    }
    return Value::string(std::move(out));
}

Result<bool> affix(const std::string& s, const CallArgs& a, bool prefix, Pos p) {
    const Value* v = arg(a, 0, "prefix");
    if (!v) return fail(p, std::string(prefix ? "startswith" : "endswith") + "() takes at least 1 argument");
    auto test = [&](const Value& x) -> Result<bool> {
        if (!x.isString()) return fail(p, "startswith/endswith first arg must be str or a tuple of str");
        const std::string& t = x.asString();
        if (t.size() > s.size()) return false;
        return prefix ? s.compare(0, t.size(), t) == 0 : s.compare(s.size() - t.size(), t.size(), t) == 0;
    };
    if (v->isList()) {
        for (const auto& x : v->asList().items) {
            MOE_ASSIGN(bool r, test(x));
            if (r) return true;
        }
        return false;
    }
    return test(*v);
}

template <class Pred>
bool allCps(const std::string& s, Pred pred) {
    if (s.empty()) return false;
    for (size_t i = 0; i < s.size();)
        if (!pred(utf8Decode(s, i))) return false;
    return true;
}

Result<Value> strMethod(Interp& in, const std::string& s, const std::string& m, CallArgs& a, Pos p) {
    auto sized = [&](std::string r) -> Result<Value> {
        MOE_TRY(in.checkSize(r.size(), p));
        MOE_TRY(in.charge(r.size() / 64, p));
        return Value::string(std::move(r));
    };
    if (m == "strip" || m == "lstrip" || m == "rstrip") {
        MOE_ASSIGN(const std::string* chars, strArg(a, 0, "chars", m, p));
        return Value::string(strStrip(s, chars, m != "rstrip", m != "lstrip"));
    }
    if (m == "split" || m == "rsplit") {
        MOE_ASSIGN(const std::string* sep, strArg(a, 0, "sep", m, p));
        MOE_ASSIGN(int64_t maxsplit, intArg(a, 1, "maxsplit", -1, p));
        MOE_TRY(in.charge(s.size() / 16, p));
        auto parts = strSplit(s, sep, maxsplit, m == "rsplit");
        if (!parts.ok()) return fail(p, parts.error().message);
        return strList(std::move(parts).value());
    }
    if (m == "splitlines") {
        const Value* keep = arg(a, 0, "keepends");
        return strList(strSplitLines(s, keep && keep->truthy()));
    }
    if (m == "startswith" || m == "endswith") {
        MOE_ASSIGN(bool r, affix(s, a, m == "startswith", p));
        return Value::boolean(r);
    }
    if (m == "upper") return sized(strUpper(s));
    if (m == "lower" || m == "casefold") return sized(strLower(s));
    if (m == "title") return sized(strTitle(s));
    if (m == "capitalize") return sized(strCapitalize(s));
    if (m == "swapcase") return sized(strSwapcase(s));
    if (m == "replace") {
        const Value* o = arg(a, 0, "old");
        const Value* n = arg(a, 1, "new");
        if (!o || !n || !o->isString() || !n->isString()) return fail(p, "replace() expects two strings");
        MOE_ASSIGN(int64_t count, intArg(a, 2, "count", -1, p));
        auto r = strReplace(s, o->asString(), n->asString(), count, in.options().maxOutputBytes);
        if (!r.ok()) return fail(p, r.error().message);
        return sized(std::move(r).value());
    }
    if (m == "find" || m == "rfind" || m == "index" || m == "rindex" || m == "count") {
        const Value* sub = arg(a, 0, "sub");
        if (!sub || !sub->isString()) return fail(p, "must be str, not " + (sub ? sub->typeName() : "nothing"));
        const std::string& t = sub->asString();
        if (m == "count") {
            if (t.empty()) return Value::integer(int64_t(utf8Length(s)) + 1);
            int64_t n = 0;
            for (size_t k = s.find(t); k != std::string::npos; k = s.find(t, k + t.size())) ++n;
            return Value::integer(n);
        }
        size_t k = (m == "find" || m == "index") ? s.find(t) : s.rfind(t);
        if (k == std::string::npos) {
            if (m == "index" || m == "rindex") return fail(p, "substring not found");
            return Value::integer(-1);
        }
        return Value::integer(int64_t(utf8Length(std::string_view(s).substr(0, k))));
    }
    if (m == "join") {
        const Value* it = arg(a, 0, "iterable");
        if (!it) return fail(p, "join() takes exactly one argument");
        MOE_ASSIGN(std::vector<Value> items, iterate(in, *it, p));
        std::string out;
        for (size_t i = 0; i < items.size(); ++i) {
            if (!items[i].isString())
                return fail(p, "sequence item " + std::to_string(i) + ": expected str instance, " + items[i].typeName() +
                                   " found");
            if (i) out += s;
            out += items[i].asString();
            MOE_TRY(in.checkSize(out.size(), p));
        }
        return sized(std::move(out));
    }
    if (m == "format") return strFormat(in, s, a, p);
    if (m == "isdigit" || m == "isnumeric" || m == "isdecimal")
        return Value::boolean(allCps(s, [](uint32_t c) { return c >= '0' && c <= '9'; }));
    if (m == "isalpha")
        return Value::boolean(allCps(s, [](uint32_t c) {
            return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= 0xC0 && c != 0xD7 && c != 0xF7 && !isPyWhitespace(c));
        }));
    if (m == "isalnum")
        return Value::boolean(allCps(s, [](uint32_t c) {
            return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                   (c >= 0xC0 && c != 0xD7 && c != 0xF7 && !isPyWhitespace(c));
        }));
    if (m == "isspace") return Value::boolean(allCps(s, isPyWhitespace));
    if (m == "isupper") return Value::boolean(strIsUpper(s));
    if (m == "islower") return Value::boolean(strIsLower(s));
    if (m == "center" || m == "ljust" || m == "rjust" || m == "zfill") {
        MOE_ASSIGN(int64_t w, intArg(a, 0, "width", 0, p));
        if (w > int64_t(in.options().maxOutputBytes)) return fail(p, m + ": width too large");
        std::string fill = " ";
        if (m != "zfill") {
            MOE_ASSIGN(const std::string* f, strArg(a, 1, "fillchar", m, p));
            if (f) {
                if (utf8Length(*f) != 1) return fail(p, "The fill character must be exactly one character long");
                fill = *f;
            }
        }
        int64_t len = int64_t(utf8Length(s));
        if (w <= len) return Value::string(s);
        if (m == "center") return sized(strCenter(s, w, fill));
        std::string pad;
        for (int64_t i = len; i < w; ++i) pad += m == "zfill" ? "0" : fill;
        if (m == "zfill") {
            if (!s.empty() && (s[0] == '+' || s[0] == '-')) return sized(s.substr(0, 1) + pad + s.substr(1));
            return sized(pad + s);
        }
        return sized(m == "ljust" ? s + pad : pad + s);
    }
    if (m == "removeprefix" || m == "removesuffix") {
        MOE_ASSIGN(const std::string* t, strArg(a, 0, "prefix", m, p));
        if (!t) return fail(p, m + "() argument must be str");
        if (m == "removeprefix" && s.compare(0, t->size(), *t) == 0) return Value::string(s.substr(t->size()));
        if (m == "removesuffix" && !t->empty() && s.size() >= t->size() &&
            s.compare(s.size() - t->size(), t->size(), *t) == 0)
            return Value::string(s.substr(0, s.size() - t->size()));
        return Value::string(s);
    }
    return fail(p, "'str' object has no attribute '" + m + "'");
}

}  // namespace

bool hasMethod(const Value& self, const std::string& name) {
    if (self.isString()) return in(kStrMethods, name);
    if (self.isList() && !self.isTuple()) return in(kListMethods, name);
    if (self.isTuple()) return name == "index" || name == "count";
    if (self.isDict()) return in(kDictMethods, name);
    return false;
}

Result<Value> callMethod(Interp& in, const Value& self, const std::string& m, CallArgs& a, Pos p) {
    MOE_TRY(in.charge(1, p));
    if (self.isString()) return strMethod(in, self.asString(), m, a, p);
    if (self.isList()) {
        const auto& items = self.asList().items;
        if (m == "append") {
            if (a.pos.size() != 1 || !a.kw.empty()) return fail(p, "list.append() takes exactly one argument");
            MOE_TRY(in.checkNoCycle(a.pos[0], self.identity(), p));
            MOE_TRY(in.checkSize(items.size() + 1, p));
            self.mutList().items.push_back(a.pos[0]);
            return Value::none();
        }
        if (m == "index" || m == "count") {
            if (a.pos.empty()) return fail(p, m + "() takes at least 1 argument");
            MOE_TRY(in.charge(items.size(), p));
            int64_t n = 0;
            for (size_t i = 0; i < items.size(); ++i) {
                if (!pyEqual(items[i], a.pos[0])) continue;
                if (m == "index") return Value::integer(int64_t(i));
                ++n;
            }
            if (m == "index") return fail(p, pyRepr(a.pos[0]) + " is not in list");
            return Value::integer(n);
        }
        if (m == "copy") return Value::list(items, self.isTuple());
        return fail(p, "access to attribute '" + m + "' of 'list' object is unsafe");
    }
    if (self.isDict()) {
        const Dict& d = self.asDict();
        if (m == "items" || m == "keys" || m == "values") {
            MOE_TRY(in.charge(d.items.size(), p));
            std::vector<Value> out;
            out.reserve(d.items.size());
            for (const auto& [k, v] : d.items)
                out.push_back(m == "items" ? Value::list({k, v}, true) : m == "keys" ? k : v);
            return Value::list(std::move(out));
        }
        if (m == "get") {
            const Value* k = arg(a, 0, "key");
            if (!k) return fail(p, "get expected at least 1 argument");
            if (const Value* v = d.find(*k)) return *v;
            const Value* def = arg(a, 1, "default");
            return def ? *def : Value::none();
        }
        if (m == "copy") return Value::dict(d);
        return fail(p, "access to attribute '" + m + "' of 'dict' object is unsafe");
    }
    return fail(p, "'" + self.typeName() + "' object has no attribute '" + m + "'");
}

// ---- Template

Result<Template> Template::parse(std::string_view source) { return parse(source, RenderOptions{}); }

Result<Template> Template::parse(std::string_view source, const RenderOptions& o) {
    LexOptions lo;
    lo.trimBlocks = o.trimBlocks;
    lo.lstripBlocks = o.lstripBlocks;
    MOE_ASSIGN(std::vector<Token> toks, lex(source, lo));
    MOE_ASSIGN(NodePtr root, parseTemplate(std::move(toks)));
    Template t;
    t.root_ = std::shared_ptr<const Node>(std::move(root));
    return t;
}

Result<std::string> Template::render(const nlohmann::ordered_json& context, const RenderOptions& o) const {
    if (!root_) return Error{"chat template: no template parsed"};
    Interp in(o);
    return in.render(*root_, context);
}

}  // namespace moe::jinja

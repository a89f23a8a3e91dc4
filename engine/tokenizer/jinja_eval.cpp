#include "tokenizer/jinja_eval.h"

#include <algorithm>

namespace moe::jinja {

Value* Scope::find(const std::string& name) {
    for (auto& [k, v] : vars)
        if (k == name) return &v;
    return nullptr;
}

void Scope::set(const std::string& name, Value v) {
    if (Value* old = find(name))
        *old = std::move(v);
    else
        vars.emplace_back(name, std::move(v));
}

Interp::Interp(const RenderOptions& o) : o_(o) {}

Status Interp::charge(uint64_t steps, Pos p) {
    steps_ += steps;
    if (steps_ > o_.maxSteps)
        return errorAt(p, "evaluation step limit exceeded (" + std::to_string(o_.maxSteps) + " steps)");
    return {};
}

Status Interp::checkSize(size_t n, Pos p) const {
    if (n > o_.maxOutputBytes)
        return errorAt(p, "value too large (over the output limit of " + std::to_string(o_.maxOutputBytes) + " bytes)");
    return {};
}

Error Interp::undefinedError(const Value& u, Pos p) const {
    const std::string& n = u.asString();
    return errorAt(p, n.empty() ? std::string("value is undefined") : "'" + n + "' is undefined");
}

Status Interp::checkNoCycle(const Value& v, const void* target, Pos p) {
    std::vector<const Value*> stack{&v};
    uint64_t visited = 0;
    while (!stack.empty()) {
        const Value* x = stack.back();
        stack.pop_back();
        if (++visited % 64 == 0) MOE_TRY(charge(64, p));
        if (x->identity() == target && target) return errorAt(p, "a container cannot contain itself");
        if (x->isList()) {
            for (const auto& e : x->asList().items) stack.push_back(&e);
        } else if (x->kind() == Value::Kind::Dict) {
            for (const auto& [k, e] : x->asDict().items) stack.push_back(&e);
        } else if (x->isCallable()) {
            for (const auto& e : x->asCallable().captures) stack.push_back(&e);
        }
    }
    return {};
}

Value Interp::lookup(const std::string& name) {
    for (Scope* s = cur_.get(); s; s = s->parent.get())
        if (Value* v = s->find(name)) return *v;
    auto it = globals_.find(name);
    if (it != globals_.end()) return it->second;
    return Value::undefined(name);
}

Status Interp::emit(const std::string& s, Pos p) {
    std::string& out = out_.back();
    if (out.size() + s.size() > o_.maxOutputBytes)
        return errorAt(p, "output exceeds the limit of " + std::to_string(o_.maxOutputBytes) + " bytes");
    out += s;
    return {};
}

Result<std::string> Interp::capture(const Node& body) {
    out_.emplace_back();
    auto r = exec(body);
    std::string s = std::move(out_.back());
    out_.pop_back();
    if (!r.ok()) return std::move(r).takeError();
    return s;
}

Result<std::string> Interp::render(const Node& root, const nlohmann::ordered_json& context) {
    if (!context.is_object()) return Error{"chat template: the context must be a JSON object"};
    stackBase_ = uintptr_t(__builtin_frame_address(0));
    globals_ = makeGlobals();
    root_ = std::make_shared<Scope>();
    for (auto it = context.begin(); it != context.end(); ++it) root_->set(it.key(), Value::fromJson(it.value()));
    cur_ = root_;
    out_.assign(1, std::string());
    auto r = exec(root);
    if (!r.ok()) return std::move(r).takeError();
    return std::move(out_.front());
}

// ---- statements

Result<Interp::Flow> Interp::exec(const Node& n) {
    DepthGuard g(depth_);
    if (depth_ > kMaxEvalDepth || stackExhausted()) return errorAt(n.pos, "evaluation nested too deeply");
    MOE_TRY(charge(1, n.pos));
    switch (n.kind) {
        case NodeKind::Body:
            for (const auto& k : n.kids) {
                MOE_ASSIGN(Flow f, exec(*k));
                if (f != Flow::Normal) return f;
            }
            return Flow::Normal;
        case NodeKind::Data: MOE_TRY(emit(n.str, n.pos)); return Flow::Normal;
        case NodeKind::Output: {
            MOE_ASSIGN(Value v, eval(*n.kids[0]));
            if (v.isString()) {
                MOE_TRY(emit(v.asString(), n.pos));
            } else {
                MOE_TRY(emit(pyStr(v), n.pos));
            }
            return Flow::Normal;
        }
        case NodeKind::If: {
            size_t pairs = (n.kids.size() - (n.flag ? 1 : 0)) / 2;
            for (size_t i = 0; i < pairs; ++i) {
                MOE_ASSIGN(Value c, eval(*n.kids[2 * i]));
                if (c.truthy()) return exec(*n.kids[2 * i + 1]);
            }
            if (n.flag) return exec(*n.kids.back());
            return Flow::Normal;
        }
        case NodeKind::For: return execFor(n);
        case NodeKind::Set: {
            MOE_ASSIGN(Value v, eval(*n.kids[1]));
            MOE_TRY(assign(*n.kids[0], std::move(v)));
            return Flow::Normal;
        }
        case NodeKind::SetBlock: {
            MOE_ASSIGN(std::string s, capture(*n.kids[1]));
            MOE_ASSIGN(Value v, applyFilters(n, 2, Value::string(std::move(s))));
            MOE_TRY(assign(*n.kids[0], std::move(v)));
            return Flow::Normal;
        }
        case NodeKind::FilterBlock: {
            MOE_ASSIGN(std::string s, capture(*n.kids[0]));
            MOE_ASSIGN(Value v, applyFilters(n, 1, Value::string(std::move(s))));
            MOE_TRY(emit(pyStr(v), n.pos));
            return Flow::Normal;
        }
        case NodeKind::Macro: {
            const Node* m = &n;
            cur_->set(n.str, Value::callable(n.str, [m](Interp& in, CallArgs& a) { return in.callMacro(*m, a, m->pos); }));
            return Flow::Normal;
        }
        case NodeKind::CallBlock: {
            const Node* block = &n;
            std::weak_ptr<Scope> site = cur_;
            Value caller = Value::callable("caller", [block, site](Interp& in, CallArgs& a) {
                return in.callCaller(*block, site, a, block->pos);
            });
            const Node& call = *n.kids[0];
            MOE_ASSIGN(Value fn, eval(*call.kids[0]));
            CallArgs args;
            MOE_TRY(evalArgs(call, 1, args));
            args.kw.emplace_back("caller", std::move(caller));
            MOE_ASSIGN(Value v, this->call(fn, args, call.pos));
            MOE_TRY(emit(pyStr(v), n.pos));
            return Flow::Normal;
        }
        case NodeKind::With: {
            auto saved = cur_;
            auto s = std::make_shared<Scope>();
            s->parent = saved;
            cur_ = s;
            for (size_t i = 0; i < n.names.size(); ++i) {
                auto v = eval(*n.kids[i]);
                if (!v.ok()) {
                    cur_ = saved;
                    return std::move(v).takeError();
                }
                s->set(n.names[i], std::move(v).value());
            }
            auto r = exec(*n.kids.back());
            cur_ = saved;
            return r;
        }
        case NodeKind::Break: return Flow::Break;
        case NodeKind::Continue: return Flow::Continue;
        default: {
            MOE_ASSIGN(Value v, eval(n));
            (void)v;
            return Flow::Normal;
        }
    }
}

Result<Value> Interp::applyFilters(const Node& block, size_t first, Value v) {
    for (size_t i = first; i < block.kids.size(); ++i) {
        const Node& f = *block.kids[i];
        CallArgs args;
        MOE_TRY(evalArgs(f, 1, args));
        MOE_ASSIGN(v, callFilter(*this, f.str, v, args, f.pos));
    }
    return v;
}

namespace {

Result<std::vector<Value>> unpack(Interp& in, const Value& v, size_t n, Pos p) {
    if (!v.isList() && !v.isString() && !v.isDict())
        return errorAt(p, "cannot unpack non-iterable " + v.typeName() + " object");
    MOE_ASSIGN(std::vector<Value> items, iterate(in, v, p));
    if (items.size() != n)
        return errorAt(p, items.size() < n ? "not enough values to unpack (expected " + std::to_string(n) + ", got " +
                                                 std::to_string(items.size()) + ")"
                                           : "too many values to unpack (expected " + std::to_string(n) + ")");
    return items;
}

}  // namespace

Status Interp::assign(const Node& target, Value v) {
    if (target.kind == NodeKind::Name) {
        cur_->set(target.str, std::move(v));
        return {};
    }
    if (target.kind == NodeKind::NsAttr) {
        Value ns = lookup(target.str);
        if (!ns.isNamespace()) return errorAt(target.pos, "cannot assign attribute on non-namespace object");
        MOE_TRY(checkNoCycle(v, ns.identity(), target.pos));
        ns.mutDict().set(Value::string(target.names[0]), std::move(v));
        return {};
    }
    MOE_ASSIGN(std::vector<Value> items, unpack(*this, v, target.kids.size(), target.pos));
    for (size_t i = 0; i < items.size(); ++i) cur_->set(target.kids[i]->str, std::move(items[i]));
    return {};
}

Result<Interp::Flow> Interp::execFor(const Node& n) {
    MOE_ASSIGN(Value seq, eval(*n.kids[0]));
    if (seq.isNone() || seq.isNumber() || seq.isCallable() || seq.isNamespace())
        return errorAt(n.kids[0]->pos, "'" + seq.typeName() + "' object is not iterable");
    MOE_ASSIGN(std::vector<Value> items, iterate(*this, seq, n.kids[0]->pos));
    MOE_TRY(charge(items.size(), n.pos));
    auto saved = cur_;
    struct Restore {
        std::shared_ptr<Scope>& cur;
        std::shared_ptr<Scope> saved;
        ~Restore() { cur = saved; }
    } restore{cur_, saved};

    auto bind = [&](Scope& s, const Value& item) -> Status {
        if (!n.flag2) {
            s.set(n.names[0], item);
            return {};
        }
        MOE_ASSIGN(std::vector<Value> parts, unpack(*this, item, n.names.size(), n.pos));
        for (size_t i = 0; i < parts.size(); ++i) s.set(n.names[i], std::move(parts[i]));
        return {};
    };
    if (n.kids[1]) {  // for ... if cond: filter first, so loop.length counts what remains
        std::vector<Value> kept;
        for (auto& item : items) {
            auto s = std::make_shared<Scope>();
            s->parent = saved;
            cur_ = s;
            MOE_TRY(bind(*s, item));
            MOE_ASSIGN(Value c, eval(*n.kids[1]));
            if (c.truthy()) kept.push_back(std::move(item));
        }
        cur_ = saved;
        items = std::move(kept);
    }
    if (items.empty()) {
        if (n.kids[3]) return exec(*n.kids[3]);
        return Flow::Normal;
    }
    auto index = std::make_shared<int64_t>(0);
    Value cycle = Value::callable("cycle", [index](Interp&, CallArgs& a) -> Result<Value> {
        if (a.pos.empty()) return Error{"chat template: loop.cycle: no items given"};
        return a.pos[size_t(*index) % a.pos.size()];
    });
    const int64_t len = int64_t(items.size());
    for (int64_t i = 0; i < len; ++i) {
        *index = i;
        auto s = std::make_shared<Scope>();
        s->parent = saved;
        cur_ = s;
        MOE_TRY(bind(*s, items[size_t(i)]));
        Dict loop;
        auto put = [&](const char* k, Value v) { loop.items.emplace_back(Value::string(k), std::move(v)); };
        put("index", Value::integer(i + 1));
        put("index0", Value::integer(i));
        put("revindex", Value::integer(len - i));
        put("revindex0", Value::integer(len - i - 1));
        put("first", Value::boolean(i == 0));
        put("last", Value::boolean(i == len - 1));
        put("length", Value::integer(len));
        put("previtem", i > 0 ? items[size_t(i - 1)] : Value::undefined("previtem"));
        put("nextitem", i + 1 < len ? items[size_t(i + 1)] : Value::undefined("nextitem"));
        put("depth", Value::integer(1));
        put("depth0", Value::integer(0));
        put("cycle", cycle);
        s->set("loop", Value::dict(std::move(loop)));
        MOE_ASSIGN(Flow f, exec(*n.kids[2]));
        if (f == Flow::Break) break;
    }
    return Flow::Normal;
}

// ---- macros

Status Interp::bindParams(const Node& def, size_t firstDefault, const std::vector<std::string>& params,
                          CallArgs& args, const std::string& what, Pos p) {
    Scope& s = *cur_;
    std::vector<bool> bound(params.size(), false);
    std::vector<Value> extra;
    for (size_t i = 0; i < args.pos.size(); ++i) {
        if (i < params.size()) {
            s.set(params[i], std::move(args.pos[i]));
            bound[i] = true;
        } else {
            extra.push_back(std::move(args.pos[i]));
        }
    }
    bool isMacro = def.kind == NodeKind::Macro;
    if (!extra.empty() && !(isMacro && def.flag2))
        return errorAt(p, what + " takes not more than " + std::to_string(params.size()) + " argument(s)");
    Dict kwargs;
    Value caller = Value::undefined("caller");
    for (auto& [k, v] : args.kw) {
        auto it = std::find(params.begin(), params.end(), k);
        if (it != params.end()) {
            size_t i = size_t(it - params.begin());
            if (bound[i]) return errorAt(p, what + " got multiple values for argument '" + k + "'");
            s.set(k, std::move(v));
            bound[i] = true;
        } else if (k == "caller" && isMacro) {
            caller = std::move(v);
        } else if (isMacro && def.flag3) {
            kwargs.set(Value::string(k), std::move(v));
        } else {
            return errorAt(p, what + " takes no keyword argument '" + k + "'");
        }
    }
    for (size_t i = 0; i < params.size(); ++i) {
        if (bound[i]) continue;
        const Node* d = def.kids[firstDefault + i].get();
        if (d) {
            MOE_ASSIGN(Value v, eval(*d));
            s.set(params[i], std::move(v));
        } else {
            s.set(params[i], Value::undefined(params[i]));
        }
    }
    if (isMacro) {
        if (def.flag2) s.set("varargs", Value::list(std::move(extra), true));
        if (def.flag3) s.set("kwargs", Value::dict(std::move(kwargs)));
        if (def.flag4) s.set("caller", std::move(caller));
    }
    return {};
}

Result<Value> Interp::callMacro(const Node& macro, CallArgs& args, Pos p) {
    if (macroDepth_ >= o_.maxDepth)
        return Error{"macro calls nested too deeply (limit " + std::to_string(o_.maxDepth) + ")"};  // call() adds the call's position
    DepthGuard g(macroDepth_);
    auto saved = cur_;
    auto s = std::make_shared<Scope>();
    s->parent = root_;
    cur_ = s;
    Status st = bindParams(macro, 1, macro.names, args, "macro '" + macro.str + "'", p);
    Result<std::string> out = st.ok() ? capture(*macro.kids[0]) : Result<std::string>(st.error());
    cur_ = saved;
    if (!out.ok()) return std::move(out).takeError();
    return Value::string(std::move(out).value());
}

Result<Value> Interp::callCaller(const Node& block, const std::weak_ptr<Scope>& site, CallArgs& args, Pos p) {
    auto parent = site.lock();
    if (!parent) return errorAt(p, "caller() called after its call block ended");
    if (macroDepth_ >= o_.maxDepth)
        return Error{"macro calls nested too deeply (limit " + std::to_string(o_.maxDepth) + ")"};  // call() adds the call's position
    DepthGuard g(macroDepth_);
    auto saved = cur_;
    auto s = std::make_shared<Scope>();
    s->parent = parent;
    cur_ = s;
    Status st = bindParams(block, 2, block.names, args, "caller", p);
    Result<std::string> out = st.ok() ? capture(*block.kids[1]) : Result<std::string>(st.error());
    cur_ = saved;
    if (!out.ok()) return std::move(out).takeError();
    return Value::string(std::move(out).value());
}

Result<Value> Interp::call(const Value& fn, CallArgs& args, Pos p) {
    if (fn.isCallable()) {
        // Builtins report errors without a position: add the call's.
        auto r = fn.asCallable().fn(*this, args);
        if (!r.ok() && r.error().message.rfind("chat template: ", 0) != 0) return errorAt(p, r.error().message);
        return r;
    }
    if (fn.isUndefined()) return undefinedError(fn, p);
    return errorAt(p, "'" + fn.typeName() + "' object is not callable");
}

// ---- expressions

Status Interp::evalArgs(const Node& e, size_t first, CallArgs& out) {
    for (size_t i = first; i < e.kids.size(); ++i) {
        MOE_ASSIGN(Value v, eval(*e.kids[i]));
        const std::string& kw = e.names[i - 1];
        if (kw.empty()) {
            out.pos.push_back(std::move(v));
        } else {
            if (out.get(kw)) return errorAt(e.kids[i]->pos, "keyword argument repeated: '" + kw + "'");
            out.kw.emplace_back(kw, std::move(v));
        }
    }
    return {};
}

Result<Value> Interp::getAttr(const Value& obj, const std::string& name, Pos p) {
    if (obj.isUndefined()) return undefinedError(obj, p);
    if (!name.empty() && name[0] == '_')
        return errorAt(p, "access to attribute '" + name + "' of '" + obj.typeName() + "' object is unsafe");
    if (obj.isNamespace()) {
        if (const Value* v = obj.asDict().find(std::string_view(name))) return *v;
        return Value::undefined(name);
    }
    if (hasMethod(obj, name)) {
        std::string n = name;
        return Value::callable(name, [obj, n](Interp& in, CallArgs& a) { return callMethod(in, obj, n, a, Pos{}); },
                               {obj});
    }
    if (obj.isDict()) {
        if (const Value* v = obj.asDict().find(std::string_view(name))) return *v;
    }
    return Value::undefined(name);
}

Result<Value> Interp::getItem(const Value& obj, const Value& key, Pos p) {
    if (obj.isUndefined()) return undefinedError(obj, p);
    if (obj.isDict()) {
        if (const Value* v = obj.asDict().find(key)) return *v;
    } else if ((obj.isList() || obj.isString()) && (key.isInt() || key.isBool())) {
        int64_t i = key.asInt();
        if (obj.isList()) {
            const auto& items = obj.asList().items;
            int64_t n = int64_t(items.size());
            if (i < 0) i += n;
            if (i >= 0 && i < n) return items[size_t(i)];
        } else {
            const std::string& s = obj.asString();
            auto off = utf8Offsets(s);
            int64_t n = int64_t(off.size()) - 1;
            if (i < 0) i += n;
            if (i >= 0 && i < n) return Value::string(s.substr(off[size_t(i)], off[size_t(i) + 1] - off[size_t(i)]));
        }
        return Value::undefined(pyStr(key));
    }
    if (key.isString()) return getAttr(obj, key.asString(), p);
    return Value::undefined(pyStr(key));
}

namespace {

// PySlice_AdjustIndices
void adjustSlice(int64_t len, int64_t& start, int64_t& stop, int64_t step, bool hasStart, bool hasStop) {
    if (!hasStart) start = step < 0 ? len - 1 : 0;
    else if (start < 0) {
        start += len;
        if (start < 0) start = step < 0 ? -1 : 0;
    } else if (start >= len) start = step < 0 ? len - 1 : len;
    if (!hasStop) stop = step < 0 ? -1 : len;
    else if (stop < 0) {
        stop += len;
        if (stop < 0) stop = step < 0 ? -1 : 0;
    } else if (stop >= len) stop = step < 0 ? len - 1 : len;
}

}  // namespace

Result<Value> Interp::slice(const Value& obj, const Node& e) {
    int64_t v[3] = {0, 0, 1};
    bool has[3] = {false, false, false};
    for (int k = 0; k < 3; ++k) {
        if (!e.kids[size_t(k) + 1]) continue;
        MOE_ASSIGN(Value x, eval(*e.kids[size_t(k) + 1]));
        if (x.isNone()) continue;
        if (!x.isInt() && !x.isBool())
            return errorAt(e.pos, "slice indices must be integers or None, not " + x.typeName());
        v[k] = x.asInt();
        has[k] = true;
    }
    int64_t step = has[2] ? v[2] : 1;
    if (step == 0) return errorAt(e.pos, "slice step cannot be zero");
    if (obj.isUndefined()) return undefinedError(obj, e.pos);
    if (!obj.isList() && !obj.isString()) return errorAt(e.pos, "'" + obj.typeName() + "' object is not subscriptable");
    std::vector<size_t> off;
    int64_t len;
    if (obj.isString()) {
        off = utf8Offsets(obj.asString());
        len = int64_t(off.size()) - 1;
    } else {
        len = int64_t(obj.asList().items.size());
    }
    int64_t start = v[0], stop = v[1];
    adjustSlice(len, start, stop, step, has[0], has[1]);
    std::vector<int64_t> idx;
    if (step > 0)
        for (int64_t i = start; i < stop; i += step) idx.push_back(i);
    else
        for (int64_t i = start; i > stop; i += step) idx.push_back(i);
    MOE_TRY(charge(idx.size(), e.pos));
    if (obj.isString()) {
        const std::string& s = obj.asString();
        std::string r;
        for (int64_t i : idx) r.append(s, off[size_t(i)], off[size_t(i) + 1] - off[size_t(i)]);
        return Value::string(std::move(r));
    }
    std::vector<Value> r;
    r.reserve(idx.size());
    for (int64_t i : idx) r.push_back(obj.asList().items[size_t(i)]);
    return Value::list(std::move(r), obj.isTuple());
}

Result<Value> Interp::evalCall(const Node& e) {
    const Node& callee = *e.kids[0];
    CallArgs args;
    if (callee.kind == NodeKind::Attr) {  // method call: skip building a bound method
        MOE_ASSIGN(Value obj, eval(*callee.kids[0]));
        if (!obj.isUndefined() && !obj.isNamespace() && !callee.str.empty() && callee.str[0] != '_' &&
            hasMethod(obj, callee.str)) {
            MOE_TRY(evalArgs(e, 1, args));
            return callMethod(*this, obj, callee.str, args, callee.pos);
        }
        MOE_ASSIGN(Value fn, getAttr(obj, callee.str, callee.pos));
        MOE_TRY(evalArgs(e, 1, args));
        return call(fn, args, e.pos);
    }
    MOE_ASSIGN(Value fn, eval(callee));
    MOE_TRY(evalArgs(e, 1, args));
    return call(fn, args, e.pos);
}

Result<Value> Interp::evalCompare(const Node& e) {
    MOE_ASSIGN(Value left, eval(*e.kids[0]));
    for (size_t i = 0; i < e.names.size(); ++i) {
        MOE_ASSIGN(Value right, eval(*e.kids[i + 1]));
        const std::string& op = e.names[i];
        bool r = false;
        if (op == "==") {
            r = pyEqual(left, right);
        } else if (op == "!=") {
            r = !pyEqual(left, right);
        } else if (op == "in" || op == "notin") {
            MOE_ASSIGN(bool c, pyContains(right, left, e.kids[i + 1]->pos));
            r = op == "in" ? c : !c;
        } else {
            const Value& a = (op == "<" || op == "<=") ? left : right;
            const Value& b = (op == "<" || op == "<=") ? right : left;
            if (a.isUndefined()) return undefinedError(a, e.pos);
            if (b.isUndefined()) return undefinedError(b, e.pos);
            auto lt = pyLess(a, b);
            if (!lt.ok()) return errorAt(e.pos, lt.error().message);
            r = *lt;
            if (!r && (op == "<=" || op == ">=")) r = pyEqual(a, b);
        }
        if (!r) return Value::boolean(false);
        left = std::move(right);
    }
    return Value::boolean(true);
}

Result<Value> Interp::evalBinary(const Node& e) {
    const std::string& op = e.str;
    MOE_ASSIGN(Value a, eval(*e.kids[0]));
    if (op == "and") return a.truthy() ? eval(*e.kids[1]) : Result<Value>(a);
    if (op == "or") return a.truthy() ? Result<Value>(a) : eval(*e.kids[1]);
    MOE_ASSIGN(Value b, eval(*e.kids[1]));
    return pyArith(*this, op, a, b, e.pos);
}

Result<Value> Interp::eval(const Node& e) {
    DepthGuard g(depth_);
    if (depth_ > kMaxEvalDepth || stackExhausted()) return errorAt(e.pos, "evaluation nested too deeply");
    MOE_TRY(charge(1, e.pos));
    switch (e.kind) {
        case NodeKind::Const: return e.lit;
        case NodeKind::Name: return lookup(e.str);
        case NodeKind::ListLit:
        case NodeKind::TupleLit: {
            std::vector<Value> items;
            items.reserve(e.kids.size());
            for (const auto& k : e.kids) {
                MOE_ASSIGN(Value v, eval(*k));
                items.push_back(std::move(v));
            }
            return Value::list(std::move(items), e.kind == NodeKind::TupleLit);
        }
        case NodeKind::DictLit: {
            Dict d;
            for (size_t i = 0; i + 1 < e.kids.size(); i += 2) {
                MOE_ASSIGN(Value k, eval(*e.kids[i]));
                MOE_ASSIGN(Value v, eval(*e.kids[i + 1]));
                if (k.isList() && !k.isTuple()) return errorAt(e.kids[i]->pos, "unhashable type: 'list'");
                if (k.kind() == Value::Kind::Dict) return errorAt(e.kids[i]->pos, "unhashable type: 'dict'");
                d.set(std::move(k), std::move(v));
            }
            return Value::dict(std::move(d));
        }
        case NodeKind::Attr: {
            MOE_ASSIGN(Value obj, eval(*e.kids[0]));
            return getAttr(obj, e.str, e.pos);
        }
        case NodeKind::Item: {
            MOE_ASSIGN(Value obj, eval(*e.kids[0]));
            MOE_ASSIGN(Value key, eval(*e.kids[1]));
            return getItem(obj, key, e.pos);
        }
        case NodeKind::Slice: {
            MOE_ASSIGN(Value obj, eval(*e.kids[0]));
            return slice(obj, e);
        }
        case NodeKind::Call: return evalCall(e);
        case NodeKind::Filter: {
            MOE_ASSIGN(Value v, eval(*e.kids[0]));
            CallArgs args;
            MOE_TRY(evalArgs(e, 1, args));
            return callFilter(*this, e.str, v, args, e.pos);
        }
        case NodeKind::Test: {
            MOE_ASSIGN(Value v, eval(*e.kids[0]));
            CallArgs args;
            MOE_TRY(evalArgs(e, 1, args));
            MOE_ASSIGN(bool r, callTest(*this, e.str, v, args, e.pos));
            return Value::boolean(e.flag ? !r : r);
        }
        case NodeKind::Unary: {
            MOE_ASSIGN(Value v, eval(*e.kids[0]));
            if (e.str == "not") return Value::boolean(!v.truthy());
            if (v.isUndefined()) return undefinedError(v, e.pos);
            if (!v.isNumber()) return errorAt(e.pos, "bad operand type for unary " + e.str + ": '" + v.typeName() + "'");
            if (e.str == "+") return v.isFloat() ? v : Value::integer(v.asInt());
            if (v.isFloat()) return Value::real(-v.asDouble());
            if (v.asInt() == INT64_MIN) return errorAt(e.pos, "integer overflow");
            return Value::integer(-v.asInt());
        }
        case NodeKind::Binary: return evalBinary(e);
        case NodeKind::Compare: return evalCompare(e);
        case NodeKind::CondExpr: {
            MOE_ASSIGN(Value c, eval(*e.kids[0]));
            if (c.truthy()) return eval(*e.kids[1]);
            if (e.kids[2]) return eval(*e.kids[2]);
            return Value::undefined();
        }
        default: return errorAt(e.pos, "statement used as an expression");
    }
}

}  // namespace moe::jinja

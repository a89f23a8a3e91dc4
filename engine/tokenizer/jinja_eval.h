// The Jinja2 tree-walking evaluator (jinja.h) and the interface the builtins
// (jinja_builtins.cpp: filters, tests, methods, globals) use to call back into it.
#pragma once
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "tokenizer/jinja.h"
#include "tokenizer/jinja_parser.h"
#include "tokenizer/jinja_value.h"

namespace moe::jinja {

constexpr int kMaxEvalDepth = 3000;
// Stack the evaluator may use below render()'s frame, whatever the frame sizes (sanitizers
// enlarge them): deep but legal recursion ends in an error, not an overflow.
constexpr uintptr_t kMaxStackBytes = uintptr_t(3) << 20;

struct Scope {
    std::vector<std::pair<std::string, Value>> vars;
    std::shared_ptr<Scope> parent;
    Value* find(const std::string& name);
    void set(const std::string& name, Value v);
};

class Interp {
public:
    explicit Interp(const RenderOptions& o);
    Result<std::string> render(const Node& root, const nlohmann::ordered_json& context);

    // ---- for the builtins
    const RenderOptions& options() const { return o_; }
    Result<Value> call(const Value& fn, CallArgs& args, Pos p);
    Result<Value> getAttr(const Value& obj, const std::string& name, Pos p);
    Result<Value> getItem(const Value& obj, const Value& key, Pos p);
    Status charge(uint64_t steps, Pos p);
    // A string or list of this size may be built (the output limit bounds both).
    Status checkSize(size_t n, Pos p) const;
    // Fails when storing `v` inside the container `target` would make a reference cycle.
    Status checkNoCycle(const Value& v, const void* target, Pos p);
    Error undefinedError(const Value& u, Pos p) const;

private:
    enum class Flow { Normal, Break, Continue };
    struct DepthGuard {
        int& d;
        explicit DepthGuard(int& x) : d(x) { ++d; }
        ~DepthGuard() { --d; }
    };

    Result<Flow> exec(const Node& n);
    Result<Flow> execFor(const Node& n);
    Status assign(const Node& target, Value v);
    Status emit(const std::string& s, Pos p);
    Result<std::string> capture(const Node& body);
    Result<Value> eval(const Node& e);
    Result<Value> evalCall(const Node& e);
    Status evalArgs(const Node& e, size_t first, CallArgs& out);
    Result<Value> evalBinary(const Node& e);
    Result<Value> evalCompare(const Node& e);
    Result<Value> slice(const Value& obj, const Node& e);
    Result<Value> callMacro(const Node& macro, CallArgs& args, Pos p);
    Result<Value> callCaller(const Node& block, const std::weak_ptr<Scope>& site, CallArgs& args, Pos p);
    Status bindParams(const Node& def, size_t firstDefault, const std::vector<std::string>& params, CallArgs& args,
                      const std::string& what, Pos p);
    Value lookup(const std::string& name);
    Result<Value> applyFilters(const Node& block, size_t first, Value v);

    bool stackExhausted() const {
        return stackBase_ - uintptr_t(__builtin_frame_address(0)) > kMaxStackBytes;
    }

    RenderOptions o_;
    uintptr_t stackBase_ = 0;  // frame address when render() began (the stack grows down)
    uint64_t steps_ = 0;
    int depth_ = 0;       // exec/eval recursion
    int macroDepth_ = 0;  // nested macro and caller invocations
    std::shared_ptr<Scope> root_, cur_;
    std::map<std::string, Value> globals_;
    std::vector<std::string> out_;  // output buffers: the template's, then captures
};


// jinja_builtins.cpp
Result<Value> callFilter(Interp& in, const std::string& name, const Value& v, CallArgs& a, Pos p);
Result<bool> callTest(Interp& in, const std::string& name, const Value& v, CallArgs& a, Pos p);
bool hasMethod(const Value& self, const std::string& name);
Result<Value> callMethod(Interp& in, const Value& self, const std::string& name, CallArgs& a, Pos p);
std::map<std::string, Value> makeGlobals();
// Python's binary operators (+ - * / // % ** ~ and the comparisons' helpers).
Result<Value> pyArith(Interp& in, const std::string& op, const Value& a, const Value& b, Pos p);
Result<bool> pyContains(const Value& container, const Value& item, Pos p);
// Items when iterating v (list, tuple, dict keys, string characters; undefined: none).
Result<std::vector<Value>> iterate(Interp& in, const Value& v, Pos p);

}  // namespace moe::jinja

#include "tokenizer/jinja_parser.h"

#include <algorithm>
#include <functional>

namespace moe::jinja {

namespace {

NodePtr mk(NodeKind k, Pos p) {
    auto n = std::make_unique<Node>();
    n->kind = k;
    n->pos = p;
    return n;
}

class Parser {
public:
    explicit Parser(std::vector<Token> t) : t_(std::move(t)) {}

    Result<NodePtr> run() {
        MOE_ASSIGN(NodePtr body, parseBody({}));
        return body;
    }

private:
    struct Guard {
        int& d;
        explicit Guard(int& x) : d(x) { ++d; }
        ~Guard() { --d; }
    };

    const Token& cur() const { return t_[i_]; }
    const Token& peek(size_t k = 1) const { return t_[std::min(i_ + k, t_.size() - 1)]; }
    void next() {
        if (i_ + 1 < t_.size()) ++i_;
    }
    bool isOp(const char* op) const { return cur().type == Tok::Op && cur().text == op; }
    bool isName(const char* n) const { return cur().type == Tok::Name && cur().text == n; }

    static std::string describe(const Token& t) {
        switch (t.type) {
            case Tok::Name: return "'" + t.text + "'";
            case Tok::Op: return "'" + t.text + "'";
            case Tok::String: return "string literal";
            case Tok::Int:
            case Tok::Float: return "number";
            case Tok::VarEnd: return "end of print statement";
            case Tok::BlockEnd: return "end of statement block";
            case Tok::Eof: return "end of template";
            default: return "text";
        }
    }

    Error fail(const std::string& msg) const { return errorAt(cur().pos, msg); }
    Error unexpected(const std::string& expected) const {
        return fail("unexpected " + describe(cur()) + (expected.empty() ? "" : ", expected " + expected));
    }

    Status expectOp(const char* op) {
        if (!isOp(op)) return unexpected(std::string("'") + op + "'");
        next();
        return {};
    }
    Result<std::string> expectName() {
        if (cur().type != Tok::Name) return unexpected("a name");
        std::string n = cur().text;
        next();
        return n;
    }
    Status expectBlockEnd() {
        if (cur().type != Tok::BlockEnd) return unexpected("end of statement block");
        next();
        return {};
    }

    // Sets n's height from its children; fails when the tree grows too tall.
    Result<NodePtr> seal(NodePtr n) {
        int h = 0;
        for (const auto& k : n->kids)
            if (k) h = std::max(h, k->height);
        n->height = h + 1;
        if (n->height > kMaxTreeHeight) return errorAt(n->pos, "template nested too deeply");
        return n;
    }

    // ---- statements

    // Parses until a block whose first name is in `ends` (left at that name) or the end of input.
    Result<NodePtr> parseBody(const std::vector<std::string>& ends, Pos opened = {}, const std::string& what = {}) {
        auto body = mk(NodeKind::Body, cur().pos);
        while (true) {
            const Token& t = cur();
            if (t.type == Tok::Eof) {
                if (ends.empty()) break;
                return errorAt(opened, "unexpected end of template: '" + what + "' is never closed (expected '" +
                                           ends.back() + "')");
            }
            if (t.type == Tok::Data) {
                auto d = mk(NodeKind::Data, t.pos);
                d->str = t.text;
                body->kids.push_back(std::move(d));
                next();
            } else if (t.type == Tok::VarBegin) {
                Pos p = t.pos;
                next();
                MOE_ASSIGN(NodePtr e, parseTuple(true, false));
                if (cur().type != Tok::VarEnd) return unexpected("end of print statement");
                next();
                auto o = mk(NodeKind::Output, p);
                o->kids.push_back(std::move(e));
                MOE_ASSIGN(o, seal(std::move(o)));
                body->kids.push_back(std::move(o));
            } else if (t.type == Tok::BlockBegin) {
                const Token& nm = peek();
                if (nm.type == Tok::Name && std::find(ends.begin(), ends.end(), nm.text) != ends.end()) {
                    next();
                    break;
                }
                MOE_ASSIGN(NodePtr s, parseStatement());
                if (s) body->kids.push_back(std::move(s));
            } else {
                return unexpected("");
            }
        }
        return seal(std::move(body));
    }

    Result<NodePtr> parseStatement() {
        Guard g(depth_);
        if (depth_ > kMaxParseNesting) return fail("template nested too deeply");
        next();  // BlockBegin
        if (cur().type != Tok::Name) return unexpected("a statement name");
        std::string n = cur().text;
        Pos p = cur().pos;
        next();
        if (n == "if") return parseIf(p);
        if (n == "for") return parseFor(p);
        if (n == "set") return parseSet(p);
        if (n == "macro") return parseMacro(p);
        if (n == "call") return parseCallBlock(p);
        if (n == "filter") return parseFilterBlock(p);
        if (n == "with") return parseWith(p);
        if (n == "generation") {
            MOE_TRY(expectBlockEnd());
            MOE_ASSIGN(NodePtr body, parseBody({"endgeneration"}, p, "generation"));
            next();
            MOE_TRY(expectBlockEnd());
            return body;
        }
        if (n == "break" || n == "continue") {
            if (loopDepth_ == 0) return errorAt(p, "'" + n + "' outside of a loop");
            MOE_TRY(expectBlockEnd());
            return mk(n == "break" ? NodeKind::Break : NodeKind::Continue, p);
        }
        static const char* unsupported[] = {"include", "extends", "import", "from", "block", "autoescape", "do",
                                            "trans", "pluralize", "debug"};
        for (const char* u : unsupported)
            if (n == u) return errorAt(p, "unsupported statement '" + n + "'");
        if (n.rfind("end", 0) == 0 || n == "elif" || n == "else")
            return errorAt(p, "unexpected '" + n + "' (no block open that it closes)");
        return errorAt(p, "unknown statement '" + n + "'");
    }

    Result<NodePtr> parseIf(Pos p) {
        auto node = mk(NodeKind::If, p);
        while (true) {
            MOE_ASSIGN(NodePtr cond, parseTuple(false, false));
            MOE_TRY(expectBlockEnd());
            MOE_ASSIGN(NodePtr body, parseBody({"elif", "else", "endif"}, p, "if"));
            node->kids.push_back(std::move(cond));
            node->kids.push_back(std::move(body));
            std::string tag = cur().text;
            next();
            if (tag == "elif") continue;
            if (tag == "else") {
                MOE_TRY(expectBlockEnd());
                MOE_ASSIGN(NodePtr eb, parseBody({"endif"}, p, "if"));
                node->kids.push_back(std::move(eb));
                node->flag = true;
                next();
            }
            MOE_TRY(expectBlockEnd());
            break;
        }
        return seal(std::move(node));
    }

    Result<NodePtr> parseFor(Pos p) {
        auto node = mk(NodeKind::For, p);
        bool paren = isOp("(");
        if (paren) next();
        while (true) {
            MOE_ASSIGN(std::string nm, expectName());
            node->names.push_back(nm);
            if (!isOp(",")) break;
            node->flag2 = true;
            next();
            if ((paren && isOp(")")) || isName("in")) break;
        }
        if (paren) MOE_TRY(expectOp(")"));
        if (!isName("in")) return unexpected("'in'");
        next();
        MOE_ASSIGN(NodePtr iter, parseTuple(false, false, "recursive"));
        NodePtr cond;
        if (isName("if")) {
            next();
            MOE_ASSIGN(cond, parseExpression(true));
        }
        if (isName("recursive")) return fail("recursive loops are not supported");
        MOE_TRY(expectBlockEnd());
        ++loopDepth_;
        auto body = parseBody({"else", "endfor"}, p, "for");
        --loopDepth_;
        if (!body.ok()) return std::move(body).takeError();
        NodePtr elseBody;
        if (cur().text == "else") {
            next();
            MOE_TRY(expectBlockEnd());
            MOE_ASSIGN(elseBody, parseBody({"endfor"}, p, "for"));
        }
        next();
        MOE_TRY(expectBlockEnd());
        node->kids.push_back(std::move(iter));
        node->kids.push_back(std::move(cond));
        node->kids.push_back(std::move(body).value());
        node->kids.push_back(std::move(elseBody));
        return seal(std::move(node));
    }

    // name | name.attr | name, name ...
    Result<NodePtr> parseAssignTarget() {
        Pos p = cur().pos;
        MOE_ASSIGN(std::string first, expectName());
        if (isOp(".")) {
            next();
            MOE_ASSIGN(std::string attr, expectName());
            auto n = mk(NodeKind::NsAttr, p);
            n->str = first;
            n->names.push_back(attr);
            return n;
        }
        auto nameNode = [](const std::string& s, Pos at) {
            auto n = mk(NodeKind::Name, at);
            n->str = s;
            return n;
        };
        if (!isOp(",")) return nameNode(first, p);
        auto t = mk(NodeKind::TupleLit, p);
        t->kids.push_back(nameNode(first, p));
        while (isOp(",")) {
            next();
            if (isOp("=")) break;
            Pos q = cur().pos;
            MOE_ASSIGN(std::string nm, expectName());
            t->kids.push_back(nameNode(nm, q));
        }
        return seal(std::move(t));
    }

    Result<NodePtr> parseSet(Pos p) {
        MOE_ASSIGN(NodePtr target, parseAssignTarget());
        if (isOp("=")) {
            next();
            MOE_ASSIGN(NodePtr value, parseTuple(true, false));
            MOE_TRY(expectBlockEnd());
            auto n = mk(NodeKind::Set, p);
            n->kids.push_back(std::move(target));
            n->kids.push_back(std::move(value));
            return seal(std::move(n));
        }
        if (target->kind == NodeKind::TupleLit) return unexpected("'='");
        auto n = mk(NodeKind::SetBlock, p);
        std::vector<NodePtr> filters;
        while (isOp("|")) {
            next();
            MOE_ASSIGN(NodePtr f, parseFilter(nullptr));
            filters.push_back(std::move(f));
        }
        MOE_TRY(expectBlockEnd());
        MOE_ASSIGN(NodePtr body, parseBody({"endset"}, p, "set"));
        next();
        MOE_TRY(expectBlockEnd());
        n->kids.push_back(std::move(target));
        n->kids.push_back(std::move(body));
        for (auto& f : filters) n->kids.push_back(std::move(f));
        return seal(std::move(n));
    }

    // (a, b=default, ...) into names / defaults
    Status parseSignature(Node& n) {
        MOE_TRY(expectOp("("));
        while (!isOp(")")) {
            if (!n.names.empty()) MOE_TRY(expectOp(","));
            if (isOp(")")) break;
            MOE_ASSIGN(std::string nm, expectName());
            NodePtr def;
            if (isOp("=")) {
                next();
                MOE_ASSIGN(def, parseExpression(true));
            } else if (std::any_of(n.kids.begin() + 1, n.kids.end(), [](const NodePtr& k) { return k != nullptr; })) {
                return fail("non-default argument follows default argument");
            }
            n.names.push_back(nm);
            n.kids.push_back(std::move(def));
        }
        next();
        return {};
    }

    static void scanNames(const Node* n, Node& macro, int depth) {
        if (!n || depth > kMaxTreeHeight + 8) return;
        if (n->kind == NodeKind::Name) {
            if (n->str == "varargs") macro.flag2 = true;
            if (n->str == "kwargs") macro.flag3 = true;
            if (n->str == "caller") macro.flag4 = true;
        }
        for (const auto& k : n->kids) scanNames(k.get(), macro, depth + 1);
    }

    Result<NodePtr> parseMacro(Pos p) {
        auto n = mk(NodeKind::Macro, p);
        MOE_ASSIGN(n->str, expectName());
        n->kids.push_back(nullptr);  // body slot
        MOE_TRY(parseSignature(*n));
        MOE_TRY(expectBlockEnd());
        int savedLoop = loopDepth_;
        loopDepth_ = 0;
        auto body = parseBody({"endmacro"}, p, "macro");
        loopDepth_ = savedLoop;
        if (!body.ok()) return std::move(body).takeError();
        next();
        if (cur().type == Tok::Name && cur().text == n->str) next();
        MOE_TRY(expectBlockEnd());
        n->kids[0] = std::move(body).value();
        scanNames(n->kids[0].get(), *n, 0);
        return seal(std::move(n));
    }

    Result<NodePtr> parseCallBlock(Pos p) {
        auto n = mk(NodeKind::CallBlock, p);
        n->kids.push_back(nullptr);  // call expression
        n->kids.push_back(nullptr);  // body
        if (isOp("(")) {
            // signature defaults go after the two fixed slots
            Node sig;
            sig.kids.push_back(nullptr);
            MOE_TRY(parseSignature(sig));
            n->names = std::move(sig.names);
            for (size_t i = 1; i < sig.kids.size(); ++i) n->kids.push_back(std::move(sig.kids[i]));
        }
        MOE_ASSIGN(NodePtr call, parseExpression(true));
        if (call->kind != NodeKind::Call) return errorAt(call->pos, "expected a call after 'call'");
        MOE_TRY(expectBlockEnd());
        int savedLoop = loopDepth_;
        loopDepth_ = 0;
        auto body = parseBody({"endcall"}, p, "call");
        loopDepth_ = savedLoop;
        if (!body.ok()) return std::move(body).takeError();
        next();
        MOE_TRY(expectBlockEnd());
        n->kids[0] = std::move(call);
        n->kids[1] = std::move(body).value();
        return seal(std::move(n));
    }

    Result<NodePtr> parseFilterBlock(Pos p) {
        auto n = mk(NodeKind::FilterBlock, p);
        n->kids.push_back(nullptr);
        do {
            if (isOp("|")) next();
            MOE_ASSIGN(NodePtr f, parseFilter(nullptr));
            n->kids.push_back(std::move(f));
        } while (isOp("|"));
        MOE_TRY(expectBlockEnd());
        MOE_ASSIGN(n->kids[0], parseBody({"endfilter"}, p, "filter"));
        next();
        MOE_TRY(expectBlockEnd());
        return seal(std::move(n));
    }

    Result<NodePtr> parseWith(Pos p) {
        auto n = mk(NodeKind::With, p);
        while (cur().type != Tok::BlockEnd) {
            if (!n->names.empty()) MOE_TRY(expectOp(","));
            MOE_ASSIGN(std::string nm, expectName());
            MOE_TRY(expectOp("="));
            MOE_ASSIGN(NodePtr v, parseExpression(true));
            n->names.push_back(nm);
            n->kids.push_back(std::move(v));
        }
        next();
        MOE_ASSIGN(NodePtr body, parseBody({"endwith"}, p, "with"));
        next();
        MOE_TRY(expectBlockEnd());
        n->kids.push_back(std::move(body));
        return seal(std::move(n));
    }

    // ---- expressions

    bool tupleEnd(bool explicitParens, const char* extraEnd) const {
        if (cur().type == Tok::VarEnd || cur().type == Tok::BlockEnd || cur().type == Tok::Eof) return true;
        if (explicitParens && isOp(")")) return true;
        if (extraEnd && isName(extraEnd)) return true;
        return false;
    }

    Result<NodePtr> parseTuple(bool withCond, bool explicitParens, const char* extraEnd = nullptr) {
        Pos p = cur().pos;
        std::vector<NodePtr> args;
        bool isTuple = false;
        while (true) {
            if (!args.empty()) MOE_TRY(expectOp(","));
            if (tupleEnd(explicitParens, extraEnd)) break;
            MOE_ASSIGN(NodePtr e, parseExpression(withCond));
            args.push_back(std::move(e));
            if (isOp(","))
                isTuple = true;
            else
                break;
        }
        if (!isTuple) {
            if (!args.empty()) return std::move(args[0]);
            if (!explicitParens) return unexpected("an expression");
        }
        auto t = mk(NodeKind::TupleLit, p);
        t->kids = std::move(args);
        return seal(std::move(t));
    }

    Result<NodePtr> parseExpression(bool withCond) {
        // nesting is counted where the grammar recurses: parseUnary, parseNot, parseStatement
        return withCond ? parseCondExpr() : parseOr();
    }

    Result<NodePtr> parseCondExpr() {
        MOE_ASSIGN(NodePtr e, parseOr());
        while (isName("if")) {
            Pos p = cur().pos;
            next();
            MOE_ASSIGN(NodePtr cond, parseOr());
            NodePtr other;
            if (isName("else")) {
                next();
                MOE_ASSIGN(other, parseExpression(true));
            }
            auto n = mk(NodeKind::CondExpr, p);
            n->kids.push_back(std::move(cond));
            n->kids.push_back(std::move(e));
            n->kids.push_back(std::move(other));
            MOE_ASSIGN(e, seal(std::move(n)));
        }
        return e;
    }

    Result<NodePtr> binary(const char* op, Pos p, NodePtr l, NodePtr r) {
        auto n = mk(NodeKind::Binary, p);
        n->str = op;
        n->kids.push_back(std::move(l));
        n->kids.push_back(std::move(r));
        return seal(std::move(n));
    }

    Result<NodePtr> parseOr() {
        MOE_ASSIGN(NodePtr l, parseAnd());
        while (isName("or")) {
            Pos p = cur().pos;
            next();
            MOE_ASSIGN(NodePtr r, parseAnd());
            MOE_ASSIGN(l, binary("or", p, std::move(l), std::move(r)));
        }
        return l;
    }

    Result<NodePtr> parseAnd() {
        MOE_ASSIGN(NodePtr l, parseNot());
        while (isName("and")) {
            Pos p = cur().pos;
            next();
            MOE_ASSIGN(NodePtr r, parseNot());
            MOE_ASSIGN(l, binary("and", p, std::move(l), std::move(r)));
        }
        return l;
    }

    Result<NodePtr> parseNot() {
        if (isName("not")) {
            Guard g(depth_);
            if (depth_ > kMaxParseNesting) return fail("expression nested too deeply");
            Pos p = cur().pos;
            next();
            MOE_ASSIGN(NodePtr e, parseNot());
            auto n = mk(NodeKind::Unary, p);
            n->str = "not";
            n->kids.push_back(std::move(e));
            return seal(std::move(n));
        }
        return parseCompare();
    }

    Result<NodePtr> parseCompare() {
        Pos p = cur().pos;
        MOE_ASSIGN(NodePtr e, parseMath1());
        NodePtr cmp;
        while (true) {
            std::string op;
            if (cur().type == Tok::Op && (cur().text == "==" || cur().text == "!=" || cur().text == "<" ||
                                          cur().text == "<=" || cur().text == ">" || cur().text == ">=")) {
                op = cur().text;
                next();
            } else if (isName("in")) {
                op = "in";
                next();
            } else if (isName("not") && peek().type == Tok::Name && peek().text == "in") {
                op = "notin";
                next();
                next();
            } else {
                break;
            }
            if (!cmp) {
                cmp = mk(NodeKind::Compare, p);
                cmp->kids.push_back(std::move(e));
            }
            MOE_ASSIGN(NodePtr r, parseMath1());
            cmp->names.push_back(op);
            cmp->kids.push_back(std::move(r));
        }
        if (cmp) return seal(std::move(cmp));
        return e;
    }

    Result<NodePtr> parseMath1() {
        MOE_ASSIGN(NodePtr l, parseConcat());
        while (isOp("+") || isOp("-")) {
            std::string op = cur().text;
            Pos p = cur().pos;
            next();
            MOE_ASSIGN(NodePtr r, parseConcat());
            MOE_ASSIGN(l, binary(op == "+" ? "+" : "-", p, std::move(l), std::move(r)));
        }
        return l;
    }

    Result<NodePtr> parseConcat() {
        MOE_ASSIGN(NodePtr l, parseMath2());
        while (isOp("~")) {
            Pos p = cur().pos;
            next();
            MOE_ASSIGN(NodePtr r, parseMath2());
            MOE_ASSIGN(l, binary("~", p, std::move(l), std::move(r)));
        }
        return l;
    }

    Result<NodePtr> parseMath2() {
        MOE_ASSIGN(NodePtr l, parsePow());
        while (isOp("*") || isOp("/") || isOp("//") || isOp("%")) {
            static const char* names[] = {"*", "/", "//", "%"};
            const char* op = nullptr;
            for (const char* nm : names)
                if (cur().text == nm) op = nm;
            Pos p = cur().pos;
            next();
            MOE_ASSIGN(NodePtr r, parsePow());
            MOE_ASSIGN(l, binary(op, p, std::move(l), std::move(r)));
        }
        return l;
    }

    Result<NodePtr> parsePow() {
        MOE_ASSIGN(NodePtr l, parseUnary(true));
        while (isOp("**")) {
            Pos p = cur().pos;
            next();
            MOE_ASSIGN(NodePtr r, parseUnary(true));
            MOE_ASSIGN(l, binary("**", p, std::move(l), std::move(r)));
        }
        return l;
    }

    Result<NodePtr> parseUnary(bool withFilter) {
        Guard g(depth_);
        if (depth_ > kMaxParseNesting) return fail("expression nested too deeply");
        NodePtr node;
        if (isOp("-") || isOp("+")) {
            auto n = mk(NodeKind::Unary, cur().pos);
            n->str = cur().text;
            next();
            MOE_ASSIGN(NodePtr e, parseUnary(false));
            n->kids.push_back(std::move(e));
            MOE_ASSIGN(node, seal(std::move(n)));
        } else {
            MOE_ASSIGN(node, parsePrimary());
        }
        MOE_ASSIGN(node, parsePostfix(std::move(node)));
        if (withFilter) {
            MOE_ASSIGN(node, parseFilterExpr(std::move(node)));
        }
        return node;
    }

    Result<NodePtr> parsePrimary() {
        const Token& t = cur();
        Pos p = t.pos;
        if (t.type == Tok::Name) {
            auto n = mk(NodeKind::Const, p);
            if (t.text == "true" || t.text == "True") {
                n->lit = Value::boolean(true);
            } else if (t.text == "false" || t.text == "False") {
                n->lit = Value::boolean(false);
            } else if (t.text == "none" || t.text == "None") {
                n->lit = Value::none();
            } else {
                n->kind = NodeKind::Name;
                n->str = t.text;
            }
            next();
            return n;
        }
        if (t.type == Tok::String) {
            std::string s;
            while (cur().type == Tok::String) {
                s += cur().text;
                next();
            }
            auto n = mk(NodeKind::Const, p);
            n->lit = Value::string(std::move(s));
            return n;
        }
        if (t.type == Tok::Int || t.type == Tok::Float) {
            auto n = mk(NodeKind::Const, p);
            n->lit = t.type == Tok::Int ? Value::integer(t.i) : Value::real(t.f);
            next();
            return n;
        }
        if (isOp("(")) {
            next();
            MOE_ASSIGN(NodePtr e, parseTuple(true, true));
            MOE_TRY(expectOp(")"));
            return e;
        }
        if (isOp("[")) {
            next();
            auto n = mk(NodeKind::ListLit, p);
            while (!isOp("]")) {
                if (!n->kids.empty()) MOE_TRY(expectOp(","));
                if (isOp("]")) break;
                MOE_ASSIGN(NodePtr e, parseExpression(true));
                n->kids.push_back(std::move(e));
            }
            next();
            return seal(std::move(n));
        }
        if (isOp("{")) {
            next();
            auto n = mk(NodeKind::DictLit, p);
            while (!isOp("}")) {
                if (!n->kids.empty()) MOE_TRY(expectOp(","));
                if (isOp("}")) break;
                MOE_ASSIGN(NodePtr k, parseExpression(true));
                MOE_TRY(expectOp(":"));
                MOE_ASSIGN(NodePtr v, parseExpression(true));
                n->kids.push_back(std::move(k));
                n->kids.push_back(std::move(v));
            }
            next();
            return seal(std::move(n));
        }
        return unexpected("an expression");
    }

    Result<NodePtr> parsePostfix(NodePtr node) {
        while (true) {
            if (isOp(".")) {
                Pos p = cur().pos;
                next();
                if (cur().type == Tok::Name) {
                    auto n = mk(NodeKind::Attr, p);
                    n->str = cur().text;
                    next();
                    n->kids.push_back(std::move(node));
                    MOE_ASSIGN(node, seal(std::move(n)));
                } else if (cur().type == Tok::Int) {
                    auto n = mk(NodeKind::Item, p);
                    auto k = mk(NodeKind::Const, cur().pos);
                    k->lit = Value::integer(cur().i);
                    next();
                    n->kids.push_back(std::move(node));
                    n->kids.push_back(std::move(k));
                    MOE_ASSIGN(node, seal(std::move(n)));
                } else {
                    return unexpected("an attribute name");
                }
            } else if (isOp("[")) {
                MOE_ASSIGN(node, parseSubscript(std::move(node)));
            } else if (isOp("(")) {
                MOE_ASSIGN(node, parseCall(std::move(node)));
            } else {
                return node;
            }
        }
    }

    Result<NodePtr> parseSubscript(NodePtr obj) {
        Pos p = cur().pos;
        next();
        NodePtr parts[3];
        bool slice = false;
        if (!isOp(":")) {
            MOE_ASSIGN(parts[0], parseExpression(true));
        }
        if (isOp(":")) {
            slice = true;
            next();
            if (!isOp("]") && !isOp(":")) {
                MOE_ASSIGN(parts[1], parseExpression(true));
            }
            if (isOp(":")) {
                next();
                if (!isOp("]")) {
                    MOE_ASSIGN(parts[2], parseExpression(true));
                }
            }
        }
        if (isOp(",")) return fail("tuple subscripts are not supported");
        MOE_TRY(expectOp("]"));
        auto n = mk(slice ? NodeKind::Slice : NodeKind::Item, p);
        n->kids.push_back(std::move(obj));
        n->kids.push_back(std::move(parts[0]));
        if (slice) {
            n->kids.push_back(std::move(parts[1]));
            n->kids.push_back(std::move(parts[2]));
        }
        return seal(std::move(n));
    }

    // "(" args ")" appended to n (positional and name=value)
    Status parseArgs(Node& n) {
        MOE_TRY(expectOp("("));
        bool any = false, sawKw = false;
        while (!isOp(")")) {
            if (any) MOE_TRY(expectOp(","));
            if (isOp(")")) break;
            any = true;
            if (isOp("*") || isOp("**")) return fail("*args and **kwargs in calls are not supported");
            std::string kw;
            if (cur().type == Tok::Name && peek().type == Tok::Op && peek().text == "=") {
                kw = cur().text;
                next();
                next();
                sawKw = true;
            } else if (sawKw) {
                return fail("positional argument follows keyword argument");
            }
            MOE_ASSIGN(NodePtr e, parseExpression(true));
            n.kids.push_back(std::move(e));
            n.names.push_back(kw);
        }
        next();
        return {};
    }

    Result<NodePtr> parseCall(NodePtr callee) {
        auto n = mk(NodeKind::Call, callee->pos);
        n->kids.push_back(std::move(callee));
        MOE_TRY(parseArgs(*n));
        return seal(std::move(n));
    }

    Result<NodePtr> parseFilter(NodePtr input) {
        auto n = mk(NodeKind::Filter, cur().pos);
        MOE_ASSIGN(n->str, expectName());
        while (isOp(".")) {
            next();
            MOE_ASSIGN(std::string more, expectName());
            n->str += "." + more;
        }
        n->kids.push_back(std::move(input));
        if (isOp("(")) MOE_TRY(parseArgs(*n));
        return seal(std::move(n));
    }

    Result<NodePtr> parseFilterExpr(NodePtr node) {
        while (true) {
            if (isOp("|")) {
                next();
                MOE_ASSIGN(node, parseFilter(std::move(node)));
            } else if (isName("is")) {
                Pos p = cur().pos;
                next();
                auto n = mk(NodeKind::Test, p);
                if (isName("not")) {
                    n->flag = true;
                    next();
                }
                MOE_ASSIGN(n->str, expectName());
                while (isOp(".")) {
                    next();
                    MOE_ASSIGN(std::string more, expectName());
                    n->str += "." + more;
                }
                n->kids.push_back(std::move(node));
                if (isOp("(")) {
                    MOE_TRY(parseArgs(*n));
                } else if ((cur().type == Tok::Name || cur().type == Tok::String || cur().type == Tok::Int ||
                            cur().type == Tok::Float || isOp("[") || isOp("{")) &&
                           !isName("else") && !isName("or") && !isName("and")) {
                    if (isName("is")) return fail("tests cannot be chained with 'is'");
                    MOE_ASSIGN(NodePtr arg, parsePrimary());
                    MOE_ASSIGN(arg, parsePostfix(std::move(arg)));
                    n->kids.push_back(std::move(arg));
                    n->names.push_back("");
                }
                MOE_ASSIGN(node, seal(std::move(n)));
            } else if (isOp("(")) {
                MOE_ASSIGN(node, parseCall(std::move(node)));
            } else {
                return node;
            }
        }
    }

    std::vector<Token> t_;
    size_t i_ = 0;
    int depth_ = 0;
    int loopDepth_ = 0;
};

}  // namespace

Result<NodePtr> parseTemplate(std::vector<Token> tokens) {
    Parser p(std::move(tokens));
    return p.run();
}

}  // namespace moe::jinja

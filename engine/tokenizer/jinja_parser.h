// Jinja2 parser (jinja.h): tokens to a syntax tree, with jinja2's operator precedence. Nesting
// (statements and expressions together) is limited so that neither the parser nor the
// evaluator recurses without bound.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "tokenizer/jinja_lexer.h"
#include "tokenizer/jinja_value.h"

namespace moe::jinja {

enum class NodeKind {
    // expressions
    Const,     // lit
    Name,      // str
    ListLit,   // kids
    TupleLit,  // kids
    DictLit,   // kids: key0, value0, key1, value1, ...
    Attr,      // kids[0].str
    Item,      // kids[0][kids[1]]
    Slice,     // kids[0][kids[1]:kids[2]:kids[3]] (null parts omitted)
    Call,      // kids[0](kids[1..]); names[i-1]: keyword name or "" for positional
    Filter,    // kids[0] | str(kids[1..]); kids[0] null in filter blocks; names as Call
    Test,      // kids[0] is [not] str(kids[1..]); flag: negated; names as Call
    Unary,     // str: "not", "-", "+"; kids[0]
    Binary,    // str: + - * / // % ** ~ and or; kids[0], kids[1]
    Compare,   // kids[0] names[0] kids[1] names[1] kids[2] ... (== != < <= > >= in notin)
    CondExpr,  // kids[1] if kids[0] else kids[2] (kids[2] may be null)
    // statements
    Body,       // kids: statements
    Data,       // str
    Output,     // {{ kids[0] }}
    If,         // kids: cond0, body0, cond1, body1, ..., [else body]; flag: has else
    For,        // names: targets (flag2: unpack); kids: iter, cond|null, body, else|null
    Set,        // kids[0]: target (Name, NsAttr or TupleLit of Names); kids[1]: value
    SetBlock,   // kids[0]: target; kids[1]: body; kids[2..]: filters (Filter with null input)
    NsAttr,     // target str.names[0]
    Macro,      // str: name; names: params; kids[0]: body; kids[1..]: defaults (null: none)
    CallBlock,  // kids[0]: call expr; kids[1]: body; kids[2..]: caller defaults; names: caller params
    FilterBlock,  // kids[0]: body; kids[1..]: filters
    With,       // names: targets; kids: values..., body last
    Break,
    Continue,
};

struct Node;
using NodePtr = std::unique_ptr<Node>;

struct Node {
    NodeKind kind;
    Pos pos;
    std::string str;
    Value lit;
    std::vector<NodePtr> kids;
    std::vector<std::string> names;
    bool flag = false;   // Test: negated; If: has else
    bool flag2 = false;  // For: tuple target; Macro: uses varargs
    bool flag3 = false;  // Macro: uses kwargs
    bool flag4 = false;  // Macro: uses caller
    int height = 1;      // 1 + the tallest child (bounded: evaluation recursion follows it)
};

constexpr int kMaxParseNesting = 96;  // nested statements, and nested brackets / unary operators
constexpr int kMaxTreeHeight = 160;   // expression and statement trees

// Parses the whole template into a Body node.
Result<NodePtr> parseTemplate(std::vector<Token> tokens);

}  // namespace moe::jinja

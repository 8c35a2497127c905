// Internals of the Jinja engine (jinja.h): values with Python's semantics, the syntax tree, and the
// entry points the lexer/parser, evaluator and built-ins share.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "pad/tokenizer/jinja.h"

namespace pad::jinja::detail {

struct Value;
struct Args;
class Interpreter;
using Function = std::function<Value(Interpreter&, Args&)>;

enum class Kind { Undefined, None, Bool, Int, Float, String, List, Dict, Func };

// One Jinja value. Lists and dicts are shared (Python reference semantics); a dict keeps insertion
// order. A namespace() is a dict whose attributes may be assigned; `undefined_name` says which name
// an undefined value came from, for error messages.
struct Value {
  Kind kind = Kind::Undefined;
  bool b = false;
  int64_t i = 0;
  double f = 0;
  std::string s;  // String; for Undefined, the missing name
  std::shared_ptr<std::vector<Value>> list;
  std::shared_ptr<std::vector<std::pair<Value, Value>>> dict;
  std::shared_ptr<Function> fn;
  bool is_namespace = false;
  bool is_tuple = false;

  static Value undefined(std::string name = "") {
    Value v;
    v.s = std::move(name);
    return v;
  }
  static Value none() { Value v; v.kind = Kind::None; return v; }
  static Value boolean(bool x) { Value v; v.kind = Kind::Bool; v.b = x; return v; }
  static Value integer(int64_t x) { Value v; v.kind = Kind::Int; v.i = x; return v; }
  static Value real(double x) { Value v; v.kind = Kind::Float; v.f = x; return v; }
  static Value string(std::string x) { Value v; v.kind = Kind::String; v.s = std::move(x); return v; }
  static Value new_list(std::vector<Value> items = {}) {
    Value v;
    v.kind = Kind::List;
    v.list = std::make_shared<std::vector<Value>>(std::move(items));
    return v;
  }
  static Value new_dict() {
    Value v;
    v.kind = Kind::Dict;
    v.dict = std::make_shared<std::vector<std::pair<Value, Value>>>();
    return v;
  }
  static Value function(Function f) {
    Value v;
    v.kind = Kind::Func;
    v.fn = std::make_shared<Function>(std::move(f));
    return v;
  }

  bool is_undefined() const { return kind == Kind::Undefined; }
  bool is_none() const { return kind == Kind::None; }
  bool is_string() const { return kind == Kind::String; }
  bool is_number() const { return kind == Kind::Int || kind == Kind::Float || kind == Kind::Bool; }
  bool is_list() const { return kind == Kind::List; }
  bool is_dict() const { return kind == Kind::Dict; }

  // Dict lookup by key (Python equality); nullptr when absent.
  const Value* find(const Value& key) const;
  const Value* find(const std::string& key) const;
  void set(const Value& key, Value v);
};

struct Args {
  std::vector<Value> pos;
  std::vector<std::pair<std::string, Value>> kw;
  int line = 0;
};

// Argument `idx` (positional) or `name` (keyword) of a call, else `def`.
inline Value arg(const Args& a, size_t idx, const char* name, Value def = Value()) {
  if (idx < a.pos.size()) return a.pos[idx];
  for (const auto& [k, v] : a.kw)
    if (k == name) return v;
  return def;
}

// Python semantics shared by the evaluator and the built-ins (jinja_value.cpp).
bool truthy(const Value& v);
bool equal(const Value& a, const Value& b);
int compare(const Value& a, const Value& b, int line);  // <0, 0, >0; throws for unordered types
std::string to_str(const Value& v);                     // str(v); Undefined is ""
std::string repr(const Value& v);                       // repr(v)
std::string type_name(const Value& v);
std::string float_repr(double d);
Value from_json(const nlohmann::ordered_json& j);
// json.dumps(v, ensure_ascii=False, indent=indent, sort_keys=sort_keys, separators=(item_sep, key_sep));
// indent < 0 means none; null separators take json.dumps' defaults.
std::string to_json(const Value& v, int indent, bool sort_keys, int line, const std::string* item_sep = nullptr,
                    const std::string* key_sep = nullptr);
std::vector<Value> iterate(const Value& v, int line);   // list items, dict keys, string characters
int64_t length(const Value& v, int line);
// Python's str.strip(chars) family; `chars` empty = whitespace.
std::string strip(const std::string& s, const std::string& chars, bool left, bool right);

// ---- syntax tree ---------------------------------------------------------------------------
struct Expr;
using ExprP = std::unique_ptr<Expr>;

struct Expr {
  enum Kind { Literal, Name, ListLit, TupleLit, DictLit, Attr, Item, Slice, Call, Filter, Test, Unary, Binary,
              And, Or, Not, Cond } k;
  int line = 0;
  Value lit;
  std::string name;  // Name, Attr, Filter, Test; Unary/Binary operator
  bool negated = false;  // Test: `is not`
  std::vector<ExprP> items;  // list/tuple items, dict key,value pairs, call/filter/test args; Slice bounds
  std::vector<std::pair<std::string, ExprP>> kwargs;
  ExprP a, b, c;  // operands; Filter/Test/Attr/Item/Call subject in a; Cond: a if b else c
  int height = 1;  // of this subtree, bounded by the parser so that evaluation cannot overflow the stack
};

struct Node;
using NodeP = std::unique_ptr<Node>;
using Body = std::vector<NodeP>;

struct Node {
  enum Kind { Text, Output, If, For, Set, SetBlock, Macro, CallBlock, FilterBlock, Break, Continue } k;
  int line = 0;
  std::string text;                          // Text; Macro name; Set: namespace attribute
  ExprP expr;                                // Output, Set value, For iterable, CallBlock call, FilterBlock chain
  ExprP cond;                                // For: `if` filter
  std::vector<std::string> targets;          // For/Set names; Set with attribute: targets[0] is the namespace
  std::vector<std::pair<ExprP, Body>> branches;  // If/elif
  Body body, else_body;
  std::vector<std::pair<std::string, ExprP>> params;  // Macro / CallBlock caller parameters (default may be null)
};

struct Program {
  std::string name;
  Body body;
};

// Parses a template (jinja_parser.cpp); errors name `name` and the line.
void parse_template(const std::string& source, Program& program);

// Built-ins (jinja_builtins.cpp).
Value apply_filter(Interpreter& in, const std::string& name, Value subject, Args& args);
bool apply_test(Interpreter& in, const std::string& name, const Value& subject, Args& args);
// A method of a string, list or dict (`s.strip`, `d.items`), or an undefined value when none.
Value get_method(const Value& object, const std::string& name, int line);
Value global_function(const std::string& name);
// Python's `format % values` (jinja_ops.cpp); a tuple supplies several values.
std::string percent_format(Interpreter& in, const std::string& format, const Value& values, int line);  // range, namespace, dict, ...; undefined when none

[[noreturn]] void fail(const std::string& program, int line, const std::string& message);

// Renders a parsed program (jinja_eval.cpp).
class Interpreter {
 public:
  Interpreter(const Program& program, const RenderOptions& options);
  std::string run(const nlohmann::ordered_json& vars);
  [[noreturn]] void error(int line, const std::string& message) const { fail(program_.name, line, message); }
  Value call_value(const Value& fn, Args& args, int line);
  const RenderOptions& options() const { return options_; }

 private:
  struct Frame;
  enum class Flow { Normal, Break, Continue };
  Flow exec(const Body& body, std::string& out);
  Flow exec_node(const Node& n, std::string& out);
  void exec_for(const Node& n, std::string& out);
  void exec_set(const Node& n, std::string& out);
  Value make_macro(const Node& n);
  Value eval(const Expr& e);
  Value eval_binary(const Expr& e);
  Value eval_filter(const Expr& e, Value subject);
  Value get_attr(const Value& obj, const std::string& name, int line);
  Value get_item(const Value& obj, const Value& key, int line);
  Value slice(const Value& obj, const Expr& e);
  Args eval_args(const Expr& e);
  Value lookup(const std::string& name) const;
  void assign(const std::string& name, Value v);
  void step(int line);

  const Program& program_;
  const RenderOptions& options_;
  std::vector<std::shared_ptr<Frame>> frames_;  // innermost last; a macro call sees only the root and its own
  long steps_ = 0;
  int depth_ = 0;
};

}  // namespace pad::jinja::detail

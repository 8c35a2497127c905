// Jinja evaluator: walks the syntax tree with Jinja2's scoping (a for-loop iteration and a macro
// call each get their own frame; `set` writes to the innermost one, so only namespace() attributes
// carry values out of a loop), its undefined values (empty and falsy; reading an attribute of one is
// an error) and the limits of jinja::Limits.
#include <algorithm>
#include <cmath>
#include <unordered_map>

#include "jinja_internal.h"
#include "pad/util/error.h"

namespace pad::jinja::detail {

struct Interpreter::Frame {
  std::unordered_map<std::string, Value> vars;
};

Interpreter::Interpreter(const Program& program, const RenderOptions& options) : program_(program), options_(options) {}

std::string Interpreter::run(const nlohmann::ordered_json& vars) {
  auto root = std::make_shared<Frame>();
  if (!vars.is_null() && !vars.is_object()) throw_invalid(program_.name, ": template variables must be a JSON object");
  for (auto it = vars.begin(); vars.is_object() && it != vars.end(); ++it) root->vars[it.key()] = from_json(it.value());
  frames_ = {root};
  std::string out;
  exec(program_.body, out);
  return out;
}

void Interpreter::step(int line) {
  if (++steps_ > options_.limits.max_steps)
    error(line, "the template ran more than " + std::to_string(options_.limits.max_steps) + " steps (a runaway loop?)");
}

Value Interpreter::lookup(const std::string& name) const {
  for (auto it = frames_.rbegin(); it != frames_.rend(); ++it) {
    auto f = (*it)->vars.find(name);
    if (f != (*it)->vars.end()) return f->second;
  }
  Value g = global_function(name);
  if (!g.is_undefined()) return g;
  return Value::undefined(name);
}

void Interpreter::assign(const std::string& name, Value v) { frames_.back()->vars[name] = std::move(v); }

Interpreter::Flow Interpreter::exec(const Body& body, std::string& out) {
  for (const NodeP& n : body) {
    Flow f = exec_node(*n, out);
    if (f != Flow::Normal) return f;
    if (out.size() > options_.limits.max_output)
      error(n->line, "the rendered text passed " + std::to_string(options_.limits.max_output) + " bytes");
  }
  return Flow::Normal;
}

Interpreter::Flow Interpreter::exec_node(const Node& n, std::string& out) {
  step(n.line);
  switch (n.k) {
    case Node::Text: out += n.text; return Flow::Normal;
    case Node::Output: out += to_str(eval(*n.expr)); return Flow::Normal;
    case Node::If:
      for (const auto& [cond, body] : n.branches)
        if (truthy(eval(*cond))) return exec(body, out);
      return exec(n.else_body, out);
    case Node::For: exec_for(n, out); return Flow::Normal;
    case Node::Set: case Node::SetBlock: exec_set(n, out); return Flow::Normal;
    case Node::Macro: assign(n.text, make_macro(n)); return Flow::Normal;
    case Node::CallBlock: {
      const Expr& call = *n.expr;
      Value callee = eval(*call.a);
      Args args = eval_args(call);
      std::vector<std::shared_ptr<Frame>> scope = frames_;
      const Node* node = &n;
      args.kw.emplace_back("caller", Value::function([scope, node](Interpreter& in, Args& a) {
        auto frame = std::make_shared<Frame>();
        for (size_t i = 0; i < node->params.size(); ++i) {
          const auto& [pname, def] = node->params[i];
          frame->vars[pname] = i < a.pos.size() ? a.pos[i] : def ? in.eval(*def) : Value::undefined(pname);
        }
        std::vector<std::shared_ptr<Frame>> saved = std::move(in.frames_);
        in.frames_ = scope;
        in.frames_.push_back(frame);
        std::string text;
        try {
          in.exec(node->body, text);
        } catch (...) {
          in.frames_ = std::move(saved);
          throw;
        }
        in.frames_ = std::move(saved);
        return Value::string(text);
      }));
      out += to_str(call_value(callee, args, call.line));
      return Flow::Normal;
    }
    case Node::FilterBlock: {
      std::string text;
      exec(n.body, text);
      out += to_str(eval_filter(*n.expr, Value::string(text)));
      return Flow::Normal;
    }
    case Node::Break: return Flow::Break;
    case Node::Continue: return Flow::Continue;
  }
  return Flow::Normal;
}

namespace {

void bind_targets(const std::vector<std::string>& targets, const Value& item,
                  std::unordered_map<std::string, Value>& vars, Interpreter& in, int line) {
  if (targets.size() == 1) {
    vars[targets[0]] = item;
    return;
  }
  std::vector<Value> parts = iterate(item, line);
  if (parts.size() != targets.size())
    in.error(line, "cannot unpack " + std::to_string(parts.size()) + " values into " + std::to_string(targets.size()) +
                       " loop variables");
  for (size_t i = 0; i < targets.size(); ++i) vars[targets[i]] = parts[i];
}

}  // namespace

void Interpreter::exec_for(const Node& n, std::string& out) {
  Value seq = eval(*n.expr);
  if (!seq.is_undefined() && !seq.is_list() && !seq.is_dict() && !seq.is_string())
    error(n.line, "cannot loop over " + type_name(seq) + " (expected a list, dict or string)");
  std::vector<Value> items = iterate(seq, n.line);
  if (n.cond) {  // `for x in xs if cond`: filtered before the loop, so loop.length counts what remains
    std::vector<Value> kept;
    for (const Value& item : items) {
      auto frame = std::make_shared<Frame>();
      bind_targets(n.targets, item, frame->vars, *this, n.line);
      frames_.push_back(frame);
      bool keep;
      try {
        keep = truthy(eval(*n.cond));
      } catch (...) {
        frames_.pop_back();
        throw;
      }
      frames_.pop_back();
      if (keep) kept.push_back(item);
    }
    items = std::move(kept);
  }
  if (items.empty()) {
    exec(n.else_body, out);
    return;
  }
  if (++depth_ > options_.limits.max_depth) error(n.line, "blocks nested deeper than the limit");
  const int64_t len = static_cast<int64_t>(items.size());
  try {
    for (int64_t i = 0; i < len; ++i) {
      step(n.line);
      auto frame = std::make_shared<Frame>();
      bind_targets(n.targets, items[static_cast<size_t>(i)], frame->vars, *this, n.line);
      Value loop = Value::new_dict();
      auto put = [&loop](const char* key, Value v) { loop.dict->emplace_back(Value::string(key), std::move(v)); };
      put("index", Value::integer(i + 1));
      put("index0", Value::integer(i));
      put("revindex", Value::integer(len - i));
      put("revindex0", Value::integer(len - i - 1));
      put("first", Value::boolean(i == 0));
      put("last", Value::boolean(i == len - 1));
      put("length", Value::integer(len));
      put("depth", Value::integer(1));
      put("depth0", Value::integer(0));
      put("previtem", i > 0 ? items[static_cast<size_t>(i - 1)] : Value::undefined("previtem"));
      put("nextitem", i + 1 < len ? items[static_cast<size_t>(i + 1)] : Value::undefined("nextitem"));
      put("cycle", Value::function([i](Interpreter& in, Args& a) {
        if (a.pos.empty()) in.error(a.line, "loop.cycle() needs at least one value");
        return a.pos[static_cast<size_t>(i) % a.pos.size()];
      }));
      frame->vars["loop"] = loop;
      frames_.push_back(frame);
      Flow f;
      try {
        f = exec(n.body, out);
      } catch (...) {
        frames_.pop_back();
        throw;
      }
      frames_.pop_back();
      if (f == Flow::Break) break;
    }
  } catch (...) {
    --depth_;
    throw;
  }
  --depth_;
}

void Interpreter::exec_set(const Node& n, std::string& out) {
  (void)out;
  Value v;
  if (n.k == Node::SetBlock) {
    std::string text;
    exec(n.body, text);
    v = n.expr ? eval_filter(*n.expr, Value::string(text)) : Value::string(text);
  } else {
    v = eval(*n.expr);
  }
  if (!n.text.empty()) {  // ns.attr = value
    Value ns = lookup(n.targets[0]);
    if (!ns.is_dict() || !ns.is_namespace)
      error(n.line, "cannot set attribute '" + n.text + "' of '" + n.targets[0] + "' (" + type_name(ns) +
                        "): only a namespace() takes attribute assignments");
    ns.set(Value::string(n.text), v);
    return;
  }
  if (n.targets.size() == 1) {
    assign(n.targets[0], v);
    return;
  }
  std::unordered_map<std::string, Value> vars;
  bind_targets(n.targets, v, vars, *this, n.line);
  for (auto& [k, x] : vars) assign(k, x);
}

Value Interpreter::make_macro(const Node& n) {
  const Node* node = &n;
  return Value::function([node](Interpreter& in, Args& a) {
    auto frame = std::make_shared<Frame>();
    size_t npos = node->params.size();
    Value varargs = Value::new_list();
    varargs.is_tuple = true;
    for (size_t i = npos; i < a.pos.size(); ++i) varargs.list->push_back(a.pos[i]);
    Value kwargs = Value::new_dict();
    for (auto& [k, v] : a.kw) {
      bool is_param = k == "caller";
      for (const auto& p : node->params) is_param = is_param || p.first == k;
      if (!is_param) kwargs.set(Value::string(k), v);
    }
    frame->vars["varargs"] = varargs;
    frame->vars["kwargs"] = kwargs;
    std::vector<std::shared_ptr<Frame>> saved = std::move(in.frames_);
    in.frames_ = {saved.front(), frame};
    std::string text;
    try {
      for (size_t i = 0; i < npos; ++i) {
        const auto& [pname, def] = node->params[i];
        Value v = Value::undefined(pname);
        bool given = false;
        if (i < a.pos.size()) {
          v = a.pos[i];
          given = true;
        }
        for (auto& [k, x] : a.kw)
          if (k == pname) {
            v = x;
            given = true;
          }
        if (!given && def) v = in.eval(*def);
        frame->vars[pname] = v;
      }
      for (auto& [k, x] : a.kw)
        if (k == "caller") frame->vars["caller"] = x;
      if (++in.depth_ > in.options_.limits.max_depth)
        in.error(a.line, "macro '" + node->text + "' nested deeper than " + std::to_string(in.options_.limits.max_depth) +
                             " calls (runaway recursion?)");
      in.exec(node->body, text);
      --in.depth_;
    } catch (...) {
      in.frames_ = std::move(saved);
      throw;
    }
    in.frames_ = std::move(saved);
    return Value::string(text);
  });
}

Args Interpreter::eval_args(const Expr& e) {
  Args a;
  a.line = e.line;
  for (const ExprP& x : e.items) a.pos.push_back(eval(*x));
  for (const auto& [k, x] : e.kwargs) a.kw.emplace_back(k, eval(*x));
  return a;
}

Value Interpreter::call_value(const Value& fn, Args& args, int line) {
  if (fn.is_undefined())
    error(line, "'" + fn.s + "' is undefined (called as a function)");
  if (fn.kind != Kind::Func) error(line, type_name(fn) + " " + repr(fn) + " is not callable");
  args.line = line;
  return (*fn.fn)(*this, args);
}

Value Interpreter::get_attr(const Value& obj, const std::string& name, int line) {
  if (obj.is_undefined())
    error(line, "cannot read attribute '" + name + "' of '" + obj.s + "', which is undefined");
  if (obj.is_dict()) {
    if (obj.is_namespace) {
      const Value* v = obj.find(name);
      return v ? *v : Value::undefined(name);
    }
    Value m = get_method(obj, name, line);
    if (!m.is_undefined()) return m;
    const Value* v = obj.find(name);
    return v ? *v : Value::undefined(name);
  }
  if (obj.is_string() || obj.is_list()) return get_method(obj, name, line);
  return Value::undefined(name);
}

Value Interpreter::get_item(const Value& obj, const Value& key, int line) {
  if (obj.is_undefined())
    error(line, "cannot read item " + repr(key) + " of '" + obj.s + "', which is undefined");
  if (obj.is_dict()) {
    const Value* v = obj.find(key);
    if (v) return *v;
    return key.is_string() ? get_attr(obj, key.s, line) : Value::undefined(repr(key));
  }
  if ((obj.is_list() || obj.is_string()) && (key.kind == Kind::Int || key.kind == Kind::Bool)) {
    std::vector<Value> chars;
    const std::vector<Value>* items = obj.list.get();
    if (obj.is_string()) {
      chars = iterate(obj, line);
      items = &chars;
    }
    int64_t n = static_cast<int64_t>(items->size());
    int64_t i = key.kind == Kind::Bool ? key.b : key.i;
    if (i < 0) i += n;
    if (i < 0 || i >= n) return Value::undefined("[" + repr(key) + "]");
    return (*items)[static_cast<size_t>(i)];
  }
  if (key.is_string()) return get_attr(obj, key.s, line);
  return Value::undefined(repr(key));
}

Value Interpreter::slice(const Value& obj, const Expr& e) {
  if (obj.is_undefined()) error(e.line, "cannot slice '" + obj.s + "', which is undefined");
  if (!obj.is_list() && !obj.is_string()) error(e.line, "cannot slice " + type_name(obj));
  std::vector<Value> items = iterate(obj, e.line);
  int64_t n = static_cast<int64_t>(items.size());
  auto bound = [&](const ExprP& x, bool& given) -> int64_t {
    given = false;
    if (!x) return 0;
    Value v = eval(*x);
    if (v.is_none()) return 0;
    if (v.kind != Kind::Int) error(e.line, "slice indices must be integers, not " + type_name(v));
    given = true;
    return v.i;
  };
  bool has_start, has_stop, has_step;
  int64_t start = bound(e.items[0], has_start), stop = bound(e.items[1], has_stop), step = bound(e.items[2], has_step);
  if (!has_step) step = 1;
  if (step == 0) error(e.line, "slice step cannot be zero");
  auto clamp = [&](int64_t v, bool given, int64_t def) {
    if (!given) return def;
    if (v < 0) v += n;
    if (step > 0) return std::clamp<int64_t>(v, 0, n);
    return std::clamp<int64_t>(v, -1, n - 1);
  };
  start = clamp(start, has_start, step > 0 ? 0 : n - 1);
  stop = clamp(stop, has_stop, step > 0 ? n : -1);
  std::vector<Value> out;
  for (int64_t i = start; step > 0 ? i < stop : i > stop; i += step) out.push_back(items[static_cast<size_t>(i)]);
  if (obj.is_string()) {
    std::string s;
    for (const Value& c : out) s += c.s;
    return Value::string(s);
  }
  return Value::new_list(std::move(out));
}

Value Interpreter::eval_filter(const Expr& e, Value subject) {
  // A filter block's chain has no subject expression at its innermost filter: `subject` is the text.
  Value in = e.a ? (e.a->k == Expr::Filter ? eval_filter(*e.a, subject) : eval(*e.a)) : subject;
  Args args = eval_args(e);
  return apply_filter(*this, e.name, std::move(in), args);
}

Value Interpreter::eval(const Expr& e) {
  switch (e.k) {
    case Expr::Literal: return e.lit;
    case Expr::Name: return lookup(e.name);
    case Expr::ListLit: case Expr::TupleLit: {
      Value v = Value::new_list();
      v.is_tuple = e.k == Expr::TupleLit;
      for (const ExprP& x : e.items) v.list->push_back(eval(*x));
      return v;
    }
    case Expr::DictLit: {
      Value v = Value::new_dict();
      for (size_t i = 0; i + 1 < e.items.size(); i += 2) v.set(eval(*e.items[i]), eval(*e.items[i + 1]));
      return v;
    }
    case Expr::Attr: return get_attr(eval(*e.a), e.name, e.line);
    case Expr::Item: return get_item(eval(*e.a), eval(*e.b), e.line);
    case Expr::Slice: return slice(eval(*e.a), e);
    case Expr::Call: {
      Value fn = eval(*e.a);
      Args args = eval_args(e);
      return call_value(fn, args, e.line);
    }
    case Expr::Filter: return eval_filter(e, Value());
    case Expr::Test: {
      Value subject = eval(*e.a);
      Args args = eval_args(e);
      return Value::boolean(apply_test(*this, e.name, subject, args) != e.negated);
    }
    case Expr::Unary: {
      Value v = eval(*e.a);
      if (!v.is_number()) error(e.line, "bad operand for unary " + e.name + ": " + type_name(v));
      if (e.name == "+") return v.kind == Kind::Bool ? Value::integer(v.b) : v;
      if (v.kind == Kind::Float) return Value::real(-v.f);
      return Value::integer(-(v.kind == Kind::Bool ? int64_t(v.b) : v.i));
    }
    case Expr::Binary: return eval_binary(e);
    case Expr::And: {
      Value a = eval(*e.a);
      return truthy(a) ? eval(*e.b) : a;
    }
    case Expr::Or: {
      Value a = eval(*e.a);
      return truthy(a) ? a : eval(*e.b);
    }
    case Expr::Not: return Value::boolean(!truthy(eval(*e.a)));
    case Expr::Cond:
      if (truthy(eval(*e.b))) return eval(*e.a);
      return e.c ? eval(*e.c) : Value::undefined("(conditional without else)");
  }
  return Value();
}

}  // namespace pad::jinja::detail

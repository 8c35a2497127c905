// Jinja parser: statements and expressions with Jinja2's operator precedence (conditional < or < and
// < not < comparisons and `in` < + - < ~ < * / // % < ** < unary minus < filters, tests, calls,
// attributes and subscripts).
#include <algorithm>
#include <set>

#include "jinja_internal.h"
#include "jinja_lexer.h"

namespace pad::jinja::detail {
namespace {

ExprP make(Expr::Kind k, int line) {
  auto e = std::make_unique<Expr>();
  e->k = k;
  e->line = line;
  return e;
}

std::string describe(const Token& t) {
  switch (t.type) {
    case Token::Text: return "text";
    case Token::VarBegin: return "'{{'";
    case Token::VarEnd: return "'}}'";
    case Token::BlockBegin: return "'{%'";
    case Token::BlockEnd: return "'%}'";
    case Token::Name: return "'" + t.text + "'";
    case Token::String: return "a string";
    case Token::Int: case Token::Float: return "the number " + t.text;
    case Token::Op: return "'" + t.text + "'";
    case Token::End: return "the end of the template";
  }
  return "?";
}

class Parser {
 public:
  Parser(std::vector<Token> tokens, const std::string& name) : t_(std::move(tokens)), name_(name) {}

  Body parse_all() {
    std::string end;
    Body body = parse_body({}, end);
    return body;
  }

 private:
  const Token& cur() const { return t_[p_]; }
  const Token& peek(size_t k = 1) const { return t_[std::min(p_ + k, t_.size() - 1)]; }
  bool is_op(const char* op) const { return cur().type == Token::Op && cur().text == op; }
  bool is_name(const char* n) const { return cur().type == Token::Name && cur().text == n; }
  [[noreturn]] void error(const std::string& what) const {
    fail(name_, cur().line, "expected " + what + ", found " + describe(cur()));
  }
  void expect_op(const char* op) {
    if (!is_op(op)) error(std::string("'") + op + "'");
    ++p_;
  }
  void expect_block_end(const std::string& tag) {
    if (cur().type != Token::BlockEnd) error("'%}' to close '" + tag + "'");
    ++p_;
  }
  std::string expect_name(const std::string& what) {
    if (cur().type != Token::Name) error(what);
    return t_[p_++].text;
  }

  // Statements up to one of `ends` ({% elif %}, {% endfor %}...); the tag found goes to `end`
  // (its name already consumed, its '%}' not).
  Body parse_body(const std::set<std::string>& ends, std::string& end) {
    Body body;
    while (true) {
      const Token& tk = cur();
      if (tk.type == Token::End) {
        if (!ends.empty()) fail(name_, tk.line, "unexpected end of template (expected " + list(ends) + ")");
        return body;
      }
      if (tk.type == Token::Text) {
        auto n = std::make_unique<Node>();
        n->k = Node::Text;
        n->line = tk.line;
        n->text = tk.text;
        body.push_back(std::move(n));
        ++p_;
      } else if (tk.type == Token::VarBegin) {
        ++p_;
        auto n = std::make_unique<Node>();
        n->k = Node::Output;
        n->line = tk.line;
        n->expr = parse_expr();
        if (cur().type != Token::VarEnd) error("'}}'");
        ++p_;
        body.push_back(std::move(n));
      } else if (tk.type == Token::BlockBegin) {
        ++p_;
        std::string tag = expect_name("a statement name after '{%'");
        if (ends.count(tag)) {
          end = tag;
          return body;
        }
        if (tag == "elif" || tag == "else" || tag.rfind("end", 0) == 0)
          fail(name_, tk.line, "unexpected '" + tag + "'" +
                                   (ends.empty() ? std::string(" (no block is open)") : " (expected " + list(ends) + ")"));
        NodeP n = parse_statement(tag, t_[p_ - 1].line);
        if (n) body.push_back(std::move(n));
      } else {
        error("text, '{{' or '{%'");
      }
    }
  }

  static std::string list(const std::set<std::string>& names) {
    std::string s;
    for (const std::string& n : names) s += (s.empty() ? "'" : " or '") + n + "'";
    return s;
  }

  NodeP node(Node::Kind k, int line) {
    auto n = std::make_unique<Node>();
    n->k = k;
    n->line = line;
    return n;
  }

  NodeP parse_statement(const std::string& tag, int line) {
    DepthGuard guard(*this);
    if (tag == "if") return parse_if(line);
    if (tag == "for") return parse_for(line);
    if (tag == "set") return parse_set(line);
    if (tag == "macro") return parse_macro(line);
    if (tag == "call") return parse_call_block(line);
    if (tag == "filter") {
      NodeP n = node(Node::FilterBlock, line);
      n->expr = parse_filter_chain(nullptr);
      expect_block_end(tag);
      std::string end;
      n->body = parse_body({"endfilter"}, end);
      expect_block_end(end);
      return n;
    }
    if (tag == "break" || tag == "continue") {
      if (loop_depth_ == 0) fail(name_, line, "'" + tag + "' outside a for loop");
      expect_block_end(tag);
      return node(tag == "break" ? Node::Break : Node::Continue, line);
    }
    if (tag == "generation") {  // transformers' assistant-mask marker: renders its body unchanged
      expect_block_end(tag);
      NodeP n = node(Node::If, line);
      std::string end;
      auto yes = make(Expr::Literal, line);
      yes->lit = Value::boolean(true);
      n->branches.emplace_back(std::move(yes), parse_body({"endgeneration"}, end));
      expect_block_end(end);
      return n;
    }
    fail(name_, line, "unknown statement '" + tag + "' (expected if, for, set, macro, call, filter, break or continue)");
  }

  NodeP parse_if(int line) {
    NodeP n = node(Node::If, line);
    std::string end = "if";
    while (true) {
      ExprP cond = parse_expr();
      expect_block_end(end);
      Body body = parse_body({"elif", "else", "endif"}, end);
      n->branches.emplace_back(std::move(cond), std::move(body));
      if (end == "elif") continue;
      if (end == "else") {
        expect_block_end(end);
        n->else_body = parse_body({"endif"}, end);
      }
      expect_block_end(end);
      return n;
    }
  }

  NodeP parse_for(int line) {
    NodeP n = node(Node::For, line);
    bool paren = is_op("(");
    if (paren) ++p_;
    n->targets.push_back(expect_name("a loop variable name"));
    while (is_op(",")) {
      ++p_;
      n->targets.push_back(expect_name("a loop variable name"));
    }
    if (paren) expect_op(")");
    if (!is_name("in")) error("'in' in the for statement");
    ++p_;
    n->expr = parse_or();
    if (is_op(",")) n->expr = parse_tuple_rest(std::move(n->expr));
    if (is_name("if")) {
      ++p_;
      n->cond = parse_or();
    }
    if (is_name("recursive")) fail(name_, cur().line, "recursive for loops are not supported");
    expect_block_end("for");
    ++loop_depth_;
    std::string end;
    n->body = parse_body({"else", "endfor"}, end);
    --loop_depth_;
    if (end == "else") {
      expect_block_end(end);
      n->else_body = parse_body({"endfor"}, end);
    }
    expect_block_end(end);
    return n;
  }

  NodeP parse_set(int line) {
    NodeP n = node(Node::Set, line);
    n->targets.push_back(expect_name("a variable name after 'set'"));
    if (is_op(".")) {
      ++p_;
      n->text = expect_name("an attribute name");
    } else {
      while (is_op(",")) {
        ++p_;
        n->targets.push_back(expect_name("a variable name"));
      }
    }
    if (is_op("=")) {
      ++p_;
      n->expr = parse_expr();
      if (is_op(",")) n->expr = parse_tuple_rest(std::move(n->expr));
      expect_block_end("set");
      return n;
    }
    if (n->targets.size() != 1 || !n->text.empty()) error("'=' in the set statement");
    n->k = Node::SetBlock;
    if (is_op("|")) n->expr = parse_filter_chain(nullptr);
    expect_block_end("set");
    std::string end;
    n->body = parse_body({"endset"}, end);
    expect_block_end(end);
    return n;
  }

  void parse_params(std::vector<std::pair<std::string, ExprP>>& params) {
    expect_op("(");
    while (!is_op(")")) {
      std::string name = expect_name("a parameter name");
      ExprP def;
      if (is_op("=")) {
        ++p_;
        def = parse_expr();
      }
      params.emplace_back(name, std::move(def));
      if (!is_op(",")) break;
      ++p_;
    }
    expect_op(")");
  }

  NodeP parse_macro(int line) {
    NodeP n = node(Node::Macro, line);
    n->text = expect_name("a macro name");
    parse_params(n->params);
    expect_block_end("macro");
    int saved = loop_depth_;
    loop_depth_ = 0;
    std::string end;
    n->body = parse_body({"endmacro"}, end);
    loop_depth_ = saved;
    if (cur().type == Token::Name && cur().text == n->text) ++p_;
    expect_block_end(end);
    return n;
  }

  NodeP parse_call_block(int line) {
    NodeP n = node(Node::CallBlock, line);
    if (is_op("(")) parse_params(n->params);
    n->expr = parse_expr();
    if (n->expr->k != Expr::Call) fail(name_, line, "expected a macro call after 'call'");
    expect_block_end("call");
    std::string end;
    n->body = parse_body({"endcall"}, end);
    expect_block_end(end);
    return n;
  }

  // Nesting bound: a hostile template must not overflow the stack.
  struct DepthGuard {
    Parser& p;
    explicit DepthGuard(Parser& parser) : p(parser) {
      if (++p.depth_ > kMaxNesting) fail(p.name_, p.cur().line, "expressions or blocks nested deeper than 100 levels");
    }
    ~DepthGuard() { --p.depth_; }
  };
  static constexpr int kMaxNesting = 100;

  // ---- expressions ----
  ExprP parse_expr() {
    DepthGuard guard(*this);
    ExprP a = parse_or();
    while (is_name("if")) {
      int line = cur().line;
      ++p_;
      auto c = make(Expr::Cond, line);
      c->b = parse_or();
      if (is_name("else")) {
        ++p_;
        c->c = parse_expr();
      }
      c->a = std::move(a);
      a = std::move(c);
    }
    return a;
  }

  ExprP parse_tuple_rest(ExprP first) {
    auto t = make(Expr::TupleLit, first->line);
    t->items.push_back(std::move(first));
    while (is_op(",")) {
      ++p_;
      if (cur().type == Token::BlockEnd || cur().type == Token::VarEnd || is_op(")")) break;
      t->items.push_back(parse_expr());
    }
    return t;
  }

  ExprP binary(Expr::Kind k, std::string op, ExprP a, ExprP b) {
    auto e = make(k, a->line);
    e->name = std::move(op);
    grow(*e, a);
    grow(*e, b);
    e->a = std::move(a);
    e->b = std::move(b);
    return e;
  }

  // Chains (a + b + c..., a.b.c..., x|f|g...) are built without recursion; their height is bounded here.
  void grow(Expr& parent, const ExprP& child) {
    if (!child) return;
    parent.height = std::max(parent.height, child->height + 1);
    if (parent.height > kMaxHeight) fail(name_, parent.line, "expression too long (more than 1000 chained operations)");
  }
  static constexpr int kMaxHeight = 1000;

  ExprP parse_or() {
    ExprP a = parse_and();
    while (is_name("or")) {
      ++p_;
      a = binary(Expr::Or, "or", std::move(a), parse_and());
    }
    return a;
  }
  ExprP parse_and() {
    ExprP a = parse_not();
    while (is_name("and")) {
      ++p_;
      a = binary(Expr::And, "and", std::move(a), parse_not());
    }
    return a;
  }
  ExprP parse_not() {
    if (is_name("not")) {
      DepthGuard guard(*this);
      auto e = make(Expr::Not, cur().line);
      ++p_;
      e->a = parse_not();
      return e;
    }
    return parse_compare();
  }
  ExprP parse_compare() {
    ExprP a = parse_math1();
    while (true) {
      std::string op;
      if (cur().type == Token::Op && (cur().text == "==" || cur().text == "!=" || cur().text == "<" ||
                                      cur().text == ">" || cur().text == "<=" || cur().text == ">=")) {
        op = cur().text;
        ++p_;
      } else if (is_name("in")) {
        op = "in";
        ++p_;
      } else if (is_name("not") && peek().type == Token::Name && peek().text == "in") {
        op = "not in";
        p_ += 2;
      } else {
        return a;
      }
      a = binary(Expr::Binary, op, std::move(a), parse_math1());
    }
  }
  ExprP parse_math1() {
    ExprP a = parse_concat();
    while (is_op("+") || is_op("-")) {
      std::string op = t_[p_++].text;
      a = binary(Expr::Binary, op, std::move(a), parse_concat());
    }
    return a;
  }
  ExprP parse_concat() {
    ExprP a = parse_math2();
    while (is_op("~")) {
      ++p_;
      a = binary(Expr::Binary, "~", std::move(a), parse_math2());
    }
    return a;
  }
  ExprP parse_math2() {
    ExprP a = parse_pow();
    while (is_op("*") || is_op("/") || is_op("//") || is_op("%")) {
      std::string op = t_[p_++].text;
      a = binary(Expr::Binary, op, std::move(a), parse_pow());
    }
    return a;
  }
  ExprP parse_pow() {
    ExprP a = parse_unary(true);
    while (is_op("**")) {
      ++p_;
      a = binary(Expr::Binary, "**", std::move(a), parse_unary(true));
    }
    return a;
  }
  ExprP parse_unary(bool with_filter) {
    ExprP e;
    if (is_op("-") || is_op("+")) {
      DepthGuard guard(*this);
      e = make(Expr::Unary, cur().line);
      e->name = t_[p_++].text;
      e->a = parse_unary(false);
    } else {
      e = parse_postfix(parse_primary());
    }
    return with_filter ? parse_filter_expr(std::move(e)) : std::move(e);
  }

  ExprP parse_primary() {
    const Token& tk = cur();
    int line = tk.line;
    if (tk.type == Token::Name) {
      ++p_;
      auto e = make(Expr::Literal, line);
      if (tk.text == "true" || tk.text == "True") e->lit = Value::boolean(true);
      else if (tk.text == "false" || tk.text == "False") e->lit = Value::boolean(false);
      else if (tk.text == "none" || tk.text == "None") e->lit = Value::none();
      else {
        e->k = Expr::Name;
        e->name = tk.text;
      }
      return e;
    }
    if (tk.type == Token::String) {
      std::string s;
      while (cur().type == Token::String) s += t_[p_++].text;
      auto e = make(Expr::Literal, line);
      e->lit = Value::string(s);
      return e;
    }
    if (tk.type == Token::Int || tk.type == Token::Float) {
      ++p_;
      auto e = make(Expr::Literal, line);
      try {
        e->lit = tk.type == Token::Int ? Value::integer(std::stoll(tk.text)) : Value::real(std::stod(tk.text));
      } catch (const std::exception&) {
        fail(name_, line, "number " + tk.text + " out of range");
      }
      return e;
    }
    if (is_op("(")) {
      ++p_;
      if (is_op(")")) {
        ++p_;
        return make(Expr::TupleLit, line);
      }
      ExprP e = parse_expr();
      if (is_op(",")) e = parse_tuple_rest(std::move(e));
      expect_op(")");
      return e;
    }
    if (is_op("[")) {
      ++p_;
      auto e = make(Expr::ListLit, line);
      while (!is_op("]")) {
        e->items.push_back(parse_expr());
        if (!is_op(",")) break;
        ++p_;
      }
      expect_op("]");
      return e;
    }
    if (is_op("{")) {
      ++p_;
      auto e = make(Expr::DictLit, line);
      while (!is_op("}")) {
        e->items.push_back(parse_expr());
        expect_op(":");
        e->items.push_back(parse_expr());
        if (!is_op(",")) break;
        ++p_;
      }
      expect_op("}");
      return e;
    }
    error("an expression");
  }

  ExprP parse_postfix(ExprP e) {
    while (true) {
      if (is_op(".")) {
        ++p_;
        auto a = make(Expr::Attr, cur().line);
        if (cur().type == Token::Name) a->name = t_[p_++].text;
        else if (cur().type == Token::Int) {
          a->k = Expr::Item;
          a->b = make(Expr::Literal, cur().line);
          a->b->lit = Value::integer(std::stoll(t_[p_++].text));
        } else error("an attribute name after '.'");
        grow(*a, e);
        a->a = std::move(e);
        e = std::move(a);
      } else if (is_op("[")) {
        e = parse_subscript(std::move(e));
      } else if (is_op("(")) {
        e = parse_call(std::move(e));
      } else {
        return e;
      }
    }
  }

  ExprP parse_subscript(ExprP obj) {
    int line = cur().line;
    expect_op("[");
    ExprP parts[3];
    int colons = 0;
    while (!is_op("]")) {
      if (is_op(":")) {
        if (++colons > 2) error("']'");
        ++p_;
        continue;
      }
      if (parts[colons]) error("':' or ']'");
      parts[colons] = parse_expr();
    }
    expect_op("]");
    if (colons == 0) {
      if (!parts[0]) fail(name_, line, "expected a subscript inside '[]'");
      auto e = make(Expr::Item, line);
      grow(*e, obj);
      e->a = std::move(obj);
      e->b = std::move(parts[0]);
      return e;
    }
    auto e = make(Expr::Slice, line);
    grow(*e, obj);
    e->a = std::move(obj);
    for (ExprP& part : parts) e->items.push_back(std::move(part));
    return e;
  }

  void parse_call_args(Expr& call) {
    expect_op("(");
    while (!is_op(")")) {
      if (cur().type == Token::Name && peek().type == Token::Op && peek().text == "=") {
        std::string k = t_[p_].text;
        p_ += 2;
        call.kwargs.emplace_back(k, parse_expr());
      } else {
        if (!call.kwargs.empty()) error("a keyword argument (positional arguments come first)");
        call.items.push_back(parse_expr());
      }
      if (!is_op(",")) break;
      ++p_;
    }
    expect_op(")");
  }

  ExprP parse_call(ExprP callee) {
    auto e = make(Expr::Call, cur().line);
    parse_call_args(*e);
    grow(*e, callee);
    e->a = std::move(callee);
    return e;
  }

  ExprP parse_filter_chain(ExprP subject) {
    do {
      if (is_op("|")) ++p_;
      auto f = make(Expr::Filter, cur().line);
      f->name = expect_name("a filter name");
      while (is_op(".") && peek().type == Token::Name) {
        f->name += "." + peek().text;
        p_ += 2;
      }
      if (is_op("(")) parse_call_args(*f);
      grow(*f, subject);
      f->a = std::move(subject);
      subject = std::move(f);
    } while (is_op("|"));
    return subject;
  }

  ExprP parse_filter_expr(ExprP e) {
    while (true) {
      if (is_op("|")) {
        e = parse_filter_chain(std::move(e));
      } else if (is_name("is")) {
        auto t = make(Expr::Test, cur().line);
        ++p_;
        if (is_name("not")) {
          t->negated = true;
          ++p_;
        }
        t->name = expect_name("a test name after 'is'");
        if (is_op("(")) {
          parse_call_args(*t);
        } else if ((cur().type == Token::Name || cur().type == Token::String || cur().type == Token::Int ||
                    cur().type == Token::Float || is_op("[") || is_op("{")) &&
                   !is_name("else") && !is_name("or") && !is_name("and")) {
          t->items.push_back(parse_postfix(parse_primary()));
        }
        grow(*t, e);
        t->a = std::move(e);
        e = std::move(t);
      } else if (is_op("(")) {
        e = parse_call(std::move(e));
      } else {
        return e;
      }
    }
  }

  std::vector<Token> t_;
  const std::string& name_;
  size_t p_ = 0;
  int loop_depth_ = 0;
  int depth_ = 0;
};

}  // namespace

void parse_template(const std::string& source, Program& program) {
  Parser parser(lex(source, program.name), program.name);
  program.body = parser.parse_all();
}

}  // namespace pad::jinja::detail

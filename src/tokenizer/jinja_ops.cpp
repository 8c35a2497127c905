// Jinja's binary operators with Python's semantics, and the public Template class.
#include <cmath>
#include <cstdio>

#include "jinja_internal.h"
#include "pad/util/error.h"

namespace pad::jinja::detail {
namespace {

bool intlike(const Value& v) { return v.kind == Kind::Int || v.kind == Kind::Bool; }
int64_t ival(const Value& v) { return v.kind == Kind::Bool ? v.b : v.i; }
double fval(const Value& v) { return v.kind == Kind::Float ? v.f : double(ival(v)); }

bool contains(Interpreter& in, const Value& container, const Value& item, int line) {
  switch (container.kind) {
    case Kind::Undefined: return false;
    case Kind::String:
      if (!item.is_string()) in.error(line, "'in <string>' needs a string on the left, not " + type_name(item));
      return container.s.find(item.s) != std::string::npos;
    case Kind::List:
      for (const Value& v : *container.list)
        if (equal(v, item)) return true;
      return false;
    case Kind::Dict: return container.find(item) != nullptr;
    default: in.error(line, "'in' needs a string, list or dict on the right, not " + type_name(container));
  }
}

}  // namespace

// Python's printf-style `format % values` for %s %r %d %i %f %%.
std::string percent_format(Interpreter& in, const std::string& fmt, const Value& values, int line) {
  std::vector<Value> args = values.is_tuple ? *values.list : std::vector<Value>{values};
  size_t next = 0;
  std::string out;
  for (size_t i = 0; i < fmt.size(); ++i) {
    if (fmt[i] != '%') {
      out += fmt[i];
      continue;
    }
    if (++i >= fmt.size()) in.error(line, "incomplete format string");
    std::string spec = "%";
    while (i < fmt.size() && std::string("0123456789.-+ #").find(fmt[i]) != std::string::npos) spec += fmt[i++];
    char c = fmt[i];
    if (c == '%') {
      out += '%';
      continue;
    }
    if (next >= args.size()) in.error(line, "not enough arguments for the format string");
    const Value& v = args[next++];
    char buf[128];
    if (c == 's' || c == 'r') {
      std::string s = c == 's' ? to_str(v) : repr(v);
      std::snprintf(buf, sizeof buf, (spec + "s").c_str(), s.c_str());
      out += spec == "%" ? s : std::string(buf);
    } else if (c == 'd' || c == 'i') {
      if (!v.is_number()) in.error(line, "%d format needs a number, not " + type_name(v));
      std::snprintf(buf, sizeof buf, (spec + "lld").c_str(),
                    static_cast<long long>(intlike(v) ? ival(v) : static_cast<int64_t>(std::trunc(v.f))));
      out += buf;
    } else if (c == 'f' || c == 'e' || c == 'g') {
      if (!v.is_number()) in.error(line, std::string("%") + c + " format needs a number, not " + type_name(v));
      std::snprintf(buf, sizeof buf, (spec + c).c_str(), fval(v));
      out += buf;
    } else {
      in.error(line, std::string("unsupported format character '") + c + "'");
    }
  }
  if (next < args.size()) in.error(line, "not all arguments converted during string formatting");
  return out;
}

namespace {

Value arith(Interpreter& in, const std::string& op, const Value& a, const Value& b, int line) {
  if (a.is_undefined() || b.is_undefined())
    in.error(line, "'" + (a.is_undefined() ? a.s : b.s) + "' is undefined (an operand of '" + op + "')");
  if (a.is_number() && b.is_number()) {
    bool ints = intlike(a) && intlike(b);
    int64_t x = ival(a), y = ival(b);
    double p = fval(a), q = fval(b);
    if (op == "+") return ints ? Value::integer(x + y) : Value::real(p + q);
    if (op == "-") return ints ? Value::integer(x - y) : Value::real(p - q);
    if (op == "*") return ints ? Value::integer(x * y) : Value::real(p * q);
    if (op == "/") {
      if (q == 0) in.error(line, "division by zero");
      return Value::real(p / q);
    }
    if (op == "//" || op == "%") {
      if (q == 0) in.error(line, op == "%" ? "modulo by zero" : "integer division by zero");
      if (ints) {
        int64_t d = x / y, r = x % y;
        if (r != 0 && ((r < 0) != (y < 0))) {
          --d;
          r += y;
        }
        return op == "//" ? Value::integer(d) : Value::integer(r);
      }
      double d = std::floor(p / q);
      return op == "//" ? Value::real(d) : Value::real(p - d * q);
    }
    if (op == "**") {
      if (ints && y >= 0) {
        int64_t r = 1;
        for (int64_t k = 0; k < y && k < 64; ++k) r *= x;
        return Value::integer(r);
      }
      return Value::real(std::pow(p, q));
    }
  }
  if (op == "+" && a.is_string() && b.is_string()) return Value::string(a.s + b.s);
  if (op == "+" && a.is_list() && b.is_list()) {
    Value v = Value::new_list(*a.list);
    v.list->insert(v.list->end(), b.list->begin(), b.list->end());
    return v;
  }
  if (op == "*" && (a.is_string() || a.is_list() || b.is_string() || b.is_list())) {
    const Value& seq = a.is_string() || a.is_list() ? a : b;
    const Value& n = &seq == &a ? b : a;
    if (!intlike(n)) in.error(line, "can only multiply a " + type_name(seq) + " by an integer, not " + type_name(n));
    int64_t k = std::max<int64_t>(0, ival(n));
    if (seq.is_string()) {
      if (static_cast<double>(seq.s.size()) * k > 1e8) in.error(line, "string repetition too large");
      std::string s;
      for (int64_t i = 0; i < k; ++i) s += seq.s;
      return Value::string(s);
    }
    if (static_cast<double>(seq.list->size()) * k > 1e7) in.error(line, "list repetition too large");
    Value v = Value::new_list();
    for (int64_t i = 0; i < k; ++i) v.list->insert(v.list->end(), seq.list->begin(), seq.list->end());
    return v;
  }
  if (op == "%" && a.is_string()) return Value::string(percent_format(in, a.s, b, line));
  in.error(line, "unsupported operand types for " + op + ": " + type_name(a) + " and " + type_name(b));
}

}  // namespace

Value Interpreter::eval_binary(const Expr& e) {
  const std::string& op = e.name;
  Value a = eval(*e.a);
  Value b = eval(*e.b);
  if (op == "~") return Value::string(to_str(a) + to_str(b));
  if (op == "==") return Value::boolean(equal(a, b));
  if (op == "!=") return Value::boolean(!equal(a, b));
  if (op == "in") return Value::boolean(contains(*this, b, a, e.line));
  if (op == "not in") return Value::boolean(!contains(*this, b, a, e.line));
  if (op == "<" || op == ">" || op == "<=" || op == ">=") {
    if (a.is_undefined() || b.is_undefined())
      error(e.line, "'" + (a.is_undefined() ? a.s : b.s) + "' is undefined (compared with '" + op + "')");
    int c;
    try {
      c = compare(a, b, e.line);
    } catch (const std::invalid_argument&) {
      error(e.line, "'" + op + "' is not supported between " + type_name(a) + " and " + type_name(b));
    }
    return Value::boolean(op == "<" ? c < 0 : op == ">" ? c > 0 : op == "<=" ? c <= 0 : c >= 0);
  }
  return arith(*this, op, a, b, e.line);
}

}  // namespace pad::jinja::detail

namespace pad::jinja {

Template::Template(const std::string& source, std::string name)
    : name_(std::move(name)), program_(std::make_unique<detail::Program>()) {
  program_->name = name_;
  detail::parse_template(source, *program_);
}

Template::~Template() = default;
Template::Template(Template&&) noexcept = default;
Template& Template::operator=(Template&&) noexcept = default;

std::string Template::render(const nlohmann::ordered_json& vars, const RenderOptions& options) const {
  detail::Interpreter in(*program_, options);
  try {
    return in.run(vars);
  } catch (const std::invalid_argument& e) {
    std::string m = e.what();  // the value helpers name only the line; add the template's name
    if (m.rfind("line ", 0) == 0) throw_invalid(name_, " ", m);
    throw;
  }
}

}  // namespace pad::jinja

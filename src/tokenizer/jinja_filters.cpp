// Jinja's built-in filters, tests and global functions (range, namespace, dict, raise_exception,
// strftime_now), with Jinja2 3.1's argument names and defaults.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <map>
#include <optional>

#include "jinja_internal.h"
#include "pad/tokenizer/unicode.h"
#include "pad/util/error.h"

namespace pad::jinja::detail {
namespace {

bool intlike(const Value& v) { return v.kind == Kind::Int || v.kind == Kind::Bool; }

// Jinja's title filter: words begin after spaces, '-', and opening brackets.
std::string jinja_title(const std::string& s) {
  std::string out;
  bool start = true;
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    bool sep = c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v' || c == '-' || c == '(' ||
               c == '{' || c == '[' || c == '<';
    if (sep) {
      out += c;
      start = true;
    } else {
      out += static_cast<char>(start ? std::toupper(static_cast<unsigned char>(c)) : std::tolower(static_cast<unsigned char>(c)));
      start = false;
    }
  }
  return out;
}


// `attribute` of a filter: "a.b" walks nested attributes, digits index lists (Jinja's make_attrgetter).
Value attribute_of(Interpreter& in, const Value& item, const Value& attr, int line) {
  if (attr.kind == Kind::Int) {
    if (item.is_list() && attr.i >= 0 && attr.i < static_cast<int64_t>(item.list->size()))
      return (*item.list)[static_cast<size_t>(attr.i)];
    return Value::undefined(std::to_string(attr.i));
  }
  if (!attr.is_string()) in.error(line, "attribute must be a string, not " + type_name(attr));
  Value cur = item;
  size_t p = 0;
  while (p <= attr.s.size()) {
    size_t q = attr.s.find('.', p);
    std::string part = attr.s.substr(p, q == std::string::npos ? std::string::npos : q - p);
    if (cur.is_undefined()) return cur;
    bool digits = !part.empty() && std::all_of(part.begin(), part.end(), [](char c) { return std::isdigit(static_cast<unsigned char>(c)); });
    if (cur.is_dict()) {
      const Value* v = cur.find(part);
      cur = v ? *v : Value::undefined(part);
    } else if (cur.is_list() && digits) {
      size_t i = std::stoul(part);
      cur = i < cur.list->size() ? (*cur.list)[i] : Value::undefined(part);
    } else {
      cur = Value::undefined(part);
    }
    if (q == std::string::npos) break;
    p = q + 1;
  }
  return cur;
}

std::vector<Value> items_of(const Value& v, int line) {
  if (v.is_none()) return {};
  return iterate(v, line);
}

Value sort_key(const Value& v, bool case_sensitive) {
  if (!case_sensitive && v.is_string()) return Value::string(utf8_lowercase(v.s));
  return v;
}

// Python's round(x, ndigits): half to even, on the decimal value.
double py_round(double x, int64_t nd) {
  if (nd >= 0 && nd < 300 && std::isfinite(x)) {  // printf rounds the exact binary value, as Python does
    char buf[512];
    std::snprintf(buf, sizeof buf, "%.*f", static_cast<int>(nd), x);
    return std::strtod(buf, nullptr);
  }
  double m = std::pow(10.0, static_cast<double>(nd));
  return std::nearbyint(x * m) / m;
}

std::string indent(const std::string& text, const std::string& pad, bool first, bool blank) {
  std::string s = text + "\n";
  std::vector<std::string> lines;
  size_t p = 0;
  while (p < s.size()) {
    size_t q = s.find_first_of("\r\n", p);
    lines.push_back(s.substr(p, q - p));
    p = q + (s[q] == '\r' && q + 1 < s.size() && s[q + 1] == '\n' ? 2 : 1);
  }
  std::string rv;
  if (blank) {
    for (size_t i = 0; i < lines.size(); ++i) {
      if (i) rv.append("\n").append(pad);
      rv += lines[i];
    }
  } else {
    rv = lines.empty() ? "" : lines[0];
    for (size_t i = 1; i < lines.size(); ++i) {
      rv += '\n';
      if (!lines[i].empty()) rv.append(pad).append(lines[i]);
    }
  }
  return first ? pad + rv : rv;
}

Value select_items(Interpreter& in, const std::string& filter, const Value& seq, Args& a) {
  bool attr_form = filter == "selectattr" || filter == "rejectattr";
  bool keep_if = filter == "select" || filter == "selectattr";
  size_t test_at = attr_form ? 1 : 0;
  Value attr = attr_form ? arg(a, 0, "attribute") : Value();
  Value test = test_at < a.pos.size() ? a.pos[test_at] : Value();
  Args test_args;
  test_args.line = a.line;
  for (size_t i = test_at + 1; i < a.pos.size(); ++i) test_args.pos.push_back(a.pos[i]);
  test_args.kw = a.kw;
  Value out = Value::new_list();
  for (const Value& item : items_of(seq, a.line)) {
    Value x = attr_form ? attribute_of(in, item, attr, a.line) : item;
    bool ok = test.is_undefined() ? truthy(x) : apply_test(in, to_str(test), x, test_args);
    if (ok == keep_if) out.list->push_back(item);
  }
  return out;
}

Value map_items(Interpreter& in, const Value& seq, Args& a) {
  Value out = Value::new_list();
  Value attr = arg(a, SIZE_MAX, "attribute");
  if (!attr.is_undefined()) {
    Value def = arg(a, SIZE_MAX, "default");
    for (const Value& item : items_of(seq, a.line)) {
      Value v = attribute_of(in, item, attr, a.line);
      out.list->push_back(v.is_undefined() && !def.is_undefined() ? def : v);
    }
    return out;
  }
  if (a.pos.empty()) in.error(a.line, "map needs a filter name or attribute=");
  std::string name = to_str(a.pos[0]);
  Args rest;
  rest.line = a.line;
  rest.pos.assign(a.pos.begin() + 1, a.pos.end());
  rest.kw = a.kw;
  for (const Value& item : items_of(seq, a.line)) {
    Args copy = rest;
    out.list->push_back(apply_filter(in, name, item, copy));
  }
  return out;
}

Value sorted(Interpreter& in, const Value& seq, Args& a, bool unique) {
  bool reverse = !unique && truthy(arg(a, 0, "reverse", Value::boolean(false)));
  bool cs = truthy(arg(a, unique ? 0 : 1, "case_sensitive", Value::boolean(false)));
  Value attr = arg(a, unique ? 1 : 2, "attribute", Value::none());
  std::vector<Value> items = items_of(seq, a.line);
  auto key = [&](const Value& v) {
    return sort_key(attr.is_none() ? v : attribute_of(in, v, attr, a.line), cs);
  };
  if (unique) {
    std::vector<Value> out, seen;
    for (const Value& v : items) {
      Value k = key(v);
      if (std::none_of(seen.begin(), seen.end(), [&](const Value& s) { return equal(s, k); })) {
        seen.push_back(k);
        out.push_back(v);
      }
    }
    return Value::new_list(std::move(out));
  }
  std::stable_sort(items.begin(), items.end(), [&](const Value& x, const Value& y) {
    int c = compare(key(x), key(y), a.line);
    return reverse ? c > 0 : c < 0;
  });
  return Value::new_list(std::move(items));
}

Value to_int(const Value& v, const Value& def) {
  if (intlike(v)) return Value::integer(v.kind == Kind::Bool ? v.b : v.i);
  if (v.kind == Kind::Float) return Value::integer(static_cast<int64_t>(std::trunc(v.f)));
  if (v.is_string()) {
    std::string s = strip(v.s, "", true, true);
    try {
      size_t used = 0;
      long long x = std::stoll(s, &used, 10);
      if (used == s.size()) return Value::integer(x);
      double d = std::stod(s, &used);
      if (used == s.size()) return Value::integer(static_cast<int64_t>(std::trunc(d)));
    } catch (const std::exception&) {
    }
  }
  return def;
}

Value to_float(const Value& v, const Value& def) {
  if (v.is_number()) return Value::real(v.kind == Kind::Float ? v.f : v.kind == Kind::Bool ? v.b : double(v.i));
  if (v.is_string()) {
    std::string s = strip(v.s, "", true, true);
    try {
      size_t used = 0;
      double d = std::stod(s, &used);
      if (used == s.size()) return Value::real(d);
    } catch (const std::exception&) {
    }
  }
  return def;
}

// Filters on text (and tojson/string, which make text).
std::optional<Value> text_filter(Interpreter& in, const std::string& name, Value& v, Args& a) {
  const int line = a.line;
  auto str = [&] { return to_str(v); };
  if (name == "trim") {
    Value chars = arg(a, 0, "chars", Value::none());
    return Value::string(strip(str(), chars.is_string() ? chars.s : "", true, true));
  }
  if (name == "upper" || name == "capitalize") {
    Args none;
    none.line = line;
    return (*get_method(Value::string(str()), name, line).fn)(in, none);
  }
  if (name == "lower") return Value::string(utf8_lowercase(str()));
  if (name == "title") return Value::string(jinja_title(str()));
  if (name == "tojson") {
    Value ind = arg(a, 0, "indent", Value::none());
    if (!ind.is_none() && ind.kind != Kind::Int) in.error(line, "tojson: indent must be an integer");
    Value seps = arg(a, 1, "separators", Value::none());
    std::string item_sep, key_sep;
    if (!seps.is_none()) {
      if (!seps.is_list() || seps.list->size() != 2 || !(*seps.list)[0].is_string() || !(*seps.list)[1].is_string())
        in.error(line, "tojson: separators must be a pair of strings");
      item_sep = (*seps.list)[0].s;
      key_sep = (*seps.list)[1].s;
    }
    return Value::string(to_json(v, ind.is_none() ? -1 : static_cast<int>(ind.i),
                                 truthy(arg(a, 2, "sort_keys", Value::boolean(false))), line,
                                 seps.is_none() ? nullptr : &item_sep, seps.is_none() ? nullptr : &key_sep));
  }
  if (name == "string") return Value::string(str());
  if (name == "safe" || name == "e" || name == "escape" || name == "forceescape") {
    if (name == "safe") return v.is_string() ? v : Value::string(str());
    std::string out;
    for (char c : str()) {
      switch (c) {
        case '&': out += "&amp;"; break;
        case '<': out += "&lt;"; break;
        case '>': out += "&gt;"; break;
        case '"': out += "&#34;"; break;
        case '\'': out += "&#39;"; break;
        default: out += c;
      }
    }
    return Value::string(out);
  }
  if (name == "replace") {
    Value count = arg(a, 2, "count", Value::none());
    Args ra;
    ra.line = line;
    ra.pos = {arg(a, 0, "old"), arg(a, 1, "new")};
    if (!count.is_none()) ra.pos.push_back(count);
    return (*get_method(Value::string(str()), "replace", line).fn)(in, ra);
  }
  if (name == "indent") {
    Value w = arg(a, 0, "width", Value::integer(4));
    std::string pad = w.is_string() ? w.s : std::string(static_cast<size_t>(std::max<int64_t>(0, w.i)), ' ');
    return Value::string(indent(str(), pad, truthy(arg(a, 1, "first", Value::boolean(false))),
                                truthy(arg(a, 2, "blank", Value::boolean(false)))));
  }
  if (name == "format") {
    Value tuple = Value::new_list(a.pos);
    tuple.is_tuple = true;
    return Value::string(percent_format(in, str(), tuple, line));
  }
  return std::nullopt;
}

// Filters on single values.
std::optional<Value> value_filter(Interpreter& in, const std::string& name, Value& v, Args& a) {
  const int line = a.line;
  if (name == "length" || name == "count") return Value::integer(length(v, line));
  if (name == "default" || name == "d") {
    bool boolean = truthy(arg(a, 1, "boolean", Value::boolean(false)));
    if (v.is_undefined() || (boolean && !truthy(v))) return arg(a, 0, "default_value", Value::string(""));
    return v;
  }
  if (name == "int") return to_int(v, arg(a, 0, "default", Value::integer(0)));
  if (name == "float") return to_float(v, arg(a, 0, "default", Value::real(0)));
  if (name == "bool") return Value::boolean(truthy(v));
  if (name == "round") {
    if (!v.is_number()) in.error(line, "round needs a number, not " + type_name(v));
    int64_t precision = arg(a, 0, "precision", Value::integer(0)).i;
    std::string method = to_str(arg(a, 1, "method", Value::string("common")));
    double x = v.kind == Kind::Float ? v.f : v.kind == Kind::Bool ? v.b : double(v.i);
    double m = std::pow(10.0, static_cast<double>(precision));
    if (method == "floor") return Value::real(std::floor(x * m) / m);
    if (method == "ceil") return Value::real(std::ceil(x * m) / m);
    if (method != "common") in.error(line, "round: method must be common, ceil or floor");
    return Value::real(py_round(x, precision));
  }
  if (name == "abs") {
    if (v.kind == Kind::Float) return Value::real(std::fabs(v.f));
    if (intlike(v)) return Value::integer(std::llabs(v.kind == Kind::Bool ? v.b : v.i));
    in.error(line, "abs needs a number, not " + type_name(v));
  }
  if (name == "attr") {
    Value key = arg(a, 0, "name");
    return v.is_dict() && v.find(key) ? *v.find(key) : Value::undefined(to_str(key));
  }
  return std::nullopt;
}

// Filters on lists, dicts and strings as sequences.
std::optional<Value> sequence_filter(Interpreter& in, const std::string& name, Value& v, Args& a) {
  const int line = a.line;
  if (name == "join") {
    Value sep = arg(a, 0, "d", Value::string(""));
    Value attr = arg(a, 1, "attribute", Value::none());
    std::string out;
    bool first = true;
    for (const Value& item : items_of(v, line)) {
      if (!first) out += to_str(sep);
      out += to_str(attr.is_none() ? item : attribute_of(in, item, attr, line));
      first = false;
    }
    return Value::string(out);
  }
  if (name == "list") return Value::new_list(items_of(v, line));
  if (name == "first" || name == "last") {
    std::vector<Value> items = items_of(v, line);
    if (items.empty()) return Value::undefined(name);
    return name == "first" ? items.front() : items.back();
  }
  if (name == "reverse") {
    std::vector<Value> items = items_of(v, line);
    std::reverse(items.begin(), items.end());
    if (v.is_string()) {
      std::string s;
      for (const Value& c : items) s += c.s;
      return Value::string(s);
    }
    return Value::new_list(std::move(items));
  }
  if (name == "sort") return sorted(in, v, a, false);
  if (name == "unique") return sorted(in, v, a, true);
  if (name == "map") return map_items(in, v, a);
  if (name == "select" || name == "reject" || name == "selectattr" || name == "rejectattr") return select_items(in, name, v, a);
  if (name == "items" || name == "dictsort") {
    if (v.is_undefined()) return Value::new_list();
    if (!v.is_dict()) in.error(line, name + " needs a dict, not " + type_name(v));
    Value out = Value::new_list();
    for (const auto& [k, x] : *v.dict) {
      Value pair = Value::new_list({k, x});
      pair.is_tuple = true;
      out.list->push_back(pair);
    }
    if (name == "dictsort")
      std::stable_sort(out.list->begin(), out.list->end(), [&](const Value& x, const Value& y) {
        return compare(sort_key((*x.list)[0], false), sort_key((*y.list)[0], false), line) < 0;
      });
    return out;
  }
  if (name == "min" || name == "max") {
    std::vector<Value> items = items_of(v, line);
    if (items.empty()) return Value::undefined(name);
    Value best = items[0];
    for (const Value& x : items) {
      int c = compare(sort_key(x, false), sort_key(best, false), line);
      if (name == "min" ? c < 0 : c > 0) best = x;
    }
    return best;
  }
  if (name == "sum") {
    Value attr = arg(a, 0, "attribute", Value::none());
    Value total = arg(a, 1, "start", Value::integer(0));
    for (const Value& x : items_of(v, line)) {
      Value y = attr.is_none() ? x : attribute_of(in, x, attr, line);
      if (!y.is_number() || !total.is_number()) in.error(line, "sum needs numbers, not " + type_name(y));
      if (intlike(total) && intlike(y)) total = Value::integer((total.kind == Kind::Bool ? total.b : total.i) + (y.kind == Kind::Bool ? y.b : y.i));
      else total = Value::real(to_float(total, Value()).f + to_float(y, Value()).f);
    }
    return total;
  }
  return std::nullopt;
}

}  // namespace

Value apply_filter(Interpreter& in, const std::string& name, Value v, Args& a) {
  for (auto* group : {text_filter, value_filter, sequence_filter})
    if (std::optional<Value> r = group(in, name, v, a)) return *r;
  in.error(a.line, "unknown filter '" + name + "'");
}

bool apply_test(Interpreter& in, const std::string& name, const Value& v, Args& a) {
  const int line = a.line;
  auto other = [&] { return arg(a, 0, "other"); };
  if (name == "defined") return !v.is_undefined();
  if (name == "undefined") return v.is_undefined();
  if (name == "none") return v.is_none();
  if (name == "string") return v.is_string();
  if (name == "number") return v.is_number();
  if (name == "integer") return v.kind == Kind::Int;
  if (name == "float") return v.kind == Kind::Float;
  if (name == "boolean") return v.kind == Kind::Bool;
  if (name == "true") return v.kind == Kind::Bool && v.b;
  if (name == "false") return v.kind == Kind::Bool && !v.b;
  if (name == "mapping") return v.is_dict() && !v.is_namespace;
  if (name == "iterable") return v.is_list() || v.is_dict() || v.is_string() || v.is_undefined();
  if (name == "sequence") return v.is_list() || v.is_dict() || v.is_string();
  if (name == "callable") return v.kind == Kind::Func;
  if (name == "equalto" || name == "eq" || name == "==" || name == "sameas") return equal(v, other());
  if (name == "ne" || name == "!=") return !equal(v, other());
  if (name == "lt" || name == "lessthan" || name == "<") return compare(v, other(), line) < 0;
  if (name == "gt" || name == "greaterthan" || name == ">") return compare(v, other(), line) > 0;
  if (name == "le" || name == "<=") return compare(v, other(), line) <= 0;
  if (name == "ge" || name == ">=") return compare(v, other(), line) >= 0;
  if (name == "in") {
    Value seq = arg(a, 0, "seq");
    if (seq.is_string()) return v.is_string() && seq.s.find(v.s) != std::string::npos;
    if (seq.is_dict()) return seq.find(v) != nullptr;
    for (const Value& x : items_of(seq, line))
      if (equal(x, v)) return true;
    return false;
  }
  if (name == "odd" || name == "even" || name == "divisibleby") {
    if (!intlike(v)) in.error(line, "test '" + name + "' needs an integer, not " + type_name(v));
    int64_t x = v.kind == Kind::Bool ? v.b : v.i;
    if (name == "divisibleby") {
      Value d = arg(a, 0, "num");
      if (!intlike(d) || d.i == 0) in.error(line, "divisibleby needs a non-zero integer");
      return x % d.i == 0;
    }
    return (x % 2 != 0) == (name == "odd");
  }
  if (name == "lower") return v.is_string() && utf8_lowercase(v.s) == v.s;
  if (name == "upper") return v.is_string() && to_str(v) == v.s && v.s.find_first_of("abcdefghijklmnopqrstuvwxyz") == std::string::npos;
  in.error(line, "unknown test '" + name + "'");
}

Value global_function(const std::string& name) {
  if (name == "range")
    return Value::function([](Interpreter& in, Args& a) {
      int64_t start = 0, stop, step = 1;
      for (const Value& v : a.pos)
        if (!intlike(v)) in.error(a.line, "range needs integers, not " + type_name(v));
      if (a.pos.size() == 1) stop = a.pos[0].i;
      else if (a.pos.size() == 2 || a.pos.size() == 3) {
        start = a.pos[0].i;
        stop = a.pos[1].i;
        if (a.pos.size() == 3) step = a.pos[2].i;
      } else in.error(a.line, "range takes 1 to 3 integers");
      if (step == 0) in.error(a.line, "range step cannot be zero");
      Value out = Value::new_list();
      for (int64_t i = start; step > 0 ? i < stop : i > stop; i += step) {
        if (out.list->size() >= 1'000'000) in.error(a.line, "range of more than 1000000 items");
        out.list->push_back(Value::integer(i));
      }
      return out;
    });
  if (name == "namespace" || name == "dict")
    return Value::function([name](Interpreter& in, Args& a) {
      Value ns = Value::new_dict();
      ns.is_namespace = name == "namespace";
      for (const Value& p : a.pos) {
        if (!p.is_dict()) in.error(a.line, name + "() takes a dict or keyword arguments, not " + type_name(p));
        for (const auto& [k, v] : *p.dict) ns.set(k, v);
      }
      for (const auto& [k, v] : a.kw) ns.set(Value::string(k), v);
      return ns;
    });
  if (name == "raise_exception")
    return Value::function([](Interpreter& in, Args& a) -> Value {
      in.error(a.line, "the template refused the input: " + to_str(arg(a, 0, "message")));
    });
  if (name == "strftime_now")
    return Value::function([](Interpreter& in, Args& a) {
      std::string fmt = to_str(arg(a, 0, "format"));
      if (in.options().strftime_now) return Value::string(in.options().strftime_now(fmt));
      std::time_t t = std::time(nullptr);
      std::tm tm{};
      localtime_r(&t, &tm);
      char buf[256];
      size_t n = std::strftime(buf, sizeof buf, fmt.c_str(), &tm);
      return Value::string(std::string(buf, n));
    });
  return Value::undefined(name);
}

}  // namespace pad::jinja::detail

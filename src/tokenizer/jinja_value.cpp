// Jinja values with Python's semantics: truth, equality, ordering, str()/repr(), and json.dumps as
// transformers' tojson calls it (ensure_ascii=False, insertion order kept).
#include <charconv>
#include <cmath>
#include <cstdio>

#include "jinja_internal.h"
#include "pad/tokenizer/unicode.h"
#include "pad/util/error.h"

namespace pad::jinja::detail {

const Value* Value::find(const Value& key) const {
  if (!dict) return nullptr;
  for (const auto& [k, v] : *dict)
    if (equal(k, key)) return &v;
  return nullptr;
}

const Value* Value::find(const std::string& key) const {
  if (!dict) return nullptr;
  for (const auto& [k, v] : *dict)
    if (k.kind == Kind::String && k.s == key) return &v;
  return nullptr;
}

void Value::set(const Value& key, Value v) {
  for (auto& kv : *dict)
    if (equal(kv.first, key)) {
      kv.second = std::move(v);
      return;
    }
  dict->emplace_back(key, std::move(v));
}

bool truthy(const Value& v) {
  switch (v.kind) {
    case Kind::Undefined: case Kind::None: return false;
    case Kind::Bool: return v.b;
    case Kind::Int: return v.i != 0;
    case Kind::Float: return v.f != 0;
    case Kind::String: return !v.s.empty();
    case Kind::List: return !v.list->empty();
    case Kind::Dict: return v.is_namespace || !v.dict->empty();
    case Kind::Func: return true;
  }
  return false;
}

namespace {
double as_double(const Value& v) { return v.kind == Kind::Float ? v.f : v.kind == Kind::Bool ? v.b : double(v.i); }
bool is_intlike(const Value& v) { return v.kind == Kind::Int || v.kind == Kind::Bool; }
int64_t as_int(const Value& v) { return v.kind == Kind::Bool ? v.b : v.i; }
}  // namespace

bool equal(const Value& a, const Value& b) {
  if (a.is_number() && b.is_number()) {
    if (is_intlike(a) && is_intlike(b)) return as_int(a) == as_int(b);
    return as_double(a) == as_double(b);
  }
  if (a.kind != b.kind) return false;
  switch (a.kind) {
    case Kind::Undefined: case Kind::None: return true;
    case Kind::String: return a.s == b.s;
    case Kind::List:
      if (a.list->size() != b.list->size()) return false;
      for (size_t i = 0; i < a.list->size(); ++i)
        if (!equal((*a.list)[i], (*b.list)[i])) return false;
      return true;
    case Kind::Dict:
      if (a.dict == b.dict) return true;
      if (a.is_namespace || b.is_namespace || a.dict->size() != b.dict->size()) return false;
      for (const auto& [k, v] : *a.dict) {
        const Value* o = b.find(k);
        if (!o || !equal(v, *o)) return false;
      }
      return true;
    case Kind::Func: return a.fn == b.fn;
    default: return false;
  }
}

int compare(const Value& a, const Value& b, int line) {
  if (a.is_number() && b.is_number()) {
    if (is_intlike(a) && is_intlike(b)) return as_int(a) < as_int(b) ? -1 : as_int(a) > as_int(b);
    double x = as_double(a), y = as_double(b);
    return x < y ? -1 : x > y;
  }
  if (a.is_string() && b.is_string()) return a.s < b.s ? -1 : a.s > b.s;
  if (a.is_list() && b.is_list()) {
    size_t n = std::min(a.list->size(), b.list->size());
    for (size_t i = 0; i < n; ++i) {
      int c = compare((*a.list)[i], (*b.list)[i], line);
      if (c) return c;
    }
    return a.list->size() < b.list->size() ? -1 : a.list->size() > b.list->size();
  }
  throw_invalid("line ", line, ": cannot order ", type_name(a), " and ", type_name(b));
}

std::string type_name(const Value& v) {
  switch (v.kind) {
    case Kind::Undefined: return "undefined";
    case Kind::None: return "none";
    case Kind::Bool: return "boolean";
    case Kind::Int: return "integer";
    case Kind::Float: return "float";
    case Kind::String: return "string";
    case Kind::List: return v.is_tuple ? "tuple" : "list";
    case Kind::Dict: return v.is_namespace ? "namespace" : "dict";
    case Kind::Func: return "function";
  }
  return "?";
}

// Python's repr(float): the shortest text that reads back, in exponent form below 1e-4 or from 1e16.
std::string float_repr(double d) {
  if (std::isnan(d)) return "nan";
  if (std::isinf(d)) return d > 0 ? "inf" : "-inf";
  char buf[64];
  auto r = std::to_chars(buf, buf + sizeof buf, d, std::chars_format::scientific);
  std::string sci(buf, r.ptr);  // e.g. "1.5e+00", "-2e-05"
  size_t e = sci.find('e');
  int exp = std::stoi(sci.substr(e + 1));
  std::string mant = sci.substr(0, e);
  bool neg = !mant.empty() && mant[0] == '-';
  if (neg) mant = mant.substr(1);
  std::string digits;
  for (char c : mant)
    if (c != '.') digits += c;
  std::string out;
  if (exp < -4 || exp >= 16) {
    out = digits.substr(0, 1);
    if (digits.size() > 1) out += "." + digits.substr(1);
    char eb[16];
    std::snprintf(eb, sizeof eb, "e%c%02d", exp < 0 ? '-' : '+', std::abs(exp));
    out += eb;
  } else if (exp < 0) {
    out = "0.";
    out.append(static_cast<size_t>(-exp - 1), '0');
    out += digits;
  } else {
    if (digits.size() <= static_cast<size_t>(exp) + 1) {
      out = digits + std::string(static_cast<size_t>(exp) + 1 - digits.size(), '0') + ".0";
    } else {
      out = digits.substr(0, static_cast<size_t>(exp) + 1) + "." + digits.substr(static_cast<size_t>(exp) + 1);
    }
  }
  return neg ? "-" + out : out;
}

namespace {

std::string repr_string(const std::string& s) {
  char q = s.find('\'') != std::string::npos && s.find('"') == std::string::npos ? '"' : '\'';
  std::string out(1, q);
  for (unsigned char c : s) {
    if (c == static_cast<unsigned char>(q) || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c == '\n') out += "\\n";
    else if (c == '\r') out += "\\r";
    else if (c == '\t') out += "\\t";
    else if (c < 0x20 || c == 0x7F) {
      char b[8];
      std::snprintf(b, sizeof b, "\\x%02x", c);
      out += b;
    } else out += static_cast<char>(c);
  }
  return out + q;
}

void json_string(std::string& out, const std::string& s) {
  out += '"';
  for (unsigned char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      default:
        if (c < 0x20) {
          char b[8];
          std::snprintf(b, sizeof b, "\\u%04x", c);
          out += b;
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  out += '"';
}

struct JsonStyle {
  int indent;           // < 0: one line
  bool sort_keys;
  std::string item_sep;  // json.dumps' separators
  std::string key_sep;
};

void json_dump(std::string& out, const Value& v, const JsonStyle& st, int level, int line) {
  const int indent = st.indent;
  auto newline = [&](int lvl) {
    if (indent >= 0) {
      out += '\n';
      out.append(static_cast<size_t>(indent * lvl), ' ');
    }
  };
  const std::string& item_sep = st.item_sep;
  switch (v.kind) {
    case Kind::Undefined: case Kind::None: out += "null"; return;
    case Kind::Bool: out += v.b ? "true" : "false"; return;
    case Kind::Int: out += std::to_string(v.i); return;
    case Kind::Float:
      out += std::isnan(v.f) ? "NaN" : std::isinf(v.f) ? (v.f > 0 ? "Infinity" : "-Infinity") : float_repr(v.f);
      return;
    case Kind::String: json_string(out, v.s); return;
    case Kind::List: {
      if (v.list->empty()) {
        out += "[]";
        return;
      }
      out += '[';
      for (size_t i = 0; i < v.list->size(); ++i) {
        if (i) out += item_sep;
        newline(level + 1);
        json_dump(out, (*v.list)[i], st, level + 1, line);
      }
      newline(level);
      out += ']';
      return;
    }
    case Kind::Dict: {
      if (v.dict->empty()) {
        out += "{}";
        return;
      }
      std::vector<const std::pair<Value, Value>*> items;
      for (const auto& kv : *v.dict) items.push_back(&kv);
      if (st.sort_keys)
        std::stable_sort(items.begin(), items.end(),
                         [line](auto* a, auto* b) { return compare(a->first, b->first, line) < 0; });
      out += '{';
      bool first = true;
      for (const auto* kv : items) {
        if (!first) out += item_sep;
        first = false;
        newline(level + 1);
        const Value& k = kv->first;
        if (k.is_string()) json_string(out, k.s);
        else if (k.kind == Kind::Int || k.kind == Kind::Float || k.kind == Kind::Bool || k.is_none()) {
          std::string t;
          json_dump(t, k, JsonStyle{-1, false, ", ", ": "}, 0, line);
          json_string(out, t);
        } else throw_invalid("line ", line, ": tojson: dict keys must be strings or numbers, not ", type_name(k));
        out += st.key_sep;
        json_dump(out, kv->second, st, level + 1, line);
      }
      newline(level);
      out += '}';
      return;
    }
    case Kind::Func: throw_invalid("line ", line, ": tojson: a function is not JSON serializable");
  }
}

}  // namespace

std::string repr(const Value& v) {
  switch (v.kind) {
    case Kind::Undefined: return "";
    case Kind::None: return "None";
    case Kind::Bool: return v.b ? "True" : "False";
    case Kind::Int: return std::to_string(v.i);
    case Kind::Float: return float_repr(v.f);
    case Kind::String: return repr_string(v.s);
    case Kind::List: {
      std::string out = v.is_tuple ? "(" : "[";
      for (size_t i = 0; i < v.list->size(); ++i) out += (i ? ", " : "") + repr((*v.list)[i]);
      if (v.is_tuple && v.list->size() == 1) out += ",";
      return out + (v.is_tuple ? ")" : "]");
    }
    case Kind::Dict: {
      if (v.is_namespace) return "<Namespace>";
      std::string out = "{";
      bool first = true;
      for (const auto& [k, x] : *v.dict) {
        out += (first ? "" : ", ") + repr(k) + ": " + repr(x);
        first = false;
      }
      return out + "}";
    }
    case Kind::Func: return "<function>";
  }
  return "";
}

std::string to_str(const Value& v) {
  if (v.kind == Kind::String) return v.s;
  if (v.kind == Kind::Undefined) return "";
  return repr(v);
}

Value from_json(const nlohmann::ordered_json& j) {
  switch (j.type()) {
    case nlohmann::ordered_json::value_t::null: return Value::none();
    case nlohmann::ordered_json::value_t::boolean: return Value::boolean(j.get<bool>());
    case nlohmann::ordered_json::value_t::number_integer: return Value::integer(j.get<int64_t>());
    case nlohmann::ordered_json::value_t::number_unsigned: {
      uint64_t u = j.get<uint64_t>();
      return u > static_cast<uint64_t>(INT64_MAX) ? Value::real(static_cast<double>(u)) : Value::integer(static_cast<int64_t>(u));
    }
    case nlohmann::ordered_json::value_t::number_float: return Value::real(j.get<double>());
    case nlohmann::ordered_json::value_t::string: return Value::string(j.get<std::string>());
    case nlohmann::ordered_json::value_t::array: {
      Value v = Value::new_list();
      for (const auto& x : j) v.list->push_back(from_json(x));
      return v;
    }
    case nlohmann::ordered_json::value_t::object: {
      Value v = Value::new_dict();
      for (auto it = j.begin(); it != j.end(); ++it) v.dict->emplace_back(Value::string(it.key()), from_json(it.value()));
      return v;
    }
    default: return Value::none();
  }
}

std::string to_json(const Value& v, int indent, bool sort_keys, int line, const std::string* item_sep,
                    const std::string* key_sep) {
  JsonStyle st{indent, sort_keys, indent >= 0 ? "," : ", ", ": "};
  if (item_sep) st.item_sep = *item_sep;
  if (key_sep) st.key_sep = *key_sep;
  std::string out;
  json_dump(out, v, st, 0, line);
  return out;
}

std::vector<Value> iterate(const Value& v, int line) {
  switch (v.kind) {
    case Kind::Undefined: return {};
    case Kind::List: return *v.list;
    case Kind::Dict: {
      std::vector<Value> keys;
      for (const auto& kv : *v.dict) keys.push_back(kv.first);
      return keys;
    }
    case Kind::String: {
      std::vector<Value> chars;
      for (size_t i = 0; i < v.s.size();) {
        size_t b = i;
        utf8_decode(v.s, i);
        chars.push_back(Value::string(v.s.substr(b, i - b)));
      }
      return chars;
    }
    default: throw_invalid("line ", line, ": ", type_name(v), " is not iterable");
  }
}

int64_t length(const Value& v, int line) {
  switch (v.kind) {
    case Kind::Undefined: return 0;
    case Kind::List: return static_cast<int64_t>(v.list->size());
    case Kind::Dict: return static_cast<int64_t>(v.dict->size());
    case Kind::String: {
      int64_t n = 0;
      for (unsigned char c : v.s) n += (c & 0xC0) != 0x80;
      return n;
    }
    default: throw_invalid("line ", line, ": ", type_name(v), " has no length");
  }
}

std::string strip(const std::string& s, const std::string& chars, bool left, bool right) {
  auto strippable_at_start = [&](size_t i, size_t& next) {
    next = i;
    uint32_t cp = utf8_decode(s, next);
    if (chars.empty()) return is_unicode_whitespace(cp);
    return chars.find(s.substr(i, next - i)) != std::string::npos;
  };
  size_t b = 0, e = s.size();
  if (left) {
    size_t next;
    while (b < e && strippable_at_start(b, next)) b = next;
  }
  if (right) {
    while (e > b) {
      size_t start = e - 1;
      while (start > b && (static_cast<unsigned char>(s[start]) & 0xC0) == 0x80) --start;
      size_t next;
      if (!strippable_at_start(start, next)) break;
      e = start;
    }
  }
  return s.substr(b, e - b);
}

}  // namespace pad::jinja::detail

// Jinja's built-in filters, tests, global functions and the Python str/dict methods chat templates
// call, as ImmutableSandboxedEnvironment allows them (no method mutates a list or dict).
#include <algorithm>
#include <cmath>
#include <ctime>

#include "jinja_internal.h"
#include "pad/tokenizer/unicode.h"
#include "pad/util/error.h"

namespace pad::jinja::detail {
namespace {

std::string need_string(Interpreter& in, const Value& v, const std::string& what, int line) {
  if (v.is_undefined()) return "";
  if (!v.is_string()) in.error(line, what + " needs a string, not " + type_name(v));
  return v.s;
}

std::string ascii_upper(std::string s) {
  for (char& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return s;
}
std::string lower(const std::string& s) { return utf8_lowercase(s); }

// Python's str.title(): a cased character after an uncased one is upper-cased, the rest lower-cased.
std::string py_title(const std::string& s) {
  std::string out;
  bool prev_cased = false;
  for (size_t i = 0; i < s.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (std::isalpha(c)) {
      out += static_cast<char>(prev_cased ? std::tolower(c) : std::toupper(c));
      prev_cased = true;
    } else {
      out += static_cast<char>(c);
      prev_cased = c >= 0x80 ? prev_cased : false;
    }
  }
  return out;
}

std::string capitalize(const std::string& s) {
  if (s.empty()) return s;
  std::string rest = lower(s.substr(1));
  return std::string(1, static_cast<char>(std::toupper(static_cast<unsigned char>(s[0])))) + rest;
}

std::string replace_all(const std::string& s, const std::string& from, const std::string& to, int64_t count) {
  if (from.empty()) return s;
  std::string out;
  size_t p = 0;
  int64_t n = 0;
  while (count < 0 || n < count) {
    size_t q = s.find(from, p);
    if (q == std::string::npos) break;
    out += s.substr(p, q - p) + to;
    p = q + from.size();
    ++n;
  }
  return out + s.substr(p);
}

std::vector<std::string> py_split(const std::string& s, const Value& sep, int64_t maxsplit) {
  std::vector<std::string> parts;
  if (sep.is_none() || sep.is_undefined()) {
    size_t i = 0;
    while (true) {
      while (i < s.size() && std::isspace(static_cast<unsigned char>(s[i]))) ++i;
      if (i >= s.size()) break;
      if (maxsplit >= 0 && static_cast<int64_t>(parts.size()) == maxsplit) {
        size_t e = s.size();
        while (e > i && std::isspace(static_cast<unsigned char>(s[e - 1]))) --e;
        parts.push_back(s.substr(i, e - i));
        break;
      }
      size_t j = i;
      while (j < s.size() && !std::isspace(static_cast<unsigned char>(s[j]))) ++j;
      parts.push_back(s.substr(i, j - i));
      i = j;
    }
    return parts;
  }
  size_t p = 0;
  while (maxsplit < 0 || static_cast<int64_t>(parts.size()) < maxsplit) {
    size_t q = s.find(sep.s, p);
    if (q == std::string::npos) break;
    parts.push_back(s.substr(p, q - p));
    p = q + sep.s.size();
  }
  parts.push_back(s.substr(p));
  return parts;
}

Value string_list(const std::vector<std::string>& parts) {
  Value v = Value::new_list();
  for (const std::string& p : parts) v.list->push_back(Value::string(p));
  return v;
}

// Prefix tests accept a string or a tuple of strings, as Python's startswith does.
bool affix(const std::string& s, const Value& what, bool prefix) {
  std::vector<Value> options = what.is_list() ? *what.list : std::vector<Value>{what};
  for (const Value& o : options) {
    if (!o.is_string() || o.s.size() > s.size()) continue;
    if (prefix ? s.compare(0, o.s.size(), o.s) == 0 : s.compare(s.size() - o.s.size(), o.s.size(), o.s) == 0) return true;
  }
  return false;
}

Value string_method(const Value& obj, const std::string& name) {
  const std::string s = obj.s;
  auto fn = [](auto f) { return Value::function(f); };
  if (name == "strip" || name == "lstrip" || name == "rstrip") {
    bool l = name != "rstrip", r = name != "lstrip";
    return fn([s, l, r](Interpreter& in, Args& a) {
      Value c = arg(a, 0, "chars", Value::none());
      return Value::string(strip(s, c.is_none() ? "" : need_string(in, c, "strip", a.line), l, r));
    });
  }
  if (name == "upper") return fn([s](Interpreter&, Args&) { return Value::string(ascii_upper(s)); });
  if (name == "lower") return fn([s](Interpreter&, Args&) { return Value::string(lower(s)); });
  if (name == "title") return fn([s](Interpreter&, Args&) { return Value::string(py_title(s)); });
  if (name == "capitalize") return fn([s](Interpreter&, Args&) { return Value::string(capitalize(s)); });
  if (name == "split" || name == "rsplit")
    return fn([s, name](Interpreter& in, Args& a) {
      Value sep = arg(a, 0, "sep", Value::none());
      if (!sep.is_none() && (!sep.is_string() || sep.s.empty())) in.error(a.line, "split: the separator must be a non-empty string");
      int64_t maxsplit = arg(a, 1, "maxsplit", Value::integer(-1)).i;
      if (name == "rsplit" && maxsplit >= 0 && !sep.is_none()) {  // split from the right
        std::vector<std::string> parts;
        std::string rest = s;
        while (static_cast<int64_t>(parts.size()) < maxsplit) {
          size_t q = rest.rfind(sep.s);
          if (q == std::string::npos) break;
          parts.insert(parts.begin(), rest.substr(q + sep.s.size()));
          rest = rest.substr(0, q);
        }
        parts.insert(parts.begin(), rest);
        return string_list(parts);
      }
      return string_list(py_split(s, sep, maxsplit));
    });
  if (name == "splitlines")
    return fn([s](Interpreter&, Args&) {
      std::vector<std::string> lines;
      size_t p = 0;
      while (p < s.size()) {
        size_t q = s.find_first_of("\r\n", p);
        if (q == std::string::npos) {
          lines.push_back(s.substr(p));
          break;
        }
        lines.push_back(s.substr(p, q - p));
        p = q + (s[q] == '\r' && q + 1 < s.size() && s[q + 1] == '\n' ? 2 : 1);
      }
      return string_list(lines);
    });
  if (name == "startswith" || name == "endswith") {
    bool prefix = name == "startswith";
    return fn([s, prefix](Interpreter&, Args& a) { return Value::boolean(affix(s, arg(a, 0, "prefix"), prefix)); });
  }
  if (name == "replace")
    return fn([s](Interpreter& in, Args& a) {
      std::string from = need_string(in, arg(a, 0, "old"), "replace", a.line);
      std::string to = need_string(in, arg(a, 1, "new"), "replace", a.line);
      return Value::string(replace_all(s, from, to, arg(a, 2, "count", Value::integer(-1)).i));
    });
  if (name == "find" || name == "count" || name == "index" || name == "rfind")
    return fn([s, name](Interpreter& in, Args& a) {
      std::string sub = need_string(in, arg(a, 0, "sub"), name, a.line);
      if (name == "count") {
        int64_t n = 0;
        if (sub.empty()) return Value::integer(static_cast<int64_t>(s.size()) + 1);
        for (size_t p = s.find(sub); p != std::string::npos; p = s.find(sub, p + sub.size())) ++n;
        return Value::integer(n);
      }
      size_t p = name == "rfind" ? s.rfind(sub) : s.find(sub);
      if (p == std::string::npos && name == "index") in.error(a.line, "index: substring not found");
      return Value::integer(p == std::string::npos ? -1 : static_cast<int64_t>(p));
    });
  if (name == "join")
    return fn([s](Interpreter& in, Args& a) {
      std::string out;
      bool first = true;
      for (const Value& v : iterate(arg(a, 0, "iterable"), a.line)) {
        if (!first) out += s;
        out += need_string(in, v, "join", a.line);
        first = false;
      }
      return Value::string(out);
    });
  if (name == "removeprefix" || name == "removesuffix") {
    bool prefix = name == "removeprefix";
    return fn([s, prefix](Interpreter& in, Args& a) {
      std::string x = need_string(in, arg(a, 0, "x"), "removeprefix", a.line);
      if (affix(s, Value::string(x), prefix)) return Value::string(prefix ? s.substr(x.size()) : s.substr(0, s.size() - x.size()));
      return Value::string(s);
    });
  }
  if (name == "isdigit" || name == "isalpha" || name == "isspace" || name == "isupper" || name == "islower")
    return fn([s, name](Interpreter&, Args&) {
      if (s.empty()) return Value::boolean(false);
      bool ok = true, cased = false;
      for (unsigned char c : s) {
        if (name == "isdigit") ok = ok && std::isdigit(c);
        else if (name == "isalpha") ok = ok && std::isalpha(c);
        else if (name == "isspace") ok = ok && std::isspace(c);
        else if (std::isalpha(c)) {
          cased = true;
          ok = ok && (name == "isupper" ? std::isupper(c) : std::islower(c));
        }
      }
      return Value::boolean(ok && (name == "isdigit" || name == "isalpha" || name == "isspace" || cased));
    });
  if (name == "format")
    return fn([s](Interpreter& in, Args& a) {
      std::string out;
      size_t next = 0;
      for (size_t i = 0; i < s.size(); ++i) {
        if (s[i] == '{' && i + 1 < s.size() && s[i + 1] == '{') { out += '{'; ++i; continue; }
        if (s[i] == '}' && i + 1 < s.size() && s[i + 1] == '}') { out += '}'; ++i; continue; }
        if (s[i] != '{') { out += s[i]; continue; }
        size_t e = s.find('}', i);
        if (e == std::string::npos) in.error(a.line, "format: unmatched '{'");
        std::string field = s.substr(i + 1, e - i - 1);
        Value v;
        if (field.empty()) v = arg(a, next++, "");
        else if (std::isdigit(static_cast<unsigned char>(field[0]))) v = arg(a, static_cast<size_t>(std::stoul(field)), "");
        else v = arg(a, SIZE_MAX, field.c_str());
        out += to_str(v);
        i = e;
      }
      return Value::string(out);
    });
  return Value::undefined(name);
}

Value dict_method(const Value& obj, const std::string& name) {
  if (name == "items" || name == "keys" || name == "values")
    return Value::function([obj, name](Interpreter&, Args&) {
      Value v = Value::new_list();
      for (const auto& [k, x] : *obj.dict) {
        if (name == "items") {
          Value pair = Value::new_list({k, x});
          pair.is_tuple = true;
          v.list->push_back(pair);
        } else {
          v.list->push_back(name == "keys" ? k : x);
        }
      }
      return v;
    });
  if (name == "get")
    return Value::function([obj](Interpreter&, Args& a) {
      const Value* v = obj.find(arg(a, 0, "key"));
      return v ? *v : arg(a, 1, "default", Value::none());
    });
  return Value::undefined(name);
}

[[noreturn]] void unsafe(const Value& obj, const std::string& name, int line) {
  throw_invalid("line ", line, ": ", "access to attribute '", name, "' of '", type_name(obj), "' object is unsafe");
}

}  // namespace

Value get_method(const Value& obj, const std::string& name, int line) {
  static const char* const kMutating[] = {"append", "extend", "insert", "pop", "remove", "clear", "update",
                                          "setdefault", "sort", "reverse", "popitem"};
  if (obj.is_string()) return string_method(obj, name);
  if (obj.is_dict() && !obj.is_namespace) {
    Value m = dict_method(obj, name);
    if (m.is_undefined() && !obj.find(name))
      for (const char* mut : kMutating)
        if (name == mut) unsafe(obj, name, line);
    return m;
  }
  if (obj.is_list()) {
    for (const char* mut : kMutating)
      if (name == mut) unsafe(obj, name, line);
    if (name == "index" || name == "count")
      return Value::function([obj, name](Interpreter& in, Args& a) {
        Value x = arg(a, 0, "value");
        int64_t n = 0;
        for (size_t i = 0; i < obj.list->size(); ++i)
          if (equal((*obj.list)[i], x)) {
            if (name == "index") return Value::integer(static_cast<int64_t>(i));
            ++n;
          }
        if (name == "index") in.error(a.line, "index: " + repr(x) + " is not in the list");
        return Value::integer(n);
      });
  }
  return Value::undefined(name);
}

}  // namespace pad::jinja::detail

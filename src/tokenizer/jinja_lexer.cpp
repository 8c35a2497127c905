// Jinja lexer: splits a template into text and tag tokens with Hugging Face's whitespace settings
// (trim_blocks: the newline after a block or comment tag goes; lstrip_blocks: spaces and tabs
// before a block or comment tag on its own line go; `-` strips all whitespace on its side, `+`
// keeps it), then tokenizes the expressions inside tags.
#include "jinja_lexer.h"

#include "jinja_internal.h"

#include <algorithm>
#include <cctype>

#include "pad/tokenizer/unicode.h"
#include "pad/util/error.h"

namespace pad::jinja::detail {

[[noreturn]] void fail(const std::string& program, int line, const std::string& message) {
  throw_invalid(program, " line ", line, ": ", message);
}

namespace {

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }

std::string rstrip_ws(const std::string& s) {
  size_t e = s.size();
  while (e > 0 && is_space(s[e - 1])) --e;
  return s.substr(0, e);
}

class Lexer {
 public:
  Lexer(const std::string& src, const std::string& name) : s_(src), name_(name) {
    for (size_t i = 0; i < s_.size(); ++i)
      if (s_[i] == '\n') newlines_.push_back(i);
  }

  std::vector<Token> run() {
    size_t pos = 0;
    bool strip_next = false;  // the previous tag ended with '-'
    while (pos <= s_.size()) {
      size_t open = find_open(pos);
      std::string text = s_.substr(pos, open == std::string::npos ? std::string::npos : open - pos);
      if (strip_next) {
        size_t b = 0;
        while (b < text.size() && is_space(text[b])) ++b;
        text = text.substr(b);
      }
      if (open == std::string::npos) {
        emit_text(text, pos);
        break;
      }
      char kind = s_[open + 1];  // '{', '%' or '#'
      char sign = open + 2 < s_.size() ? s_[open + 2] : 0;
      if (sign == '-') {
        text = rstrip_ws(text);
      } else if (sign != '+' && kind != '{') {
        // lstrip_blocks: whitespace between the line start and the tag goes.
        size_t nl = text.rfind('\n');
        size_t l = nl == std::string::npos ? 0 : nl + 1;
        bool line_start = nl != std::string::npos || pos == 0 || s_[pos - 1] == '\n';
        if (line_start && text.find_first_not_of(" \t\r\f\v", l) == std::string::npos) text.resize(l);
      }
      emit_text(text, pos);
      size_t body = open + 2 + (sign == '-' || sign == '+' ? 1 : 0);
      if (kind == '#') {
        size_t close = s_.find("#}", body);
        if (close == std::string::npos) fail(name_, line_at(open), "unterminated comment (expected '#}')");
        bool minus = close > body && s_[close - 1] == '-';
        pos = finish_tag(close + 2, minus, true, false);
      } else {
        bool block = kind == '%';
        tokens_.push_back({block ? Token::BlockBegin : Token::VarBegin, "", line_at(open)});
        size_t close = lex_expression(body, block ? '%' : '}');
        bool minus = s_[close] == '-';
        bool plus = s_[close] == '+';
        size_t after = close + (minus || plus ? 3 : 2);
        tokens_.push_back({block ? Token::BlockEnd : Token::VarEnd, "", line_at(close)});
        pos = finish_tag(after, minus, block, plus);
        if (block && raw_begins()) pos = lex_raw(pos);
      }
      strip_next = strip_after_;
    }
    tokens_.push_back({Token::End, "", line_at(s_.size())});
    return std::move(tokens_);
  }

 private:
  size_t find_open(size_t from) const {
    for (size_t p = s_.find('{', from); p != std::string::npos; p = s_.find('{', p + 1))
      if (p + 1 < s_.size() && (s_[p + 1] == '{' || s_[p + 1] == '%' || s_[p + 1] == '#')) return p;
    return std::string::npos;
  }

  void emit_text(const std::string& text, size_t pos) {
    if (!text.empty()) tokens_.push_back({Token::Text, text, line_at(pos)});
  }

  int line_at(size_t pos) const {
    return 1 + static_cast<int>(std::lower_bound(newlines_.begin(), newlines_.end(), pos) - newlines_.begin());
  }

  // After a tag closes at `after`: `-` strips the following whitespace (done by the next text),
  // trim_blocks drops one newline after a block or comment tag unless `+` asked to keep it.
  size_t finish_tag(size_t after, bool minus, bool trims, bool plus) {
    strip_after_ = minus;
    if (!minus && trims && !plus && after < s_.size() && s_[after] == '\n') ++after;
    return after;
  }

  bool raw_begins() const {
    size_t n = tokens_.size();
    return n >= 3 && tokens_[n - 2].type == Token::Name && tokens_[n - 2].text == "raw" &&
           tokens_[n - 3].type == Token::BlockBegin;
  }

  // {% raw %}...{% endraw %}: the text in between is literal.
  size_t lex_raw(size_t pos) {
    tokens_.resize(tokens_.size() - 3);
    for (size_t p = s_.find("{%", pos); p != std::string::npos; p = s_.find("{%", p + 2)) {
      size_t q = p + 2;
      bool minus_before = q < s_.size() && s_[q] == '-';
      if (minus_before || (q < s_.size() && s_[q] == '+')) ++q;
      while (q < s_.size() && is_space(s_[q])) ++q;
      if (s_.compare(q, 6, "endraw") != 0) continue;
      q += 6;
      while (q < s_.size() && is_space(s_[q])) ++q;
      bool minus_after = q < s_.size() && s_[q] == '-';
      if (minus_after) ++q;
      if (s_.compare(q, 2, "%}") != 0) continue;
      std::string text = s_.substr(pos, p - pos);
      if (strip_after_) {
        size_t b = 0;
        while (b < text.size() && is_space(text[b])) ++b;
        text = text.substr(b);
      }
      if (minus_before) text = rstrip_ws(text);
      if (!text.empty()) tokens_.push_back({Token::Text, text, line_at(pos)});
      return finish_tag(q + 2, minus_after, true, false);
    }
    fail(name_, line_at(pos), "unterminated raw block (expected '{% endraw %}')");
  }

  // Tokenizes an expression from `p` up to the tag's end (`}}` or `%}`, optionally after '-' or '+');
  // returns the position of the end marker (of its sign when there is one).
  size_t lex_expression(size_t p, char end) {
    int depth = 0;
    while (true) {
      while (p < s_.size() && is_space(s_[p])) ++p;
      line_ = line_at(p);
      if (p >= s_.size()) fail(name_, line_, std::string("unexpected end of template (expected '") + end + "}')");
      if (depth == 0) {
        if (s_[p] == end && p + 1 < s_.size() && s_[p + 1] == '}') return p;
        if ((s_[p] == '-' || s_[p] == '+') && s_.compare(p + 1, 2, std::string(1, end) + "}") == 0) return p;
      }
      char c = s_[p];
      if (c == '\'' || c == '"') {
        p = lex_string(p);
      } else if (std::isdigit(static_cast<unsigned char>(c))) {
        size_t b = p;
        bool is_float = false;
        while (p < s_.size() && (std::isdigit(static_cast<unsigned char>(s_[p])) || s_[p] == '_')) ++p;
        if (p + 1 < s_.size() && s_[p] == '.' && std::isdigit(static_cast<unsigned char>(s_[p + 1]))) {
          is_float = true;
          ++p;
          while (p < s_.size() && std::isdigit(static_cast<unsigned char>(s_[p]))) ++p;
        }
        if (p < s_.size() && (s_[p] == 'e' || s_[p] == 'E')) {
          size_t q = p + 1;
          if (q < s_.size() && (s_[q] == '+' || s_[q] == '-')) ++q;
          if (q < s_.size() && std::isdigit(static_cast<unsigned char>(s_[q]))) {
            is_float = true;
            p = q;
            while (p < s_.size() && std::isdigit(static_cast<unsigned char>(s_[p]))) ++p;
          }
        }
        std::string num;
        for (size_t i = b; i < p; ++i)
          if (s_[i] != '_') num += s_[i];
        tokens_.push_back({is_float ? Token::Float : Token::Int, num, line_});
      } else if (std::isalpha(static_cast<unsigned char>(c)) || c == '_') {
        size_t b = p;
        while (p < s_.size() && (std::isalnum(static_cast<unsigned char>(s_[p])) || s_[p] == '_')) ++p;
        tokens_.push_back({Token::Name, s_.substr(b, p - b), line_});
      } else {
        static const char* const kOps[] = {"//", "**", "==", "!=", "<=", ">=", "+", "-", "*", "/", "%", "~", "<", ">",
                                           "=", "(", ")", "[", "]", "{", "}", ".", ",", ":", "|"};
        std::string op;
        for (const char* o : kOps)
          if (s_.compare(p, std::char_traits<char>::length(o), o) == 0) {
            op = o;
            break;
          }
        if (op.empty()) fail(name_, line_, std::string("unexpected character '") + c + "' in an expression");
        if (op == "(" || op == "[" || op == "{") ++depth;
        if ((op == ")" || op == "]" || op == "}") && depth > 0) --depth;
        tokens_.push_back({Token::Op, op, line_});
        p += op.size();
      }
    }
  }

  // A quoted literal with Python's escapes; unknown escapes keep their backslash, as Python does.
  size_t lex_string(size_t p) {
    char q = s_[p++];
    int line = line_;
    std::string out;
    while (true) {
      if (p >= s_.size()) fail(name_, line, "unterminated string literal");
      char c = s_[p];
      if (c == q) break;
      if (c != '\\' || p + 1 >= s_.size()) {
        out += c;
        ++p;
        continue;
      }
      char e = s_[p + 1];
      p += 2;
      switch (e) {
        case 'n': out += '\n'; break;
        case 't': out += '\t'; break;
        case 'r': out += '\r'; break;
        case 'b': out += '\b'; break;
        case 'f': out += '\f'; break;
        case 'v': out += '\v'; break;
        case 'a': out += '\a'; break;
        case '0': out += '\0'; break;
        case '\\': out += '\\'; break;
        case '\'': out += '\''; break;
        case '"': out += '"'; break;
        case '\n': break;
        case 'x': case 'u': case 'U': {
          size_t n = e == 'x' ? 2 : e == 'u' ? 4 : 8;
          if (p + n > s_.size()) fail(name_, line_, "truncated \\" + std::string(1, e) + " escape in a string literal");
          uint32_t cp = 0;
          for (size_t i = 0; i < n; ++i) {
            char h = s_[p + i];
            if (!std::isxdigit(static_cast<unsigned char>(h)))
              fail(name_, line_, "bad \\" + std::string(1, e) + " escape in a string literal");
            cp = cp * 16 + (std::isdigit(static_cast<unsigned char>(h)) ? h - '0' : (std::tolower(h) - 'a' + 10));
          }
          if (cp > 0x10FFFF) fail(name_, line_, "escape beyond U+10FFFF in a string literal");
          utf8_append(out, cp);
          p += n;
          break;
        }
        default: out += '\\'; out += e;
      }
    }
    tokens_.push_back({Token::String, out, line});
    return p + 1;
  }

  const std::string& s_;
  const std::string& name_;
  std::vector<Token> tokens_;
  std::vector<size_t> newlines_;  // positions of '\n', for line numbers
  int line_ = 1;                  // line of the expression token being lexed
  bool strip_after_ = false;
};

}  // namespace

// Jinja2's defaults: newlines normalized to '\n', and one trailing newline of the template dropped
// (keep_trailing_newline=False).
std::vector<Token> lex(const std::string& source, const std::string& name) {
  std::string src;
  src.reserve(source.size());
  for (size_t i = 0; i < source.size(); ++i) {
    if (source[i] != '\r') {
      src += source[i];
    } else {
      src += '\n';
      if (i + 1 < source.size() && source[i + 1] == '\n') ++i;
    }
  }
  if (!src.empty() && src.back() == '\n') src.pop_back();
  return Lexer(src, name).run();
}

}  // namespace pad::jinja::detail

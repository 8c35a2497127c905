// Tokens of a Jinja template (jinja_lexer.cpp); text tokens already carry HF's whitespace handling.
#pragma once

#include <string>
#include <vector>

namespace pad::jinja::detail {

struct Token {
  enum Type { Text, VarBegin, VarEnd, BlockBegin, BlockEnd, Name, String, Int, Float, Op, End } type;
  std::string text;
  int line = 0;
};

std::vector<Token> lex(const std::string& source, const std::string& name);

}  // namespace pad::jinja::detail

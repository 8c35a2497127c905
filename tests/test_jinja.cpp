// pad's Jinja engine against jinja2 set up as Hugging Face sets it up (tests/chat_render.py): every
// engine feature case and every published family's template in tests/data/chat-templates render
// byte for byte what the oracle rendered, the goldens are the oracle's current output, and errors
// name the template, the line and what was expected.
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <unistd.h>
#include <nlohmann/json.hpp>

#include "pad/tokenizer/chat_template.h"
#include "pad/tokenizer/jinja.h"
#include "pad/util/file.h"

namespace pad {
namespace {

using OJson = nlohmann::ordered_json;
const std::string kData = std::string(PAD_SOURCE_DIR) + "/tests/data/chat-templates/";

OJson load(const std::string& path) { return OJson::parse(read_file(path)); }

// The oracle's clock: strftime_now reads 26 Jul 2024.
std::string fixed_strftime(const std::string& format) {
  std::tm tm{};
  tm.tm_year = 124;
  tm.tm_mon = 6;
  tm.tm_mday = 26;
  tm.tm_wday = 5;
  tm.tm_yday = 207;
  char buf[128];
  size_t n = std::strftime(buf, sizeof buf, format.c_str(), &tm);
  return std::string(buf, n);
}

// Compares one rendering with the oracle's: the text, or for a template that raised, an
// std::invalid_argument carrying raise_exception's message (any error when jinja2 itself failed).
template <typename Render>
void expect_like_oracle(const OJson& want, Render render, const std::string& what) {
  if (want.is_string()) {
    try {
      EXPECT_EQ(render(), want.get<std::string>()) << what;
    } catch (const std::exception& e) {
      ADD_FAILURE() << what << ": unexpected error: " << e.what();
    }
    return;
  }
  try {
    std::string got = render();
    ADD_FAILURE() << what << ": expected an error like '" << want["error"].get<std::string>() << "', got text: " << got;
  } catch (const std::invalid_argument& e) {
    if (want["raised"].get<bool>()) {
      EXPECT_NE(std::string(e.what()).find(want["error"].get<std::string>()), std::string::npos) << what << ": " << e.what();
    }
  }
}

TEST(JinjaEngine, FeatureCasesMatchJinja2) {
  OJson cases = load(kData + "engine-cases.json");
  OJson expected = load(kData + "engine-cases.expected.json");
  ASSERT_GE(cases.size(), 40u);
  jinja::RenderOptions options;
  options.strftime_now = fixed_strftime;
  for (const OJson& c : cases) {
    const std::string name = c["name"].get<std::string>();
    ASSERT_TRUE(expected.contains(name)) << name << " has no golden; rerun tests/chat_render.py";
    expect_like_oracle(expected[name], [&] {
      jinja::Template t(c["template"].get<std::string>(), name);
      return t.render(c.contains("vars") ? c["vars"] : OJson::object(), options);
    }, name);
  }
}

TEST(JinjaEngine, PublishedFamiliesMatchJinja2) {
  OJson templates = load(kData + "templates.json");
  OJson conversations = load(kData + "conversations.json");
  ASSERT_GE(templates.size(), 13u);
  int checked = 0;
  for (auto t = templates.begin(); t != templates.end(); ++t) {
    std::string source = read_file(kData + t.key() + ".jinja");
    OJson expected = load(kData + t.key() + ".expected.json");
    for (auto c = conversations.begin(); c != conversations.end(); ++c) {
      for (bool gen : {false, true}) {
        std::string key = c.key() + (gen ? "+generation_prompt" : "");
        ASSERT_TRUE(expected.contains(key)) << t.key() << " " << key;
        ChatOptions options;
        if (c.value().contains("tools")) options.tools = c.value()["tools"];
        if (c.value().contains("enable_thinking")) options.enable_thinking = c.value()["enable_thinking"].get<bool>();
        options.extra = {{"date_string", "26 Jul 2024"}};
        expect_like_oracle(expected[key], [&] {
          return render_chat_jinja(source, c.value()["messages"], gen, t.value()["bos"].get<std::string>(),
                                   t.value()["eos"].get<std::string>(), options, t.key());
        }, t.key() + " " + key);
        ++checked;
      }
    }
  }
  EXPECT_EQ(checked, static_cast<int>(templates.size() * conversations.size() * 2));
}

// The committed goldens are what the oracle renders now (skipped where python3-jinja2 is missing).
TEST(JinjaEngine, GoldensAreTheOraclesCurrentOutput) {
  if (std::system("/usr/bin/python3 -c 'import jinja2' >/dev/null 2>&1") != 0)
    GTEST_SKIP() << "/usr/bin/python3 with jinja2 (python3-jinja2) is not installed";
  namespace fs = std::filesystem;
  fs::path out = fs::temp_directory_path() / ("pad-jinja-oracle-" + std::to_string(::getpid()));
  fs::create_directories(out);
  std::string cmd = "/usr/bin/python3 " + std::string(PAD_SOURCE_DIR) + "/tests/chat_render.py " + kData + " " + out.string();
  ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;
  int compared = 0;
  for (const auto& entry : fs::directory_iterator(out)) {
    std::string name = entry.path().filename().string();
    EXPECT_EQ(load(entry.path().string()), load(kData + name)) << name << " is stale: rerun tests/chat_render.py "
                                                               << "tests/data/chat-templates";
    ++compared;
  }
  fs::remove_all(out);
  EXPECT_EQ(compared, static_cast<int>(load(kData + "templates.json").size()) + 1);
}

std::string error_of(const std::string& source, const OJson& vars = OJson::object(), jinja::RenderOptions options = {}) {
  try {
    jinja::Template t(source, "t.jinja");
    t.render(vars, options);
  } catch (const std::invalid_argument& e) {
    return e.what();
  }
  return "(no error)";
}

TEST(JinjaErrors, SyntaxErrorsNameTheTemplateLineAndExpectation) {
  EXPECT_EQ(error_of("line one\n{% if x %}\n{{ x + }}\n{% endif %}"),
            "t.jinja line 3: expected an expression, found '}}'");
  EXPECT_EQ(error_of("{% for x in xs %}\n{{ x }}\n\n"), "t.jinja line 3: unexpected end of template (expected 'else' or 'endfor')");
  EXPECT_EQ(error_of("a\n\n{% endfor %}"), "t.jinja line 3: unexpected 'endfor' (no block is open)");
  EXPECT_EQ(error_of("{% if a %}\n{% endfor %}"), "t.jinja line 2: unexpected 'endfor' (expected 'elif' or 'else' or 'endif')");
  EXPECT_EQ(error_of("{{ 'abc }}"), "t.jinja line 1: unterminated string literal");
  EXPECT_EQ(error_of("\n{% frobnicate %}"),
            "t.jinja line 2: unknown statement 'frobnicate' (expected if, for, set, macro, call, filter, break or continue)");
  EXPECT_EQ(error_of("{{ x"), "t.jinja line 1: unexpected end of template (expected '}}')");
  EXPECT_EQ(error_of("{% break %}"), "t.jinja line 1: 'break' outside a for loop");
  EXPECT_EQ(error_of("{# open"), "t.jinja line 1: unterminated comment (expected '#}')");
  EXPECT_EQ(error_of("{{ a.(b) }}"), "t.jinja line 1: expected an attribute name after '.', found '('");
  EXPECT_EQ(error_of("{{ f(a=1, 2) }}"), "t.jinja line 1: expected a keyword argument (positional arguments come first), found the number 2");
}

TEST(JinjaErrors, RenderErrorsNameTheLine) {
  EXPECT_EQ(error_of("\n\n{{ m.nope.deeper }}", {{"m", OJson::object()}}),
            "t.jinja line 3: cannot read attribute 'deeper' of 'nope', which is undefined");
  EXPECT_EQ(error_of("{{ 1 }}\n{{ x|frob }}"), "t.jinja line 2: unknown filter 'frob'");
  EXPECT_EQ(error_of("{% if x is frob %}{% endif %}"), "t.jinja line 1: unknown test 'frob'");
  EXPECT_EQ(error_of("\n{{ nofn(1) }}"), "t.jinja line 2: 'nofn' is undefined (called as a function)");
  EXPECT_EQ(error_of("{{ 1 + 'a' }}"), "t.jinja line 1: unsupported operand types for +: integer and string");
  EXPECT_EQ(error_of("{{ xs.append(1) }}", {{"xs", OJson::array()}}),
            "t.jinja line 1: access to attribute 'append' of 'list' object is unsafe");
  EXPECT_EQ(error_of("{% for x in 3 %}{% endfor %}"), "t.jinja line 1: cannot loop over integer (expected a list, dict or string)");
  EXPECT_EQ(error_of("{% set n = 1 %}{% set n.x = 2 %}"),
            "t.jinja line 1: cannot set attribute 'x' of 'n' (integer): only a namespace() takes attribute assignments");
  EXPECT_EQ(error_of("\n\n\n{{ raise_exception('Only user and assistant roles are supported!') }}"),
            "t.jinja line 4: the template refused the input: Only user and assistant roles are supported!");
  EXPECT_EQ(error_of("{{ [1] < 'a' }}"), "t.jinja line 1: '<' is not supported between list and string");
  EXPECT_EQ(error_of("{{ {'a': xs}|tojson }}", {{"xs", OJson::array()}}), "(no error)");
}

TEST(JinjaLimits, RunawayLoopsRecursionAndOutputAreBounded) {
  jinja::RenderOptions small;
  small.limits.max_steps = 10000;
  EXPECT_NE(error_of("{% for i in range(100) %}{% for j in range(100) %}{{ j }}{% endfor %}{% endfor %}", {}, small)
                .find("ran more than 10000 steps"),
            std::string::npos);
  EXPECT_NE(error_of("{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}").find("nested deeper than 200 calls"),
            std::string::npos);
  jinja::RenderOptions tiny;
  tiny.limits.max_output = 1000;
  EXPECT_NE(error_of("{% for i in range(1000) %}abcdef{% endfor %}", {}, tiny).find("passed 1000 bytes"),
            std::string::npos);
  EXPECT_NE(error_of("{{ range(2000000)|length }}").find("range of more than 1000000 items"), std::string::npos);
  EXPECT_NE(error_of("{{ 'ab' * 100000000 }}").find("string repetition too large"), std::string::npos);
  EXPECT_NE(error_of("{{ " + std::string(5000, '(') + "1" + std::string(5000, ')') + " }}").find("nested deeper than 100"),
            std::string::npos);
  EXPECT_NE(error_of("{{ " + std::string(5000, '-') + "1 }}").find("nested deeper than 100"), std::string::npos);
  std::string long_sum = "{{ 1";
  for (int i = 0; i < 5000; ++i) long_sum += " + 1";
  EXPECT_NE(error_of(long_sum + " }}").find("more than 1000 chained operations"), std::string::npos);
  std::string deep_ifs;
  for (int i = 0; i < 500; ++i) deep_ifs += "{% if true %}";
  EXPECT_NE(error_of(deep_ifs).find("nested deeper than 100"), std::string::npos);
}

TEST(JinjaEngine, RenderingIsRepeatableAndDoesNotLeakState) {
  jinja::Template t("{% set ns = namespace(n=0) %}{% for m in messages %}{% set ns.n = ns.n + 1 %}{% endfor %}{{ ns.n }}",
                    "count");
  OJson vars = {{"messages", OJson::array({{{"role", "user"}}, {{"role", "user"}}})}};
  EXPECT_EQ(t.render(vars), "2");
  EXPECT_EQ(t.render(vars), "2");
  jinja::Template moved = std::move(t);
  EXPECT_EQ(moved.render({{"messages", OJson::array()}}), "0");
}

}  // namespace
}  // namespace pad

// `pad chat-template` renders a model's own Jinja template by default, takes --chat-template FILE|NAME,
// tool schemas and rich messages, and reports template errors and refusals with exit code 2.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "pad/util/file.h"
#include "test_util.h"

namespace pad {
namespace {

using OJson = nlohmann::ordered_json;
const std::string kShared = std::string(PAD_SHARED_DIR) + "/testdata/templates/";
const std::string kData = std::string(PAD_SOURCE_DIR) + "/tests/data/chat-templates/";

class ChatTemplateCli : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!std::filesystem::exists(PAD_PAD_BIN)) GTEST_SKIP() << "pad binary not built: " << PAD_PAD_BIN;
    dir_ = test::scratch_dir(::testing::UnitTest::GetInstance()->current_test_info()->name());
  }
  std::string write(const std::string& name, const std::string& text) {
    write_file_atomic(dir_ + "/" + name, text);
    return dir_ + "/" + name;
  }
  std::string messages(const OJson& conversation) { return write("messages.json", conversation.dump()); }
  std::string dir_;
};

TEST_F(ChatTemplateCli, BareJinjaFileRendersAsTheOracleDid) {
  OJson conv = OJson::parse(read_file(kShared + "conversations.json"))["no_system"];
  OJson expected = OJson::parse(read_file(kShared + "Qwen-Qwen2.5-7B-Instruct.expected.json"));
  test::CmdResult r = test::pad_cmd("chat-template -m " + kShared + "Qwen-Qwen2.5-7B-Instruct.jinja --messages " +
                                    messages(conv) + " --add-generation-prompt");
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_EQ(r.out, expected["no_system+generation_prompt"].get<std::string>());
}

TEST_F(ChatTemplateCli, ToolsAndToolCallsReachTheTemplate) {
  OJson conv = OJson::parse(read_file(kData + "conversations.json"))["tool_call"];
  OJson expected = OJson::parse(read_file(kData + "qwen3.expected.json"));
  std::string tools = write("tools.json", conv["tools"].dump());
  test::CmdResult r = test::pad_cmd("chat-template -m " + kData + "qwen3.jinja --messages " + messages(conv["messages"]) +
                                    " --tools " + tools + " --add-generation-prompt");
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_EQ(r.out, expected["tool_call+generation_prompt"].get<std::string>());
}

TEST_F(ChatTemplateCli, ModelTemplateByDefaultFileOrBuiltinByFlag) {
  OJson cfg = {{"bos_token", "<s>"}, {"eos_token", "</s>"},
               {"chat_template", OJson::array({{{"name", "tool_use"}, {"template", "TOOLS"}},
                                               {{"name", "default"}, {"template", "{{ bos_token }}{% for m in messages %}"
                                                                                 "<{{ m.role }}>{{ m.content }}{% endfor %}"}}})}};
  write("tokenizer_config.json", cfg.dump());
  std::string msgs = messages(OJson::array({{{"role", "user"}, {"content", "Hi"}}}));
  test::CmdResult r = test::pad_cmd("chat-template -m " + dir_ + " --messages " + msgs);
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_EQ(r.out, "<s><user>Hi");  // the "default" named template, with the config's BOS
  std::string other = write("other.jinja", "{{ eos_token }}{{ messages|map(attribute='content')|join }}");
  r = test::pad_cmd("chat-template -m " + dir_ + " --messages " + msgs + " --chat-template " + other);
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_EQ(r.out, "</s>Hi");
  r = test::pad_cmd("chat-template -m " + dir_ + " --messages " + msgs + " --chat-template chatml --add-generation-prompt");
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_EQ(r.out, "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n");
  r = test::pad_cmd("chat-template -m " + dir_ + " --messages " + msgs + " --chat-template nosuch");
  EXPECT_EQ(r.code, 2) << r.out;
  EXPECT_NE(r.out.find("neither a built-in chat template"), std::string::npos) << r.out;
}

TEST_F(ChatTemplateCli, TemplateErrorsAndRefusalsExitWithCodeTwo) {
  std::string msgs = messages(OJson::array({{{"role", "system"}, {"content", "S"}}, {{"role", "user"}, {"content", "U"}}}));
  std::string broken = write("broken.jinja", "ok\n{% for m in messages %}\n{{ m.content | }}\n{% endfor %}");
  test::CmdResult r = test::pad_cmd("chat-template -m " + broken + " --messages " + msgs);
  EXPECT_EQ(r.code, 2) << r.out;
  EXPECT_NE(r.out.find("broken.jinja line 3: expected a filter name"), std::string::npos) << r.out;
  r = test::pad_cmd("chat-template -m " + kShared + "google-gemma-2-2b-it.jinja --messages " + msgs);
  EXPECT_EQ(r.code, 2) << r.out;
  EXPECT_NE(r.out.find("System role not supported"), std::string::npos) << r.out;
}

}  // namespace
}  // namespace pad
